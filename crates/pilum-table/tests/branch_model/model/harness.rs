//! Runs operations on a real dataset and on the model side by side, and
//! checks after each step that the dataset shows what the model says.

use super::*;
use std::time::Duration;

pub(super) struct Harness {
    _t: TestLocation,
    root: DatasetLocation,
    model: Model,
    /// The step being run, for messages.
    step: String,
}

impl Harness {
    pub(super) async fn new(backend: Backend) -> Self {
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

    pub(super) async fn apply(&mut self, op: &Op) {
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
    pub(super) async fn check(&self) {
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
