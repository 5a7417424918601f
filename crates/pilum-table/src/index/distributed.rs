//! Distributed index builds, on the distributed write protocol. Vector
//! indices train once ([`Dataset::build_vector_segment`] over some
//! fragments) and encode the other fragment groups with that model on any
//! number of workers ([`Dataset::build_index_segment`]); inverted and
//! scalar indices need no model, so every worker builds its fragments'
//! segment with the same parameters ([`Dataset::build_text_index_segment`],
//! [`Dataset::build_scalar_index_segment`]). One process commits every
//! segment as one logical index in one version
//! ([`Dataset::commit_index_segments`]).
//! Segments travel between processes as bytes ([`IndexSegment::to_bytes`]);
//! files of segments never committed stay invisible and cleanup removes them.

use super::{IndexSegment, ScalarIndexParams, TextIndexParams};
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::pending::{frame, unframe};
use crate::progress::Progress;
use crate::proto::{self, Operation};
use crate::transaction::{Change, Transaction};
use object_store::ObjectStoreExt;
use prost::Message;
use roaring::RoaringBitmap;

/// Magic of a serialized, uncommitted index segment.
const MAGIC: [u8; 4] = *b"PLIS";

impl IndexSegment {
    /// The segment as bytes, to send from the worker that built it to the
    /// process that commits (framed with a magic, a version and a CRC-32).
    pub fn to_bytes(&self) -> Vec<u8> {
        frame(MAGIC, &self.to_message().encode_to_vec())
    }

    /// Parses [`Self::to_bytes`]'s output; damaged or foreign bytes are
    /// reported as corruption.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "index segment";
        let payload = unframe(MAGIC, bytes, WHAT)?;
        let message = proto::IndexSegment::decode(payload)
            .map_err(|e| TableError::corrupt(WHAT, format!("does not decode: {e}")))?;
        Self::from_message(message, WHAT)
    }

    /// The fragment ids the segment covers.
    pub fn fragment_ids(&self) -> Vec<u64> {
        self.fragments.iter().map(u64::from).collect()
    }
}

impl Dataset {
    /// The bitmap of the fragments a build covers: `wanted` (which must be
    /// fragments of this version, at least one) or every fragment.
    pub(crate) async fn fragments_to_index(&self, wanted: Option<&[u64]>) -> Result<RoaringBitmap> {
        let present: RoaringBitmap = self.all_fragments().await?.iter().map(|f| f.id as u32).collect();
        let Some(wanted) = wanted else {
            return Ok(present);
        };
        if wanted.is_empty() {
            return Err(TableError::InvalidArgument(
                "an index segment needs at least one fragment".into(),
            ));
        }
        let mut out = RoaringBitmap::new();
        for &id in wanted {
            if u32::try_from(id).map_or(true, |id| !present.contains(id)) {
                return Err(TableError::InvalidArgument(format!(
                    "fragment {id} is not in version {}",
                    self.manifest.version
                )));
            }
            out.insert(id as u32);
        }
        Ok(out)
    }

    /// Builds (without committing) a segment over `fragments` with the
    /// model of `trained`, a vector segment of this dataset (from
    /// [`Dataset::build_vector_segment`], committed or not). The segment
    /// shares `trained`'s name, column, model and search defaults.
    pub async fn build_index_segment(
        &self,
        trained: &IndexSegment,
        fragments: &[u64],
        memory_limit: usize,
    ) -> Result<IndexSegment> {
        if trained.vector().is_none() {
            return Err(TableError::InvalidArgument(format!(
                "index segment {:?} is not a vector index segment",
                trained.name()
            )));
        }
        let covered = self.fragments_to_index(Some(fragments)).await?;
        let column = trained
            .field_id()
            .and_then(|id| self.manifest.schema.field_name(id))
            .ok_or_else(|| {
                TableError::InvalidArgument(format!(
                    "index segment {:?}: its column is not in this version",
                    trained.name()
                ))
            })?;
        let ids: Vec<u64> = covered.iter().map(u64::from).collect();
        self.encode_segment(trained.name(), trained, &column, ids, Vec::new(), memory_limit)
            .await
    }

    /// Builds (without committing) a segment of an inverted index over
    /// `fragments`; workers building other fragments with the same `params`
    /// make segments that commit together as one index (BM25 statistics
    /// are summed over segments at query time).
    pub async fn build_text_index_segment(
        &self,
        params: &TextIndexParams,
        fragments: &[u64],
        progress: &Progress,
    ) -> Result<IndexSegment> {
        let (name, field_id) = self.text_build_target(params)?;
        let covered = self
            .fragments_to_index(Some(fragments))
            .await?
            .iter()
            .map(u64::from)
            .collect();
        self.build_text_segment(params, &name, field_id, covered, progress)
            .await
    }

