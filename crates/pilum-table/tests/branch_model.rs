//! Branches, tags, shallow clones and cleanup against a model: random
//! operation sequences (proptest, in memory; fixed sequences on local disk)
//! checked after every step (`branch_race.rs` races them on real threads).
//! The invariant throughout:
//! cleanup removes exactly the versions nothing needs, never a file a
//! live version references, and never a committed append.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use pilum_table::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

const BRANCHES: [&str; 4] = ["b0", "b1", "b2", "b3"];
const TAGS: [&str; 3] = ["t0", "t1", "t2"];

/// One step. Lines and versions are picked among the live ones when the
/// step runs (`line % live`, `version % latest + 1`), so every sequence is
/// meaningful; versions cleanup removed are picked too.
#[derive(Debug, Clone)]
enum Op {
    /// Appends rows with fresh ids on a live line (main, branch or clone).
    Append {
        line: usize,
        rows: i64,
    },
    /// Appends through a handle checked out at an existing, maybe older,
    /// version (`version % existing`).
    AppendFrom {
        line: usize,
        version: usize,
        rows: i64,
    },
    /// Deletes the rows with `id % modulus == rest`.
    DeleteRows {
        line: usize,
        modulus: i64,
        rest: i64,
    },
    /// Compacts small fragments (rewrites files, so older files go stale).
    Compact {
        line: usize,
    },
    /// Creates a branch from main or a branch.
    CreateBranch {
        name: usize,
        from: usize,
        version: usize,
    },
    /// Deletes `BRANCHES[name]`, or (`name >= BRANCHES.len()`) a live branch.
    DeleteBranch {
        name: usize,
    },
    /// Tags a version of main or a branch.
    Tag {
        name: usize,
        line: usize,
        version: usize,
    },
    DeleteTag {
        name: usize,
    },
    /// Shallow-clones a version of any live line into a new sibling root.
    ShallowClone {
        from: usize,
        version: usize,
    },
    Cleanup {
        line: usize,
        delete_unverified: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let line = 0usize..16;
    let version = 0usize..64;
    prop_oneof![
        4 => (line.clone(), 1i64..6).prop_map(|(line, rows)| Op::Append { line, rows }),
        2 => (line.clone(), version.clone(), 1i64..4)
            .prop_map(|(line, version, rows)| Op::AppendFrom { line, version, rows }),
        1 => (line.clone(), 3i64..7, 0i64..7)
            .prop_map(|(line, modulus, rest)| Op::DeleteRows { line, modulus, rest: rest % modulus }),
        1 => line.clone().prop_map(|line| Op::Compact { line }),
        3 => (0usize..BRANCHES.len(), line.clone(), version.clone())
            .prop_map(|(name, from, version)| Op::CreateBranch { name, from, version }),
        3 => (0usize..2 * BRANCHES.len()).prop_map(|name| Op::DeleteBranch { name }),
        2 => (0usize..TAGS.len(), line.clone(), version.clone())
            .prop_map(|(name, line, version)| Op::Tag { name, line, version }),
        1 => (0usize..TAGS.len()).prop_map(|name| Op::DeleteTag { name }),
        2 => (line.clone(), version).prop_map(|(from, version)| Op::ShallowClone { from, version }),
        4 => (line, any::<bool>()).prop_map(|(line, delete_unverified)| Op::Cleanup { line, delete_unverified }),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Main,
    Branch,
    Clone,
}

/// A line of history: main, a branch (one incarnation of its name) or a
/// shallow clone (its own root).
#[derive(Debug, Clone)]
struct Line {
    kind: Kind,
    /// The branch name ("main" for main, the root for a clone).
    name: String,
    /// Branches: the parent line and the fork version.
    parent: Option<(usize, u64)>,
    /// Branches: the directory holding their own versions and files.
    directory: String,
    /// Clones: their root.
    location: Option<DatasetLocation>,
    /// The versions stored in this line's own directory (or root) that
    /// still exist, with their sorted ids.
    own: BTreeMap<u64, Vec<i64>>,
    latest: u64,
    live: bool,
}

#[derive(Debug, Default)]
struct Model {
    lines: Vec<Line>,
    /// Tag → (line, version).
    tags: BTreeMap<String, (usize, u64)>,
    /// Clone pins: (source line, version).
    pins: Vec<(usize, u64)>,
    next_id: i64,
    clones: usize,
}

impl Model {
    /// The line whose own directory stores `version` of `line`.
    fn owner(&self, mut line: usize, version: u64) -> usize {
        while let Some((parent, fork)) = self.lines[line].parent {
            if version > fork {
                break;
            }
            line = parent;
        }
        line
    }

    /// The ids of `version` of `line`, `None` when it does not exist.
    fn ids(&self, line: usize, version: u64) -> Option<&Vec<i64>> {
        if version == 0 || version > self.lines[line].latest {
            return None;
        }
        self.lines[self.owner(line, version)].own.get(&version)
    }

    fn latest_ids(&self, line: usize) -> Vec<i64> {
        self.ids(line, self.lines[line].latest)
            .cloned()
            .expect("the latest version always exists")
    }

    fn existing(&self, line: usize) -> Vec<u64> {
        (1..=self.lines[line].latest)
            .filter(|v| self.ids(line, *v).is_some())
            .collect()
    }

    /// Live lines; with `same_root`, only main and branches.
    fn live(&self, same_root: bool) -> Vec<usize> {
        (0..self.lines.len())
            .filter(|l| self.lines[*l].live && !(same_root && self.lines[*l].kind == Kind::Clone))
            .collect()
    }

    fn pick(&self, same_root: bool, selector: usize) -> usize {
        let live = self.live(same_root);
        live[selector % live.len()]
    }

    fn pick_version(&self, line: usize, selector: usize) -> u64 {
        selector as u64 % self.lines[line].latest + 1
    }

    fn live_branch(&self, name: &str) -> Option<usize> {
        (0..self.lines.len()).find(|l| {
            let line = &self.lines[*l];
            line.live && line.kind == Kind::Branch && line.name == name
        })
    }

    fn fresh_ids(&mut self, rows: i64) -> Range<i64> {
        let ids = self.next_id..self.next_id + rows;
        self.next_id += rows;
        ids
    }

    /// Commits `ids` as the next version of `line`.
    fn commit(&mut self, line: usize, ids: Vec<i64>) -> u64 {
        let version = self.lines[line].latest + 1;
        self.lines[line].own.insert(version, ids);
        self.lines[line].latest = version;
        version
    }

    /// The versions of `line`'s own directory that something pins: tags,
    /// fork points of live branches and clone pins resolving to it.
    fn pinned(&self, line: usize) -> BTreeSet<u64> {
        let forks = self.live(true).into_iter().filter_map(|l| self.lines[l].parent);
        self.tags
            .values()
            .copied()
            .chain(forks)
            .chain(self.pins.iter().copied())
            .filter(|(l, v)| self.owner(*l, *v) == line)
            .map(|(_, v)| v)
            .collect()
    }

    /// Why deleting branch `line` is refused, if it is.
    fn in_use(&self, line: usize) -> Option<&'static str> {
        if self
            .live(true)
            .iter()
            .any(|l| self.lines[*l].parent.map(|p| p.0) == Some(line))
        {
            return Some("a child branch");
        }
        if self.tags.values().any(|(l, _)| *l == line) {
            return Some("a tag");
        }
        if self.pins.iter().any(|(l, _)| *l == line) {
            return Some("a clone pin");
        }
        None
    }
}

struct Harness {
    _t: TestLocation,
    root: DatasetLocation,
    model: Model,
    /// The step being run, for messages.
    step: String,
}

impl Harness {
    async fn new(backend: Backend) -> Self {
        let t = TestLocation::new(backend);
        let root = t.location.clone();
        create(&root, vec![batch(0..10)], &WriteParams::default()).await;
        let main = Line {
            kind: Kind::Main,
            name: MAIN_BRANCH.into(),
            parent: None,
            directory: String::new(),
            location: None,
            own: BTreeMap::from([(1, (0..10).collect())]),
            latest: 1,
            live: true,
        };
        Self {
            _t: t,
            root,
            model: Model {
                lines: vec![main],
                next_id: 100,
                ..Model::default()
            },
            step: "create".into(),
        }
    }

