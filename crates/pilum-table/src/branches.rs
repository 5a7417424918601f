//! Branches: named lines of history that share the versions (and files) of
//! the branch they were created from up to their fork point, and then
//! commit on their own. Creating one writes a single small object, whatever
//! the table's size.

use crate::dataset::{Dataset, micros_to_time};
use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::paths;
use crate::pins;
use crate::proto;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use prost::Message;
use std::sync::Arc;

/// The name that always means the main line of history.
pub const MAIN_BRANCH: &str = "main";

/// A version to start from or check out: a version of the handle's own
/// branch, a tag, or a version (latest when `None`) of a named branch
/// (`None` for main).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionRef {
    /// A version of the handle's branch.
    Version(u64),
    /// The version a tag names (on its branch).
    Tag(String),
    /// A branch (`None`: main) at a version (`None`: its latest).
    Branch(Option<String>, Option<u64>),
}

/// A branch and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchInfo {
    /// Branch name.
    pub name: String,
    /// The branch it was created from (`None`: main).
    pub parent_branch: Option<String>,
    /// The parent's version it starts from.
    pub parent_version: u64,
    /// Its directory, relative to the dataset root.
    pub directory: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// One step of a branch's ancestry: the directory holding its own
/// manifests, which are the versions after `parent_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    directory: String,
    parent_version: u64,
}

/// A branch's place in the version tree: its own directory and fork point,
/// then its ancestors' (main last, implicitly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lineage {
    name: String,
    own: Step,
    ancestors: Vec<Step>,
}

impl Lineage {
    /// Branch name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The branch's directory, relative to the root.
    pub fn directory(&self) -> &str {
        &self.own.directory
    }

    /// The parent version the branch starts from.
    pub fn parent_version(&self) -> u64 {
        self.own.parent_version
    }

    /// The directory ("" for main) holding `version` of this branch.
    pub fn directory_of(&self, version: u64) -> &str {
        std::iter::once(&self.own)
            .chain(&self.ancestors)
            .find(|step| version > step.parent_version)
            .map_or("", |step| step.directory.as_str())
    }

    /// `(directory, above, up_to)`: each directory of the lineage and the
    /// range of this branch's versions it holds (`above < v ≤ up_to`).
    pub fn ranges(&self) -> Vec<(&str, u64, u64)> {
        let mut upper = u64::MAX;
        let mut out = Vec::new();
        for step in std::iter::once(&self.own).chain(&self.ancestors) {
            // A branch created below its parent's fork point holds none of
            // the parent's own versions.
            let above = step.parent_version.min(upper);
            out.push((step.directory.as_str(), above, upper));
            upper = above;
        }
        out.push(("", 0, upper));
        out
    }
}

/// Checks a branch name: the tag rules (1–128 characters of
/// `A-Z a-z 0-9 . _ -`, no leading `.` or `-`, no `..`), and not `main`.
pub fn validate_branch_name(name: &str) -> Result<()> {
    let invalid = |reason| {
        Err(TableError::InvalidBranchName {
            name: name.to_string(),
            reason,
        })
    };
    if name == MAIN_BRANCH {
        return invalid("\"main\" names the main line and is reserved");
    }
    if let Err(TableError::InvalidTagName { reason, .. }) = crate::tags::validate_tag_name(name) {
        return invalid(reason);
    }
    Ok(())
}

/// Reads branch `name`'s object: `None` when it does not exist.
pub(crate) async fn read_branch(location: &DatasetLocation, name: &str) -> Result<Option<proto::Branch>> {
    validate_branch_name(name)?;
    let path = paths::branch(&location.root, name);
    let Some(bytes) = location.get_opt(&path).await? else {
        return Ok(None);
    };
    let branch = proto::Branch::decode(bytes.as_ref()).map_err(|e| TableError::corrupt(&path, e))?;
    if !valid_directory(&branch.directory) {
        return Err(TableError::corrupt(&path, "branch directory is not under tree/"));
    }
    Ok(Some(branch))
}