    /// Builds (without committing) a segment of a scalar index over
    /// `fragments`, to commit with the segments other workers build with
    /// the same `params`.
    pub async fn build_scalar_index_segment(
        &self,
        params: &ScalarIndexParams,
        fragments: &[u64],
        progress: &Progress,
    ) -> Result<IndexSegment> {
        let (name, field_id) = self.scalar_build_target(params)?;
        let covered = self
            .fragments_to_index(Some(fragments))
            .await?
            .iter()
            .map(u64::from)
            .collect();
        self.build_scalar_segment(params, &name, field_id, covered, progress)
            .await
    }

    /// Commits `segments` (of one index: same name, column, kind and
    /// settings — for vector indices the same model — and disjoint
    /// fragments) as one index in one version, replacing an
    /// index of that name only when `replace`. Fragments appended since
    /// stay uncovered and are searched exactly; a concurrent build of the
    /// same name conflicts.
    pub async fn commit_index_segments(&mut self, segments: Vec<IndexSegment>, replace: bool) -> Result<()> {
        let Some(first) = segments.first() else {
            return Err(TableError::InvalidArgument(
                "commit_index_segments needs at least one segment".into(),
            ));
        };
        let name = first.name().to_string();
        let model = settings_of(first);
        let mut covered = RoaringBitmap::new();
        for segment in &segments {
            if segment.name() != name
                || segment.field_id() != first.field_id()
                || segment.message.kind() != first.message.kind()
            {
                return Err(TableError::InvalidArgument(format!(
                    "segments of different indices ({:?} and {:?}) cannot be committed as one",
                    name,
                    segment.name()
                )));
            }
            if settings_of(segment) != model || model.is_none() {
                return Err(TableError::InvalidArgument(format!(
                    "segment {} of index {name:?} was not built with the same model or settings as the others",
                    segment.uuid()
                )));
            }
            if !(&covered & &segment.fragments).is_empty() {
                return Err(TableError::InvalidArgument(format!(
                    "segments of index {name:?} cover fragment {} twice",
                    (&covered & &segment.fragments).min().unwrap_or_default()
                )));
            }
            covered |= &segment.fragments;
            if segments.iter().filter(|s| s.uuid() == segment.uuid()).count() > 1 {
                return Err(TableError::InvalidArgument(format!(
                    "segment {} is given twice",
                    segment.uuid()
                )));
            }
        }
        if first
            .field_id()
            .and_then(|id| self.manifest.schema.field_name(id))
            .is_none()
        {
            return Err(TableError::InvalidArgument(format!(
                "index {name:?}: its column is not in this version"
            )));
        }
        self.check_segment_files(&segments).await?;
        let existing = self.replaced_segments(&name, replace)?;
        let change = Change::Indices {
            added: segments,
            removed: existing,
        };
        let mut txn = Transaction::new(Operation::CreateIndex, change);
        txn.index_names = vec![name];
        self.commit(txn).await
    }

    /// Every segment's files exist with their recorded sizes (a segment
    /// whose worker died before writing them, or whose files cleanup
    /// removed, cannot be committed).
    async fn check_segment_files(&self, segments: &[IndexSegment]) -> Result<()> {
        for segment in segments {
            for file in &segment.message.files {
                let path = crate::paths::child(&self.location.root, &file.path);
                let size = match self.location.store.head(&path).await {
                    Ok(meta) => meta.size,
                    Err(object_store::Error::NotFound { .. }) => {
                        return Err(TableError::InvalidArgument(format!(
                            "index segment {}: file {} does not exist (removed by cleanup, or built for another dataset)",
                            segment.uuid(),
                            file.path
                        )));
                    }
                    Err(other) => return Err(pilum_io::IoError::from_store(&path, other).into()),
                };
                if size != file.size {
                    return Err(TableError::corrupt(
                        &file.path,
                        format!("{size} bytes, the index segment records {}", file.size),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What segments of one index must share: the model of a vector index, the
/// analyzer of an inverted one, the layout of a scalar one (their counts
/// differ by fragment). `None` for a kind this library cannot build.
#[derive(PartialEq)]
enum Settings {
    Vector {
        model_crc32: u32,
        partitions: u32,
        dimension: u32,
    },
    Text(proto::TextIndexDetails),
    Scalar {
        page_rows: u32,
        zone_rows: u32,
    },
}

fn settings_of(segment: &IndexSegment) -> Option<Settings> {
    if let Some(d) = segment.vector() {
        return Some(Settings::Vector {
            model_crc32: d.model_crc32,
            partitions: d.num_partitions,
            dimension: d.dimension,
        });
    }
    if let Some(d) = segment.text() {
        return Some(Settings::Text(proto::TextIndexDetails {
            num_docs: 0,
            total_terms: 0,
            num_terms: 0,
            skipped_rows: 0,
            ..d.clone()
        }));
    }
    segment.scalar().map(|d| Settings::Scalar {
        page_rows: d.page_rows,
        zone_rows: d.zone_rows,
    })
}