    /// A fresh main handle (with its own caches).
    async fn main(&self) -> Dataset {
        Dataset::open_location(self.root.clone()).await.unwrap()
    }

    /// `line` at its latest version, through a fresh handle.
    async fn open(&self, line: usize) -> Result<Dataset> {
        let info = &self.model.lines[line];
        match info.kind {
            Kind::Main => Dataset::open_location(self.root.clone()).await,
            Kind::Branch => self.main().await.checkout_branch(Some(&info.name), None).await,
            Kind::Clone => Dataset::open_location(info.location.clone().unwrap()).await,
        }
    }

    /// `version` of `line`, through a fresh handle.
    async fn open_at(&self, line: usize, version: u64) -> Result<Dataset> {
        let info = &self.model.lines[line];
        match info.kind {
            Kind::Main => self.main().await.checkout_branch(None, Some(version)).await,
            Kind::Branch => self.main().await.checkout_branch(Some(&info.name), Some(version)).await,
            Kind::Clone => {
                let clone = Dataset::open_location(info.location.clone().unwrap()).await?;
                clone.checkout_version(version).await
            }
        }
    }

    /// `version` of `line`, as its dataset names it.
    fn reference(&self, line: usize, version: u64) -> VersionRef {
        let info = &self.model.lines[line];
        match info.kind {
            Kind::Main => VersionRef::Branch(None, Some(version)),
            Kind::Branch => VersionRef::Branch(Some(info.name.clone()), Some(version)),
            Kind::Clone => VersionRef::Version(version),
        }
    }

