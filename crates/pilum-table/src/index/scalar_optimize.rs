//! `optimize_indices` for scalar indices: the uncovered fragments, with
//! those of the newest segments folded in, are indexed into one new
//! segment (the same plan as inverted indices follow).

use super::IndexSegment;
use super::scalar_params::ScalarIndexParams;
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::progress::Progress;

impl Dataset {
    /// The build parameters that reproduce scalar index `name`.
    pub(crate) fn scalar_params_of(&self, name: &str) -> Result<ScalarIndexParams> {
        let not_found = || TableError::IndexNotFound { name: name.into() };
        let segment = self
            .segments_named(name)
            .into_iter()
            .filter(|s| s.scalar_type().is_some())
            .max_by_key(|s| s.message.created_at_micros)
            .ok_or_else(not_found)?;
        let kind = segment.scalar_type().ok_or_else(not_found)?;
        let column = segment
            .field_id()
            .and_then(|id| self.manifest.schema.field_name(id))
            .ok_or_else(not_found)?;
        let mut params = ScalarIndexParams::new(column, kind);
        params.name = Some(name.to_string());
        params.replace = true;
        if let Some(zone_rows) = segment.scalar().map(|d| d.zone_rows).filter(|&z| z > 0) {
            params.zone_rows = zone_rows;
        }
        Ok(params)
    }

    /// A segment over the uncovered fragments and those of the newest
    /// `merge` segments, and the uuids it replaces; `None` when there is
    /// nothing to do.
    pub(crate) async fn update_scalar_index(
        &self,
        name: &str,
        merge: usize,
    ) -> Result<Option<(IndexSegment, Vec<String>)>> {
        let params = self.scalar_params_of(name)?;
        let segments: Vec<&IndexSegment> = self
            .segments_named(name)
            .into_iter()
            .filter(|s| s.scalar_type().is_some())
            .collect();
        let Some((fragments, folded)) = self.update_plan(&segments, merge).await? else {
            return Ok(None);
        };
        let field_id = self.scalar_field(&params.column, params.index_type)?;
        let segment = self
            .build_scalar_segment(&params, name, field_id, fragments, &Progress::none())
            .await?;
        Ok(Some((segment, folded)))
    }
}
