//! The well-formed files the bad files are made from.

use crate::common;
use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, Int32Builder, ListBuilder};
use arrow_array::{ArrayRef, BinaryArray, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_schema::{DataType, Field, Fields, Schema};
use object_store::{ObjectStore, ObjectStoreExt, memory::InMemory, path::Path};
use pilum_file::{FileWriter, WriterOptions};
use std::sync::Arc;

/// Rows of [`good_batch`].
pub const GOOD_ROWS: usize = 300;

/// Writes `batch` with `options` and returns the file's bytes.
pub async fn write(batch: &RecordBatch, options: WriterOptions) -> Vec<u8> {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let mut writer = FileWriter::try_new(store.clone(), Path::from("g"), batch.schema(), options)
        .await
        .unwrap();
    writer.write(batch).await.unwrap();
    writer.finish().await.unwrap();
    let got = store.get(&Path::from("g")).await.unwrap();
    got.bytes().await.unwrap().to_vec()
}

/// 64-float vectors, one per row: stored in flat pages.
fn vectors(n: usize) -> ArrayRef {
    let mut vec = FixedSizeListBuilder::new(Float32Builder::new(), 64);
    for i in 0..n {
        vec.values().append_slice(&[i as f32; 64]);
        vec.append(true);
    }
    Arc::new(vec.finish())
}

/// Ids, short strings, non-nullable vectors (flat pages) and lists.
pub fn good_batch() -> RecordBatch {
    let n = GOOD_ROWS;
    let mut list = ListBuilder::new(Int32Builder::new());
    for i in 0..n {
        list.values().append_slice(&[i as i32; 3]);
        list.append(true);
    }
    RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from_iter_values(0..n as i64)) as ArrayRef),
        (
            "text",
            Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("row {i}")))),
        ),
        ("vec", vectors(n)),
        ("list", Arc::new(list.finish())),
    ])
    .unwrap()
}

pub async fn good_file() -> Vec<u8> {
    write(&good_batch(), WriterOptions::default()).await
}

/// A string column of three colours in one page with a page dictionary,
/// and the batch it holds.
pub async fn dictionary_file() -> (Vec<u8>, RecordBatch) {
    let colours = StringArray::from_iter_values((0..2000).map(|i| ["red", "green", "blue"][i % 3]));
    let batch = RecordBatch::try_from_iter([("colour", Arc::new(colours) as ArrayRef)]).unwrap();
    (write(&batch, WriterOptions::default()).await, batch)
}

/// Rows of [`text_file`]: `common::text_batch(TEXT_ROWS, 7)`.
pub const TEXT_ROWS: usize = 800;

/// Documentation-like text in one page with a symbol table (`symbol_table`)
/// or a zstd dictionary.
pub async fn text_file(symbol_table: bool) -> Vec<u8> {
    let mut options = WriterOptions::default();
    options.plan.symbol_table = symbol_table;
    write(&common::text_batch(TEXT_ROWS, 7), options).await
}

/// A string column whose values are not UTF-8: written as binary values,
/// then declared `Utf8` in the stored schema.
pub async fn binary_as_string_file() -> Vec<u8> {
    let values: BinaryArray = (0..500u32)
        .map(|i| {
            Some(if i == 250 {
                b"caf\xe9".to_vec()
            } else {
                format!("value {i}").into_bytes()
            })
        })
        .collect();
    let batch = RecordBatch::try_from_iter([("s", Arc::new(values) as ArrayRef)]).unwrap();
    let file = write(&batch, WriterOptions::default()).await;
    let schema = Schema::new(vec![Field::new("s", DataType::Utf8, false)]);
    super::edit::edit_metadata(&file, |m| m.arrow_schema = pilum_file::schema_to_bytes(&schema))
}

/// A non-nullable struct of an id and a non-nullable vector (flat pages).
pub async fn struct_file() -> Vec<u8> {
    let n = 100;
    let fields = Fields::from(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("vec", vectors(1).data_type().clone(), false),
    ]);
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n as i64));
    let record = StructArray::new(fields, vec![ids, vectors(n)], None);
    let batch = RecordBatch::try_from_iter([("record", Arc::new(record) as ArrayRef)]).unwrap();
    write(&batch, WriterOptions::default()).await
}