    /// The dataset `reference(line, ..)` is resolved against: main's root,
    /// or the clone itself.
    async fn holder(&self, line: usize) -> Dataset {
        match self.model.lines[line].kind {
            Kind::Clone => self.open(line).await.unwrap(),
            _ => self.main().await,
        }
    }

    fn describe(&self, line: usize) -> String {
        let info = &self.model.lines[line];
        format!("{:?} {} (line {line})", info.kind, info.name)
    }

    async fn apply(&mut self, op: &Op) {
        self.step = format!("{op:?}");
        match *op {
            Op::Append { line, rows } => {
                let line = self.model.pick(false, line);
                let mut ds = self.open(line).await.unwrap();
                let ids = self.model.fresh_ids(rows);
                ds.append(stream_of(vec![batch(ids.clone())]), &WriteParams::default())
                    .await
                    .unwrap();
                let expected = sorted(self.model.latest_ids(line).into_iter().chain(ids).collect());
                let version = self.model.commit(line, expected);
                assert_eq!(ds.version(), version, "{}: {}", self.step, self.describe(line));
            }
            Op::AppendFrom { line, version, rows } => {
                let line = self.model.pick(false, line);
                // One of the versions that still exist (checking out the
                // others is checked after every step).
                let existing = self.model.existing(line);
                let version = existing[version % existing.len()];
                let mut ds = self.open_at(line, version).await.unwrap();
                let ids = self.model.fresh_ids(rows);
                let result = ds
                    .append(stream_of(vec![batch(ids.clone())]), &WriteParams::default())
                    .await;
                // The commit rebases over every version since the handle's;
                // when cleanup removed one of them it cannot, and says so.
                let latest = self.model.lines[line].latest;
                let gap = (version + 1..=latest).any(|v| self.model.ids(line, v).is_none());
                if gap {
                    assert!(
                        matches!(result, Err(TableError::CommitConflict { .. })),
                        "{}: an append over a cleaned-up version must conflict, got {result:?} (version {})",
                        self.step,
                        ds.version()
                    );
                } else {
                    result.unwrap();
                    let expected = sorted(self.model.latest_ids(line).into_iter().chain(ids).collect());
                    let committed = self.model.commit(line, expected);
                    assert_eq!(ds.version(), committed, "{}", self.step);
                }
            }
            Op::DeleteRows { line, modulus, rest } => {
                let line = self.model.pick(false, line);
                let mut ds = self.open(line).await.unwrap();
                let deleted = ds.delete(&format!("id % {modulus} = {rest}")).await.unwrap();
                let before = self.model.latest_ids(line);
                let kept: Vec<i64> = before.iter().copied().filter(|id| id % modulus != rest).collect();
                assert_eq!(deleted as usize, before.len() - kept.len(), "{}", self.step);
                if deleted > 0 {
                    let version = self.model.commit(line, kept);
                    assert_eq!(ds.version(), version, "{}", self.step);
                }
            }
            Op::Compact { line } => {
                let line = self.model.pick(false, line);
                let mut ds = self.open(line).await.unwrap();
                let metrics = ds
                    .compact_files(&CompactionOptions {
                        target_rows_per_fragment: 64,
                        ..CompactionOptions::default()
                    })
                    .await
                    .unwrap();
                if metrics.fragments_removed > 0 {
                    let ids = self.model.latest_ids(line);
                    let version = self.model.commit(line, ids);
                    assert_eq!(ds.version(), version, "{}", self.step);
                }
            }
            Op::CreateBranch { name, from, version } => {
                let name = BRANCHES[name];
                let from = self.model.pick(true, from);
                let version = self.model.pick_version(from, version);
                let reference = self.reference(from, version);
                let result = self.main().await.create_branch(name, &reference).await;
                match (self.model.ids(from, version).cloned(), self.model.live_branch(name)) {
                    (None, _) => {
                        assert!(
                            matches!(result, Err(TableError::VersionNotFound { .. })),
                            "{}: {result:?}",
                            self.step
                        );
                    }
                    (Some(_), Some(_)) => {
                        assert!(
                            matches!(result, Err(TableError::BranchAlreadyExists { .. })),
                            "{}: {result:?}",
                            self.step
                        );
                    }
                    (Some(expected), None) => {
                        let ds = result.unwrap();
                        assert_eq!((ds.branch(), ds.version()), (Some(name), version), "{}", self.step);
                        assert_eq!(ids(&ds).await, expected, "{}", self.step);
                        let info = ds.branches().get(name).await.unwrap();
                        let parent = match self.model.lines[from].kind {
                            Kind::Main => None,
                            _ => Some(self.model.lines[from].name.clone()),
                        };
                        assert_eq!((info.parent_branch, info.parent_version), (parent, version));
                        self.model.lines.push(Line {
                            kind: Kind::Branch,
                            name: name.to_string(),
                            parent: Some((from, version)),
                            directory: info.directory,
                            location: None,
                            own: BTreeMap::new(),
                            latest: version,
                            live: true,
                        });
                    }
                }
            }
            Op::DeleteBranch { name } => {
                let live: Vec<String> = self
                    .model
                    .live(true)
                    .into_iter()
                    .filter(|l| self.model.lines[*l].kind == Kind::Branch)
                    .map(|l| self.model.lines[l].name.clone())
                    .collect();
                let name = match name.checked_sub(BRANCHES.len()) {
                    Some(pick) if !live.is_empty() => live[pick % live.len()].clone(),
                    _ => BRANCHES[name % BRANCHES.len()].to_string(),
                };
                let result = self.main().await.branches().delete(&name).await;
                let Some(line) = self.model.live_branch(&name) else {
                    assert!(
                        matches!(result, Err(TableError::BranchNotFound { .. })),
                        "{}: {result:?}",
                        self.step
                    );
                    return;
                };
                match self.model.in_use(line) {
                    Some(why) => assert!(
                        matches!(result, Err(TableError::BranchInUse { .. })),
                        "{}: {why} needs the branch, got {result:?}",
                        self.step
                    ),
                    None => {
                        result.unwrap();
                        let info = &mut self.model.lines[line];
                        info.live = false;
                        info.own.clear();
                    }
                }
            }
            Op::Tag { name, line, version } => {
                let name = TAGS[name];
                let line = self.model.pick(true, line);
                let version = self.model.pick_version(line, version);
                let reference = self.reference(line, version);
                let result = self.main().await.tags().create_ref(name, &reference).await;
                if self.model.ids(line, version).is_none() {
                    assert!(
                        matches!(result, Err(TableError::VersionNotFound { .. })),
                        "{}: {result:?}",
                        self.step
                    );
                } else if self.model.tags.contains_key(name) {
                    assert!(
                        matches!(result, Err(TableError::TagAlreadyExists { .. })),
                        "{}: {result:?}",
                        self.step
                    );
                } else {
                    result.unwrap();
                    self.model.tags.insert(name.to_string(), (line, version));
                }
            }
            Op::DeleteTag { name } => {
                let name = TAGS[name];
                let result = self.main().await.tags().delete(name).await;
                if self.model.tags.remove(name).is_some() {
                    result.unwrap();
                } else {
                    assert!(
                        matches!(result, Err(TableError::TagNotFound { .. })),
                        "{}: {result:?}",
                        self.step
                    );
                }
            }
            Op::ShallowClone { from, version } => {
                let from = self.model.pick(false, from);
                let version = self.model.pick_version(from, version);
                let name = format!("clone{}", self.model.clones);
                self.model.clones += 1;
                let target = sibling(&self.root, &name);
                let reference = self.reference(from, version);
                let result = self.holder(from).await.shallow_clone(target.clone(), &reference).await;
                let Some(expected) = self.model.ids(from, version).cloned() else {
                    assert!(
                        matches!(result, Err(TableError::VersionNotFound { .. })),
                        "{}: {result:?}",
                        self.step
                    );
                    let nothing = Dataset::open_location(target).await;
                    assert!(
                        matches!(nothing, Err(TableError::DatasetNotFound { .. })),
                        "{}: {nothing:?}",
                        self.step
                    );
                    return;
                };
                let clone = result.unwrap();
                assert_eq!(clone.version(), 1, "{}", self.step);
                assert_eq!(ids(&clone).await, expected, "{}", self.step);
                self.model.pins.push((from, version));
                self.model.lines.push(Line {
                    kind: Kind::Clone,
                    name,
                    parent: None,
                    directory: String::new(),
                    location: Some(target),
                    own: BTreeMap::from([(1, expected)]),
                    latest: 1,
                    live: true,
                });
            }
            Op::Cleanup {
                line,
                delete_unverified,
            } => {
                let line = self.model.pick(false, line);
                let ds = self.open(line).await.unwrap();
                let options = CleanupOptions {
                    older_than: Duration::ZERO,
                    delete_unverified,
                };
                let stats = ds.cleanup_with_options(&options, &Progress::none()).await.unwrap();
                let pinned = self.model.pinned(line);
                let latest = self.model.lines[line].latest;
                let info = &mut self.model.lines[line];
                let before = info.own.len();
                info.own.retain(|v, _| *v >= latest || pinned.contains(v));
                assert_eq!(
                    stats.versions_removed as usize,
                    before - info.own.len(),
                    "{}: versions removed from {} (pinned {pinned:?})",
                    self.step,
                    self.describe(line)
                );
            }
        }
    }

