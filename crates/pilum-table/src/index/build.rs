//! Building a vector index over the live rows of a version: what to build,
//! checks, the choice between an in-memory and a streamed build
//! (`build_memory.rs`, `build_stream.rs`), and the commit.

use super::segment::{IndexedShape, NewSegment};

use super::{IndexSegment, validate_name};
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::progress::Progress;
use crate::proto;
use crate::search::VectorShape;
use pilum_index::{HnswParams, IvfIndex, KMeans, Metric, PqShape, Vectors};

/// Vector index kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexType {
    /// Partitions holding the vectors themselves: exact distances within
    /// the probed partitions.
    IvfFlat,
    /// Partitions holding 8-bit product-quantization codes of residuals;
    /// candidates are re-ranked exactly.
    IvfPq,
    /// Partitions holding 8-bit scalar-quantized vectors (one byte per
    /// dimension); candidates are re-ranked exactly.
    IvfSq,
    /// IVF_SQ partitions with a navigable graph over their codes (HNSW), so
    /// a probe compares the query with a few hundred members, not all;
    /// fewer, larger partitions (about 131,072 rows each by default).
    IvfHnswSq,
}

impl IndexType {
    /// Parses pylance's names (`IVF_FLAT`, `IVF_PQ`; any case).
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_uppercase().as_str() {
            "IVF_FLAT" => Ok(Self::IvfFlat),
            "IVF_PQ" => Ok(Self::IvfPq),
            "IVF_SQ" => Ok(Self::IvfSq),
            "IVF_HNSW_SQ" => Ok(Self::IvfHnswSq),
            other => Err(TableError::InvalidIndexParams {
                what: format!(
                    "unknown or unsupported index type {other:?} (supported: IVF_FLAT, IVF_PQ, IVF_SQ, IVF_HNSW_SQ)"
                ),
            }),
        }
    }
}

/// What to build: every field has a documented default.
#[derive(Debug, Clone)]
pub struct VectorIndexParams {
    /// The vector column: a fixed-size list of f16, f32, f64, u8 or i8, or
    /// a list of such vectors per row (multivectors: every vector of a bag
    /// is indexed, keyed by its row).
    pub column: String,
    /// The kind.
    pub index_type: IndexType,
    /// The index name; default `{column}_idx`.
    pub name: Option<String>,
    /// The distance queries rank by; default L2.
    pub metric: Metric,
    /// Replace an index of the same name instead of failing.
    pub replace: bool,
    /// Partitions; default round(√rows), 1 below 4,096 rows, at most
    /// 65,536; for IVF_HNSW_SQ one per 131,072 rows.
    pub num_partitions: Option<usize>,
    /// PQ sub-vectors; default dim/4 up to 256 dimensions, dim/8 above
    /// (at least 1), twice that for 4-bit codes (at most dim).
    pub num_sub_vectors: Option<usize>,
    /// Bits per PQ sub-vector code: 8 (default) or 4 (IVF_PQ only; codes
    /// scanned 32 at a time with SIMD byte shuffles).
    pub num_bits: u8,
    /// k-means iterations at most; default 25.
    pub max_iters: usize,
    /// Training vectors per partition at most; default 256.
    pub sample_rate: usize,
    /// Seed of sampling and training; default 42.
    pub seed: u64,
    /// Index only the first this many values of each vector (matryoshka
    /// embeddings), re-ranking candidates exactly on the whole vector;
    /// default all of them.
    pub dimensions: Option<usize>,
    /// IVF_HNSW_SQ: neighbours per member on the graph's upper levels
    /// (twice this on level 0); default 20.
    pub m: Option<usize>,
    /// IVF_HNSW_SQ: candidates considered while linking a member; default 150.
    pub ef_construction: Option<usize>,
    /// Memory the build may use, in bytes; default 1 GiB. A column whose
    /// f32 values take at most a quarter of it is built in memory; a
    /// larger one, and any multivector column, streams (a training sample
    /// of at most a quarter of it, then a second pass spilling partitions
    /// to local disk in runs of a quarter of it), so memory stays bounded
    /// whatever the table's size.
    pub memory_limit: usize,
    /// Build over these fragments only (training included); default every
    /// fragment. [`Dataset::build_vector_segment`] with fragments is the
    /// first step of a distributed build.
    pub fragments: Option<Vec<u64>>,
}

