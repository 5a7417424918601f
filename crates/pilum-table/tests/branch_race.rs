//! Cleanup racing writers and creators of references on real threads:
//! appenders on main and a branch, a creator of branches and shallow clones
//! and a tagger of the versions cleanup is deleting. No acknowledged append
//! is lost, no version number is claimed twice, and no branch, clone or tag
//! names a deleted version.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use pilum_table::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The ids of `version` of a line made of `base` and then `commits`
/// (version → ids appended), on a line that only ever appends.
fn expected_at(base: &[i64], commits: &BTreeMap<u64, Vec<i64>>, version: u64) -> Vec<i64> {
    sorted(
        base.iter()
            .copied()
            .chain(commits.range(..=version).flat_map(|(_, ids)| ids.iter().copied()))
            .collect(),
    )
}

/// What one racing task did.
#[derive(Debug, Default)]
struct Report {
    /// Appends that returned Ok: (version, ids).
    commits: Vec<(u64, Vec<i64>)>,
    /// Branches created: (name, fork version).
    branches: Vec<(String, u64)>,
    /// Clones created: (location, source version).
    clones: Vec<(DatasetLocation, u64)>,
    /// Tags created: (name, version, ids read right after).
    tags: Vec<(String, u64, Vec<i64>)>,
    /// Retried conflicts, creations refused because cleanup took their version.
    conflicts: u64,
    refused: u64,
    cleanups: u64,
    versions_removed: u64,
    files_removed: u64,
}

/// Appends 3-row batches with ids from `first` on `branch` until `stop`,
/// through one handle that moves with its commits (so it falls behind the
/// other writers and, after a pause, behind cleanup), re-checking out the
/// latest on a conflict.
async fn appender(main: Dataset, branch: Option<&'static str>, first: i64, stop: Arc<AtomicBool>) -> Report {
    let mut ds = main.checkout_branch(branch, None).await.unwrap();
    let mut report = Report::default();
    let mut next = first;
    while !stop.load(Ordering::Relaxed) {
        let ids = next..next + 3;
        match ds
            .append(stream_of(vec![batch(ids.clone())]), &WriteParams::default())
            .await
        {
            Ok(()) => {
                report.commits.push((ds.version(), ids.collect()));
                next += 3;
                // Now and then a pause, so the handle falls behind the
                // versions cleanup lists and deletes.
                if report.commits.len() % 6 == 5 {
                    tokio::time::sleep(Duration::from_millis(150)).await;
                }
            }
            Err(TableError::CommitConflict { .. }) => {
                report.conflicts += 1;
                ds = ds.checkout_latest().await.unwrap();
            }
            Err(e) => panic!("append on {branch:?}: {e:?}"),
        }
    }
    report
}

/// Cleans up until `stop`: main on every pass, and one branch per pass in
/// turn ("side", whose appender races it, every other pass), with `options`
/// (`None`: `cleanup_old_versions`).
async fn cleaner(main: Dataset, options: Option<CleanupOptions>, stop: Arc<AtomicBool>) -> Report {
    async fn clean(ds: &Dataset, options: Option<CleanupOptions>) -> CleanupStats {
        let stats = match options {
            None => ds.cleanup_old_versions(Duration::ZERO).await,
            Some(options) => ds.cleanup_with_options(&options, &Progress::none()).await,
        };
        stats.unwrap_or_else(|e| panic!("cleanup of {:?}: {e:?}", ds.branch()))
    }
    let mut report = Report::default();
    let mut turn = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let stats = clean(&main, options).await;
        (report.versions_removed, report.files_removed) = (
            report.versions_removed + stats.versions_removed,
            report.files_removed + stats.files_removed,
        );
        let branches = main.branches().list().await.unwrap();
        turn += 1;
        let name = match turn % 2 {
            0 => "side".to_string(),
            _ => branches[turn / 2 % branches.len()].name.clone(),
        };
        let on = main.checkout_branch(Some(&name), None).await.unwrap();
        let stats = clean(&on, options).await;
        (report.versions_removed, report.files_removed) = (
            report.versions_removed + stats.versions_removed,
            report.files_removed + stats.files_removed,
        );
        report.cleanups += 1;
    }
    report
}

