//! Feeds arbitrary bytes to the file reader: open, then read every row and a
//! few random rows. Any outcome but a typed error or success is a bug, and
//! so is `FileError::Internal` (a broken invariant of the reader, or a
//! panicked task): damaged bytes must be reported as corruption.
#![no_main]

use libfuzzer_sys::fuzz_target;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, memory::InMemory, path::Path};
use pilum_file::{BlobMode, FileError, FileReader, ReadOptions};
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else { return };
    rt.block_on(async {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let path = Path::from("fuzz.pilum");
        if store.put(&path, PutPayload::from(bytes::Bytes::copy_from_slice(data))).await.is_err() {
            return;
        }
        let reader = match FileReader::open(store, path).await {
            Ok(reader) => reader,
            Err(e) => return check(&e),
        };
        let rows = reader.num_rows().min(100_000);
        let options = ReadOptions::default().with_blob_mode(BlobMode::Bytes);
        if let Err(e) = reader.read_range(0..rows, &options).await {
            check(&e);
        }
        if rows > 0 {
            let picks = [0, rows / 2, rows - 1];
            if let Err(e) = reader.take(&picks, &ReadOptions::default()).await {
                check(&e);
            }
        }
    });
});

/// Fails the run on an error that is not the reader's verdict on the bytes.
fn check(error: &FileError) {
    if let FileError::Internal { .. } = error {
        panic!("internal error on fuzzed input: {error}");
    }
}
