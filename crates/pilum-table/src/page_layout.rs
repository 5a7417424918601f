//! How a commit edits a fragment list kept in pages without reading or
//! rewriting all of it (`format-spec/table.md` section 19.3).
//!
//! The commit reads only the pages its change touches; every other page
//! stands in the list as one placeholder. After the change, placeholders
//! and read pages whose fragments are unchanged keep their page objects;
//! changed and new fragments go to new pages. A run of new fragments first
//! absorbs the pages before it while each is no larger than the run, so a
//! table grown by small appends ends in a few pages of decreasing size
//! (like a binary counter) and each append rewrites an amortized
//! logarithmic number of fragments.

use crate::error::Result;
use crate::fragment_list::FragmentList;
use crate::fragment_pages::{load_page, write_page};
use crate::location::DatasetLocation;
use crate::manifest::Manifest;
use crate::proto;
use crate::schema::TableSchema;
use futures::{StreamExt, TryStreamExt};
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::sync::Arc;

/// Fragment ids at or above this stand for unread pages (real ids fit in 32 bits).
const PLACEHOLDER_BASE: u64 = 1 << 40;
/// New pages written at once.
const WRITE_CONCURRENCY: usize = 8;

/// The fragments a change needs to see.
#[derive(Debug, Clone)]
pub(crate) enum Touch {
    /// None: the change only adds fragments at the end, or none.
    Nothing,
    /// These fragment ids (the pages whose id range holds one are read).
    Ids(Vec<u64>),
}

/// A version's fragment list being edited by a commit.
pub(crate) struct EditableList {
    /// Fragments of the pages read, one placeholder per page not read.
    pub fragments: Vec<proto::Fragment>,
    old_pages: Arc<Vec<proto::FragmentPageRef>>,
    read: HashMap<usize, Arc<Vec<proto::Fragment>>>,
}

/// Whether `fragment` stands for an unread page.
fn is_placeholder(fragment: &proto::Fragment) -> bool {
    fragment.id >= PLACEHOLDER_BASE
}

fn placeholder(page: usize) -> proto::Fragment {
    proto::Fragment {
        id: PLACEHOLDER_BASE + page as u64,
        ..Default::default()
    }
}

impl EditableList {
    /// A list of new fragments (no earlier version's pages to share).
    pub(crate) fn fresh(fragments: Vec<proto::Fragment>) -> Self {
        Self {
            fragments,
            old_pages: Arc::default(),
            read: HashMap::new(),
        }
    }

    /// The list of `manifest`, reading the pages `touch` needs.
    pub(crate) async fn of(location: &DatasetLocation, manifest: &Manifest, touch: &Touch) -> Result<Self> {
        let list = &manifest.fragments;
        let Some(pages) = list.pages() else {
            return Ok(Self::fresh(list.get()?.as_ref().clone()));
        };
        let mut read = HashMap::new();
        if let Some(all) = list.loaded() {
            let mut at = 0;
            for (index, page) in pages.iter().enumerate() {
                let count = page.fragment_count as usize;
                let slice = all.get(at..at + count).unwrap_or_default();
                read.insert(index, Arc::new(slice.to_vec()));
                at += count;
            }
        } else if let Touch::Ids(ids) = touch {
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            let wanted: Vec<usize> = (0..pages.len())
                .filter(|&i| {
                    let page = &pages[i];
                    let from = sorted.partition_point(|id| *id < page.min_fragment_id);
                    sorted.get(from).is_some_and(|id| *id <= page.max_fragment_id)
                })
                .collect();
            let loaded: Vec<(usize, Arc<Vec<proto::Fragment>>)> = futures::stream::iter(wanted)
                .map(|i| async move { Ok::<_, crate::error::TableError>((i, load_page(location, &pages[i]).await?)) })
                .buffered(WRITE_CONCURRENCY * 4)
                .try_collect()
                .await?;
            read.extend(loaded);
        }
        let mut fragments = Vec::new();
        for index in 0..pages.len() {
            match read.get(&index) {
                Some(page) => fragments.extend(page.iter().cloned()),
                None => fragments.push(placeholder(index)),
            }
        }
        Ok(Self {
            fragments,
            old_pages: pages.clone(),
            read,
        })
    }

    /// Ids of the real fragments in the list now.
    pub(crate) fn real_ids(&self) -> RoaringBitmap {
        self.fragments
            .iter()
            .filter(|f| !is_placeholder(f))
            .map(|f| f.id as u32)
            .collect()
    }

    /// Ids that may be live: the real fragments' and every id in the range
    /// of a page not read (whose fragments the change cannot have touched).
    pub(crate) fn live_ids(&self) -> RoaringBitmap {
        let mut live = self.real_ids();
        for fragment in self.fragments.iter().filter(|f| is_placeholder(f)) {
            if let Some(page) = self.old_pages.get((fragment.id - PLACEHOLDER_BASE) as usize) {
                live.insert_range(page.min_fragment_id as u32..=page.max_fragment_id as u32);
            }
        }
        live
    }

