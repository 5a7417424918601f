//! Read-only views of what a version's manifest records about its
//! fragments, so callers see fragments, files and deletions without the
//! stored protobuf messages (which are not part of the API).

use crate::proto;

/// One fragment of a dataset version: a set of rows stored in one or more
/// data files, with its deletions.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FragmentInfo {
    /// Fragment id, unique within the dataset's history.
    pub id: u64,
    /// Rows in every data file of the fragment, deleted rows included.
    pub physical_rows: u64,
    /// The data files, oldest first (a later file holds the current copy of
    /// a column both store).
    pub files: Vec<DataFileInfo>,
    /// The deletion file, when rows were deleted.
    pub deletion: Option<DeletionFileInfo>,
}

/// One data file of a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataFileInfo {
    /// Path relative to the dataset root.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Top-level field id of each of the file's columns, in file order;
    /// -1 marks a column the table no longer uses.
    pub field_ids: Vec<i32>,
    /// Pilum file format version the file was written with, `(major, minor)`.
    pub format_version: (u32, u32),
}

/// The deletion file of a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeletionFileInfo {
    /// Path relative to the dataset root.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Rows it marks deleted.
    pub num_deleted: u64,
}

/// One page of a version's fragment list (dataset format 1.4): what the
/// manifest records about it without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FragmentPageInfo {
    /// Path relative to the dataset root.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Fragments in the page.
    pub fragment_count: u64,
    /// Rows of those fragments, deleted rows included.
    pub physical_rows: u64,
    /// Deleted rows of those fragments.
    pub deleted_rows: u64,
    /// Smallest and largest fragment id in the page.
    pub fragment_ids: (u64, u64),
}

impl FragmentPageInfo {
    pub(crate) fn of(page: &proto::FragmentPageRef) -> Self {
        Self {
            path: page.path.clone(),
            size: page.size,
            fragment_count: page.fragment_count,
            physical_rows: page.physical_rows,
            deleted_rows: page.deleted_rows,
            fragment_ids: (page.min_fragment_id, page.max_fragment_id),
        }
    }
}

impl FragmentInfo {
    /// Live rows: physical rows less deleted ones.
    pub fn live_rows(&self) -> u64 {
        let deleted = self.deletion.as_ref().map_or(0, |d| d.num_deleted);
        self.physical_rows.saturating_sub(deleted)
    }

    pub(crate) fn of(fragment: &proto::Fragment) -> Self {
        Self {
            id: fragment.id,
            physical_rows: fragment.physical_rows,
            files: fragment
                .files
                .iter()
                .map(|f| DataFileInfo {
                    path: f.path.clone(),
                    size: f.size,
                    field_ids: f.field_ids.clone(),
                    format_version: (f.format_major, f.format_minor),
                })
                .collect(),
            deletion: fragment.deletion.as_ref().map(|d| DeletionFileInfo {
                path: d.path.clone(),
                size: d.size,
                num_deleted: d.num_deleted,
            }),
        }
    }
}
