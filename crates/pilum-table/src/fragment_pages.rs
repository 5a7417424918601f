//! Fragment pages (`format-spec/table.md` section 19): immutable objects
//! under `_fragments/` that hold a slice of a version's fragment list, and
//! the summaries a manifest keeps of them.

use crate::column_summary::summarize_column;
use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::manifest::{frame_with, unframe_with, validate_fragments};
use crate::proto;
use crate::schema::TableSchema;
use crate::stats::encode_bound;
use futures::{StreamExt, TryStreamExt};
use prost::Message;
use std::sync::Arc;

/// Magic bytes opening every fragment page.
pub const PAGE_MAGIC: [u8; 4] = *b"PLFP";
/// Directory of the fragment pages.
pub const FRAGMENTS_DIR: &str = "_fragments";
/// Table config key: the most fragments a page holds (a list longer than
/// one page is kept in pages).
pub const PAGE_SIZE_KEY: &str = "pilum.fragments_per_page";
/// Fragments per page when the table does not say (override the default
/// with the environment variable `PILUM_FRAGMENTS_PER_PAGE`).
pub const DEFAULT_FRAGMENTS_PER_PAGE: usize = 1024;
/// Pages read at once when a whole list is loaded.
const LOAD_CONCURRENCY: usize = 32;

/// The page size `config` asks for (at least 2).
pub(crate) fn fragments_per_page(config: &std::collections::HashMap<String, String>) -> Result<usize> {
    let parse = |value: &str, source: &str| {
        value.trim().parse::<usize>().ok().filter(|n| *n >= 2).ok_or_else(|| {
            TableError::InvalidArgument(format!("{source} must be an integer of at least 2, not {value:?}"))
        })
    };
    if let Some(value) = config.get(PAGE_SIZE_KEY) {
        return parse(value, PAGE_SIZE_KEY);
    }
    match std::env::var("PILUM_FRAGMENTS_PER_PAGE") {
        Ok(value) => parse(&value, "PILUM_FRAGMENTS_PER_PAGE"),
        Err(_) => Ok(DEFAULT_FRAGMENTS_PER_PAGE),
    }
}

/// A fresh page name, relative to the root (a branch writes under its
/// own directory, like its data files).
fn new_page_path(location: &DatasetLocation) -> String {
    format!(
        "{}{FRAGMENTS_DIR}/{}.page",
        location.file_prefix(),
        crate::paths::random_id()
    )
}

/// Reads (or takes from the metadata cache) the fragments of `page`.
pub(crate) async fn load_page(
    location: &DatasetLocation,
    page: &proto::FragmentPageRef,
) -> Result<Arc<Vec<proto::Fragment>>> {
    if let Some(fragments) = crate::metadata_cache::page(location, &page.path, page.size) {
        return Ok(fragments);
    }
    let path = page.path.as_str();
    let bytes = location
        .get_opt(&location.child(path))
        .await?
        .ok_or_else(|| TableError::corrupt(path, "the fragment page is missing"))?;
    if bytes.len() as u64 != page.size {
        return Err(TableError::corrupt(
            path,
            format!(
                "the fragment page has {} bytes, the manifest says {}",
                bytes.len(),
                page.size
            ),
        ));
    }
    let payload = unframe_with(PAGE_MAGIC, "fragment page", &bytes, path)?;
    let decoded = proto::FragmentPage::decode(payload.as_slice())
        .map_err(|e| TableError::corrupt(path, format!("fragment page does not decode: {e}")))?;
    validate_fragments(&decoded.fragments, path)?;
    check_matches(&decoded.fragments, page)?;
    let fragments = Arc::new(decoded.fragments);
    crate::metadata_cache::insert_page(location, path, page.size, &fragments);
    Ok(fragments)
}

/// Checks a page's fragments against the summary the manifest keeps.
fn check_matches(fragments: &[proto::Fragment], page: &proto::FragmentPageRef) -> Result<()> {
    let summary = summarize(fragments, None);
    let same = summary.fragment_count == page.fragment_count
        && summary.physical_rows == page.physical_rows
        && summary.deleted_rows == page.deleted_rows
        && summary.min_fragment_id == page.min_fragment_id
        && summary.max_fragment_id == page.max_fragment_id
        && summary.min_row_id == page.min_row_id
        && summary.row_id_end == page.row_id_end;
    if same {
        Ok(())
    } else {
        Err(TableError::corrupt(
            &page.path,
            "the fragment page does not match the manifest's summary of it",
        ))
    }
}

