//! Truncations and single-bit flips of a good file never panic.

use super::{open, sources};
use object_store::{ObjectStore, PutPayload, memory::InMemory, path::Path};
use pilum_file::{FileReader, ReadOptions};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_truncation_and_byte_flip_is_an_error_not_a_panic() {
    let good = sources::good_file().await;
    let step = (good.len() / 300).max(1);
    for cut in (0..good.len()).step_by(step) {
        assert!(
            open("cut", good[..cut].to_vec()).await.is_err(),
            "truncated at {cut} opened"
        );
    }
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let mut rng = crate::common::Rng(3);
    for i in 0..300 {
        let mut bytes = good.clone();
        let at = rng.below(bytes.len() as u64) as usize;
        bytes[at] ^= 1 << (i % 8);
        let path = Path::from(format!("flip{i}"));
        object_store::ObjectStoreExt::put(store.as_ref(), &path, PutPayload::from(bytes))
            .await
            .unwrap();
        if let Ok(reader) = FileReader::open(store.clone(), path).await {
            // Flips in padding may be harmless; any other outcome must be a typed error.
            let _ = reader.read_range(0..reader.num_rows(), &ReadOptions::default()).await;
        }
    }
}
