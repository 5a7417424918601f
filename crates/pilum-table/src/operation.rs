//! The kind of change a commit made, as version history reports it.

use crate::proto;

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Recorded by a writer that did not say (or one this library does not know).
    Unspecified,
    /// Created the dataset.
    Create,
    /// Appended rows.
    Append,
    /// Replaced schema and rows.
    Overwrite,
    /// Deleted rows.
    Delete,
    /// Updated rows.
    Update,
    /// Merged rows in by key.
    MergeInsert,
    /// Added columns.
    AddColumns,
    /// Dropped columns.
    DropColumns,
    /// Renamed columns or changed their types or nullability.
    AlterColumns,
    /// Restored an older version.
    Restore,
    /// Compacted fragments.
    Compact,
    /// Changed the table configuration or metadata.
    UpdateConfig,
    /// Built an index.
    CreateIndex,
    /// Dropped an index.
    DropIndex,
    /// Indexed new fragments or merged index segments.
    OptimizeIndices,
    /// The first version of a clone.
    Clone,
}

impl Operation {
    /// The lower-case name history shows (`append`, `create_index`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Create => "create",
            Self::Append => "append",
            Self::Overwrite => "overwrite",
            Self::Delete => "delete",
            Self::Update => "update",
            Self::MergeInsert => "merge_insert",
            Self::AddColumns => "add_columns",
            Self::DropColumns => "drop_columns",
            Self::AlterColumns => "alter_columns",
            Self::Restore => "restore",
            Self::Compact => "compact",
            Self::UpdateConfig => "update_config",
            Self::CreateIndex => "create_index",
            Self::DropIndex => "drop_index",
            Self::OptimizeIndices => "optimize_indices",
            Self::Clone => "clone",
        }
    }

    pub(crate) fn of(stored: proto::Operation) -> Self {
        use proto::Operation as Stored;
        match stored {
            Stored::Unspecified => Self::Unspecified,
            Stored::Create => Self::Create,
            Stored::Append => Self::Append,
            Stored::Overwrite => Self::Overwrite,
            Stored::Delete => Self::Delete,
            Stored::Update => Self::Update,
            Stored::MergeInsert => Self::MergeInsert,
            Stored::AddColumns => Self::AddColumns,
            Stored::DropColumns => Self::DropColumns,
            Stored::AlterColumns => Self::AlterColumns,
            Stored::Restore => Self::Restore,
            Stored::Compact => Self::Compact,
            Stored::UpdateConfig => Self::UpdateConfig,
            Stored::CreateIndex => Self::CreateIndex,
            Stored::DropIndex => Self::DropIndex,
            Stored::OptimizeIndices => Self::OptimizeIndices,
            Stored::Clone => Self::Clone,
        }
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_stored_names_lower_cased() {
        for value in 0..=15 {
            let Ok(stored) = proto::Operation::try_from(value) else {
                continue;
            };
            let expected = match stored {
                proto::Operation::Unspecified => "unspecified".to_string(),
                other => other.as_str_name().to_lowercase(),
            };
            assert_eq!(Operation::of(stored).name(), expected);
        }
    }
}
