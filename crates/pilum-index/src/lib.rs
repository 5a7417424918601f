//! Index algorithms of Pilum, free of dataset concerns: they work on
//! row-major `f32` vectors in plain slices and know nothing of files,
//! manifests or fragments (the table layer maps rows to stable row ids and
//! stores what these types produce).
//!
//! - [`kernels`]: distance kernels (squared L2, dot product, norms); the
//!   nearest-centroid kernels of k-means and encoding are in `nearest`.
//! - [`binary`]: binary codes (Hamming distance by popcount, k-means in
//!   Hamming space).
//! - [`Metric`]: the distances a query can rank by.
//! - [`KMeans`]: seeded, deterministic k-means (k-means++ start, Lloyd).
//! - [`IvfModel`]: partition centroids, assignment and probe ranking.
//! - [`IvfIndex`]: an IVF model with its partitions' payload (vectors or
//!   PQ codes) and the partition scan a search runs.
//! - [`ProductQuantizer`]: 8-bit and 4-bit product quantization with
//!   lookup tables; [`FastScanCodes`] scans 4-bit codes 32 at a time with
//!   byte shuffles.
//!
//! `unsafe` appears only in the SIMD kernels (`kernels`, `nearest`, `sq`,
//! `fastscan`), each behind a run-time CPU check with a SAFETY comment.
//! - [`HnswGraph`]: a navigable graph over a partition's members
//!   (IVF_HNSW_SQ).
//! - [`MultiQuery`]: MaxSim (late-interaction) distances of vector bags.
//! - [`Reservoir`] and [`StreamCalibration`]: sampling and calibration
//!   for builds that stream the column instead of holding it.
//! - [`TopK`]: the k nearest, ties broken by row id.
//! - [`exact_search`]: brute force, the ground truth every index answers to.
//! - [`ngram`]: trigrams of strings, and those a `LIKE` pattern or a
//!   regular expression requires (n-gram index filters).
//! - [`text`]: analyzers, block-compressed posting lists, BM25 and
//!   block-max WAND top-k for full-text search.
#![deny(unsafe_code)]

pub mod binary;
mod calibrate;
mod calibrate_stream;
mod error;
mod exact;
mod fastscan;
mod gemm;
mod hnsw;
mod ivf;
mod ivf_graph;
mod ivf_index;
mod ivf_tables;
pub mod kernels;
mod kmeans;
mod metric;
mod multivector;
mod nearest;
pub mod ngram;
mod partition;
mod pq;
mod pq_terms;
mod reservoir;
mod sq;
pub mod text;
mod topk;
mod vectors;

pub use calibrate::{Calibration, CalibrationParams, calibrate, calibrate_encoded, calibrate_prefix};
pub use calibrate_stream::StreamCalibration;
pub use error::{IndexError, Result};
pub use exact::exact_search;
pub use fastscan::{FastScanCodes, QuantizedTable};
pub use hnsw::{HnswGraph, HnswParams};
pub use ivf::IvfModel;
pub use ivf_index::IvfIndex;
pub use ivf_tables::{CodeTable, Estimator, Probe};
pub use kmeans::{KMeans, KMeansResult};
pub use metric::Metric;
pub use multivector::{MultiQuery, maxsim_candidates};
pub use partition::{GraphCodes, Partition, Payload, group_by_partition, merge_partitions};
pub use pq::{PqShape, ProductQuantizer};
pub use reservoir::Reservoir;
pub use sq::{CodeMetric, ScalarQuantizer, SqQuery};
pub use topk::{Neighbor, TopK};
pub use vectors::Vectors;
