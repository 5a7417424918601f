//! `pilum export`: a dataset version to a Parquet file, streaming.

use crate::args::ExportArgs;
use crate::error::{CliError, Result};
use crate::inspect::{done, open};
use crate::output::Style;
use crate::progress;
use futures::TryStreamExt;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde_json::json;
use std::collections::HashMap;

/// Runs `pilum export`.
pub async fn run(args: ExportArgs, style: Style, options: &HashMap<String, String>) -> Result<()> {
    let mut dataset = open(&args.uri, options).await?;
    if let Some(version) = args.version {
        dataset = dataset.checkout_version(version).await?;
    } else if let Some(tag) = &args.tag {
        dataset = dataset.checkout_tag(tag).await?;
    }
    let mut scan = dataset.scan();
    if let Some(columns) = &args.columns {
        scan = scan.project(columns.clone());
    }
    if let Some(filter) = &args.filter {
        scan = scan.filter(filter.clone());
    }
    let schema = scan.output_schema()?;
    let bar = progress::bar(style);
    bar.set_length(dataset.count_rows(args.filter.as_deref()).await?);
    let file = std::fs::File::create(&args.output).map_err(|e| CliError::file(&args.output, e))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut writer = ArrowWriter::try_new(file, schema, Some(properties))?;
    let mut stream = scan.try_into_stream().await?;
    let mut rows = 0u64;
    while let Some(batch) = stream.try_next().await? {
        rows += batch.num_rows() as u64;
        writer.write(&batch)?;
        bar.inc(batch.num_rows() as u64);
    }
    writer.close()?;
    bar.finish_and_clear();
    let output = args.output.display().to_string();
    done(
        style,
        json!({"uri": dataset.uri(), "version": dataset.version(), "rows": rows, "output": output}),
        &format!("exported {rows} rows of version {} to {output}", dataset.version()),
    )
}
