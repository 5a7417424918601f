//! Runs the sqllogictest files in `tests/slt/` against a [`Session`]: SQL
//! semantics over Pilum datasets (nulls, DML, joins, aggregates, windows,
//! time travel). Each file gets fresh sessions and its own directory
//! (`${__TEST_DIR__}`, after `control substitution on`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType;
use async_trait::async_trait;
use pilum_datafusion::{Session, SqlError};
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};
use std::path::PathBuf;
use std::time::Duration;

/// One connection: a fresh session.
struct PilumDb {
    session: Session,
}

#[async_trait]
impl AsyncDB for PilumDb {
    type Error = SqlError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let frame = self.session.sql(sql).await?;
        let schema = frame.schema().as_arrow().clone();
        let batches = frame.collect().await?;
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        let types = schema.fields().iter().map(|f| column_type(f.data_type())).collect();
        Ok(DBOutput::Rows {
            types,
            rows: rows(&batches)?,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "pilum"
    }

    async fn sleep(duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

fn column_type(data_type: &DataType) -> DefaultColumnType {
    match data_type {
        t if t.is_integer() => DefaultColumnType::Integer,
        t if t.is_floating() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) => {
            DefaultColumnType::FloatingPoint
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DefaultColumnType::Text,
        _ => DefaultColumnType::Any,
    }
}

/// Cells as text: `NULL` for nulls, `(empty)` for empty strings, floats
/// rounded to 12 decimals without trailing zeros.
fn rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, SqlError> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for batch in batches {
        let columns = batch
            .columns()
            .iter()
            .map(|c| match c.data_type() {
                DataType::Float16 | DataType::Float32 => arrow_cast::cast(c, &DataType::Float64),
                _ => Ok(c.clone()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SqlError::Execution(e.into()))?;
        let formatters = columns
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SqlError::Execution(e.into()))?;
        for row in 0..batch.num_rows() {
            let cells = columns.iter().zip(&formatters).map(|(column, formatter)| {
                if let Some(floats) = column.as_primitive_opt::<Float64Type>()
                    && floats.is_valid(row)
                {
                    return float(floats.value(row));
                }
                match formatter.value(row).to_string() {
                    s if s.is_empty() => "(empty)".to_string(),
                    s => s,
                }
            });
            out.push(cells.collect());
        }
    }
    Ok(out)
}

fn float(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let text = format!("{value:.12}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text {
        "-0" => "0".to_string(),
        t => t.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqllogictest_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the suite is in {}", dir.display());
    let mut failures = Vec::new();
    for file in &files {
        let mut runner = Runner::new(|| async {
            Ok(PilumDb {
                session: Session::new(),
            })
        });
        if let Err(e) = runner.run_file_async(file).await {
            failures.push(format!("{}:\n{}", file.display(), e.display(false)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
