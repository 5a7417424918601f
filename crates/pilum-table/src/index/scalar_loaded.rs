//! Opening a scalar index segment (its small parts read once and cached
//! with the dataset; BTREE values and posting bitmaps are read per query,
//! page by page or key by key) and checking what a query relies on.

use super::IndexSegment;
use super::read::open;
use super::scalar_params::ScalarIndexType;
use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::proto;
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{Array, ArrayRef, RecordBatch, UInt64Array};
use pilum_file::{FileReader, ReadOptions};
use roaring::RoaringTreemap;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// A loaded scalar segment.
#[derive(Debug)]
pub(crate) enum LoadedScalar {
    /// Sorted values, read a run of pages at a time.
    BTree {
        values: Box<FileReader>,
        path: String,
        page_rows: u64,
        mins: ArrayRef,
        maxes: ArrayRef,
        nulls: RoaringTreemap,
    },
    /// Keys in memory; each key's bitmap read when a query needs it.
    Postings {
        kind: ScalarIndexType,
        reader: Box<FileReader>,
        path: String,
        keys: ArrayRef,
        nulls: RoaringTreemap,
    },
    /// Every zone in memory.
    Zones(Box<ZoneTable>),
}

/// A zone map's columns.
#[derive(Debug)]
pub(crate) struct ZoneTable {
    pub fragments: UInt64Array,
    pub starts: UInt64Array,
    pub rows: UInt64Array,
    pub null_counts: UInt64Array,
    pub mins: ArrayRef,
    pub maxes: ArrayRef,
}

fn missing(segment: &IndexSegment, role: &str) -> TableError {
    TableError::corrupt(
        format!("_versions (index {:?})", segment.name()),
        format!("segment {} lists no {role} file", segment.uuid()),
    )
}

async fn read_all(location: &DatasetLocation, file: &proto::IndexFile, options: &ReadOptions) -> Result<RecordBatch> {
    let reader = open(location, file).await?;
    Ok(reader.read_range(0..reader.num_rows(), options).await?)
}

fn column(batch: &RecordBatch, name: &str, path: &str) -> Result<ArrayRef> {
    batch
        .column_by_name(name)
        .cloned()
        .ok_or_else(|| TableError::corrupt(path, format!("no column {name}")))
}

fn u64_column(batch: &RecordBatch, name: &str, path: &str) -> Result<UInt64Array> {
    column(batch, name, path)?
        .as_primitive_opt::<UInt64Type>()
        .cloned()
        .ok_or_else(|| TableError::corrupt(path, format!("column {name} is not u64")))
}

/// Decodes a stored bitmap, reporting damage as corruption of `path`.
pub(crate) fn decode_bitmap(bytes: &[u8], path: &str) -> Result<RoaringTreemap> {
    RoaringTreemap::deserialize_from(bytes)
        .map_err(|e| TableError::corrupt(path, format!("a row bitmap does not decode: {e}")))
}

async fn read_nulls(location: &DatasetLocation, segment: &IndexSegment) -> Result<RoaringTreemap> {
    let file = segment.file("nulls").ok_or_else(|| missing(segment, "nulls"))?;
    let batch = read_all(location, file, &ReadOptions::default()).await?;
    let rows = column(&batch, "rows", &file.path)?;
    let rows = rows
        .as_binary_opt::<i32>()
        .filter(|b| b.len() == 1)
        .ok_or_else(|| TableError::corrupt(&file.path, "nulls must be one binary row"))?;
    decode_bitmap(rows.value(0), &file.path)
}

impl LoadedScalar {
    async fn open(location: &DatasetLocation, segment: &IndexSegment) -> Result<Self> {
        let location = &location.base(segment.message.base_id)?;
        let kind = segment
            .scalar_type()
            .ok_or_else(|| TableError::InvalidArgument(format!("index {:?} is not a scalar index", segment.name())))?;
        match kind {
            ScalarIndexType::BTree => Self::open_btree(location, segment).await,
            ScalarIndexType::ZoneMap => Self::open_zones(location, segment).await,
            _ => {
                let file = segment.file("postings").ok_or_else(|| missing(segment, "postings"))?;
                let reader = open(location, file).await?;
                let keys = reader
                    .read_range(0..reader.num_rows(), &ReadOptions::default().with_columns(["key"]))
                    .await?;
                let keys = column(&keys, "key", &file.path)?;
                if kind == ScalarIndexType::NGram && keys.as_primitive_opt::<UInt64Type>().is_none() {
                    return Err(TableError::corrupt(&file.path, "n-gram keys are not u64"));
                }
                Ok(Self::Postings {
                    kind,
                    reader: Box::new(reader),
                    path: file.path.clone(),
                    keys,
                    nulls: read_nulls(location, segment).await?,
                })
            }
        }
    }