/// A branch directory must be `tree/{one safe segment}`.
fn valid_directory(directory: &str) -> bool {
    directory
        .strip_prefix(paths::TREE_DIR)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|segment| {
            !segment.is_empty()
                && segment.len() <= 256
                && !segment.starts_with('.')
                && !segment.contains("..")
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

/// The lineage of branch `name` (reads its object and its ancestors').
pub(crate) async fn lineage(location: &DatasetLocation, name: &str) -> Result<Lineage> {
    let not_found = || TableError::BranchNotFound { name: name.to_string() };
    let branch = read_branch(location, name).await?.ok_or_else(not_found)?;
    let own = Step {
        directory: branch.directory.clone(),
        parent_version: branch.parent_version,
    };
    let mut ancestors = Vec::new();
    let (mut parent, mut parent_directory) = (branch.parent_branch, branch.parent_directory);
    while !parent.is_empty() {
        if ancestors.len() > 1024 {
            return Err(TableError::corrupt(
                paths::branch(&location.root, name),
                "branch ancestry loops",
            ));
        }
        let missing = || TableError::BranchNotFound { name: parent.clone() };
        let step = read_branch(location, &parent).await?.ok_or_else(missing)?;
        if step.directory != parent_directory {
            // The parent was deleted and a new branch took its name.
            return Err(TableError::BranchNotFound { name: parent });
        }
        ancestors.push(Step {
            directory: step.directory,
            parent_version: step.parent_version,
        });
        (parent, parent_directory) = (step.parent_branch, step.parent_directory);
    }
    Ok(Lineage {
        name: name.to_string(),
        own,
        ancestors,
    })
}

/// The same store and root on branch `name` (`None`: main).
pub(crate) async fn location_on(location: &DatasetLocation, name: Option<&str>) -> Result<DatasetLocation> {
    let mut on = location.clone();
    on.branch = match name {
        None | Some(MAIN_BRANCH) => None,
        Some(name) => Some(Arc::new(lineage(location, name).await?)),
    };
    Ok(on)
}

/// On a branch: fails with "branch not found" unless the branch object
/// still names this lineage's directory (it may have been deleted, or
/// deleted and created again).
pub(crate) async fn check_live(location: &DatasetLocation) -> Result<()> {
    let Some(lineage) = &location.branch else {
        return Ok(());
    };
    let gone = || TableError::BranchNotFound {
        name: lineage.name().to_string(),
    };
    let branch = read_branch(location, lineage.name()).await?.ok_or_else(gone)?;
    if branch.directory != lineage.directory() {
        return Err(gone());
    }
    Ok(())
}

impl DatasetLocation {
    /// The same dataset on branch `name` (`None` or `"main"`: main); reads
    /// the branch's object and its ancestors'.
    pub async fn on_branch(&self, name: Option<&str>) -> Result<DatasetLocation> {
        location_on(self, name).await
    }
}

/// The branches of a dataset.
#[derive(Debug, Clone)]
pub struct Branches<'a> {
    dataset: &'a Dataset,
}

impl Dataset {
    /// The dataset's branches.
    pub fn branches(&self) -> Branches<'_> {
        Branches { dataset: self }
    }

    /// The branch this handle reads and commits, `None` for main.
    pub fn branch(&self) -> Option<&str> {
        self.location.branch_name()
    }

    /// Fails with "branch not found" when this handle's branch was deleted
    /// (writes check this before reading the branch's files).
    pub(crate) async fn check_branch_live(&self) -> Result<()> {
        check_live(&self.location).await
    }

    /// Branch `name` (`None` or `"main"`: main) at `version` (`None`: its
    /// latest), sharing this handle's caches.
    pub async fn checkout_branch(&self, name: Option<&str>, version: Option<u64>) -> Result<Self> {
        let location = location_on(&self.location, name).await?;
        let manifest = match version {
            Some(version) => location.load_manifest(version).await?,
            None => location
                .load_latest()
                .await?
                .ok_or_else(|| TableError::DatasetNotFound {
                    uri: location.uri.clone(),
                })?,
        };
        Ok(self.at(location, manifest))
    }

    /// The dataset at `reference`.
    pub async fn checkout_ref(&self, reference: &VersionRef) -> Result<Self> {
        match reference {
            VersionRef::Version(version) => self.checkout_version(*version).await,
            VersionRef::Tag(name) => self.checkout_tag(name).await,
            VersionRef::Branch(name, version) => self.checkout_branch(name.as_deref(), *version).await,
        }
    }

    /// Creates branch `name` starting at `from` and returns the dataset on
    /// it. One small object is written (a put-if-absent, so two creators of
    /// one name cannot both succeed); no manifest or data is copied.
    pub async fn create_branch(&self, name: &str, from: &VersionRef) -> Result<Self> {
        validate_branch_name(name)?;
        let source = self.checkout_ref(from).await?;
        let (parent_branch, parent_directory) = match &source.location.branch {
            Some(lineage) => (lineage.name().to_string(), lineage.directory().to_string()),
            None => (String::new(), String::new()),
        };
        let directory = format!("{}/{name}-{}", paths::TREE_DIR, &paths::random_id()[..16]);
        let record = proto::Branch {
            parent_branch,
            parent_directory,
            parent_version: source.version(),
            directory: directory.clone(),
            created_at_micros: Utc::now().timestamp_micros(),
        };
        // The new lineage is the source's plus one step: no need to read back.
        let ancestors = match &source.location.branch {
            Some(parent) => std::iter::once(parent.own.clone())
                .chain(parent.ancestors.iter().cloned())
                .collect(),
            None => Vec::new(),
        };
        let lineage = Lineage {
            name: name.to_string(),
            own: Step {
                directory,
                parent_version: source.version(),
            },
            ancestors,
        };
        let path = paths::branch(&self.location.root, name);
        let created = self
            .location
            .put_if_absent(&path, Bytes::from(record.encode_to_vec()))
            .await?;
        if !created {
            return Err(TableError::BranchAlreadyExists { name: name.to_string() });
        }
        // A cleanup may be deleting the fork point right now: wait it out
        // and make sure the version survived, else take the branch back.
        let fork = source.location.manifest_path(source.version());
        if let Err(e) = pins::confirm(&self.location, &fork, source.version()).await {
            let _ = self.location.delete(&path).await;
            return Err(e);
        }
        let mut location = self.location.clone();
        location.branch = Some(Arc::new(lineage));
        Ok(self.at(location, source.manifest.as_ref().clone()))
    }
}

