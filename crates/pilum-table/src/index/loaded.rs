//! Index segments opened for search. Index files never change once
//! written, so a loaded segment is shared by every version that lists it;
//! partitions load on first probe and stay in memory.

use super::IndexSegment;
use super::files::Extent;
use super::read;
use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::proto;
use pilum_file::FileReader;
use pilum_index::{IvfIndex, Metric, Partition};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Storage files up to this size are loaded whole when a segment opens;
/// larger ones partition by partition, as queries probe them.
const PRELOAD_BYTES: u64 = 256 << 20;

/// A vector index segment's model, with its partitions loaded lazily.
#[derive(Debug)]
pub(crate) struct LoadedSegment {
    /// The IVF model and quantizer.
    pub index: IvfIndex,
    extents: Vec<Extent>,
    storage: FileReader,
    storage_path: String,
    partitions: Vec<OnceCell<Arc<Partition>>>,
    /// A multivector index: a row's entries share its id.
    repeated_ids: bool,
}

impl LoadedSegment {
    async fn open(location: &DatasetLocation, segment: &IndexSegment) -> Result<Self> {
        let details = segment
            .vector()
            .ok_or_else(|| TableError::InvalidArgument(format!("index {:?} is not a vector index", segment.name())))?;
        let metric = metric_of(details)?;
        let missing = |role: &str| {
            TableError::corrupt(
                format!("_versions (index {:?})", segment.name()),
                format!("segment {} lists no {role} file", segment.uuid()),
            )
        };
        let ivf_file = segment.file("ivf").ok_or_else(|| missing("ivf"))?;
        let storage_file = segment.file("storage").ok_or_else(|| missing("storage"))?;
        let quantizer_file = match segment.message.kind() {
            proto::IndexKind::IvfPq | proto::IndexKind::IvfSq | proto::IndexKind::IvfHnswSq => {
                Some(segment.file("quantizer").ok_or_else(|| missing("quantizer"))?)
            }
            _ => None,
        };
        let storage = read::open(location, storage_file).await?;
        let (index, extents) =
            read::read_model(location, ivf_file, quantizer_file, details, metric, storage.num_rows()).await?;
        let kind = segment.message.kind();
        let scalar = matches!(kind, proto::IndexKind::IvfSq | proto::IndexKind::IvfHnswSq);
        if scalar != index.scalar_quantizer().is_some()
            || (kind == proto::IndexKind::IvfHnswSq) != index.hnsw().is_some()
        {
            return Err(TableError::corrupt(
                &ivf_file.path,
                "the quantizer file does not match the index kind",
            ));
        }
        // A storage file that fits the budget is read whole, in one
        // request: first queries then find every partition in memory.
        let partitions: Vec<OnceCell<Arc<Partition>>> = if storage.file_size() <= PRELOAD_BYTES {
            read::read_all_partitions(&storage, &storage_file.path, &index, &extents, segment.is_multivector())
                .await?
                .into_iter()
                .map(|p| OnceCell::new_with(Some(Arc::new(p))))
                .collect()
        } else {
            extents.iter().map(|_| OnceCell::new()).collect()
        };
        Ok(Self {
            index,
            extents,
            storage,
            storage_path: storage_file.path.clone(),
            partitions,
            repeated_ids: segment.is_multivector(),
        })
    }

    /// Partition `number`, read and checked on first use.
    pub async fn partition(&self, number: u32) -> Result<Arc<Partition>> {
        let n = number as usize;
        let (Some(cell), Some(extent)) = (self.partitions.get(n), self.extents.get(n)) else {
            return Err(TableError::corrupt(
                &self.storage_path,
                format!("no partition {number}"),
            ));
        };
        cell.get_or_try_init(|| async {
            read::read_partition(
                &self.storage,
                &self.storage_path,
                &self.index,
                n,
                *extent,
                self.repeated_ids,
            )
            .await
            .map(Arc::new)
        })
        .await
        .cloned()
    }
}

/// The metric a segment's details name.
pub(crate) fn metric_of(details: &proto::VectorIndexDetails) -> Result<Metric> {
    match details.metric() {
        proto::VectorMetric::L2 => Ok(Metric::L2),
        proto::VectorMetric::Cosine => Ok(Metric::Cosine),
        proto::VectorMetric::Dot => Ok(Metric::Dot),
        proto::VectorMetric::Unspecified => Err(TableError::InvalidArgument(
            "the index names no metric this library knows".into(),
        )),
    }
}

/// Loaded segments by uuid, shared by the versions of one dataset handle.
#[derive(Debug, Default)]
pub(crate) struct SegmentCache {
    segments: Mutex<HashMap<String, Arc<OnceCell<Arc<LoadedSegment>>>>>,
}

impl SegmentCache {
    /// The loaded form of `segment`, opening its model on first use. A
    /// failed open is not cached, so a repaired file is picked up.
    pub async fn get(&self, location: &DatasetLocation, segment: &IndexSegment) -> Result<Arc<LoadedSegment>> {
        let cell = {
            let mut map = self.segments.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(segment.uuid().to_string()).or_default().clone()
        };
        cell.get_or_try_init(|| async { LoadedSegment::open(location, segment).await.map(Arc::new) })
            .await
            .cloned()
    }
}