    async fn open_btree(location: &DatasetLocation, segment: &IndexSegment) -> Result<Self> {
        let values_file = segment.file("values").ok_or_else(|| missing(segment, "values"))?;
        let pages_file = segment.file("pages").ok_or_else(|| missing(segment, "pages"))?;
        let values = open(location, values_file).await?;
        let pages = read_all(location, pages_file, &ReadOptions::default()).await?;
        let (mins, maxes) = (
            column(&pages, "min", &pages_file.path)?,
            column(&pages, "max", &pages_file.path)?,
        );
        let page_rows = segment.scalar().map_or(0, |d| d.page_rows as u64);
        let expected = values.num_rows().div_ceil(page_rows.max(1));
        let value_type = values.schema().field_with_name("value").map(|f| f.data_type().clone());
        if page_rows == 0
            || mins.len() as u64 != expected
            || value_type.as_ref().ok() != Some(mins.data_type())
            || mins.data_type() != maxes.data_type()
        {
            return Err(TableError::corrupt(
                &pages_file.path,
                format!(
                    "{} pages of {page_rows} rows do not bound {} values",
                    mins.len(),
                    values.num_rows()
                ),
            ));
        }
        Ok(Self::BTree {
            values: Box::new(values),
            path: values_file.path.clone(),
            page_rows,
            mins,
            maxes,
            nulls: read_nulls(location, segment).await?,
        })
    }

    async fn open_zones(location: &DatasetLocation, segment: &IndexSegment) -> Result<Self> {
        let file = segment.file("zones").ok_or_else(|| missing(segment, "zones"))?;
        let batch = read_all(location, file, &ReadOptions::default()).await?;
        let p = &file.path;
        let (mins, maxes) = (column(&batch, "min", p)?, column(&batch, "max", p)?);
        if mins.data_type() != maxes.data_type() {
            return Err(TableError::corrupt(p, "zone bounds differ in type"));
        }
        Ok(Self::Zones(Box::new(ZoneTable {
            fragments: u64_column(&batch, "fragment", p)?,
            starts: u64_column(&batch, "start", p)?,
            rows: u64_column(&batch, "rows", p)?,
            null_counts: u64_column(&batch, "null_count", p)?,
            mins,
            maxes,
        })))
    }

    /// The row ids stored with the keys at `indices` (ascending), one
    /// bitmap per key, read in one request.
    pub async fn key_bitmaps(&self, indices: &[u64]) -> Result<Vec<RoaringTreemap>> {
        let Self::Postings { reader, path, .. } = self else {
            return Ok(Vec::new());
        };
        if indices.is_empty() {
            return Ok(Vec::new());
        }
        let batch = reader
            .take(indices, &ReadOptions::default().with_columns(["rows"]))
            .await?;
        let rows = column(&batch, "rows", path)?;
        let rows = rows
            .as_binary_opt::<i32>()
            .ok_or_else(|| TableError::corrupt(path, "row bitmaps are not binary"))?;
        (0..rows.len()).map(|i| decode_bitmap(rows.value(i), path)).collect()
    }

    /// The row ids stored with the keys at `indices`, unioned (or
    /// intersected when `all`).
    pub async fn key_rows(&self, indices: &[u64], all: bool) -> Result<RoaringTreemap> {
        let combined = self
            .key_bitmaps(indices)
            .await?
            .into_iter()
            .reduce(|acc, bitmap| if all { acc & bitmap } else { acc | bitmap });
        Ok(combined.unwrap_or_default())
    }
}

/// Loaded scalar segments by uuid.
#[derive(Debug, Default)]
pub(crate) struct ScalarCache {
    segments: Mutex<HashMap<String, Arc<OnceCell<Arc<LoadedScalar>>>>>,
}

impl ScalarCache {
    /// The loaded form of `segment`, opened on first use; a failed open is
    /// not cached.
    pub async fn get(&self, location: &DatasetLocation, segment: &IndexSegment) -> Result<Arc<LoadedScalar>> {
        let cell = {
            let mut map = self.segments.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(segment.uuid().to_string()).or_default().clone()
        };
        cell.get_or_try_init(|| async { LoadedScalar::open(location, segment).await.map(Arc::new) })
            .await
            .cloned()
    }
}