    /// Every version, tag and branch the model knows reads back exactly;
    /// every version it says is gone is reported gone.
    async fn check(&self) {
        // Reopen every file: a reader cached since a file was deleted
        // would hide the deletion.
        clear_metadata_cache();
        let step = &self.step;
        let main = self.main().await;
        for line in 0..self.model.lines.len() {
            let info = &self.model.lines[line];
            let what = self.describe(line);
            if !info.live {
                if self.model.live_branch(&info.name).is_none() {
                    let gone = main.checkout_branch(Some(&info.name), None).await;
                    assert!(
                        matches!(gone, Err(TableError::BranchNotFound { .. })),
                        "{step}: {what}: {gone:?}"
                    );
                }
                let left = main.location().list(&info.directory).await.unwrap();
                assert!(left.is_empty(), "{step}: deleted {what} left {left:?}");
                continue;
            }
            let latest = self.open(line).await.unwrap();
            assert_eq!(latest.version(), info.latest, "{step}: latest of {what}");
            assert_eq!(ids(&latest).await, self.model.latest_ids(line), "{step}: {what}");
            let listed: Vec<u64> = latest.versions().await.unwrap().iter().map(|v| v.version).collect();
            assert_eq!(listed, self.model.existing(line), "{step}: versions of {what}");
            for version in 1..=info.latest {
                let result = self.open_at(line, version).await;
                match self.model.ids(line, version) {
                    Some(expected) => {
                        let ds = result.unwrap_or_else(|e| panic!("{step}: {what} v{version}: {e:?}"));
                        assert_eq!(&ids(&ds).await, expected, "{step}: {what} v{version}");
                    }
                    None => assert!(
                        matches!(result, Err(TableError::VersionNotFound { .. })),
                        "{step}: {what} v{version} should be gone: {:?}",
                        result.map(|d| d.version())
                    ),
                }
            }
        }
        let tags: Vec<(String, u64, Option<String>)> = main
            .tags()
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.name, t.version, t.branch))
            .collect();
        let expected: Vec<(String, u64, Option<String>)> = self
            .model
            .tags
            .iter()
            .map(|(name, (line, version))| {
                let info = &self.model.lines[*line];
                let branch = (info.kind == Kind::Branch).then(|| info.name.clone());
                (name.clone(), *version, branch)
            })
            .collect();
        assert_eq!(tags, expected, "{step}: tags");
        for (name, (line, version)) in &self.model.tags {
            let ds = main.checkout_tag(name).await.unwrap();
            assert_eq!(ds.version(), *version, "{step}: tag {name}");
            assert_eq!(
                Some(&ids(&ds).await),
                self.model.ids(*line, *version),
                "{step}: tag {name}"
            );
        }
        let branches: Vec<(String, u64)> = main
            .branches()
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|b| (b.name, b.parent_version))
            .collect();
        let mut expected: Vec<(String, u64)> = self
            .model
            .live(true)
            .into_iter()
            .filter_map(|l| {
                let info = &self.model.lines[l];
                info.parent.map(|(_, fork)| (info.name.clone(), fork))
            })
            .collect();
        expected.sort();
        assert_eq!(branches, expected, "{step}: branches");
    }
}

