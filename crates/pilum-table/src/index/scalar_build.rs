//! Building a scalar index segment: one scan of the column (with row ids,
//! and row addresses for zone maps), then the kind's structure, written by
//! `scalar_files`. Values are held in memory while a segment builds (8 to
//! 16 bytes per row for fixed-width columns; the n-gram build holds its
//! bitmaps instead, and runs a worker per core).

use super::scalar_collect::{flatten_lists, gram_postings, group_by_value, split_nulls, zones_of};
use super::scalar_files::{self, ScalarFiles};
use super::scalar_params::{ScalarIndexParams, ScalarIndexType};
use super::{IndexSegment, validate_name};
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::progress::Progress;
use crate::proto;
use crate::scanner::{ROW_ADDRESS, ROW_ID};
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{ArrayRef, UInt64Array};
use futures::TryStreamExt;
use std::sync::Arc;

/// The scanned column: values, row ids and (for zone maps) addresses.
pub(super) struct Scanned {
    pub values: Vec<ArrayRef>,
    pub ids: Vec<UInt64Array>,
    pub addresses: Vec<UInt64Array>,
}

impl Dataset {
    /// Builds a scalar index over the live rows of this version and commits
    /// it; fragments appended meanwhile stay uncovered and are scanned.
    pub async fn create_scalar_index(&mut self, params: &ScalarIndexParams, progress: &Progress) -> Result<()> {
        self.check_branch_live().await?;
        let (name, field_id) = self.scalar_build_target(params)?;
        let existing = self.replaced_segments(&name, params.replace)?;
        let fragments: Vec<u64> = self.all_fragments().await?.iter().map(|f| f.id).collect();
        let segment = self
            .build_scalar_segment(params, &name, field_id, fragments, progress)
            .await?;
        self.commit_new_index(name, segment, existing).await
    }

    /// The index name and field id a build of `params` writes, or why
    /// `params` cannot build on this version.
    pub(crate) fn scalar_build_target(&self, params: &ScalarIndexParams) -> Result<(String, i32)> {
        let name = params.resolved_name();
        validate_name(&name)?;
        if params.index_type == ScalarIndexType::ZoneMap && params.zone_rows == 0 {
            return Err(TableError::InvalidIndexParams {
                what: "rows_per_zone must be at least 1".into(),
            });
        }
        Ok((name, self.scalar_field(&params.column, params.index_type)?))
    }

    /// The field id of `column`, or why it cannot hold a `kind` index.
    pub(crate) fn scalar_field(&self, column: &str, kind: ScalarIndexType) -> Result<i32> {
        let field = self
            .schema()
            .field_with_name(column)
            .map_err(|_| TableError::ColumnNotFound {
                name: column.to_string(),
            })?;
        kind.check_type(column, field.data_type())?;
        self.manifest.schema.field_id(column)
    }

    /// Builds (without committing) a segment over the live rows of `fragments`.
    pub(crate) async fn build_scalar_segment(
        &self,
        params: &ScalarIndexParams,
        name: &str,
        field_id: i32,
        fragments: Vec<u64>,
        progress: &Progress,
    ) -> Result<IndexSegment> {
        progress.report("scanning", 0, 1);
        let kind = params.index_type;
        let scanned = self.scan_for_index(&params.column, &fragments, kind).await?;
        progress.report("scanning", 1, 1);
        progress.report("writing", 0, 1);
        let uuid = crate::paths::random_id();
        let value_type = self
            .schema()
            .field_with_name(&params.column)
            .map(|f| f.data_type().clone())
            .map_err(|_| TableError::ColumnNotFound {
                name: params.column.clone(),
            })?;
        let files = match kind {
            ScalarIndexType::BTree => {
                let (values, ids, nulls) = split_nulls(&value_type, &scanned)?;
                scalar_files::write_btree(&self.location, &uuid, values, ids, &nulls).await?
            }
            ScalarIndexType::Bitmap => {
                let (values, ids, nulls) = split_nulls(&value_type, &scanned)?;
                let (keys, rows) = group_by_value(&values, &ids)?;
                scalar_files::write_postings(&self.location, &uuid, keys, rows, &nulls).await?
            }
            ScalarIndexType::LabelList => {
                let (elements, ids, nulls) = flatten_lists(&scanned)?;
                let (keys, rows) = group_by_value(&elements, &ids)?;
                scalar_files::write_postings(&self.location, &uuid, keys, rows, &nulls).await?
            }
            ScalarIndexType::NGram => {
                let (keys, rows, nulls) = tokio::task::spawn_blocking(move || gram_postings(scanned))
                    .await
                    .map_err(|e| TableError::Internal { what: e.to_string() })??;
                let keys: ArrayRef = Arc::new(UInt64Array::from(keys));
                scalar_files::write_postings(&self.location, &uuid, keys, rows, &nulls).await?
            }
            ScalarIndexType::ZoneMap => {
                let (zones, values) = zones_of(&scanned, params.zone_rows, &value_type)?;
                scalar_files::write_zones(&self.location, &uuid, &zones, values).await?
            }
        };
        progress.report("writing", 1, 1);
        let ScalarFiles {
            files,
            num_keys,
            null_rows,
        } = files;
        let details = proto::ScalarIndexDetails {
            page_rows: if kind == ScalarIndexType::BTree {
                super::scalar_params::DEFAULT_PAGE_ROWS
            } else {
                0
            },
            zone_rows: if kind == ScalarIndexType::ZoneMap {
                params.zone_rows
            } else {
                0
            },
            num_keys,
            null_rows,
        };
        Ok(IndexSegment {
            message: proto::IndexSegment {
                uuid,
                name: name.to_string(),
                kind: kind.kind() as i32,
                field_ids: vec![field_id],
                dataset_version: self.version(),
                fragment_bitmap: Vec::new(),
                index_version: super::SCALAR_INDEX_VERSION,
                created_at_micros: chrono::Utc::now().timestamp_micros(),
                num_entries: num_keys,
                files,
                base_id: 0,
                details: Some(proto::index_segment::Details::Scalar(details)),
            },
            fragments: fragments.iter().map(|&f| f as u32).collect(),
        })
    }

    async fn scan_for_index(&self, column: &str, fragments: &[u64], kind: ScalarIndexType) -> Result<Scanned> {
        let addresses = kind == ScalarIndexType::ZoneMap;
        let mut stream = self
            .scan()
            .project([column])
            .with_row_id(true)
            .with_row_address(addresses)
            .with_fragments(fragments.iter().copied())
            .try_into_stream()
            .await?;
        let mut scanned = Scanned {
            values: Vec::new(),
            ids: Vec::new(),
            addresses: Vec::new(),
        };
        let missing = |name: &str| TableError::Internal {
            what: format!("scalar index scan lacks column {name}"),
        };
        while let Some(batch) = stream.try_next().await? {
            scanned
                .values
                .push(batch.column_by_name(column).ok_or_else(|| missing(column))?.clone());
            let ids = batch.column_by_name(ROW_ID).ok_or_else(|| missing(ROW_ID))?;
            scanned.ids.push(ids.as_primitive::<UInt64Type>().clone());
            if addresses {
                let addr = batch.column_by_name(ROW_ADDRESS).ok_or_else(|| missing(ROW_ADDRESS))?;
                scanned.addresses.push(addr.as_primitive::<UInt64Type>().clone());
            }
        }
        Ok(scanned)
    }
}
