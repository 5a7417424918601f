//! `optimize_indices` for inverted indices: the fragments no segment
//! covers, together with the fragments of the newest segments folded in,
//! are analyzed again into one new segment (text analysis is cheap next to
//! reading the text, and a rebuilt segment drops deleted rows from its
//! statistics).

use super::IndexSegment;
use super::text_params::{TextIndexParams, analyzer_of};
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::progress::Progress;
use roaring::RoaringBitmap;

impl Dataset {
    /// The build parameters that reproduce index `name`'s newest segment.
    pub(crate) fn text_params_of(&self, name: &str, memory_limit: usize) -> Result<TextIndexParams> {
        let not_found = || TableError::IndexNotFound { name: name.into() };
        let segment = self
            .segments_named(name)
            .into_iter()
            .filter(|s| s.is_text())
            .max_by_key(|s| s.message.created_at_micros)
            .ok_or_else(not_found)?;
        let details = segment.text().ok_or_else(not_found)?;
        let column = segment
            .field_id()
            .and_then(|id| self.manifest.schema.field_name(id))
            .ok_or_else(not_found)?;
        Ok(TextIndexParams {
            name: Some(name.to_string()),
            replace: true,
            analyzer: analyzer_of(details)?,
            with_position: details.with_position,
            memory_limit,
            json: Some(details.json),
            ..TextIndexParams::new(column)
        })
    }

    /// A segment over the uncovered fragments and those of the newest
    /// `merge` segments, and the uuids it replaces; `None` when there is
    /// nothing to do.
    pub(crate) async fn update_text_index(
        &self,
        name: &str,
        merge: usize,
        memory_limit: usize,
    ) -> Result<Option<(IndexSegment, Vec<String>)>> {
        let params = self.text_params_of(name, memory_limit)?;
        let segments: Vec<&IndexSegment> = self.segments_named(name).into_iter().filter(|s| s.is_text()).collect();
        let Some((fragments, folded)) = self.update_plan(&segments, merge).await? else {
            return Ok(None);
        };
        let field_id = self.text_field(&params.column)?;
        let segment = self
            .build_text_segment(&params, name, field_id, fragments, &Progress::none())
            .await?;
        Ok(Some((segment, folded)))
    }

    /// What updating an index made of `segments` rebuilds: the uncovered
    /// fragments with those of the newest `merge` segments folded in
    /// (sorted), and the uuids of the folded segments; `None` when there
    /// is nothing to do.
    pub(crate) async fn update_plan(
        &self,
        segments: &[&IndexSegment],
        merge: usize,
    ) -> Result<Option<(Vec<u64>, Vec<String>)>> {
        let covered = segments.iter().fold(RoaringBitmap::new(), |acc, s| acc | &s.fragments);
        let live: Vec<u64> = self.all_fragments().await?.iter().map(|f| f.id).collect();
        let uncovered: Vec<u64> = live
            .iter()
            .copied()
            .filter(|id| !covered.contains(*id as u32))
            .collect();
        let mut by_age = segments.to_vec();
        by_age.sort_by_key(|s| std::cmp::Reverse(s.message.created_at_micros));
        let folded: Vec<&IndexSegment> = by_age.into_iter().take(merge).collect();
        if uncovered.is_empty() && folded.len() <= 1 {
            return Ok(None);
        }
        let folded_fragments = folded.iter().fold(RoaringBitmap::new(), |acc, s| acc | &s.fragments);
        let mut fragments = uncovered;
        fragments.extend(live.iter().copied().filter(|id| folded_fragments.contains(*id as u32)));
        fragments.sort_unstable();
        Ok(Some((fragments, folded.iter().map(|s| s.uuid().to_string()).collect())))
    }
}
