//! Full-text index decoders on arbitrary bytes: a posting list (walked as
//! a query walks it: every block, every posting's positions), a term
//! dictionary and a document table must decode or fail, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pilum_index::text::BLOCK_LEN;
use pilum_index::text::format::{decode_docs, decode_list, decode_terms};

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = decode_list(data) {
        let (mut docs, mut tfs) = ([0u32; BLOCK_LEN], [0u32; BLOCK_LEN]);
        let (mut offsets, mut positions) = (Vec::new(), Vec::new());
        for b in 0..list.blocks().len() {
            let Ok(len) = list.decode_block(b, &mut docs, &mut tfs) else { break };
            if list.positions().is_some() && list.block_position_offsets(b, &tfs[..len], &mut offsets).is_ok() {
                for (i, &offset) in offsets.iter().enumerate() {
                    let _ = list.positions_from(offset, tfs[i], &mut positions);
                }
            }
        }
    }
    let _ = decode_terms(data, 1 << 30);
    let _ = decode_docs(data);
});