impl VectorIndexParams {
    /// Defaults for `column` and `index_type`.
    pub fn new(column: impl Into<String>, index_type: IndexType) -> Self {
        Self {
            column: column.into(),
            index_type,
            name: None,
            metric: Metric::L2,
            replace: false,
            num_partitions: None,
            num_sub_vectors: None,
            num_bits: 8,
            m: None,
            ef_construction: None,
            max_iters: 25,
            sample_rate: 256,
            seed: 42,
            dimensions: None,
            memory_limit: 1 << 30,
            fragments: None,
        }
    }

    /// The name used: the given one or `{column}_idx`.
    pub fn resolved_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("{}_idx", self.column))
    }
}

impl Dataset {
    /// Builds a vector index over the live rows of this version and commits
    /// it (the new version's fragments appended meanwhile stay uncovered
    /// and are searched exactly). Rows with null, NaN or infinite vectors
    /// are skipped and counted.
    pub async fn create_index(&mut self, params: &VectorIndexParams, progress: &Progress) -> Result<()> {
        self.check_branch_live().await?;
        let name = params.resolved_name();
        validate_name(&name)?;
        // Bad parameters are reported before a name clash.
        self.vector_build_shape(params)?;
        let existing = self.replaced_segments(&name, params.replace)?;
        let segment = self.build_vector_segment(params, progress).await?;
        self.commit_new_index(name, segment, existing).await
    }

    /// The field id, indexed shape and PQ shape of a build, or why
    /// `params` cannot build on this version.
    fn vector_build_shape(&self, params: &VectorIndexParams) -> Result<(i32, IndexedShape, Option<PqShape>)> {
        let (field_id, column_shape) = self.vector_field(&params.column)?;
        check_hamming(params, column_shape)?;
        let dim = match params.dimensions {
            None => column_shape.dim,
            Some(d) if (1..=column_shape.dim).contains(&d) => d,
            Some(d) => {
                return Err(TableError::InvalidIndexParams {
                    what: format!("dimensions must be in 1..={} (the column's), got {d}", column_shape.dim),
                });
            }
        };
        check_graph_params(params)?;
        let sub_vectors = sub_vectors_for(params, dim)?;
        let shape = IndexedShape {
            column: column_shape,
            index_dim: dim,
        };
        Ok((field_id, shape, sub_vectors))
    }

    /// Builds the files of one index segment over `params.fragments` (every
    /// fragment when `None`), training its model on them, without
    /// committing: commit it with [`Dataset::commit_index_segments`], with
    /// the segments [`Dataset::build_index_segment`] made for other
    /// fragments from its model.
    pub async fn build_vector_segment(&self, params: &VectorIndexParams, progress: &Progress) -> Result<IndexSegment> {
        let name = params.resolved_name();
        validate_name(&name)?;
        let (field_id, shape, sub_vectors) = self.vector_build_shape(params)?;
        let (column_shape, dim) = (shape.column, shape.index_dim);
        let covered = self.fragments_to_index(params.fragments.as_deref()).await?;
        // Hold the column when it fits the budget (one pass, calibrated on
        // every vector); stream it twice with a spill otherwise.
        // An in-memory build holds the values (and the whole vectors of a
        // prefix index), their payload and the grouped partitions: about
        // four times the f32 values. A multivector column's size is not
        // known before a scan, so it always streams.
        let live = match &params.fragments {
            None => self.count_rows(None).await?,
            Some(ids) => self.scan().with_fragments(ids.clone()).count_rows().await?,
        };
        let values =
            live.saturating_mul(((dim + if dim < column_shape.dim { column_shape.dim } else { 0 }) * 4) as u64);
        let built = if !column_shape.multivector && values <= params.memory_limit as u64 / 4 {
            self.build_in_memory(params, shape, sub_vectors, progress).await?
        } else {
            self.build_streamed(params, shape, sub_vectors, params.memory_limit / 4, progress)
                .await?
        };
        let (kind, bits) = match params.index_type {
            IndexType::IvfFlat => (proto::IndexKind::IvfFlat, 0),
            IndexType::IvfPq => (
                proto::IndexKind::IvfPq,
                built.index.quantizer().map_or(8, |pq| pq.bits() as u32),
            ),
            IndexType::IvfSq => (proto::IndexKind::IvfSq, 8),
            IndexType::IvfHnswSq => (proto::IndexKind::IvfHnswSq, 8),
        };
        let hnsw = built.index.hnsw();
        let index = &built.index;
        let details = proto::VectorIndexDetails {
            metric: metric_code(params.metric) as i32,
            dimension: dim as u32,
            num_partitions: index.ivf().num_partitions() as u32,
            num_sub_vectors: index.quantizer().map_or(0, |q| q.num_sub_vectors() as u32),
            num_bits: bits,
            default_nprobes: built.calibration.nprobes as u32,
            default_refine_factor: built.calibration.refine_factor as u32,
            seed: params.seed,
            skipped_rows: built.skipped,
            model_crc32: 0,
            column_dimension: if dim < column_shape.dim {
                column_shape.dim as u32
            } else {
                0
            },
            multivector: column_shape.multivector,
            hnsw_m: hnsw.map_or(0, |h| h.m as u32),
            hnsw_ef_construction: hnsw.map_or(0, |h| h.ef_construction as u32),
        };
        self.finish_segment(
            built.uuid,
            &built.index,
            built.storage,
            NewSegment {
                name,
                field_id,
                kind,
                details,
                fragments: covered,
            },
        )
        .await
    }

