//! Index segments opened for search. Index files never change once
//! written, so a loaded segment is shared by every version that lists it;
//! partitions load on first probe and stay in a byte-bounded cache
//! ([`PartitionCache`]) shared by the handle's segments.

use super::IndexSegment;
use super::files::Extent;
use super::partition_cache::PartitionCache;
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
    /// The segment's uuid, keying its partitions in `cache`.
    uuid: Arc<str>,
    cache: Arc<PartitionCache>,
    /// How the storage file lays out rows.
    layout: read::StorageLayout,
}

impl LoadedSegment {
    async fn open(location: &DatasetLocation, segment: &IndexSegment, cache: Arc<PartitionCache>) -> Result<Self> {
        let location = &location.base(segment.message.base_id)?;
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
        // A storage file well within both budgets is read whole, in one
        // request: first queries then find every partition in memory.
        let uuid: Arc<str> = Arc::from(segment.uuid());
        let layout = read::StorageLayout::of(segment);
        if storage.file_size() <= PRELOAD_BYTES.min(cache.budget() as u64 / 2) {
            let all = read::read_all_partitions(&storage, &storage_file.path, &index, &extents, layout).await?;
            for (number, partition) in all.into_iter().enumerate() {
                cache.insert(&uuid, number as u32, Arc::new(partition));
            }
        }
        Ok(Self {
            index,
            extents,
            storage,
            storage_path: storage_file.path.clone(),
            uuid,
            cache,
            layout,
        })
    }

    /// Partition `number`, read and checked when it is not cached.
    pub async fn partition(&self, number: u32) -> Result<Arc<Partition>> {
        let n = number as usize;
        let Some(extent) = self.extents.get(n) else {
            return Err(TableError::corrupt(
                &self.storage_path,
                format!("no partition {number}"),
            ));
        };
        if let Some(partition) = self.cache.get(&self.uuid, number) {
            return Ok(partition);
        }
        let partition = Arc::new(
            read::read_partition(&self.storage, &self.storage_path, &self.index, n, *extent, self.layout).await?,
        );
        self.cache.insert(&self.uuid, number, partition.clone());
        Ok(partition)
    }
}

/// The metric a segment's details name.
pub(crate) fn metric_of(details: &proto::VectorIndexDetails) -> Result<Metric> {
    match details.metric() {
        proto::VectorMetric::L2 => Ok(Metric::L2),
        proto::VectorMetric::Cosine => Ok(Metric::Cosine),
        proto::VectorMetric::Dot => Ok(Metric::Dot),
        proto::VectorMetric::Hamming => Ok(Metric::Hamming),
        proto::VectorMetric::Unspecified => Err(TableError::InvalidArgument(
            "the index names no metric this library knows".into(),
        )),
    }
}

/// Loaded segments by uuid, shared by the versions of one dataset handle,
/// with their partitions' byte-bounded cache.
#[derive(Debug, Default)]
pub(crate) struct SegmentCache {
    segments: Mutex<HashMap<String, Arc<OnceCell<Arc<LoadedSegment>>>>>,
    /// Loaded partitions of every segment.
    pub partitions: Arc<PartitionCache>,
    /// Loaded inverted segments.
    pub texts: super::text_loaded::TextCache,
    /// Loaded scalar segments.
    pub scalars: super::ScalarCache,
}

impl SegmentCache {
    /// The loaded form of `segment`, opening its model on first use. A
    /// failed open is not cached, so a repaired file is picked up.
    pub async fn get(&self, location: &DatasetLocation, segment: &IndexSegment) -> Result<Arc<LoadedSegment>> {
        let cell = {
            let mut map = self.segments.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(segment.uuid().to_string()).or_default().clone()
        };
        cell.get_or_try_init(|| async {
            LoadedSegment::open(location, segment, self.partitions.clone())
                .await
                .map(Arc::new)
        })
        .await
        .cloned()
    }
}
