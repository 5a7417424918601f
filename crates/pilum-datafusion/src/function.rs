//! `pilum_scan`: time travel in SQL.
//!
//! ```sql
//! SELECT * FROM pilum_scan('data/captions');                  -- latest version
//! SELECT * FROM pilum_scan('data/captions', 3);               -- version 3
//! SELECT * FROM pilum_scan('data/captions', 'release-1');     -- a tag
//! SELECT * FROM pilum_scan('data/captions', TIMESTAMP '2026-01-02 03:04:05');  -- as of a UTC time
//! ```
//!
//! Arguments are positional: DataFusion 55 does not pass named arguments
//! (`version => 3`) to table functions in `FROM`. The result is a read-only
//! snapshot of that version.

use crate::provider::PilumTable;
use chrono::{DateTime, Utc};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::Expr;
use pilum_table::Dataset;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// Which version of a dataset to read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VersionSpec {
    /// The latest version.
    Latest,
    /// A version number.
    Version(u64),
    /// The version a tag points to.
    Tag(String),
    /// The newest version committed at or before a time.
    AsOf(DateTime<Utc>),
}

impl VersionSpec {
    /// Moves `dataset` (opened at its latest version) to this version.
    pub async fn checkout(&self, dataset: Dataset) -> pilum_table::Result<Dataset> {
        match self {
            Self::Latest => Ok(dataset),
            Self::Version(version) => dataset.checkout_version(*version).await,
            Self::Tag(name) => dataset.checkout_tag(name).await,
            Self::AsOf(time) => dataset.checkout_as_of(*time).await,
        }
    }

    /// Reads the version argument of `pilum_scan`: an integer, a tag name
    /// or a timestamp (naive timestamps are UTC).
    fn from_expr(expr: &Expr) -> Result<Self> {
        let value = literal(expr)?;
        let wrong = || {
            DataFusionError::Plan(format!(
                "pilum_scan: version must be an integer, a tag or a timestamp, got {expr}"
            ))
        };
        if value.data_type().is_integer() {
            let as_u64 = value
                .cast_to(&arrow_schema::DataType::UInt64)
                .map_err(|_| DataFusionError::Plan(format!("pilum_scan: no version {value}")))?;
            return match as_u64 {
                ScalarValue::UInt64(Some(v)) => Ok(Self::Version(v)),
                _ => Err(wrong()),
            };
        }
        if let Some(text) = string(&value) {
            return Ok(Self::Tag(text));
        }
        let micros = match value {
            ScalarValue::TimestampSecond(Some(v), _) => v.checked_mul(1_000_000),
            ScalarValue::TimestampMillisecond(Some(v), _) => v.checked_mul(1_000),
            ScalarValue::TimestampMicrosecond(Some(v), _) => Some(v),
            ScalarValue::TimestampNanosecond(Some(v), _) => Some(v.div_euclid(1_000)),
            _ => None,
        };
        micros
            .and_then(DateTime::from_timestamp_micros)
            .map(Self::AsOf)
            .ok_or_else(wrong)
    }
}

/// The table function `pilum_scan(uri [, version | tag | timestamp])`.
#[derive(Debug, Clone, Default)]
pub struct PilumScanFunction {
    storage_options: HashMap<String, String>,
}

impl PilumScanFunction {
    /// A function that opens datasets with these object-store options.
    pub fn new(storage_options: HashMap<String, String>) -> Self {
        Self { storage_options }
    }
}

impl TableFunctionImpl for PilumScanFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        let (uri, spec) = match exprs {
            [uri] => (uri, VersionSpec::Latest),
            [uri, version] => (uri, VersionSpec::from_expr(version)?),
            _ => {
                return Err(DataFusionError::Plan(
                    "pilum_scan takes a dataset URI and optionally a version, tag or timestamp".into(),
                ));
            }
        };
        let uri = string_argument("pilum_scan", uri)?;
        let options = self.storage_options.clone();
        let dataset = block_on(async move {
            let latest = Dataset::open_with_options(&uri, &options).await?;
            spec.checkout(latest).await
        })?
        .map_err(crate::error::external)?;
        Ok(Arc::new(PilumTable::snapshot(dataset)))
    }
}

/// The constant value of a table-function argument.
pub(crate) fn literal(expr: &Expr) -> Result<ScalarValue> {
    match expr {
        Expr::Literal(value, _) => Ok(value.clone()),
        Expr::Cast(cast) => Ok(literal(&cast.expr)?.cast_to(cast.field.data_type())?),
        Expr::Alias(alias) => literal(&alias.expr),
        other => Err(DataFusionError::Plan(format!(
            "pilum_scan arguments must be constants, got {other}"
        ))),
    }
}

/// A constant string argument of table function `function`.
pub(crate) fn string_argument(function: &str, expr: &Expr) -> Result<String> {
    string(&literal(expr)?)
        .ok_or_else(|| DataFusionError::Plan(format!("{function}: the URI must be a string, got {expr}")))
}

fn string(value: &ScalarValue) -> Option<String> {
    match value {
        ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s)) => {
            Some(s.clone())
        }
        _ => None,
    }
}

/// Runs `future` to completion from synchronous code, on a helper thread
/// with its own runtime (table functions are planned synchronously, and
/// may be called from inside another runtime).
pub(crate) fn block_on<F>(future: F) -> Result<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                Ok(runtime.block_on(future))
            })
            .join()
            .map_err(|_| DataFusionError::Internal("the dataset-opening thread panicked".into()))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::lit;

    #[test]
    fn reads_version_arguments() {
        assert_eq!(VersionSpec::from_expr(&lit(3i64)).unwrap(), VersionSpec::Version(3));
        assert_eq!(
            VersionSpec::from_expr(&lit("release")).unwrap(),
            VersionSpec::Tag("release".into())
        );
        let time = Expr::Cast(datafusion::logical_expr::Cast::new(
            Box::new(lit("2026-01-02T03:04:05")),
            arrow_schema::DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, None),
        ));
        let expected = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z").unwrap().to_utc();
        assert_eq!(VersionSpec::from_expr(&time).unwrap(), VersionSpec::AsOf(expected));
        assert!(VersionSpec::from_expr(&lit(-1i64)).is_err());
        assert!(VersionSpec::from_expr(&lit(1.5f64)).is_err());
        assert!(VersionSpec::from_expr(&datafusion::prelude::col("x")).is_err());
    }
}
