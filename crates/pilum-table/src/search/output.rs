//! Turning ranked row ids into result rows: take the requested columns by
//! row id, apply a post-filter, append `_rowid` and `_distance`.

use super::plan::DISTANCE;
use crate::dataset::Dataset;
use crate::error::Result;
use crate::expr::CompiledExpr;
use crate::scanner::ROW_ID;
use arrow_array::{ArrayRef, Float32Array, RecordBatch, RecordBatchOptions, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use arrow_select::filter::{filter as filter_array, filter_record_batch};
use pilum_index::Neighbor;
use std::sync::Arc;

impl Dataset {
    /// The rows of `winners` (nearest first) with `columns` (all when
    /// `None`), then `_rowid` and `_distance`; rows failing `post` are dropped.
    pub(crate) async fn search_output(
        &self,
        winners: &[Neighbor],
        columns: Option<&[&str]>,
        post: Option<&CompiledExpr>,
    ) -> Result<RecordBatch> {
        let ids: Vec<u64> = winners.iter().map(|n| n.id).collect();
        let distances: Vec<f32> = winners.iter().map(|n| n.distance).collect();
        self.ranked_output(&ids, &distances, DISTANCE, columns, post).await
    }

    /// Rows `ids` (in order) with `columns` (all when `None`), then
    /// `_rowid` and a column `label` of `values`; rows failing `post` are
    /// dropped.
    pub(crate) async fn ranked_output(
        &self,
        ids: &[u64],
        values: &[f32],
        label: &str,
        columns: Option<&[&str]>,
        post: Option<&CompiledExpr>,
    ) -> Result<RecordBatch> {
        let output: Vec<String> = match columns {
            Some(names) => names.iter().map(|n| n.to_string()).collect(),
            None => self.schema().fields().iter().map(|f| f.name().clone()).collect(),
        };
        let mut needed = output.clone();
        if let Some(post) = post {
            needed.extend(post.columns().into_iter().filter(|c| !output.contains(c)));
        }
        let needed_refs: Vec<&str> = needed.iter().map(String::as_str).collect();
        let ids = UInt64Array::from(ids.to_vec());
        let distances = Float32Array::from(values.to_vec());
        let mut rows = if needed_refs.is_empty() {
            // No column to read: only the row count (a batch without columns
            // must say how many rows it has).
            RecordBatch::try_new_with_options(
                Arc::new(Schema::empty()),
                Vec::new(),
                &RecordBatchOptions::new().with_row_count(Some(ids.len())),
            )?
        } else {
            self.take_rows(ids.values(), Some(&needed_refs)).await?
        };
        let (mut ids, mut distances): (ArrayRef, ArrayRef) = (Arc::new(ids), Arc::new(distances));
        if let Some(post) = post {
            let mask = post.mask(&rows)?;
            rows = filter_record_batch(&rows, &mask)?;
            ids = filter_array(&ids, &mask)?;
            distances = filter_array(&distances, &mask)?;
        }
        let positions = output
            .iter()
            .map(|name| rows.schema().index_of(name))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let rows = rows.project(&positions)?;
        let mut fields: Vec<Field> = rows.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        let mut arrays: Vec<ArrayRef> = rows.columns().to_vec();
        fields.push(Field::new(ROW_ID, DataType::UInt64, false));
        arrays.push(ids);
        fields.push(Field::new(label, DataType::Float32, true));
        arrays.push(distances);
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }
}
