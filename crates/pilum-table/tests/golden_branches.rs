//! The committed fixture `testdata/golden/dataset-v1.3-branches` (dataset
//! format 1.3: branches, a tag into a branch, a shallow clone naming its
//! source by a relative base path) must keep reading. Write it (only with
//! a `Format` entry in CHANGELOG.md) with
//! `cargo test -p pilum-table --test golden_branches -- --ignored regenerate`;
//! released fixtures are never rewritten.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use pilum_table::*;
use std::path::PathBuf;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden/dataset-v1.3-branches")
}

#[tokio::test]
#[ignore = "writes the fixture"]
async fn regenerate() {
    let root = fixture();
    let _ = std::fs::remove_dir_all(&root);
    let params = WriteParams {
        max_rows_per_file: 40,
        ..WriteParams::default()
    };
    let mut main = create(&local_location(&root.join("main")), vec![batch(0..100)], &params).await; // v1
    main.append(stream_of(vec![batch(100..120)]), &params).await.unwrap(); // v2
    let mut exp = main.create_branch("exp", &VersionRef::Version(1)).await.unwrap();
    exp.append(stream_of(vec![batch(500..530)]), &params).await.unwrap(); // exp v2
    exp.delete("id % 7 = 0").await.unwrap(); // exp v3
    main.tags()
        .create_ref("exp-tip", &VersionRef::Branch(Some("exp".into()), Some(3)))
        .await
        .unwrap();
    let mut clone = main
        .shallow_clone(local_location(&root.join("clone")), &VersionRef::Version(2))
        .await
        .unwrap();
    clone.append(stream_of(vec![batch(900..905)]), &params).await.unwrap(); // clone v2
}

#[tokio::test]
async fn golden_branches_read_back() {
    let root = fixture();
    let main = Dataset::open_location(local_location(&root.join("main")))
        .await
        .unwrap();
    assert_eq!((main.version(), main.branch()), (2, None));
    assert_eq!(ids(&main).await, (0..120).collect::<Vec<_>>());
    let branch: Vec<i64> = (0..100).chain(500..530).filter(|i| i % 7 != 0).collect();
    let exp = main.checkout_branch(Some("exp"), None).await.unwrap();
    assert_eq!((exp.version(), ids(&exp).await), (3, branch.clone()));
    assert_eq!(
        ids(&exp.checkout_version(1).await.unwrap()).await,
        (0..100).collect::<Vec<_>>()
    );
    let tagged = main.checkout_tag("exp-tip").await.unwrap();
    assert_eq!((tagged.branch(), tagged.version()), (Some("exp"), 3));
    let info = main.branches().get("exp").await.unwrap();
    assert_eq!((info.parent_branch, info.parent_version), (None, 1));
    let clone = Dataset::open_location(local_location(&root.join("clone")))
        .await
        .unwrap();
    assert_eq!(clone.version(), 2);
    assert_eq!(ids(&clone).await, (0..120).chain(900..905).collect::<Vec<_>>());
    assert_eq!(
        clone.manifest().reader_features() & FEATURE_BASE_PATHS,
        FEATURE_BASE_PATHS
    );
    let ops: Vec<Operation> = clone.versions().await.unwrap().iter().map(|v| v.operation).collect();
    assert_eq!(ops, vec![Operation::Clone, Operation::Append]);
}