async fn run(backend: Backend, ops: &[Op]) {
    let mut harness = Harness::new(backend).await;
    harness.check().await;
    for op in ops {
        harness.apply(op).await;
        harness.check().await;
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn branches_tags_clones_and_cleanup_match_the_model(ops in proptest::collection::vec(op(), 1..26)) {
        block_on(run(Backend::Memory, &ops));
    }
}

/// A sequence through the cases that matter most: a branch of a branch
/// forked below its parent's fork, tags and clones into branches, clones of
/// clones, compaction on both sides of a fork, stale appends over
/// cleaned-up versions, and deletes refused until nothing depends.
fn walkthrough() -> Vec<Op> {
    use Op::*;
    let append = |line| Append { line, rows: 3 };
    let cleanup = |line| Cleanup {
        line,
        delete_unverified: true,
    };
    vec![
        append(0),
        append(0),
        CreateBranch {
            name: 0,
            from: 0,
            version: 1, // main v2
        },
        append(1),
        append(1),
        // b1 from b0 at version 1 (main's): stored below b0's fork.
        CreateBranch {
            name: 1,
            from: 1,
            version: 0,
        },
        Tag {
            name: 0,
            line: 1,
            version: 3, // b0 v4
        },
        append(0),
        DeleteRows {
            line: 0,
            modulus: 3,
            rest: 1,
        },
        Compact { line: 0 },
        Compact { line: 1 },
        ShallowClone { from: 1, version: 2 }, // b0 v3
        append(3),
        DeleteRows {
            line: 3,
            modulus: 4,
            rest: 0,
        },
        ShallowClone { from: 3, version: 1 }, // clone0 v2
        cleanup(0),
        cleanup(1),
        Compact { line: 3 },
        cleanup(3),
        // Main keeps v1 (b1's fork, through b0) and v2 (b0's fork): an
        // append from v1 would rebase over v2 and then the removed v3.
        AppendFrom {
            line: 0,
            version: 0,
            rows: 2,
        },
        // From b0 v3 (pinned by the clone) over v4 (tagged) and v5.
        AppendFrom {
            line: 1,
            version: 2,
            rows: 2,
        },
        cleanup(1),
        append(4),
        cleanup(4),
        DeleteBranch { name: 0 },
        DeleteBranch { name: 1 },
        DeleteTag { name: 0 },
        // Still pinned by clone0.
        DeleteBranch { name: 0 },
        cleanup(0),
        append(0),
        // The name again, from main v6.
        CreateBranch {
            name: 1,
            from: 0,
            version: 5,
        },
        append(0),
        cleanup(0),
    ]
}

/// The walkthrough in memory.
#[test]
fn walkthrough_matches_the_model_in_memory() {
    block_on(run(Backend::Memory, &walkthrough()));
}

/// The walkthrough and a few seeded random sequences on local disk.
#[test]
fn fixed_sequences_match_the_model_on_local_disk() {
    block_on(run(Backend::Local, &walkthrough()));
    for seed in 0..4u8 {
        let mut runner = TestRunner::new_with_rng(
            ProptestConfig::default(),
            TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
        );
        let ops = proptest::collection::vec(op(), 25)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        block_on(run(Backend::Local, &ops));
    }
}