    /// Fragments in the list (those of unread pages counted).
    fn total(&self) -> usize {
        self.fragments
            .iter()
            .map(|f| match self.page_of(f) {
                Some(page) => self.old_pages[page].fragment_count as usize,
                None => 1,
            })
            .sum()
    }

    fn page_of(&self, fragment: &proto::Fragment) -> Option<usize> {
        is_placeholder(fragment).then(|| (fragment.id - PLACEHOLDER_BASE) as usize)
    }

    /// The fragments of old page `index`, read now if they were not.
    async fn page_fragments(&self, location: &DatasetLocation, index: usize) -> Result<Arc<Vec<proto::Fragment>>> {
        match self.read.get(&index) {
            Some(fragments) => Ok(fragments.clone()),
            None => load_page(location, &self.old_pages[index]).await,
        }
    }

    /// Every fragment of the list, unread pages read, with no page to share.
    pub(crate) async fn into_fresh(self, location: &DatasetLocation) -> Result<Self> {
        Ok(Self::fresh(self.resolved(location).await?))
    }

    /// The fragments, each unread page's read in place of its placeholder.
    async fn resolved(&self, location: &DatasetLocation) -> Result<Vec<proto::Fragment>> {
        let mut all = Vec::with_capacity(self.total());
        for fragment in &self.fragments {
            match self.page_of(fragment) {
                Some(page) => all.extend(self.page_fragments(location, page).await?.iter().cloned()),
                None => all.push(fragment.clone()),
            }
        }
        Ok(all)
    }

    /// Lays the list out: inline when it fits one page of `per_page`,
    /// else in pages, writing the new ones.
    pub(crate) async fn finish(
        self,
        location: &DatasetLocation,
        schema: &TableSchema,
        per_page: usize,
    ) -> Result<FragmentList> {
        if self.total() <= per_page {
            return Ok(FragmentList::inline(self.resolved(location).await?));
        }
        let layout = self.lay_out(location, per_page).await?;
        let complete = !self.fragments.iter().any(is_placeholder);
        let old_pages = &self.old_pages;
        let refs: Vec<proto::FragmentPageRef> = futures::stream::iter(layout)
            .map(|slot| async move {
                match slot {
                    Slot::Old(index) => Ok(old_pages[index].clone()),
                    Slot::New(fragments) => write_page(location, schema, fragments).await,
                }
            })
            .buffered(WRITE_CONCURRENCY)
            .try_collect()
            .await?;
        let all = complete.then(|| Arc::new(self.fragments));
        Ok(FragmentList::paged(refs, all))
    }

    /// Which old pages stay and which new pages to write, in order.
    async fn lay_out(&self, location: &DatasetLocation, per_page: usize) -> Result<Vec<Slot>> {
        let first_ids: HashMap<u64, usize> = self
            .read
            .iter()
            .filter_map(|(index, page)| page.first().map(|f| (f.id, *index)))
            .collect();
        let mut out: Vec<Slot> = Vec::new();
        let mut run: Vec<proto::Fragment> = Vec::new();
        let mut at = 0;
        while at < self.fragments.len() {
            let fragment = &self.fragments[at];
            let kept = match self.page_of(fragment) {
                Some(page) => Some((page, 1)),
                None => first_ids.get(&fragment.id).and_then(|&page| {
                    let old = &self.read[&page];
                    let end = at + old.len();
                    (self.fragments.get(at..end) == Some(old.as_slice())).then_some((page, old.len()))
                }),
            };
            match kept {
                Some((page, step)) => {
                    self.flush(location, &mut out, std::mem::take(&mut run), per_page)
                        .await?;
                    out.push(Slot::Old(page));
                    at += step;
                }
                None => {
                    run.push(fragment.clone());
                    at += 1;
                }
            }
        }
        self.flush(location, &mut out, run, per_page).await?;
        Ok(out)
    }

    /// Appends a run of new fragments to `out`, first absorbing the pages
    /// before it that are no larger than the run, then split into pages.
    async fn flush(
        &self,
        location: &DatasetLocation,
        out: &mut Vec<Slot>,
        mut run: Vec<proto::Fragment>,
        per_page: usize,
    ) -> Result<()> {
        if run.is_empty() {
            return Ok(());
        }
        loop {
            let previous = match out.last() {
                Some(Slot::Old(page)) => self.old_pages[*page].fragment_count as usize,
                Some(Slot::New(fragments)) => fragments.len(),
                None => break,
            };
            if previous > run.len() || previous + run.len() > per_page {
                break;
            }
            let mut merged = match out.pop() {
                Some(Slot::Old(page)) => self.page_fragments(location, page).await?.as_ref().clone(),
                Some(Slot::New(fragments)) => fragments,
                None => break,
            };
            merged.append(&mut run);
            run = merged;
        }
        // Full pages first, the rest last (one pass: splitting the head off
        // again and again would copy the tail each time).
        let mut fragments = run.into_iter().peekable();
        while fragments.peek().is_some() {
            out.push(Slot::New(fragments.by_ref().take(per_page).collect()));
        }
        Ok(())
    }
}

/// One page of a new layout.
enum Slot {
    /// An old page, kept.
    Old(usize),
    /// A new page of these fragments.
    New(Vec<proto::Fragment>),
}
