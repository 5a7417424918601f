//! The query side of an IVF index: a query made ready for partition
//! scans ([`Probe`]) and the tables that estimate its distance to a
//! partition's codes ([`CodeTable`] for PQ, [`Estimator`] for any code).

use crate::binary::hamming_bytes;
use crate::error::{IndexError, Result};
use crate::fastscan::QuantizedTable;
use crate::ivf_index::IvfIndex;
use crate::kernels::dot;
use crate::metric::Metric;
use crate::pq::ProductQuantizer;
use crate::sq::SqQuery;

impl IvfIndex {
    /// The distances from the query to the byte payload of partition
    /// `index`: estimated from codes (IVF_PQ and IVF_SQ), exact for binary
    /// codes (hamming).
    pub fn estimator(&self, probe: &Probe, index: u32) -> Result<Estimator> {
        match &probe.sq {
            Some(query) => Ok(Estimator::Sq(query.clone())),
            None if self.ivf.metric() == Metric::Hamming => Ok(Estimator::Hamming(probe.code.clone())),
            None => self.code_table(probe, index).map(Estimator::Pq),
        }
    }

    /// The lookup table that estimates distances from the query to codes
    /// of partition `index` (IVF_PQ).
    pub fn code_table(&self, probe: &Probe, index: u32) -> Result<CodeTable> {
        let pq = self
            .pq
            .as_ref()
            .ok_or_else(|| IndexError::params("IVF_FLAT has no code table"))?;
        let metric = self.ivf.metric();
        let mut table = match metric {
            Metric::Dot => {
                // q·x = q·c + q·r: the query's table holds −q·r per part.
                let centroid = self.centroid(index)?;
                CodeTable {
                    table: probe.terms.clone(),
                    offset: 1.0 - dot(&probe.prepared, centroid),
                    scale: 1.0,
                    quantized: None,
                }
            }
            Metric::Cosine | Metric::L2
                if self.terms.is_some() && probe.terms.len() == pq.num_sub_vectors() * pq.codebook_size() =>
            {
                let terms = self
                    .terms
                    .as_ref()
                    .and_then(|t| t.of(index))
                    .ok_or_else(|| IndexError::Corrupt {
                        what: format!("partition {index} of {}", self.ivf.num_partitions()),
                    })?;
                let centroid = self.centroid(index)?;
                let scale = if metric == Metric::Cosine { 0.5 } else { 1.0 };
                CodeTable {
                    table: probe.terms.iter().zip(terms).map(|(q, t)| q + t).collect(),
                    offset: scale * crate::kernels::l2_squared(&probe.prepared, centroid),
                    scale,
                    quantized: None,
                }
            }
            // Cosine is half the squared L2 of unit vectors.
            Metric::Cosine | Metric::L2 => CodeTable {
                table: pq.distance_table(&self.ivf.residual(&probe.prepared, index)?, Metric::L2)?,
                offset: 0.0,
                scale: if metric == Metric::Cosine { 0.5 } else { 1.0 },
                quantized: None,
            },
            Metric::Hamming => return Err(IndexError::params("no index kind supports the hamming metric yet")),
        };
        // 4-bit codes are estimated through the byte table the SIMD scan
        // sums, wherever they are read, so every path ranks alike.
        if pq.bits() == 4 {
            table.quantized = Some(QuantizedTable::new(&table.table)?);
        }
        Ok(table)
    }

    fn centroid(&self, index: u32) -> Result<&[f32]> {
        let dim = self.ivf.dim();
        let start = index as usize * dim;
        self.ivf
            .centroids()
            .get(start..start + dim)
            .ok_or_else(|| IndexError::Corrupt {
                what: format!("partition {index} of {}", self.ivf.num_partitions()),
            })
    }
}

/// Partial distances from one query to the codes of one partition.
#[derive(Debug, Clone)]
pub struct CodeTable {
    pub(crate) table: Vec<f32>,
    pub(crate) offset: f32,
    pub(crate) scale: f32,
    /// The byte table of 4-bit codes.
    pub(crate) quantized: Option<QuantizedTable>,
}

impl CodeTable {
    /// The estimated distance to the vector `code` stands for, in the
    /// metric's own terms.
    pub fn distance(&self, code: &[u8]) -> f32 {
        let sum = match &self.quantized {
            Some(quantized) => quantized.distance(quantized.sum(code)),
            None => ProductQuantizer::table_distance(&self.table, code),
        };
        self.offset + self.scale * sum
    }
}

/// Estimated distances from one query to the codes of one partition.
#[derive(Debug, Clone)]
pub enum Estimator {
    /// Product-quantization lookup table.
    Pq(CodeTable),
    /// Scalar-quantization query.
    Sq(SqQuery),
    /// The query as a binary code (hamming: distances are exact).
    Hamming(Vec<u8>),
}

impl Estimator {
    /// The estimated distance to the vector `code` stands for.
    pub fn distance(&self, code: &[u8]) -> f32 {
        match self {
            Self::Pq(table) => table.distance(code),
            Self::Sq(query) => query.distance(code),
            Self::Hamming(query) => hamming_bytes(query, code) as f32,
        }
    }
}

/// A query made ready for partition scans, with the partitions to probe.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The query as the metric compares it.
    pub prepared: Vec<f32>,
    /// Partitions nearest first, with the query's centroid distance.
    pub ranked: Vec<(u32, f32)>,
    /// Query-only PQ distance terms (empty for IVF_FLAT).
    pub(crate) terms: Vec<f32>,
    /// The query prepared for scalar-quantized codes (IVF_SQ).
    pub(crate) sq: Option<SqQuery>,
    /// The query's bytes, for the hamming metric (empty otherwise).
    pub(crate) code: Vec<u8>,
    /// Graph search width per partition (IVF_HNSW_SQ); at least the
    /// candidates wanted.
    pub ef: usize,
}
