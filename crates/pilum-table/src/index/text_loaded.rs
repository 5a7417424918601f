//! Inverted index segments opened for search: the document table and the
//! term dictionary load when a segment is first queried; posting lists
//! load on first use of their term (from memory when the postings file was
//! small enough to read whole, else by one ranged read each) and stay
//! cached with the segment. Index files never change once written, so a
//! loaded segment serves every version that lists it.

use super::IndexSegment;
use super::text_params::analyzer_of;
use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::proto;
use bytes::Bytes;
use object_store::ObjectStoreExt;
use pilum_index::IndexError;
use pilum_index::text::format::{
    DocTable, POSTINGS_MAGIC, TermEntry, check_header, decode_docs, decode_list, decode_terms,
};
use pilum_index::text::{Analyzer, PostingList};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Postings files up to this size are read whole when a segment opens.
const PRELOAD_BYTES: u64 = 256 << 20;

/// An index error on file `path`: damage is reported as corruption of it.
pub(crate) fn file_error(path: &str, e: IndexError) -> TableError {
    match e {
        IndexError::Corrupt { what } => TableError::corrupt(path, what),
        other => TableError::Index {
            path: Some(path.to_string()),
            source: other,
        },
    }
}

enum Postings {
    Whole(Bytes),
    /// Read by range from the segment's root.
    Ranged(DatasetLocation),
}

/// An INVERTED segment ready for queries.
pub(crate) struct LoadedText {
    /// Row id and length of each document.
    pub docs: DocTable,
    /// Terms in all documents.
    pub total_terms: u64,
    /// The dictionary's terms, ascending.
    pub terms: Vec<String>,
    entries: Vec<TermEntry>,
    /// The analyzer the segment was built with.
    pub analyzer: Arc<Analyzer>,
    /// Whether postings carry positions.
    pub with_position: bool,
    /// Whether the segment indexes JSON documents with their paths.
    pub json: bool,
    postings: Postings,
    postings_path: String,
    lists: Mutex<HashMap<u32, Arc<PostingList>>>,
}

impl std::fmt::Debug for LoadedText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedText")
            .field("docs", &self.docs.row_ids.len())
            .field("terms", &self.terms.len())
            .finish()
    }
}

async fn read_whole(location: &DatasetLocation, file: &proto::IndexFile) -> Result<Bytes> {
    let path = location.child(&file.path);
    let bytes = location
        .store
        .get(&path)
        .await
        .map_err(|e| TableError::store(&path, e))?
        .bytes()
        .await
        .map_err(|e| TableError::store(&path, e))?;
    if bytes.len() as u64 != file.size {
        return Err(TableError::corrupt(
            &file.path,
            format!("{} bytes, the manifest says {}", bytes.len(), file.size),
        ));
    }
    Ok(bytes)
}

impl LoadedText {
    async fn open(location: &DatasetLocation, segment: &IndexSegment) -> Result<Self> {
        let location = &location.base(segment.message.base_id)?;
        let details = segment.text().ok_or_else(|| {
            TableError::InvalidArgument(format!("index {:?} is not an inverted index", segment.name()))
        })?;
        let missing = |role: &str| {
            TableError::corrupt(
                format!("_versions (index {:?})", segment.name()),
                format!("segment {} lists no {role} file", segment.uuid()),
            )
        };
        let docs_file = segment.file("docs").ok_or_else(|| missing("docs"))?;
        let terms_file = segment.file("terms").ok_or_else(|| missing("terms"))?;
        let postings_file = segment.file("postings").ok_or_else(|| missing("postings"))?;
        let (docs, terms) = futures::try_join!(read_whole(location, docs_file), read_whole(location, terms_file))?;
        let docs = decode_docs(&docs).map_err(|e| file_error(&docs_file.path, e))?;
        let dictionary = decode_terms(&terms, postings_file.size).map_err(|e| file_error(&terms_file.path, e))?;
        if docs.row_ids.len() as u64 != details.num_docs {
            return Err(TableError::corrupt(
                &docs_file.path,
                format!(
                    "{} documents, the manifest says {}",
                    docs.row_ids.len(),
                    details.num_docs
                ),
            ));
        }
        let postings = if postings_file.size <= PRELOAD_BYTES {
            let bytes = read_whole(location, postings_file).await?;
            check_header(&bytes, POSTINGS_MAGIC).map_err(|e| file_error(&postings_file.path, e))?;
            Postings::Whole(bytes)
        } else {
            Postings::Ranged(location.clone())
        };
        let analyzer = Analyzer::new(analyzer_of(details)?).map_err(TableError::index)?;
        let (terms, entries) = dictionary.into_iter().unzip();
        Ok(Self {
            total_terms: docs.total_terms(),
            docs,
            terms,
            entries,
            analyzer: Arc::new(analyzer),
            with_position: details.with_position,
            json: details.json,
            postings,
            postings_path: postings_file.path.clone(),
            lists: Mutex::new(HashMap::new()),
        })
    }

    /// The dictionary number of `term`.
    pub fn lookup(&self, term: &str) -> Option<u32> {
        self.terms
            .binary_search_by(|t| t.as_str().cmp(term))
            .ok()
            .map(|i| i as u32)
    }

    /// Documents holding term number `ordinal`.
    pub fn doc_count(&self, ordinal: u32) -> u32 {
        self.entries.get(ordinal as usize).map_or(0, |e| e.doc_count)
    }

    /// The postings of term number `ordinal`.
    pub async fn list(&self, ordinal: u32) -> Result<Arc<PostingList>> {
        if let Some(list) = self.lists.lock().unwrap_or_else(|p| p.into_inner()).get(&ordinal) {
            return Ok(list.clone());
        }
        let entry = *self
            .entries
            .get(ordinal as usize)
            .ok_or_else(|| TableError::corrupt(&self.postings_path, format!("no term number {ordinal}")))?;
        let (start, end) = (entry.offset, entry.offset + u64::from(entry.length));
        let bytes = match &self.postings {
            Postings::Whole(all) => all.slice(start as usize..end as usize),
            Postings::Ranged(location) => {
                let path = location.child(&self.postings_path);
                location
                    .store
                    .get_range(&path, start..end)
                    .await
                    .map_err(|e| TableError::store(&path, e))?
            }
        };
        let list = decode_list(&bytes).map_err(|e| file_error(&self.postings_path, e))?;
        if list.doc_count() != entry.doc_count
            || list
                .blocks()
                .last()
                .is_some_and(|b| b.last_doc as usize >= self.docs.row_ids.len())
        {
            return Err(TableError::corrupt(
                &self.postings_path,
                format!(
                    "the list of {:?} disagrees with the dictionary",
                    self.terms[ordinal as usize]
                ),
            ));
        }
        let list = Arc::new(list);
        self.lists
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(ordinal, list.clone());
        Ok(list)
    }
}

/// Loaded inverted segments by uuid.
#[derive(Debug, Default)]
pub(crate) struct TextCache {
    segments: Mutex<HashMap<String, Arc<OnceCell<Arc<LoadedText>>>>>,
}

impl TextCache {
    /// The loaded form of `segment`, opened on first use; a failed open is
    /// not cached.
    pub async fn get(&self, location: &DatasetLocation, segment: &IndexSegment) -> Result<Arc<LoadedText>> {
        let cell = {
            let mut map = self.segments.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(segment.uuid().to_string()).or_default().clone()
        };
        cell.get_or_try_init(|| async { LoadedText::open(location, segment).await.map(Arc::new) })
            .await
            .cloned()
    }
}