    /// The field id and shape of a vector column.
    pub(crate) fn vector_field(&self, column: &str) -> Result<(i32, VectorShape)> {
        let field = self
            .schema()
            .field_with_name(column)
            .map_err(|_| TableError::ColumnNotFound {
                name: column.to_string(),
            })?;
        let shape = VectorShape::of(column, field.data_type()).map_err(|e| TableError::InvalidIndexParams {
            what: match e {
                TableError::InvalidArgument(what) => what,
                other => other.to_string(),
            },
        })?;
        Ok((self.manifest.schema.field_id(column)?, shape))
    }
}

/// The hamming metric indexes binary codes: a fixed-size u8 column, with
/// IVF_FLAT (the codes are already as small as they get).
fn check_hamming(params: &VectorIndexParams, column: VectorShape) -> Result<()> {
    if params.metric != Metric::Hamming {
        return Ok(());
    }
    if params.index_type != IndexType::IvfFlat {
        return Err(TableError::InvalidIndexParams {
            what: format!(
                "the hamming metric indexes binary codes with IVF_FLAT only, not {:?}",
                params.index_type
            ),
        });
    }
    if !column.bytes || column.multivector {
        return Err(TableError::InvalidIndexParams {
            what: format!(
                "the hamming metric needs a fixed-size list of u8 (binary codes); {:?} is not one",
                params.column
            ),
        });
    }
    Ok(())
}

/// The stored code of a metric.
pub(crate) fn metric_code(metric: Metric) -> proto::VectorMetric {
    match metric {
        Metric::L2 => proto::VectorMetric::L2,
        Metric::Cosine => proto::VectorMetric::Cosine,
        Metric::Dot => proto::VectorMetric::Dot,
        Metric::Hamming => proto::VectorMetric::Hamming,
        _ => proto::VectorMetric::Unspecified,
    }
}

/// Rows per partition of IVF_HNSW_SQ by default: its graphs make large
/// partitions cheap to search, and fewer partitions cost fewer probes.
const HNSW_PARTITION_ROWS: usize = 131_072;

/// round(√rows) partitions, 1 below 4,096 rows, at most 65,536; for
/// IVF_HNSW_SQ one per 131,072 rows (at least 1).
pub(crate) fn default_partitions(kind: IndexType, rows: usize) -> usize {
    if kind == IndexType::IvfHnswSq {
        rows.div_ceil(HNSW_PARTITION_ROWS).max(1)
    } else if rows < 4096 {
        1
    } else {
        ((rows as f64).sqrt().round() as usize).clamp(1, 65_536)
    }
}

/// dim/4 sub-vectors up to 256 dimensions, dim/8 above.
fn default_sub_vectors(dim: usize) -> usize {
    if dim <= 256 { (dim / 4).max(1) } else { (dim / 8).max(1) }
}

