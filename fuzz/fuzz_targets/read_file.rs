//! Feeds arbitrary bytes to the file reader: open, then read every row and a
//! few random rows. Any outcome but a typed error or success is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, memory::InMemory, path::Path};
use pilum_file::{BlobMode, FileReader, ReadOptions};
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else { return };
    rt.block_on(async {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let path = Path::from("fuzz.pilum");
        if store.put(&path, PutPayload::from(bytes::Bytes::copy_from_slice(data))).await.is_err() {
            return;
        }
        let Ok(reader) = FileReader::open(store, path).await else { return };
        let rows = reader.num_rows().min(100_000);
        let options = ReadOptions::default().with_blob_mode(BlobMode::Bytes);
        let _ = reader.read_range(0..rows, &options).await;
        if rows > 0 {
            let picks = [0, rows / 2, rows - 1];
            let _ = reader.take(&picks, &ReadOptions::default()).await;
        }
    });
});
