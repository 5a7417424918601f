//! Editing a file's bytes: its metadata (with the footer's length and CRC
//! kept valid) and its footer fields.

use pilum_file::proto;
use prost::Message;

/// The metadata block's offset and the decoded metadata of `file`.
pub fn metadata_of(file: &[u8]) -> (usize, proto::FileMetadata) {
    let footer = &file[file.len() - 32..];
    let off = u64::from_le_bytes(footer[..8].try_into().unwrap()) as usize;
    let len = u64::from_le_bytes(footer[8..16].try_into().unwrap()) as usize;
    (off, proto::FileMetadata::decode(&file[off..off + len]).unwrap())
}

/// `file` with its metadata block replaced by `metadata` (footer length and CRC updated).
pub fn with_metadata(file: &[u8], metadata: &[u8]) -> Vec<u8> {
    let (off, _) = metadata_of(file);
    let mut out = file[..off].to_vec();
    out.extend_from_slice(metadata);
    let mut footer = file[file.len() - 32..].to_vec();
    footer[8..16].copy_from_slice(&(metadata.len() as u64).to_le_bytes());
    footer[16..20].copy_from_slice(&crc32fast::hash(metadata).to_le_bytes());
    out.extend_from_slice(&footer);
    out
}

/// `file` with its metadata changed by `edit`, re-encoded with a valid CRC.
pub fn edit_metadata(file: &[u8], edit: impl FnOnce(&mut proto::FileMetadata)) -> Vec<u8> {
    let (_, mut meta) = metadata_of(file);
    edit(&mut meta);
    with_metadata(file, &meta.encode_to_vec())
}

/// `file` with footer bytes `at..` overwritten by `bytes`.
pub fn footer_edit(file: &[u8], at: usize, bytes: &[u8]) -> Vec<u8> {
    let mut out = file.to_vec();
    let base = out.len() - 32 + at;
    out[base..base + bytes.len()].copy_from_slice(bytes);
    out
}

/// The first page, in column order, that satisfies `wanted`.
pub fn page_where(meta: &mut proto::FileMetadata, wanted: impl Fn(&proto::Page) -> bool) -> &mut proto::Page {
    meta.columns
        .iter_mut()
        .flat_map(|c| c.pages.iter_mut())
        .find(|p| wanted(p))
        .expect("a page of the wanted kind")
}

/// A symbol table of the first `keep` symbols of `table` (`[count][lengths][bytes]`).
pub fn first_symbols(table: &[u8], keep: usize) -> Vec<u8> {
    let count = table[0] as usize;
    let lens = &table[1..1 + count];
    let kept: usize = lens[..keep].iter().map(|&l| l as usize).sum();
    let mut out = vec![keep as u8];
    out.extend_from_slice(&lens[..keep]);
    out.extend_from_slice(&table[1 + count..1 + count + kept]);
    out
}

/// A symbol table like `table` with every symbol byte replaced by `0xff`.
pub fn symbols_not_utf8(table: &[u8]) -> Vec<u8> {
    let count = table[0] as usize;
    let mut out = table.to_vec();
    out[1 + count..].fill(0xff);
    out
}
