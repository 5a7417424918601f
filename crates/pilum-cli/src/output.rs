//! Printing results: tables for people, JSON for scripts.

use crate::error::{CliError, Result};
use arrow_array::RecordBatch;
use arrow_json::writer::{JsonArray, WriterBuilder};
use arrow_schema::SchemaRef;
use comfy_table::{Table, presets::ASCII_MARKDOWN};
use std::io::Write;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Tables and sentences.
    Human,
    /// One JSON document per result.
    Json,
}

/// Writes `text` and a newline to stdout; a closed pipe is not an error.
pub fn line(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::file("<stdout>", e)),
        _ => Ok(()),
    }
}

/// Prints query results: a table and a row count, or a JSON array of row objects.
pub fn batches(style: Style, schema: SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    match style {
        Style::Human => {
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            if schema.fields().is_empty() {
                return line("OK");
            }
            let table = if rows == 0 {
                // Headers only; the schema supplies them.
                arrow_cast::pretty::pretty_format_batches_with_schema(schema, batches)?.to_string()
            } else {
                let options = arrow_cast::display::FormatOptions::default().with_null("NULL");
                arrow_cast::pretty::pretty_format_batches_with_options(batches, &options)?.to_string()
            };
            line(&table)?;
            line(&format!("({rows} row{})", if rows == 1 { "" } else { "s" }))
        }
        Style::Json => {
            let mut writer = WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, JsonArray>(Vec::new());
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
            line(&String::from_utf8_lossy(&writer.into_inner()))
        }
    }
}

/// Prints a list of records: a table with `headers`, or the JSON `value`.
pub fn records(style: Style, headers: &[&str], rows: Vec<Vec<String>>, value: serde_json::Value) -> Result<()> {
    match style {
        Style::Human => {
            let mut table = Table::new();
            table.load_preset(ASCII_MARKDOWN).set_header(headers.to_vec());
            for row in rows {
                table.add_row(row);
            }
            line(&table.to_string())
        }
        Style::Json => json(&value),
    }
}

/// Prints `value` as one line of JSON.
pub fn json(value: &serde_json::Value) -> Result<()> {
    line(&value.to_string())
}

/// A byte count for people: `1.5 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_byte_counts() {
        assert_eq!(bytes(12), "12 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
