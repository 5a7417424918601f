//! A version's fragment list: inline in its manifest, or kept in fragment
//! pages (`format-spec/table.md` section 19) that are read only when an
//! operation needs them.
//!
//! A paged list knows its pages' summaries (fragment and row counts,
//! fragment and row id ranges, column statistics) without reading them, so
//! opening a version, counting its rows and planning which pages a filter
//! can touch cost one manifest read whatever the table's size. Code that
//! needs every fragment calls [`FragmentList::load`] first; reading a paged
//! list that was never loaded is an error, never an empty list.

use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::proto;
use std::sync::{Arc, OnceLock};

/// The fragments of one version.
#[derive(Debug, Clone)]
pub(crate) enum FragmentList {
    /// Stored in the manifest itself.
    Inline(Arc<Vec<proto::Fragment>>),
    /// Stored in pages; `all` is filled once every page has been read.
    Paged {
        pages: Arc<Vec<proto::FragmentPageRef>>,
        all: Arc<OnceLock<Arc<Vec<proto::Fragment>>>>,
    },
}

impl FragmentList {
    /// A list kept in the manifest.
    pub(crate) fn inline(fragments: Vec<proto::Fragment>) -> Self {
        Self::Inline(Arc::new(fragments))
    }

    /// A list kept in `pages`, with its fragments when the caller has them.
    pub(crate) fn paged(pages: Vec<proto::FragmentPageRef>, fragments: Option<Arc<Vec<proto::Fragment>>>) -> Self {
        let all = OnceLock::new();
        if let Some(fragments) = fragments {
            let _ = all.set(fragments);
        }
        Self::Paged {
            pages: Arc::new(pages),
            all: Arc::new(all),
        }
    }

    /// The same list without its loaded fragments (what a shared cache keeps).
    pub(crate) fn unloaded(&self) -> Self {
        match self {
            Self::Inline(_) => self.clone(),
            Self::Paged { pages, .. } => Self::Paged {
                pages: pages.clone(),
                all: Arc::default(),
            },
        }
    }

    /// The page references of a paged list.
    pub(crate) fn pages(&self) -> Option<&Arc<Vec<proto::FragmentPageRef>>> {
        match self {
            Self::Inline(_) => None,
            Self::Paged { pages, .. } => Some(pages),
        }
    }

    /// Every fragment, when they are at hand.
    pub(crate) fn loaded(&self) -> Option<&Arc<Vec<proto::Fragment>>> {
        match self {
            Self::Inline(fragments) => Some(fragments),
            Self::Paged { all, .. } => all.get(),
        }
    }

    /// Every fragment; an error for a paged list not yet loaded.
    pub(crate) fn get(&self) -> Result<&Arc<Vec<proto::Fragment>>> {
        self.loaded().ok_or_else(|| TableError::Internal {
            what: "the fragment pages of this version were not loaded before use".into(),
        })
    }

    /// Every fragment, reading the pages not read yet.
    pub(crate) async fn load(&self, location: &DatasetLocation) -> Result<&Arc<Vec<proto::Fragment>>> {
        match self {
            Self::Inline(fragments) => Ok(fragments),
            Self::Paged { pages, all } => {
                if let Some(fragments) = all.get() {
                    return Ok(fragments);
                }
                let loaded = crate::fragment_pages::load_all(location, pages).await?;
                let _ = all.set(Arc::new(loaded));
                self.get()
            }
        }
    }

    /// Number of fragments.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Inline(fragments) => fragments.len(),
            Self::Paged { pages, .. } => pages.iter().map(|p| p.fragment_count as usize).sum(),
        }
    }

    /// Rows including deleted ones.
    pub(crate) fn physical_rows(&self) -> u64 {
        match self {
            Self::Inline(fragments) => fragments.iter().map(|f| f.physical_rows).sum(),
            Self::Paged { pages, .. } => pages.iter().map(|p| p.physical_rows).sum(),
        }
    }

    /// Deleted rows.
    pub(crate) fn deleted_rows(&self) -> u64 {
        match self {
            Self::Inline(fragments) => fragments
                .iter()
                .map(|f| f.deletion.as_ref().map_or(0, |d| d.num_deleted))
                .sum(),
            Self::Paged { pages, .. } => pages.iter().map(|p| p.deleted_rows).sum(),
        }
    }

    /// The fragments of the pages whose row-id range holds one of `ids`
    /// (every fragment of a list that is inline or already loaded): every
    /// fragment holding one of those row ids is among them.
    pub(crate) async fn holding_row_ids(
        &self,
        location: &DatasetLocation,
        ids: &[u64],
    ) -> Result<Vec<proto::Fragment>> {
        let (Self::Paged { pages, .. }, None) = (self, self.loaded()) else {
            return Ok(self.load(location).await?.as_ref().clone());
        };
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        let chosen: Vec<proto::FragmentPageRef> = pages
            .iter()
            .filter(|page| {
                let from = sorted.partition_point(|id| *id < page.min_row_id);
                sorted.get(from).is_some_and(|id| *id < page.row_id_end)
            })
            .cloned()
            .collect();
        crate::fragment_pages::load_all(location, &chosen).await
    }

    /// The fragment with `id`, reading at most the pages whose id range holds it.
    pub(crate) async fn find(&self, location: &DatasetLocation, id: u64) -> Result<Option<proto::Fragment>> {
        if let Some(all) = self.loaded() {
            return Ok(all.iter().find(|f| f.id == id).cloned());
        }
        let Self::Paged { pages, .. } = self else {
            return Ok(None);
        };
        for page in pages
            .iter()
            .filter(|p| p.min_fragment_id <= id && id <= p.max_fragment_id)
        {
            let fragments = crate::fragment_pages::load_page(location, page).await?;
            if let Some(found) = fragments.iter().find(|f| f.id == id) {
                return Ok(Some(found.clone()));
            }
        }
        Ok(None)
    }
}
