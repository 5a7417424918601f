//! Branches, tags into branches, shallow and deep clones, and cleanup
//! across them, on the in-memory store and the local filesystem.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use pilum_io::CountingStore;
use pilum_table::*;
use std::sync::Arc;
use std::time::Duration;

async fn append(ds: &mut Dataset, ids: std::ops::Range<i64>) {
    ds.append(stream_of(vec![batch(ids)]), &WriteParams::default())
        .await
        .unwrap();
}

fn main_ref(version: u64) -> VersionRef {
    VersionRef::Branch(None, Some(version))
}

#[tokio::test]
async fn branches_have_their_own_history() {
    for_each_backend(|t| async move {
        let mut main = create(&t.location, vec![batch(0..10)], &WriteParams::default()).await;
        append(&mut main, 10..20).await;
        let mut exp = main.create_branch("exp", &VersionRef::Version(1)).await.unwrap();
        assert_eq!((exp.branch(), exp.version()), (Some("exp"), 1));
        assert_eq!(ids(&exp).await, (0..10).collect::<Vec<_>>());
        append(&mut exp, 100..105).await;
        assert_eq!(exp.version(), 2);
        append(&mut main, 20..30).await;
        // Each line keeps its own rows; version 2 differs per branch.
        assert_eq!(ids(&main).await, (0..30).collect::<Vec<_>>());
        let expected: Vec<i64> = (0..10).chain(100..105).collect();
        assert_eq!(ids(&exp).await, expected);
        let reopened = Dataset::open_location(t.location.clone()).await.unwrap();
        assert_eq!(reopened.version(), 3);
        let on_branch = reopened.checkout_branch(Some("exp"), None).await.unwrap();
        assert_eq!(ids(&on_branch).await, expected);
        // Time travel within the branch: version 1 is main's.
        let first = on_branch.checkout_version(1).await.unwrap();
        assert_eq!(ids(&first).await, (0..10).collect::<Vec<_>>());
        assert_eq!(
            on_branch
                .versions()
                .await
                .unwrap()
                .iter()
                .map(|v| v.version)
                .collect::<Vec<_>>(),
            vec![1, 2]
        );
        // Branch of a branch, and a tag into it.
        let mut deeper = exp.create_branch("deeper", &VersionRef::Version(2)).await.unwrap();
        append(&mut deeper, 200..201).await;
        main.tags()
            .create_ref("exp-v2", &VersionRef::Branch(Some("exp".into()), Some(2)))
            .await
            .unwrap();
        let tagged = main.checkout_tag("exp-v2").await.unwrap();
        assert_eq!((tagged.branch(), ids(&tagged).await), (Some("exp"), expected.clone()));
        let names: Vec<String> = main
            .branches()
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.name)
            .collect();
        assert_eq!(names, ["deeper", "exp"]);
        // A branch others depend on cannot go.
        let refused = main.branches().delete("exp").await;
        assert!(matches!(refused, Err(TableError::BranchInUse { .. })), "{refused:?}");
        main.branches().delete("deeper").await.unwrap();
        main.tags().delete("exp-v2").await.unwrap();
        main.branches().delete("exp").await.unwrap();
        // Writing on a deleted branch fails, also after the name is reused.
        let gone = exp.clone();
        let write = exp.append(stream_of(vec![batch(0..1)]), &WriteParams::default()).await;
        assert!(matches!(write, Err(TableError::BranchNotFound { .. })), "{write:?}");
        let mut again = main.create_branch("exp", &VersionRef::Version(3)).await.unwrap();
        assert_eq!(ids(&again).await, (0..30).collect::<Vec<_>>());
        let mut stale = gone;
        let write = stale
            .append(stream_of(vec![batch(0..1)]), &WriteParams::default())
            .await;
        assert!(matches!(write, Err(TableError::BranchNotFound { .. })), "{write:?}");
        append(&mut again, 300..301).await;
        assert_eq!(again.version(), 4);
        assert_eq!(
            ids(&main.checkout_latest().await.unwrap()).await,
            (0..30).collect::<Vec<_>>()
        );
    })
    .await;
}