/// The PQ width of a build (None for the kinds without sub-vectors).
fn sub_vectors_for(params: &VectorIndexParams, dim: usize) -> Result<Option<PqShape>> {
    match params.index_type {
        IndexType::IvfFlat | IndexType::IvfSq | IndexType::IvfHnswSq => {
            if params.num_sub_vectors.is_some() {
                return Err(TableError::InvalidIndexParams {
                    what: "num_sub_vectors applies to IVF_PQ only".into(),
                });
            }
            if params.num_bits != 8 {
                return Err(TableError::InvalidIndexParams {
                    what: format!("num_bits={} applies to IVF_PQ only", params.num_bits),
                });
            }
            Ok(None)
        }
        IndexType::IvfPq => {
            if !matches!(params.num_bits, 4 | 8) {
                return Err(TableError::InvalidIndexParams {
                    what: format!("num_bits must be 4 or 8, got {}", params.num_bits),
                });
            }
            let default = match params.num_bits {
                4 => (2 * default_sub_vectors(dim)).min(dim),
                _ => default_sub_vectors(dim),
            };
            let m = params.num_sub_vectors.unwrap_or(default);
            if m == 0 || m > dim {
                return Err(TableError::InvalidIndexParams {
                    what: format!("num_sub_vectors must be in 1..={dim}, got {m}"),
                });
            }
            Ok(Some(PqShape {
                sub_vectors: m,
                bits: params.num_bits,
            }))
        }
    }
}

/// The partitions of a build over `vectors` vectors, checked against them.
pub(crate) fn check_partitions(
    params: &VectorIndexParams,
    vectors: usize,
    sub_vectors: Option<PqShape>,
) -> Result<usize> {
    if vectors == 0 {
        return Err(TableError::InvalidIndexParams {
            what: format!("column {:?} has no vector to index", params.column),
        });
    }
    let partitions = params
        .num_partitions
        .unwrap_or_else(|| default_partitions(params.index_type, vectors));
    if partitions == 0 || partitions > vectors {
        return Err(TableError::InvalidIndexParams {
            what: format!("num_partitions must be in 1..={vectors} (the vectors to index), got {partitions}"),
        });
    }
    if let Some(shape) = sub_vectors {
        let codes = 1usize << shape.bits;
        if vectors < codes {
            return Err(TableError::InvalidIndexParams {
                what: format!(
                    "IVF_PQ trains {codes} codes per sub-vector and needs at least {codes} vectors, the column has {vectors}; use IVF_FLAT"
                ),
            });
        }
    }
    Ok(partitions)
}

/// Training vectors for `partitions`: `per_partition` each, at least
/// 65,536 (for the PQ codebooks), at most `available`.
pub(crate) fn training_size(partitions: usize, per_partition: usize, available: usize) -> usize {
    partitions
        .saturating_mul(per_partition.max(1))
        .max(65_536)
        .min(available)
}

/// Trains the model of a build on `training` (in the index's space).
pub(crate) fn train_index(
    training: Vectors<'_>,
    params: &VectorIndexParams,
    partitions: usize,
    sub_vectors: Option<PqShape>,
) -> Result<IvfIndex> {
    let mut kmeans = KMeans::new(partitions);
    kmeans.max_iters = params.max_iters;
    kmeans.seed = params.seed;
    kmeans.max_points_per_centroid = params.sample_rate;
    match params.index_type {
        IndexType::IvfSq => IvfIndex::train_sq(training, params.metric, partitions, &kmeans),
        IndexType::IvfHnswSq => {
            IvfIndex::train_hnsw_sq(training, params.metric, partitions, hnsw_params(params), &kmeans)
        }
        _ => IvfIndex::train(training, params.metric, partitions, sub_vectors, &kmeans),
    }
    .map_err(TableError::index)
}

/// The graph parameters of an IVF_HNSW_SQ build.
pub(crate) fn hnsw_params(params: &VectorIndexParams) -> HnswParams {
    let defaults = HnswParams::default();
    HnswParams {
        m: params.m.unwrap_or(defaults.m),
        ef_construction: params.ef_construction.unwrap_or(defaults.ef_construction),
        seed: params.seed,
    }
}

/// Rejects graph parameters on kinds without a graph.
fn check_graph_params(params: &VectorIndexParams) -> Result<()> {
    if params.index_type != IndexType::IvfHnswSq && (params.m.is_some() || params.ef_construction.is_some()) {
        return Err(TableError::InvalidIndexParams {
            what: "m and ef_construction apply to IVF_HNSW_SQ only".into(),
        });
    }
    Ok(())
}
