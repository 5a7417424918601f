//! Request counts: opening the latest version and committing cost a small
//! constant, whatever the number of versions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use object_store::memory::InMemory;
use pilum_io::CountingStore;
use pilum_table::*;
use std::sync::Arc;

async fn dataset_with_versions(versions: usize) -> (Arc<CountingStore>, DatasetLocation, Dataset) {
    let store = Arc::new(CountingStore::new(Arc::new(InMemory::new())));
    let location = DatasetLocation::in_store(store.clone(), "ds");
    let mut ds = create(&location, vec![batch(0..10)], &WriteParams::default()).await;
    for v in 1..versions as i64 {
        ds.append(stream_of(vec![batch(v * 10..v * 10 + 10)]), &WriteParams::default())
            .await
            .unwrap();
    }
    (store, location, ds)
}

#[tokio::test]
async fn opening_the_latest_version_is_constant() {
    for versions in [1, 20, 120] {
        let (store, location, _) = dataset_with_versions(versions).await;
        store.reset();
        let ds = Dataset::open_location(location.clone()).await.unwrap();
        assert_eq!(ds.version(), versions as u64);
        let counts = store.counts();
        assert_eq!(
            (counts.reads, counts.lists),
            (3, 0),
            "hint + latest manifest + one miss, at {versions} versions"
        );
        // A scan of one fragment: one request to open its file (its size is
        // in the manifest, so no HEAD), then at most one per column.
        store.reset();
        ds.scan()
            .with_fragments([ds.fragments().await.unwrap()[0].id])
            .try_into_batch()
            .await
            .unwrap();
        assert!(store.counts().reads <= 1 + 4, "{:?}", store.counts());
    }
}

#[tokio::test]
async fn a_stale_or_missing_hint_still_finds_the_latest() {
    let (store, location, mut ds) = dataset_with_versions(5).await;
    location.write_hint(2).await.unwrap();
    assert_eq!(Dataset::open_location(location.clone()).await.unwrap().version(), 5);
    location.delete(&location.child("_versions/_latest")).await.unwrap();
    store.reset();
    assert_eq!(Dataset::open_location(location.clone()).await.unwrap().version(), 5);
    assert_eq!(store.counts().lists, 1, "falls back to one listing");
    ds.append(stream_of(vec![batch(100..101)]), &WriteParams::default())
        .await
        .unwrap();
    assert_eq!(Dataset::open_location(location).await.unwrap().version(), 6);
}

#[tokio::test]
async fn commit_cost_does_not_grow_with_versions() {
    let mut costs = Vec::new();
    for versions in [2, 60] {
        let (store, _, mut ds) = dataset_with_versions(versions).await;
        store.reset();
        ds.append(stream_of(vec![batch(9000..9010)]), &WriteParams::default())
            .await
            .unwrap();
        let counts = store.counts();
        costs.push((counts.reads, counts.writes, counts.lists));
    }
    assert_eq!(costs[0], costs[1], "append cost at 2 vs 60 versions");
}

#[tokio::test]
async fn opening_many_fragments_is_still_three_requests() {
    let store = Arc::new(CountingStore::new(Arc::new(InMemory::new())));
    let location = DatasetLocation::in_store(store.clone(), "ds");
    let params = WriteParams {
        max_rows_per_file: 1,
        ..WriteParams::default()
    };
    create(&location, vec![batch(0..2000)], &params).await;
    store.reset();
    let ds = Dataset::open_location(location).await.unwrap();
    assert_eq!((store.counts().reads, store.counts().lists), (3, 0));
    assert_eq!(ds.count_rows(None).await.unwrap(), 2000);
    assert_eq!(ds.manifest().fragment_count(), 2000);
    assert_eq!(store.counts().reads, 3, "count_rows without a filter reads nothing");
    // 2,000 fragments are two pages of 1,024 (format 1.4): listing them
    // reads both, once.
    assert_eq!(ds.fragments().await.unwrap().len(), 2000);
    assert_eq!(store.counts().reads, 5);
    assert_eq!(ds.fragments().await.unwrap().len(), 2000);
    assert_eq!(store.counts().reads, 5, "a handle reads its pages once");
}

#[tokio::test]
async fn creating_costs_two_listings_and_no_reads() {
    let store = Arc::new(CountingStore::new(Arc::new(InMemory::new())));
    let location = DatasetLocation::in_store(store.clone(), "ds");
    let mut ds = create(&location, vec![batch(0..10)], &WriteParams::default()).await;
    let counts = store.counts();
    assert_eq!(
        (counts.reads, counts.lists),
        (0, 2),
        "one listing before writing, one before claiming version 1: {counts:?}"
    );
    assert_eq!(counts.writes, 3, "data file, manifest, hint: {counts:?}");
    // A dataset whose version 1 cleanup removed still exists.
    ds.append(stream_of(vec![batch(10..20)]), &WriteParams::default())
        .await
        .unwrap();
    location
        .delete(&location.child("_versions/00000000000000000001.manifest"))
        .await
        .unwrap();
    let again = Dataset::write(
        location.clone(),
        schema(),
        stream_of(vec![batch(0..1)]),
        WriteMode::Create,
        &WriteParams::default(),
    )
    .await;
    assert!(
        matches!(again, Err(TableError::DatasetAlreadyExists { .. })),
        "{again:?}"
    );
    assert_eq!(
        Dataset::open_location(location)
            .await
            .unwrap()
            .count_rows(None)
            .await
            .unwrap(),
        20
    );
}
