//! The process-wide metadata cache: a second handle reuses open file
//! readers and decoded manifests, and a dataset deleted and written again
//! at the same path is never read from stale entries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use pilum_table::*;

#[tokio::test]
async fn handles_share_metadata_and_never_see_stale_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ds");
    let location = local_location(&path);
    create(&location, vec![batch(0..300)], &small_files()).await;
    let first = Dataset::open_location(location.clone()).await.unwrap();
    assert_eq!(ids(&first).await, (0..300).collect::<Vec<_>>());
    let held = metadata_cache_bytes();
    assert!(held > 0, "the scan's file readers are cached");
    // A second handle reads through the cache and gets the same rows.
    let second = Dataset::open_location(location.clone()).await.unwrap();
    let taken = second.take(&[5, 150, 299], Some(&["id"])).await.unwrap();
    assert_eq!(column_i64(&taken, "id"), vec![5, 150, 299]);
    // Delete the dataset and write another one at the same path: same
    // manifest names, other bytes and files.
    std::fs::remove_dir_all(&path).unwrap();
    create(&location, vec![batch(1000..1010)], &WriteParams::default()).await;
    let third = Dataset::open_location(location.clone()).await.unwrap();
    assert_eq!(third.version(), 1);
    assert_eq!(ids(&third).await, (1000..1010).collect::<Vec<_>>());
    clear_metadata_cache();
    assert_eq!(metadata_cache_bytes(), 0);
    assert_eq!(ids(&third).await, (1000..1010).collect::<Vec<_>>());
}
