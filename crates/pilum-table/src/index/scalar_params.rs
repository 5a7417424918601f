//! What a scalar index build is asked for: the kind (pylance's names), the
//! column, and each kind's one tuning knob.

use crate::error::{Result, TableError};
use crate::proto;
use arrow_schema::DataType;

/// Entries per page of a BTREE's sorted values.
pub const DEFAULT_PAGE_ROWS: u32 = 4096;
/// Physical rows per zone of a ZONEMAP (pylance's default).
pub const DEFAULT_ZONE_ROWS: u32 = 8192;

/// The scalar index kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScalarIndexType {
    /// Sorted values with their row ids, in pages bounded by a min/max
    /// table: exact equality, ranges, `IN` and `IS [NOT] NULL`.
    BTree,
    /// A row-id bitmap per distinct value (low cardinality): the same
    /// filters as BTREE.
    Bitmap,
    /// A row-id bitmap per list element: `array_has`, `array_has_any`,
    /// `array_has_all`.
    LabelList,
    /// A row-id bitmap per trigram (lower-cased): narrows `contains`,
    /// `LIKE` and regular-expression filters, which are then re-checked.
    NGram,
    /// Min, max, null and NaN counts per zone of rows: prunes zones a
    /// comparison cannot match; the rest are re-checked.
    ZoneMap,
}

impl ScalarIndexType {
    /// Parses pylance's name (case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "BTREE" => Some(Self::BTree),
            "BITMAP" => Some(Self::Bitmap),
            "LABEL_LIST" => Some(Self::LabelList),
            "NGRAM" => Some(Self::NGram),
            "ZONEMAP" => Some(Self::ZoneMap),
            _ => None,
        }
    }

    /// pylance's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::BTree => "BTREE",
            Self::Bitmap => "BITMAP",
            Self::LabelList => "LABEL_LIST",
            Self::NGram => "NGRAM",
            Self::ZoneMap => "ZONEMAP",
        }
    }

    pub(crate) fn kind(self) -> proto::IndexKind {
        match self {
            Self::BTree => proto::IndexKind::Btree,
            Self::Bitmap => proto::IndexKind::Bitmap,
            Self::LabelList => proto::IndexKind::LabelList,
            Self::NGram => proto::IndexKind::Ngram,
            Self::ZoneMap => proto::IndexKind::Zonemap,
        }
    }

    pub(crate) fn of_kind(kind: proto::IndexKind) -> Option<Self> {
        match kind {
            proto::IndexKind::Btree => Some(Self::BTree),
            proto::IndexKind::Bitmap => Some(Self::Bitmap),
            proto::IndexKind::LabelList => Some(Self::LabelList),
            proto::IndexKind::Ngram => Some(Self::NGram),
            proto::IndexKind::Zonemap => Some(Self::ZoneMap),
            _ => None,
        }
    }

    /// Whether its answers are the matching rows (else candidates that a
    /// filter re-checks).
    pub(crate) fn is_exact(self) -> bool {
        matches!(self, Self::BTree | Self::Bitmap | Self::LabelList)
    }

    /// Checks that a column of `data_type` can hold this kind.
    pub(crate) fn check_type(self, column: &str, data_type: &DataType) -> Result<()> {
        let ok = match self {
            Self::BTree | Self::Bitmap | Self::ZoneMap => is_ordered_type(data_type),
            Self::LabelList => match data_type {
                DataType::List(f) | DataType::LargeList(f) => is_ordered_type(f.data_type()),
                _ => false,
            },
            Self::NGram => matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View),
        };
        if ok {
            return Ok(());
        }
        let needs = match self {
            Self::BTree | Self::Bitmap | Self::ZoneMap => {
                "a number, boolean, string, binary, decimal, date, time or timestamp column"
            }
            Self::LabelList => "a list column of such values",
            Self::NGram => "a string column",
        };
        Err(TableError::InvalidIndexParams {
            what: format!("a {} index needs {needs}; {column:?} is {data_type}", self.name()),
        })
    }
}

/// Types whose values sort and compare (what BTREE, BITMAP and ZONEMAP hold).
pub(crate) fn is_ordered_type(data_type: &DataType) -> bool {
    use DataType::*;
    data_type.is_integer()
        || matches!(
            data_type,
            Boolean
                | Float16
                | Float32
                | Float64
                | Decimal32(..)
                | Decimal64(..)
                | Decimal128(..)
                | Decimal256(..)
                | Date32
                | Date64
                | Time32(_)
                | Time64(_)
                | Timestamp(..)
                | Duration(_)
                | Utf8
                | LargeUtf8
                | Utf8View
                | Binary
                | LargeBinary
                | BinaryView
                | FixedSizeBinary(_)
        )
}

/// A scalar index build.
#[derive(Debug, Clone)]
pub struct ScalarIndexParams {
    /// The indexed column.
    pub column: String,
    /// The kind.
    pub index_type: ScalarIndexType,
    /// The index name; default `{column}_idx`.
    pub name: Option<String>,
    /// Replace an index of the same name instead of failing.
    pub replace: bool,
    /// ZONEMAP: physical rows per zone (default 8192).
    pub zone_rows: u32,
}

impl ScalarIndexParams {
    /// Defaults for `column`.
    pub fn new(column: impl Into<String>, index_type: ScalarIndexType) -> Self {
        Self {
            column: column.into(),
            index_type,
            name: None,
            replace: false,
            zone_rows: DEFAULT_ZONE_ROWS,
        }
    }

    /// The name used: the given one or `{column}_idx`.
    pub fn resolved_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("{}_idx", self.column))
    }
}
