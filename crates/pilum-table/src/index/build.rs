//! Building a vector index over the live rows of a version: read the
//! column with stable row ids, train on a sample, route every vector to its
//! partition, write the segment's files, calibrate query defaults, commit.

use super::segment::{IndexedShape, NewSegment};
use super::validate_name;
use crate::dataset::Dataset;
use crate::error::{Result, TableError};
use crate::progress::Progress;
use crate::proto::{self, Operation};
use crate::search::VectorShape;
use crate::transaction::{Change, Transaction};
use pilum_index::{
    CalibrationParams, IvfIndex, KMeans, Metric, Vectors, calibrate_encoded, calibrate_prefix, group_by_partition,
};
use rand::SeedableRng;
use rand::seq::index::sample;

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
}

impl IndexType {
    /// Parses pylance's names (`IVF_FLAT`, `IVF_PQ`; any case).
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_uppercase().as_str() {
            "IVF_FLAT" => Ok(Self::IvfFlat),
            "IVF_PQ" => Ok(Self::IvfPq),
            "IVF_SQ" => Ok(Self::IvfSq),
            other => Err(TableError::InvalidIndexParams {
                what: format!("unknown or unsupported index type {other:?} (supported: IVF_FLAT, IVF_PQ, IVF_SQ)"),
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
    /// Partitions; default round(√rows), 1 below 4,096 rows, at most 65,536.
    pub num_partitions: Option<usize>,
    /// PQ sub-vectors; default dim/4 up to 256 dimensions, dim/8 above
    /// (at least 1).
    pub num_sub_vectors: Option<usize>,
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
            max_iters: 25,
            sample_rate: 256,
            seed: 42,
            dimensions: None,
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
        let name = params.resolved_name();
        validate_name(&name)?;
        if params.metric == Metric::Hamming {
            return Err(TableError::InvalidIndexParams {
                what: "no index kind supports the hamming metric yet; search u8 codes exactly (no index, or use_index false)"
                    .into(),
            });
        }
        let (field_id, column_shape) = self.vector_field(&params.column)?;
        let dim = match params.dimensions {
            None => column_shape.dim,
            Some(d) if (1..=column_shape.dim).contains(&d) => d,
            Some(d) => {
                return Err(TableError::InvalidIndexParams {
                    what: format!("dimensions must be in 1..={} (the column's), got {d}", column_shape.dim),
                });
            }
        };
        let shape = IndexedShape {
            column: column_shape,
            index_dim: dim,
        };
        let existing: Vec<String> = self
            .manifest
            .indices
            .iter()
            .filter(|s| s.name() == name)
            .map(|s| s.uuid().to_string())
            .collect();
        if !existing.is_empty() && !params.replace {
            return Err(TableError::IndexAlreadyExists { name });
        }
        progress.report("reading vectors", 0, 1);
        let column = self.read_vectors(&params.column, shape, true, None).await?;
        progress.report("reading vectors", 1, 1);
        let rows = column.ids.len();
        if rows == 0 {
            return Err(TableError::InvalidIndexParams {
                what: format!("column {:?} has no vector to index", params.column),
            });
        }
        let partitions = params.num_partitions.unwrap_or_else(|| default_partitions(rows));
        if partitions == 0 || partitions > rows {
            return Err(TableError::InvalidIndexParams {
                what: format!("num_partitions must be in 1..={rows} (the vectors to index), got {partitions}"),
            });
        }
        let sub_vectors = match params.index_type {
            IndexType::IvfFlat | IndexType::IvfSq => {
                if params.num_sub_vectors.is_some() {
                    return Err(TableError::InvalidIndexParams {
                        what: "num_sub_vectors applies to IVF_PQ only".into(),
                    });
                }
                None
            }
            IndexType::IvfPq => {
                let m = params.num_sub_vectors.unwrap_or_else(|| default_sub_vectors(dim));
                if m == 0 || m > dim {
                    return Err(TableError::InvalidIndexParams {
                        what: format!("num_sub_vectors must be in 1..={dim}, got {m}"),
                    });
                }
                if rows < 256 {
                    return Err(TableError::InvalidIndexParams {
                        what: format!(
                            "IVF_PQ trains 256 codes per sub-vector and needs at least 256 vectors, the column has {rows}; use IVF_FLAT"
                        ),
                    });
                }
                Some(m)
            }
        };
        let params = params.clone();
        progress.report("training", 0, 1);
        let (index, calibration, grouped) = tokio::task::spawn_blocking(move || -> Result<_> {
            let data = Vectors::new(&column.values, dim).map_err(TableError::index)?;
            let training = training_sample(data, partitions, params.sample_rate, params.seed);
            let training = Vectors::new(&training, dim).map_err(TableError::index)?;
            let mut kmeans = KMeans::new(partitions);
            kmeans.max_iters = params.max_iters;
            kmeans.seed = params.seed;
            kmeans.max_points_per_centroid = params.sample_rate;
            let index = match params.index_type {
                IndexType::IvfSq => IvfIndex::train_sq(training, params.metric, partitions, &kmeans),
                _ => IvfIndex::train(training, params.metric, partitions, sub_vectors, &kmeans),
            }
            .map_err(TableError::index)?;
            let threads = kmeans.threads;
            let (assignment, payload) = index.encode(data, threads).map_err(TableError::index)?;
            let calibration = match &column.full {
                Some(full) => {
                    let full = Vectors::new(full, column_shape.dim).map_err(TableError::index)?;
                    calibrate_prefix(&index, data, full, &assignment, &payload, &CalibrationParams::default())
                }
                None => calibrate_encoded(&index, data, &assignment, &payload, &CalibrationParams::default()),
            }
            .map_err(TableError::index)?;
            let grouped = group_by_partition(partitions, &column.ids, &assignment, &payload, index.payload_width())
                .map_err(TableError::index)?;
            Ok((index, calibration, (grouped, column.skipped, params)))
        })
        .await
        .map_err(|e| TableError::Internal {
            what: format!("index build task failed: {e}"),
        })??;
        let (partitions_data, skipped, params) = grouped;
        progress.report("training", 1, 1);
        progress.report("writing", 0, 1);
        let (kind, bits) = match params.index_type {
            IndexType::IvfFlat => (proto::IndexKind::IvfFlat, 0),
            IndexType::IvfPq => (proto::IndexKind::IvfPq, 8),
            IndexType::IvfSq => (proto::IndexKind::IvfSq, 8),
        };
        let details = proto::VectorIndexDetails {
            metric: metric_code(params.metric) as i32,
            dimension: dim as u32,
            num_partitions: partitions as u32,
            num_sub_vectors: index.quantizer().map_or(0, |q| q.num_sub_vectors() as u32),
            num_bits: bits,
            default_nprobes: calibration.nprobes as u32,
            default_refine_factor: calibration.refine_factor as u32,
            seed: params.seed,
            skipped_rows: skipped,
            model_crc32: 0,
            column_dimension: if dim < column_shape.dim {
                column_shape.dim as u32
            } else {
                0
            },
            multivector: column_shape.multivector,
        };
        let segment = self
            .write_segment(
                &index,
                &partitions_data,
                NewSegment {
                    name: name.clone(),
                    field_id,
                    kind,
                    details,
                    fragments: self.manifest.fragments.iter().map(|f| f.id as u32).collect(),
                },
            )
            .await?;
        progress.report("writing", 1, 1);
        let change = Change::Indices {
            added: vec![segment],
            removed: existing,
        };
        let mut txn = Transaction::new(Operation::CreateIndex, change);
        txn.index_names = vec![name];
        self.commit(txn).await
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

/// The stored code of a metric.
pub(crate) fn metric_code(metric: Metric) -> proto::VectorMetric {
    match metric {
        Metric::L2 => proto::VectorMetric::L2,
        Metric::Cosine => proto::VectorMetric::Cosine,
        Metric::Dot => proto::VectorMetric::Dot,
        _ => proto::VectorMetric::Unspecified,
    }
}

/// round(√rows) partitions, 1 below 4,096 rows, at most 65,536.
fn default_partitions(rows: usize) -> usize {
    if rows < 4096 {
        1
    } else {
        ((rows as f64).sqrt().round() as usize).clamp(1, 65_536)
    }
}

/// dim/4 sub-vectors up to 256 dimensions, dim/8 above.
fn default_sub_vectors(dim: usize) -> usize {
    if dim <= 256 { (dim / 4).max(1) } else { (dim / 8).max(1) }
}

/// A seeded random sample of at most `per_partition` vectors per
/// partition (and at least 65,536 when there are that many, for the PQ
/// codebooks), in random order.
fn training_sample(data: Vectors<'_>, partitions: usize, per_partition: usize, seed: u64) -> Vec<f32> {
    let wanted = (partitions * per_partition.max(1)).max(65_536).min(data.len());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let chosen = sample(&mut rng, data.len(), wanted);
    chosen.iter().flat_map(|i| data.get(i).iter().copied()).collect()
}
