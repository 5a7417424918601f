//! Which fragments a scan reads: the chosen ones (or all), less those whose
//! statistics show they hold no row the filter keeps; of a fragment list
//! kept in pages, only the pages that may hold such fragments are read.

use super::Scanner;
use crate::error::{Result, TableError};
use crate::proto;
use crate::schema::TableSchema;
use datafusion::logical_expr::Expr;
use std::sync::Arc;

impl Scanner {
    /// The fragments the scan reads, in order: the chosen ones (or all),
    /// less those whose statistics (their page's, then their own) show they
    /// hold no row the filter keeps. Of a list kept in pages, only the
    /// pages that may hold such fragments are read.
    pub(super) async fn selected_fragments(
        &self,
        filter: Option<&Expr>,
        filter_schema: &TableSchema,
    ) -> Result<Vec<Arc<proto::Fragment>>> {
        let list = &self.dataset.manifest.fragments;
        let candidates: Vec<Arc<proto::Fragment>> = match (list.loaded(), list.pages()) {
            (None, Some(pages)) => {
                let wanted = match (&self.fragments, filter) {
                    (Some(ids), _) => pages
                        .iter()
                        .map(|p| {
                            ids.iter()
                                .any(|id| (p.min_fragment_id..=p.max_fragment_id).contains(id))
                        })
                        .collect(),
                    (None, Some(filter)) => crate::search::may_match(filter, pages, filter_schema)?,
                    (None, None) => self.pages_for_limit(pages),
                };
                if wanted.iter().all(|w| *w) {
                    self.dataset
                        .all_fragments()
                        .await?
                        .iter()
                        .cloned()
                        .map(Arc::new)
                        .collect()
                } else {
                    let chosen: Vec<proto::FragmentPageRef> = pages
                        .iter()
                        .zip(wanted)
                        .filter(|(_, w)| *w)
                        .map(|(p, _)| p.clone())
                        .collect();
                    crate::fragment_pages::load_all(&self.dataset.location, &chosen)
                        .await?
                        .into_iter()
                        .map(Arc::new)
                        .collect()
                }
            }
            _ => list.get()?.iter().cloned().map(Arc::new).collect(),
        };
        let mut selected = match &self.fragments {
            None => candidates,
            Some(ids) => ids
                .iter()
                .map(|id| {
                    candidates
                        .iter()
                        .find(|f| f.id == *id)
                        .cloned()
                        .ok_or_else(|| TableError::InvalidArgument(format!("fragment {id} is not in this version")))
                })
                .collect::<Result<_>>()?,
        };
        if let Some(filter) = filter {
            let units: Vec<proto::FragmentPageRef> = selected
                .iter()
                .map(|f| crate::fragment_pages::summarize(std::slice::from_ref(f.as_ref()), Some(filter_schema)))
                .collect();
            let keep = crate::search::may_match(filter, &units, filter_schema)?;
            let mut keep = keep.into_iter();
            selected.retain(|_| keep.next().unwrap_or(true));
        }
        Ok(selected)
    }

    /// Without a filter, the pages up to the one where `offset + limit`
    /// live rows are covered (every page without a limit).
    fn pages_for_limit(&self, pages: &[proto::FragmentPageRef]) -> Vec<bool> {
        let Some(wanted) = self.limit.map(|l| l.saturating_add(self.offset)) else {
            return vec![true; pages.len()];
        };
        let mut covered = 0u64;
        pages
            .iter()
            .map(|page| {
                let needed = covered < wanted;
                covered += page.physical_rows.saturating_sub(page.deleted_rows);
                needed
            })
            .collect()
    }
}
