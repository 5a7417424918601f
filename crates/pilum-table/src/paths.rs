//! Where each object of a dataset lives, relative to its root.

use object_store::path::Path;
use rand::Rng;

/// Directory of the per-version manifests.
pub const VERSIONS_DIR: &str = "_versions";
/// Directory of the data files.
pub const DATA_DIR: &str = "data";
/// Directory of the deletion files.
pub const DELETIONS_DIR: &str = "_deletions";
/// Directory of the tags.
pub const TAGS_DIR: &str = "_refs/tags";
/// Directory of the branches.
pub const BRANCHES_DIR: &str = "_refs/branches";
/// Directory of shallow clones' pins on this dataset.
pub const CLONES_DIR: &str = "_refs/clones";
/// Directory of the intents of cleanups in progress.
pub const CLEANUPS_DIR: &str = "_refs/cleanups";
/// Directory under which each branch has its own directory.
pub const TREE_DIR: &str = "tree";
/// Directory (inside a `_versions/`) of cleanup marks: `{version:020}`
/// says a cleanup whose latest was `version` may have deleted any version
/// below it.
pub const CLEANED_DIR: &str = "_cleaned";
/// Name of the latest-version hint inside [`VERSIONS_DIR`].
pub const LATEST_HINT: &str = "_latest";

/// The manifest of `version`: zero-padded so names sort by version.
pub fn manifest(root: &Path, version: u64) -> Path {
    child(root, &format!("{VERSIONS_DIR}/{version:020}.manifest"))
}

/// Parses the version out of a manifest object name.
pub fn parse_manifest_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".manifest")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The hint object naming the latest committed version.
pub fn latest_hint(root: &Path) -> Path {
    child(root, &format!("{VERSIONS_DIR}/{LATEST_HINT}"))
}

/// A fresh data file name, relative to the root.
pub fn new_data_file() -> String {
    format!("{DATA_DIR}/{}.pilum", random_id())
}

/// A fresh deletion file name for `fragment`, relative to the root.
pub fn new_deletion_file(fragment: u64, read_version: u64) -> String {
    format!("{DELETIONS_DIR}/{fragment}-{read_version}-{}.bin", random_id())
}

/// The object of tag `name` (the name must be validated first).
pub fn tag(root: &Path, name: &str) -> Path {
    child(root, &format!("{TAGS_DIR}/{name}.tag"))
}

/// The object of branch `name` (the name must be validated first).
pub fn branch(root: &Path, name: &str) -> Path {
    child(root, &format!("{BRANCHES_DIR}/{name}.branch"))
}

/// `root` joined with a relative path whose parts are separated by `/`.
pub fn child(root: &Path, relative: &str) -> Path {
    relative
        .split('/')
        .filter(|part| !part.is_empty())
        .fold(root.clone(), |path, part| path.clone().join(part))
}

/// 128 random bits as 32 hex digits.
pub fn random_id() -> String {
    let bits: u128 = rand::rng().random();
    format!("{bits:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_names_round_trip_and_sort() {
        let root = Path::from("ds");
        let path = manifest(&root, 42);
        assert_eq!(path.as_ref(), "ds/_versions/00000000000000000042.manifest");
        assert_eq!(parse_manifest_name(path.filename().unwrap()), Some(42));
        assert_eq!(parse_manifest_name("42.manifest"), None);
        assert_eq!(parse_manifest_name(LATEST_HINT), None);
        assert!(manifest(&root, 9).as_ref() < manifest(&root, 10).as_ref());
        assert_ne!(new_data_file(), new_data_file());
    }
}