#[tokio::test]
async fn bad_branch_requests_are_typed_errors() {
    let t = TestLocation::new(Backend::Memory);
    let main = create(&t.location, vec![batch(0..10)], &WriteParams::default()).await;
    for bad in ["main", "../x", "a/b", ".x", ""] {
        let err = main.create_branch(bad, &VersionRef::Version(1)).await.unwrap_err();
        assert!(matches!(err, TableError::InvalidBranchName { .. }), "{bad}: {err:?}");
    }
    main.create_branch("b", &VersionRef::Version(1)).await.unwrap();
    let twice = main.create_branch("b", &VersionRef::Version(1)).await.unwrap_err();
    assert!(matches!(twice, TableError::BranchAlreadyExists { .. }), "{twice:?}");
    let missing = main.create_branch("c", &VersionRef::Version(9)).await.unwrap_err();
    assert!(matches!(missing, TableError::VersionNotFound { .. }), "{missing:?}");
    assert!(
        main.branches().get("c").await.is_err(),
        "a refused branch leaves nothing"
    );
    let nowhere = main.checkout_branch(Some("nope"), None).await.unwrap_err();
    assert!(matches!(nowhere, TableError::BranchNotFound { .. }), "{nowhere:?}");
    let deleted = main.branches().delete("nope").await.unwrap_err();
    assert!(matches!(deleted, TableError::BranchNotFound { .. }), "{deleted:?}");
}

/// Creating a branch costs the same requests and bytes at 10 and at 2,000
/// fragments.
#[tokio::test]
async fn creating_a_branch_costs_a_constant() {
    let mut costs = Vec::new();
    for fragments in [10i64, 2000] {
        let store = Arc::new(CountingStore::new(Arc::new(object_store::memory::InMemory::new())));
        let location = DatasetLocation::in_store(store.clone(), "ds");
        let batches = (0..fragments).map(|f| batch(f * 2..f * 2 + 2)).collect();
        let params = WriteParams {
            max_rows_per_file: 2,
            ..WriteParams::default()
        };
        let main = create(&location, batches, &params).await;
        assert_eq!(main.fragments().await.unwrap().len(), fragments as usize);
        store.reset();
        main.create_branch("fork", &VersionRef::Version(1)).await.unwrap();
        let counts = store.counts();
        costs.push((counts.reads, counts.writes, counts.lists, counts.bytes_written));
    }
    assert_eq!(costs[0], costs[1], "requests and bytes of a branch creation");
    assert!(costs[0].1 == 1 && costs[0].3 < 200, "{costs:?}");
}

#[tokio::test]
async fn cleanup_keeps_what_branches_need_and_frees_what_only_deleted_ones_used() {
    for_each_backend(|t| async move {
        let mut main = create(&t.location, vec![batch(0..10)], &WriteParams::default()).await;
        let mut exp = main.create_branch("exp", &VersionRef::Version(1)).await.unwrap();
        append(&mut exp, 100..110).await;
        // Main replaces its rows: its version 1 files are now the branch's alone.
        main = Dataset::write(
            t.location.clone(),
            schema(),
            stream_of(vec![batch(50..60)]),
            WriteMode::Overwrite,
            &WriteParams::default(),
        )
        .await
        .unwrap();
        let stats = main.cleanup_old_versions(Duration::ZERO).await.unwrap();
        assert_eq!(stats.versions_removed, 0, "version 1 is the branch's fork point");
        let exp = exp.checkout_latest().await.unwrap();
        assert_eq!(ids(&exp).await, (0..10).chain(100..110).collect::<Vec<_>>());
        assert_eq!(
            ids(&exp.checkout_version(1).await.unwrap()).await,
            (0..10).collect::<Vec<_>>()
        );
        // Branch cleanup removes its own old versions only.
        let mut exp = exp;
        append(&mut exp, 110..111).await;
        let stats = exp.cleanup_old_versions(Duration::ZERO).await.unwrap();
        assert_eq!(stats.versions_removed, 1, "branch version 2");
        assert_eq!(ids(&exp).await.len(), 21);
        // Deleting the branch frees its files, then main's cleanup frees
        // version 1 and the files only the branch still used.
        main.branches().delete("exp").await.unwrap();
        let stats = main
            .cleanup_with_options(&CleanupOptions::older_than(Duration::ZERO), &Progress::none())
            .await
            .unwrap();
        assert_eq!(stats.versions_removed, 1);
        assert!(stats.files_removed >= 1, "{stats:?}");
        assert_eq!(
            ids(&main.checkout_latest().await.unwrap()).await,
            (50..60).collect::<Vec<_>>()
        );
        let leftovers = main.location().list("tree").await.unwrap();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    })
    .await;
}