/// Creates branches and shallow clones of main's latest version until
/// `stop`. Cleanup may take that version once newer ones land; the
/// creation then fails with `VersionNotFound` and leaves nothing behind.
async fn creator(main: Dataset, root: DatasetLocation, stop: Arc<AtomicBool>) -> Report {
    let mut report = Report::default();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let version = main.latest_version().await.unwrap();
        let name = format!("c{n}");
        match main
            .create_branch(&name, &VersionRef::Branch(None, Some(version)))
            .await
        {
            Ok(_) => report.branches.push((name, version)),
            Err(TableError::VersionNotFound { .. }) => {
                report.refused += 1;
                let left = main.branches().get(&name).await;
                assert!(
                    matches!(left, Err(TableError::BranchNotFound { .. })),
                    "{name}: {left:?}"
                );
            }
            Err(e) => panic!("branch {name}: {e:?}"),
        }
        let target = sibling(&root, &format!("race-clone{n}"));
        match main
            .shallow_clone(target.clone(), &VersionRef::Branch(None, Some(version)))
            .await
        {
            Ok(_) => report.clones.push((target, version)),
            Err(TableError::VersionNotFound { .. }) => {
                report.refused += 1;
                let left = Dataset::open_location(target).await;
                assert!(matches!(left, Err(TableError::DatasetNotFound { .. })), "{left:?}");
            }
            Err(e) => panic!("clone {n}: {e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    report
}

/// Tags main versions a few behind the latest (the ones cleanup is
/// deleting) until `stop`; a tag either holds a version that reads fully
/// or is refused with `VersionNotFound` and left absent.
async fn tagger(main: Dataset, stop: Arc<AtomicBool>) -> Report {
    let mut report = Report::default();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let latest = main.latest_version().await.unwrap();
        let version = latest.saturating_sub(1 + n % 16).max(1);
        let name = format!("r{n}");
        match main
            .tags()
            .create_ref(&name, &VersionRef::Branch(None, Some(version)))
            .await
        {
            Ok(()) => {
                let tagged = main
                    .checkout_tag(&name)
                    .await
                    .unwrap_or_else(|e| panic!("tag {name} on v{version}: {e:?}"));
                assert_eq!(tagged.version(), version);
                let read = tagged
                    .scan()
                    .project(["id"])
                    .try_into_batch()
                    .await
                    .unwrap_or_else(|e| panic!("tag {name} on v{version}: {e:?}"));
                report.tags.push((name, version, sorted(column_i64(&read, "id"))));
            }
            Err(TableError::VersionNotFound { .. }) => {
                report.refused += 1;
                let left = main.tags().get(&name).await;
                assert!(matches!(left, Err(TableError::TagNotFound { .. })), "{name}: {left:?}");
            }
            Err(e) => panic!("tag {name}: {e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    report
}

/// Every existing version of a line that only appends holds exactly the
/// rows committed up to it, and every commit's rows are in the latest.
async fn check_line(on: &Dataset, base: &[i64], commits: &BTreeMap<u64, Vec<i64>>, what: &str) {
    clear_metadata_cache();
    let latest = on.checkout_latest().await.unwrap();
    let everything = expected_at(base, commits, u64::MAX);
    assert_eq!(
        ids(&latest).await,
        everything,
        "{what}: an acknowledged append is missing"
    );
    for info in latest.versions().await.unwrap() {
        let version = latest.checkout_version(info.version).await.unwrap();
        assert_eq!(
            ids(&version).await,
            expected_at(base, commits, info.version),
            "{what} v{}",
            info.version
        );
    }
}

/// Every cleanup withdrew its intent (a leftover one would hold up the
/// creators of references to the versions it names).
async fn no_cleanup_in_flight(main: &Dataset) {
    let intents = main.location().list("_refs/cleanups").await.unwrap();
    assert!(intents.is_empty(), "{intents:?}");
}

/// Folds the appenders' commits into version → ids, refusing two appends
/// acknowledged with one version number.
fn commits_of(reports: &[&Report], into: &mut BTreeMap<u64, Vec<i64>>) {
    for report in reports {
        for (version, ids) in &report.commits {
            if let Some(other) = into.insert(*version, ids.clone()) {
                panic!("appends of {other:?} and {ids:?} were both acknowledged as version {version}");
            }
        }
    }
}

/// Cleanup in a loop against two appenders on main, one on a branch, and
/// a creator of branches and clones; then against appenders and a tagger
/// tagging the versions cleanup is deleting.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cleanup_racing_writers_and_creators_loses_nothing() {
    let t = TestLocation::new(Backend::Local);
    let main = create(&t.location, vec![batch(0..10)], &WriteParams::default()).await;
    main.create_branch("side", &VersionRef::Version(1)).await.unwrap();
    let base: Vec<i64> = (0..10).collect();
    let mut main_commits = BTreeMap::new();
    let mut side_commits = BTreeMap::new();

    // Round 1: plain cleanup; appenders; branches and clones of the latest.
    let stop = Arc::new(AtomicBool::new(false));
    let cleaning = tokio::spawn(cleaner(main.clone(), None, stop.clone()));
    let first = tokio::spawn(appender(main.clone(), None, 1_000_000, stop.clone()));
    let second = tokio::spawn(appender(main.clone(), None, 2_000_000, stop.clone()));
    let on_side = tokio::spawn(appender(main.clone(), Some("side"), 3_000_000, stop.clone()));
    let creating = tokio::spawn(creator(main.clone(), t.location.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let cleaning = cleaning.await.unwrap();
    let (first, second, on_side) = (first.await.unwrap(), second.await.unwrap(), on_side.await.unwrap());
    let creating = creating.await.unwrap();
    commits_of(&[&first, &second], &mut main_commits);
    commits_of(&[&on_side], &mut side_commits);
    let round1 = format!(
        "round 1: {} main and {} side appends ({} conflicts), {} cleanup passes removing {} versions, \
         {} branches and {} clones created, {} refused",
        main_commits.len(),
        side_commits.len(),
        first.conflicts + second.conflicts + on_side.conflicts,
        cleaning.cleanups,
        cleaning.versions_removed,
        creating.branches.len(),
        creating.clones.len(),
        creating.refused
    );
    eprintln!("{round1}");
    assert!(
        main_commits.len() >= 4 && side_commits.len() >= 2 && cleaning.cleanups >= 2,
        "{round1}"
    );
    assert!(cleaning.versions_removed > 0, "{round1}");
    no_cleanup_in_flight(&main).await;
    check_line(&main, &base, &main_commits, "main").await;
    let side = main.checkout_branch(Some("side"), None).await.unwrap();
    check_line(&side, &base, &side_commits, "side").await;
    for (name, fork) in &creating.branches {
        let branch = main.checkout_branch(Some(name), None).await.unwrap();
        assert_eq!(branch.version(), *fork, "{name}");
        assert_eq!(ids(&branch).await, expected_at(&base, &main_commits, *fork), "{name}");
    }
    for (target, version) in &creating.clones {
        let clone = Dataset::open_location(target.clone()).await.unwrap();
        assert_eq!(clone.version(), 1);
        assert_eq!(
            ids(&clone).await,
            expected_at(&base, &main_commits, *version),
            "clone of v{version}"
        );
    }

    // Round 2: cleanup with explicit options against appenders and tags on
    // the versions it is deleting. Compacting first makes the tagger's scans
    // cheap, and leaves round 1's files to versions cleanup now deletes.
    let mut compacted = main.checkout_latest().await.unwrap();
    compacted.compact_files(&CompactionOptions::default()).await.unwrap();
    assert_eq!(compacted.fragments().await.unwrap().len(), 1);
    let stop = Arc::new(AtomicBool::new(false));
    let options = CleanupOptions {
        older_than: Duration::ZERO,
        delete_unverified: false,
    };
    let cleaning = tokio::spawn(cleaner(main.clone(), Some(options), stop.clone()));
    let first = tokio::spawn(appender(main.clone(), None, 4_000_000, stop.clone()));
    let second = tokio::spawn(appender(main.clone(), None, 5_000_000, stop.clone()));
    let tagging = tokio::spawn(tagger(main.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let cleaning = cleaning.await.unwrap();
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    let tagging = tagging.await.unwrap();
    let before = main_commits.len();
    commits_of(&[&first, &second], &mut main_commits);
    let round2 = format!(
        "round 2: {} main appends ({} conflicts), {} cleanup passes removing {} versions and {} files, \
         {} tags created, {} refused",
        main_commits.len() - before,
        first.conflicts + second.conflicts,
        cleaning.cleanups,
        cleaning.versions_removed,
        cleaning.files_removed,
        tagging.tags.len(),
        tagging.refused
    );
    eprintln!("{round2}");
    assert!(!tagging.tags.is_empty(), "{round2}");
    no_cleanup_in_flight(&main).await;
    check_line(&main, &base, &main_commits, "main").await;
    for (name, version, read) in &tagging.tags {
        let expected = expected_at(&base, &main_commits, *version);
        assert_eq!(read, &expected, "tag {name} on v{version}, read when created");
        let tagged = main.checkout_tag(name).await.unwrap();
        assert_eq!(ids(&tagged).await, expected, "tag {name} on v{version}");
    }
    // Everything created in round 1 survived round 2's cleanups too.
    for (name, fork) in &creating.branches {
        let branch = main.checkout_branch(Some(name), None).await.unwrap();
        assert_eq!(ids(&branch).await, expected_at(&base, &main_commits, *fork), "{name}");
    }
    for (target, version) in &creating.clones {
        let clone = Dataset::open_location(target.clone()).await.unwrap();
        assert_eq!(ids(&clone).await, expected_at(&base, &main_commits, *version));
    }
    check_line(&side, &base, &side_commits, "side").await;
}
