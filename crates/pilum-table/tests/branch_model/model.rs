//! The model of branch, tag, clone and cleanup histories: the operations,
//! their random strategy, and what each line of history must hold.

mod harness;

use crate::common::*;
use harness::Harness;
use pilum_table::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

const BRANCHES: [&str; 4] = ["b0", "b1", "b2", "b3"];
const TAGS: [&str; 3] = ["t0", "t1", "t2"];

/// One step. Lines and versions are picked among the live ones when the
/// step runs (`line % live`, `version % latest + 1`), so every sequence is
/// meaningful; versions cleanup removed are picked too.
#[derive(Debug, Clone)]
pub(crate) enum Op {
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

pub(crate) fn op() -> impl Strategy<Value = Op> {
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

pub(crate) async fn run(backend: Backend, ops: &[Op]) {
    let mut harness = Harness::new(backend).await;
    harness.check().await;
    for op in ops {
        harness.apply(op).await;
        harness.check().await;
    }
}

pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}