/// Every fragment of `pages`, in order.
pub(crate) async fn load_all(
    location: &DatasetLocation,
    pages: &[proto::FragmentPageRef],
) -> Result<Vec<proto::Fragment>> {
    // Owned items: a stream over borrowed ones makes callers' futures
    // lose `Send` (a higher-ranked lifetime the compiler cannot prove).
    let loaded: Vec<Arc<Vec<proto::Fragment>>> = futures::stream::iter(pages.to_vec())
        .map(|page| async move { load_page(location, &page).await })
        .buffered(LOAD_CONCURRENCY)
        .try_collect()
        .await?;
    let mut all = Vec::with_capacity(loaded.iter().map(|p| p.len()).sum());
    for page in loaded {
        all.extend(page.iter().cloned());
    }
    Ok(all)
}

/// Writes `fragments` as a new page and returns its reference.
pub(crate) async fn write_page(
    location: &DatasetLocation,
    schema: &TableSchema,
    fragments: Vec<proto::Fragment>,
) -> Result<proto::FragmentPageRef> {
    let mut page = summarize(&fragments, Some(schema));
    let bytes = frame_with(
        PAGE_MAGIC,
        &proto::FragmentPage {
            fragments: fragments.clone(),
        }
        .encode_to_vec(),
    );
    page.path = new_page_path(location);
    page.size = bytes.len() as u64;
    location.put(&location.child(&page.path), bytes).await?;
    crate::metadata_cache::insert_page(location, &page.path, page.size, &Arc::new(fragments));
    Ok(page)
}

/// The summary of `fragments` (path and size left empty), with column
/// statistics when `schema` is given.
pub(crate) fn summarize(fragments: &[proto::Fragment], schema: Option<&TableSchema>) -> proto::FragmentPageRef {
    let mut page = proto::FragmentPageRef {
        fragment_count: fragments.len() as u64,
        min_fragment_id: fragments.iter().map(|f| f.id).min().unwrap_or(0),
        max_fragment_id: fragments.iter().map(|f| f.id).max().unwrap_or(0),
        min_row_id: u64::MAX,
        ..Default::default()
    };
    for fragment in fragments {
        page.physical_rows += fragment.physical_rows;
        page.deleted_rows += fragment.deletion.as_ref().map_or(0, |d| d.num_deleted);
        if let Some(ids) = &fragment.row_ids {
            for (start, len) in ids.starts.iter().zip(&ids.lengths).filter(|(_, n)| **n > 0) {
                page.min_row_id = page.min_row_id.min(*start);
                page.row_id_end = page.row_id_end.max(start.saturating_add(*len));
            }
        }
    }
    if page.min_row_id == u64::MAX {
        page.min_row_id = 0;
    }
    if let Some(schema) = schema {
        page.statistics = column_statistics(fragments, schema);
    }
    page
}

/// Merged statistics of every top-level column with statistics in all files.
fn column_statistics(fragments: &[proto::Fragment], schema: &TableSchema) -> Vec<proto::ColumnStatistics> {
    let refs: Vec<&proto::Fragment> = fragments.iter().collect();
    schema
        .arrow()
        .fields()
        .iter()
        .zip(schema.top_level_ids())
        .filter_map(|(field, field_id)| {
            let summary = summarize_column(&refs, field_id, field.data_type())?;
            let bounds = summary
                .bounds
                .as_ref()
                .and_then(|(min, max)| encode_bound(min).zip(encode_bound(max)));
            let (min, max) = bounds.clone().unwrap_or_default();
            Some(proto::ColumnStatistics {
                field_id,
                null_count: summary.null_count,
                has_bounds: bounds.is_some(),
                min,
                max,
                data_type: field.data_type().to_string(),
            })
        })
        .collect()
}

/// Checks what later code relies on in a manifest's page references.
pub(crate) fn validate_pages(pages: &[proto::FragmentPageRef], path: &str) -> Result<()> {
    for page in pages {
        let bad = |what: &str| TableError::corrupt(path, format!("fragment page {:?}: {what}", page.path));
        if page.fragment_count == 0 {
            return Err(bad("has no fragment"));
        }
        let parts: Vec<&str> = page.path.split('/').collect();
        let placed = match parts.as_slice() {
            [FRAGMENTS_DIR, name] => !name.is_empty(),
            [crate::paths::TREE_DIR, branch, FRAGMENTS_DIR, name] => !branch.is_empty() && !name.is_empty(),
            _ => false,
        };
        if !placed || parts.iter().any(|p| *p == ".." || *p == ".") {
            return Err(bad("is not in a _fragments/ directory of the dataset"));
        }
        if page.min_fragment_id > page.max_fragment_id || page.min_row_id > page.row_id_end {
            return Err(bad("has inverted id ranges"));
        }
    }
    Ok(())
}
