//! Which fragments each index segment covers after a commit.
//!
//! Entries are keyed by stable row id, and a search accepts an entry only if
//! that row's live copy sits in a fragment the segment covers (its vector is
//! then the one indexed). Commits therefore never rewrite index files; they
//! only keep coverage truthful:
//! - appended and moved rows land in new fragments, which start uncovered;
//! - removed fragments leave every bitmap;
//! - a compaction whose inputs a segment covered entirely hands coverage to
//!   the outputs (same rows, ids and vectors), otherwise the outputs stay
//!   uncovered and exact search takes them (zone maps, which address rows
//!   by position, never hand coverage on);
//! - rewriting or dropping an indexed column drops the column's segments.

use super::IndexSegment;
use crate::error::{Result, TableError};
use crate::manifest::Manifest;
use crate::proto;
use crate::schema::TableSchema;
use crate::transaction::{Change, Transaction};
use roaring::RoaringBitmap;

/// The index section of the version `txn` builds on `latest`, given the
/// new version's schema, the ids of fragments that may be live in it
/// (`live`: every fragment of a page the commit did not read counts) and
/// the ids of the fragments the commit holds (`present`, new ones included).
pub(crate) fn carry_forward(
    latest: Option<&Manifest>,
    txn: &Transaction,
    live: &RoaringBitmap,
    present: &RoaringBitmap,
    schema: &TableSchema,
) -> Result<Vec<IndexSegment>> {
    let mut segments: Vec<IndexSegment> = match &txn.change {
        Change::Replace { .. } => return Ok(Vec::new()),
        Change::Restore { manifest } => manifest.indices.as_ref().clone(),
        _ => latest.map(|m| m.indices.as_ref().clone()).unwrap_or_default(),
    };
    match &txn.change {
        Change::Indices { added, removed } => {
            for uuid in removed {
                let before = segments.len();
                segments.retain(|s| s.uuid() != uuid);
                if segments.len() == before {
                    return Err(conflict(
                        latest,
                        format!("index segment {uuid} was changed concurrently"),
                    ));
                }
            }
            let live = schema.top_level_ids();
            // A CREATE_INDEX may add several segments of one new index (a
            // distributed build); the name must be new before it.
            let names_before: Vec<String> = segments.iter().map(|s| s.name().to_string()).collect();
            for segment in added {
                if !segment.message.field_ids.iter().all(|id| live.contains(id)) {
                    return Err(conflict(
                        latest,
                        format!("the column of index {:?} was dropped concurrently", segment.name()),
                    ));
                }
                let same_name = segments.iter().filter(|s| s.name() == segment.name());
                if txn.operation == proto::Operation::CreateIndex && names_before.iter().any(|n| n == segment.name()) {
                    return Err(TableError::IndexAlreadyExists {
                        name: segment.name().to_string(),
                    });
                }
                if same_name.clone().any(|s| !s.fragments.is_disjoint(&segment.fragments)) {
                    return Err(conflict(
                        latest,
                        format!("index {:?} was updated concurrently", segment.name()),
                    ));
                }
                segments.push(segment.clone());
            }
        }
        Change::Schema {
            schema: new_schema,
            superseded,
            ..
        } => {
            let live = new_schema.top_level_ids();
            segments.retain(|s| {
                s.message
                    .field_ids
                    .iter()
                    .all(|id| live.contains(id) && !superseded.contains(id))
            });
        }
        Change::Rewrite {
            removed,
            fragments: outputs,
            groups,
        } => {
            // The outputs carry the ids this commit assigned, in order
            // (ids only grow): the fragments of the new version above the
            // old version's highest id.
            let old_max = latest.map_or(0, |m| m.max_fragment_id);
            let new_ids: Vec<u32> = present.iter().filter(|id| u64::from(*id) > old_max).collect();
            let whole = [(removed.len(), outputs.len())];
            let groups = if groups.is_empty() {
                &whole[..]
            } else {
                groups.as_slice()
            };
            let (mut at_removed, mut at_new) = (0, 0);
            for &(removed_count, new_count) in groups {
                let inputs: RoaringBitmap = removed
                    .iter()
                    .skip(at_removed)
                    .take(removed_count)
                    .map(|&id| id as u32)
                    .collect();
                let produced: RoaringBitmap = new_ids.iter().skip(at_new).take(new_count).copied().collect();
                at_removed += removed_count;
                at_new += new_count;
                for segment in &mut segments {
                    // Zone maps address rows by position, which a rewrite changes.
                    let positional = segment.message.kind() == proto::IndexKind::Zonemap;
                    if !positional && !inputs.is_empty() && inputs.is_subset(&segment.fragments) {
                        segment.fragments |= &produced;
                    }
                }
            }
        }
        _ => {}
    }
    for segment in &mut segments {
        segment.fragments &= live;
    }
    Ok(segments)
}

fn conflict(latest: Option<&Manifest>, reason: String) -> TableError {
    TableError::CommitConflict {
        version: latest.map_or(0, |m| m.version),
        reason,
    }
}