#[tokio::test]
async fn shallow_clones_reference_files_in_place_and_pin_their_source() {
    for_each_backend(|t| async move {
        let mut main = create(&t.location, vec![batch(0..10)], &WriteParams::default()).await;
        append(&mut main, 10..20).await;
        let target = sibling(&t.location, "clone");
        let mut clone = main.shallow_clone(target.clone(), &main_ref(2)).await.unwrap();
        assert_eq!(
            (clone.version(), clone.manifest().reader_features() & FEATURE_BASE_PATHS),
            (1, FEATURE_BASE_PATHS)
        );
        assert_eq!(ids(&clone).await, (0..20).collect::<Vec<_>>());
        append(&mut clone, 20..25).await;
        let reopened = Dataset::open_location(target.clone()).await.unwrap();
        assert_eq!(ids(&reopened).await, (0..25).collect::<Vec<_>>());
        // Nothing of the clone lands in the source, and the source's
        // cleanup keeps the cloned version.
        main = Dataset::write(
            t.location.clone(),
            schema(),
            stream_of(vec![batch(90..91)]),
            WriteMode::Overwrite,
            &WriteParams::default(),
        )
        .await
        .unwrap();
        main.cleanup_with_options(
            &CleanupOptions {
                older_than: Duration::ZERO,
                delete_unverified: true,
            },
            &Progress::none(),
        )
        .await
        .unwrap();
        assert_eq!(
            ids(&Dataset::open_location(target.clone()).await.unwrap()).await.len(),
            25
        );
        // A clone of the clone resolves both roots.
        let second = sibling(&t.location, "clone2");
        let again = reopened
            .shallow_clone(second.clone(), &VersionRef::Version(2))
            .await
            .unwrap();
        assert_eq!(ids(&again).await, (0..25).collect::<Vec<_>>());
        // Cloning onto an existing dataset is refused.
        let onto = main.shallow_clone(target.clone(), &main_ref(3)).await.unwrap_err();
        assert!(matches!(onto, TableError::DatasetAlreadyExists { .. }), "{onto:?}");
        // A deep copy survives its source.
        let deep = sibling(&t.location, "deep");
        let copied = reopened
            .deep_clone(deep.clone(), &VersionRef::Version(2))
            .await
            .unwrap();
        assert_eq!(copied.manifest().reader_features() & FEATURE_BASE_PATHS, 0);
        for object in t.location.list("").await.unwrap() {
            t.location.delete(&object.location).await.unwrap();
        }
        let deep = Dataset::open_location(deep).await.unwrap();
        assert_eq!(ids(&deep).await, (0..25).collect::<Vec<_>>());
        // The shallow clone now misses its source's files: a typed error
        // naming one (in a process that has not cached them: the metadata
        // cache may hold a small file's bytes whole).
        clear_metadata_cache();
        let broken = Dataset::open_location(target).await.unwrap();
        let err = broken.scan().try_into_batch().await.unwrap_err();
        assert!(err.to_string().contains("data/"), "{err}");
        assert!(matches!(err, TableError::Io(_) | TableError::File(_)), "{err:?}");
    })
    .await;
}
