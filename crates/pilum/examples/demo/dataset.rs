//! The dataset half of the demo: a versioned table on local disk.

use arrow_array::builder::{FixedSizeListBuilder, Float32Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt64Type};
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use futures::stream;
use pilum::{BatchStream, Dataset, DatasetLocation, NewColumns, ROW_ID, WriteMode, WriteParams};
use std::sync::Arc;
use std::time::Instant;

const DIM: i32 = 256;

fn vectors(ids: &[i64], dim: i32, salt: f32) -> ArrayRef {
    let mut builder = FixedSizeListBuilder::new(Float32Builder::new(), dim);
    for &id in ids {
        for d in 0..dim {
            builder
                .values()
                .append_value(((id as f32 + salt) * (d as f32 + 1.0)).sin());
        }
        builder.append(true);
    }
    Arc::new(builder.finish())
}

fn rows(ids: std::ops::Range<i64>) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let ids: Vec<i64> = ids.collect();
    let captions = StringArray::from_iter_values(
        ids.iter()
            .map(|i| format!("photo {i}: a {} on a table", ["cat", "dog", "cup"][(*i % 3) as usize])),
    );
    RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(ids.clone())) as ArrayRef),
        ("caption", Arc::new(captions)),
        ("clip_embedding", vectors(&ids, DIM, 0.0)),
    ])
}

fn batches(ids: std::ops::Range<i64>, step: i64) -> BatchStream {
    let chunks: Vec<_> = (ids.start..ids.end)
        .step_by(step as usize)
        .map(|s| rows(s..(s + step).min(ids.end)).map_err(Into::into))
        .collect();
    Box::pin(stream::iter(chunks))
}

fn data_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("data")).map(|d| d.count()).unwrap_or(0)
}

pub fn run(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run_async(dir))
}

async fn run_async(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::absolute(dir.join("captions.dataset"))?;
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    let uri = root.to_string_lossy().to_string();
    let location = DatasetLocation::from_store_location(pilum::parse_uri(&uri)?, &uri);
    let params = WriteParams {
        max_rows_per_file: 10_000,
        ..WriteParams::default()
    };
    println!("\n== Dataset demo at {uri}");

    let started = Instant::now();
    let schema = rows(0..1)?.schema();
    let mut ds = Dataset::write(
        location.clone(),
        schema,
        batches(0..30_000, 5_000),
        WriteMode::Create,
        &params,
    )
    .await?;
    println!(
        "v{}: created with {} rows in {} fragments ({:.2?})",
        ds.version(),
        ds.count_rows(None).await?,
        ds.manifest().fragment_count(),
        started.elapsed()
    );

    ds.append(batches(30_000..40_000, 5_000), &params).await?;
    println!(
        "v{}: appended 10000 rows -> {} rows",
        ds.version(),
        ds.count_rows(None).await?
    );

    // A new embedding column, joined on id, written as one new file per fragment.
    let files_before = data_files(&root);
    let started = Instant::now();
    let ids: Vec<i64> = (0..40_000).collect();
    let new_schema = Arc::new(Schema::new(vec![
        Field::new("key", DataType::Int64, false),
        Field::new(
            "text_embedding",
            DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), 128),
            true,
        ),
    ]));
    let embeddings = RecordBatch::try_new(
        new_schema.clone(),
        vec![Arc::new(Int64Array::from(ids.clone())), vectors(&ids, 128, 0.5)],
    )?;
    ds.merge(new_schema, Box::pin(stream::iter([Ok(embeddings)])), "id", "key")
        .await?;
    println!(
        "v{}: added text_embedding[128] in {:.2?}: {} new data files, the {} existing ones untouched",
        ds.version(),
        started.elapsed(),
        data_files(&root) - files_before,
        files_before
    );
    ds.add_columns(NewColumns::Sql(vec![(
        "caption_length".into(),
        "length(caption)".into(),
    )]))
    .await?;
    println!(
        "v{}: added caption_length = length(caption) (a SQL expression evaluated by DataFusion)",
        ds.version()
    );

    let deleted = ds.delete("id % 7 = 0 OR caption LIKE '%dog%' AND id < 1000").await?;
    println!(
        "v{}: deleted {deleted} rows -> {} rows (deletion vectors, no rewrite)",
        ds.version(),
        ds.count_rows(None).await?
    );

    let hits = ds
        .scan()
        .project(["id", "caption", "caption_length"])
        .filter("caption LIKE '%cat%' AND id BETWEEN 39990 AND 40000")
        .with_row_id(true)
        .try_into_batch()
        .await?;
    println!("filtered scan (late materialization picks the cheaper plan per batch):");
    for row in 0..hits.num_rows() {
        println!(
            "  _rowid {:>5}  id {:>5}  len {:>2}  {:?}",
            hits.column_by_name(ROW_ID)
                .map_or(0, |c| c.as_primitive::<UInt64Type>().value(row)),
            hits.column(0).as_primitive::<Int64Type>().value(row),
            hits.column(2)
                .as_primitive::<arrow_array::types::Int32Type>()
                .value(row),
            hits.column(1).as_string::<i32>().value(row)
        );
    }
    let by_id = ds.take_rows(&[39_995], Some(&["id", "text_embedding"])).await?;
    println!(
        "take_rows(_rowid 39995): id {}, embedding of {} floats",
        by_id.column(0).as_primitive::<Int64Type>().value(0),
        by_id.column(1).as_fixed_size_list().value_length()
    );

    ds.tags().create("before-cleanup", ds.version()).await?;
    let first = ds.checkout_version(1).await?;
    println!(
        "time travel: v1 has {} rows and columns {:?}",
        first.count_rows(None).await?,
        first
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
    );
    println!("history:");
    for info in ds.versions().await? {
        println!(
            "  v{} {:?} {:>6} rows {} fragments at {}",
            info.version,
            info.operation,
            info.num_rows,
            info.num_fragments,
            info.timestamp.format("%H:%M:%S%.3f")
        );
    }
    let reopened = Dataset::open(&uri).await?;
    println!(
        "reopened latest: v{} with {} rows",
        reopened.version(),
        reopened.count_rows(None).await?
    );
    Ok(())
}