impl Branches<'_> {
    fn location(&self) -> &DatasetLocation {
        &self.dataset.location
    }

    /// Branch `name`.
    pub async fn get(&self, name: &str) -> Result<BranchInfo> {
        let branch = read_branch(self.location(), name)
            .await?
            .ok_or_else(|| TableError::BranchNotFound { name: name.to_string() })?;
        Ok(info(name, branch))
    }

    /// Every branch, sorted by name.
    pub async fn list(&self) -> Result<Vec<BranchInfo>> {
        let mut out = Vec::new();
        for meta in self.location().list(paths::BRANCHES_DIR).await? {
            let Some(name) = meta.location.filename().and_then(|f| f.strip_suffix(".branch")) else {
                continue;
            };
            if validate_branch_name(name).is_err() {
                continue;
            }
            // A branch deleted between the listing and the read is gone.
            if let Some(branch) = read_branch(self.location(), name).await? {
                out.push(info(name, branch));
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Deletes branch `name` and every file written on it. Refused while
    /// another branch was created from it, a tag points into it or a
    /// shallow clone was made from it. Files it shared with its parent stay
    /// until the parent's cleanup finds no version referencing them.
    pub async fn delete(&self, name: &str) -> Result<()> {
        let branch = self.get(name).await?;
        let in_use = |reason: String| TableError::BranchInUse {
            name: name.to_string(),
            reason,
        };
        let children: Vec<String> = self
            .list()
            .await?
            .into_iter()
            .filter(|b| b.parent_branch.as_deref() == Some(name))
            .map(|b| b.name)
            .collect();
        if !children.is_empty() {
            return Err(in_use(format!("branches {children:?} were created from it")));
        }
        let tags: Vec<String> = self
            .dataset
            .tags()
            .list()
            .await?
            .into_iter()
            .filter(|t| t.branch.as_deref() == Some(name))
            .map(|t| t.name)
            .collect();
        if !tags.is_empty() {
            return Err(in_use(format!("tags {tags:?} point into it")));
        }
        let clones = crate::clone::pins_on(self.location(), Some(name)).await?;
        if !clones.is_empty() {
            return Err(in_use(format!("shallow clones {clones:?} reference it")));
        }
        // Deleting the object is the commit point; the directory is garbage after.
        self.location()
            .delete(&paths::branch(&self.location().root, name))
            .await?;
        for object in self.location().list(&branch.directory).await? {
            self.location().delete(&object.location).await?;
        }
        Ok(())
    }
}

fn info(name: &str, branch: proto::Branch) -> BranchInfo {
    BranchInfo {
        name: name.to_string(),
        parent_branch: (!branch.parent_branch.is_empty()).then_some(branch.parent_branch),
        parent_version: branch.parent_version,
        directory: branch.directory,
        created_at: micros_to_time(branch.created_at_micros),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_cannot_escape_or_take_main() {
        for good in ["exp", "feature-1", "v2.try_b"] {
            assert!(validate_branch_name(good).is_ok(), "{good}");
        }
        for bad in ["main", "", "../x", "a/b", ".x", "a..b", "-x", "a b"] {
            assert!(validate_branch_name(bad).is_err(), "{bad}");
        }
        assert!(valid_directory("tree/exp-0123"));
        for bad in ["exp", "tree/../x", "tree/a/b", "tree/", "data/x"] {
            assert!(!valid_directory(bad), "{bad}");
        }
    }

    #[test]
    fn versions_resolve_along_the_lineage() {
        // main → a at 5 → b at 8.
        let lineage = Lineage {
            name: "b".into(),
            own: Step {
                directory: "tree/b-1".into(),
                parent_version: 8,
            },
            ancestors: vec![Step {
                directory: "tree/a-1".into(),
                parent_version: 5,
            }],
        };
        assert_eq!(lineage.directory_of(9), "tree/b-1");
        assert_eq!(lineage.directory_of(8), "tree/a-1");
        assert_eq!(lineage.directory_of(6), "tree/a-1");
        assert_eq!(lineage.directory_of(5), "");
        assert_eq!(lineage.directory_of(1), "");
        assert_eq!(
            lineage.ranges(),
            vec![("tree/b-1", 8, u64::MAX), ("tree/a-1", 5, 8), ("", 0, 5)]
        );
    }
}
