//! What a commit changes, and whether it can land on top of commits that
//! happened since the version it read.

use crate::error::{Result, TableError};
use crate::manifest::Manifest;
use crate::proto::{self, Operation};
use crate::schema::TableSchema;
use roaring::RoaringBitmap;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The change a transaction makes, relative to the version it read.
#[derive(Debug, Clone)]
pub enum Change {
    /// Replace the schema and every fragment (create, overwrite).
    Replace {
        /// New schema (ids are reassigned at commit).
        schema: arrow_schema::SchemaRef,
        /// New fragments (ids and row ids assigned at commit).
        fragments: Vec<proto::Fragment>,
    },
    /// Add fragments.
    Append {
        /// New fragments (ids and row ids assigned at commit).
        fragments: Vec<proto::Fragment>,
    },
    /// Delete rows of existing fragments and add rewritten or new rows.
    Rows {
        /// Row offsets newly deleted, per fragment id.
        deleted: BTreeMap<u64, RoaringBitmap>,
        /// Rewritten rows that keep their row ids.
        moved: Vec<proto::Fragment>,
        /// New rows (row ids assigned at commit).
        inserted: Vec<proto::Fragment>,
    },
    /// Change the schema, optionally adding data files to fragments.
    Schema {
        /// The new schema.
        schema: TableSchema,
        /// Data files added, per fragment id.
        added_files: HashMap<u64, Vec<proto::DataFile>>,
        /// Field ids whose old columns are superseded by the added files.
        superseded: Vec<i32>,
    },
    /// Make an old version's contents the latest.
    Restore {
        /// The restored version.
        manifest: Box<Manifest>,
    },
    /// Replace fragments by rewritten ones holding the same live rows.
    Rewrite {
        /// Fragment ids replaced.
        removed: Vec<u64>,
        /// Their replacements (row ids preserved).
        fragments: Vec<proto::Fragment>,
        /// Per rewritten group, in order: how many of `removed` and of
        /// `fragments` it holds (index coverage moves group by group).
        groups: Vec<(usize, usize)>,
    },
    /// Add and remove index segments (create, replace, drop an index).
    Indices {
        /// Segments added (their bitmaps cover what the build read).
        added: Vec<crate::index::IndexSegment>,
        /// Uuids of segments removed.
        removed: Vec<String>,
    },
    /// Upsert and remove table config and metadata entries.
    Config {
        /// Config entries to set (`None` removes).
        config: BTreeMap<String, Option<String>>,
        /// Metadata entries to set (`None` removes).
        metadata: BTreeMap<String, Option<String>>,
    },
}

/// A change plus what the commit records about it.
#[derive(Debug, Clone)]
pub struct Transaction {
    /// The kind of operation.
    pub operation: Operation,
    /// The change.
    pub change: Change,
    /// SQL predicate or condition, if any.
    pub predicate: String,
    /// Free-form properties recorded with the commit.
    pub properties: HashMap<String, String>,
    /// Logical indices an index operation changes.
    pub index_names: Vec<String>,
}

impl Transaction {
    /// A transaction with no predicate or properties.
    pub fn new(operation: Operation, change: Change) -> Self {
        Self {
            operation,
            change,
            predicate: String::new(),
            properties: HashMap::new(),
            index_names: Vec::new(),
        }
    }

    /// Fragment ids whose existing rows this transaction deletes or rewrites.
    fn touched(&self) -> HashSet<u64> {
        match &self.change {
            Change::Rows { deleted, .. } => deleted.keys().copied().collect(),
            Change::Rewrite { removed, .. } => removed.iter().copied().collect(),
            Change::Schema { added_files, .. } => added_files.keys().copied().collect(),
            _ => HashSet::new(),
        }
    }

    /// Checks this transaction against `other`, committed after our read
    /// version. Row-level overlaps are checked later, when merging deletions.
    pub fn check(&self, other: &Manifest) -> Result<()> {
        let theirs = &other.transaction;
        let their_op = theirs.operation();
        let conflict = |reason: &str| {
            Err(TableError::CommitConflict {
                version: other.version,
                reason: format!(
                    "{:?} conflicts with concurrent {:?}: {reason}",
                    self.operation, their_op
                ),
            })
        };
        if matches!(
            self.change,
            Change::Replace { .. } | Change::Restore { .. } | Change::Config { .. }
        ) {
            return Ok(());
        }
        if matches!(their_op, Operation::Create | Operation::Overwrite | Operation::Restore) {
            return conflict("the table was replaced");
        }
        let their_removed: HashSet<u64> = theirs.removed_fragments.iter().copied().collect();
        let their_modified: HashSet<u64> = theirs.modified_fragments.iter().copied().collect();
        let their_schema_change = matches!(
            their_op,
            Operation::AddColumns | Operation::DropColumns | Operation::AlterColumns
        );
        let their_data_change = !their_modified.is_empty() || !their_removed.is_empty() || theirs.added_fragments > 0;
        let touched = self.touched();
        match &self.change {
            Change::Append { .. } => Ok(()),
            Change::Rows { .. } => {
                let rewrites_rows = self.operation != Operation::Delete;
                if their_schema_change && their_data_change && rewrites_rows {
                    return conflict("the schema gained data since the rows were read");
                }
                for id in &touched {
                    if their_removed.contains(id) {
                        let both_deletes = self.operation == Operation::Delete && their_op == Operation::Delete;
                        if !both_deletes {
                            return conflict(&format!("fragment {id} was removed or rewritten"));
                        }
                    }
                }
                Ok(())
            }
            Change::Schema { added_files, .. } => {
                if their_schema_change {
                    return conflict("concurrent schema change");
                }
                if !added_files.is_empty() && their_data_change {
                    return conflict("rows changed while the new columns were computed");
                }
                Ok(())
            }
            Change::Rewrite { .. } => {
                if their_schema_change && their_data_change {
                    return conflict("the schema gained data while fragments were rewritten");
                }
                if touched
                    .iter()
                    .any(|id| their_modified.contains(id) || their_removed.contains(id))
                {
                    return conflict("a rewritten fragment changed concurrently");
                }
                Ok(())
            }
            Change::Indices { .. } => {
                // Coverage absorbs appends, deletes and rewrites; a column
                // rewritten under the build would leave stale entries.
                if their_schema_change && their_data_change {
                    return conflict("columns were rewritten while the index was built");
                }
                Ok(())
            }
            Change::Replace { .. } | Change::Restore { .. } | Change::Config { .. } => Ok(()),
        }
    }
}
