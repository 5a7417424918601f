//! The members of an IVF partition (ids with their vectors or codes), and
//! how encoded members are grouped into partitions and partitions merged.

use crate::error::{IndexError, Result};
use crate::fastscan::FastScanCodes;
use crate::hnsw::HnswGraph;
use std::borrow::Cow;

/// What a partition stores per member.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// The vectors, row-major (`dim` values each), as given.
    Vectors(Vec<f32>),
    /// One code per member (the quantizer's code bytes each), row-major.
    Codes(Vec<u8>),
    /// 4-bit PQ codes interleaved for the SIMD scan (how a loaded
    /// partition keeps them; files and builds keep them row-major).
    FastScan(FastScanCodes),
    /// Scalar codes with the graph that links them (IVF_HNSW_SQ).
    Graph(GraphCodes),
}

/// The codes of an IVF_HNSW_SQ partition and their graph (member `i` of
/// the graph is code `i`).
#[derive(Debug, Clone, PartialEq)]
pub struct GraphCodes {
    /// Codes, row-major.
    pub codes: Vec<u8>,
    /// The graph over them.
    pub graph: HnswGraph,
}

impl Payload {
    /// The codes of a code payload, row-major.
    pub fn code_rows(&self) -> Option<Cow<'_, [u8]>> {
        match self {
            Self::Codes(codes) => Some(Cow::Borrowed(codes)),
            Self::Graph(graph) => Some(Cow::Borrowed(&graph.codes)),
            Self::FastScan(packed) => Some(Cow::Owned((0..packed.len()).flat_map(|i| packed.row(i)).collect())),
            Self::Vectors(_) => None,
        }
    }
}

/// The members of one partition.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    /// Member ids, ascending (a multivector row repeats its id, once per
    /// vector).
    pub ids: Vec<u64>,
    /// Their vectors or codes, in the same order.
    pub payload: Payload,
}

impl Partition {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the partition has no member.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// One partition from the members of `parts` whose ids `keep` accepts,
/// ids ascending (an id found in several parts keeps the first part's
/// entries). `width`
/// is the payload values per member (dimension, or code bytes).
pub fn merge_partitions(parts: &[&Partition], width: usize, keep: &dyn Fn(u64) -> bool) -> Result<Partition> {
    let mut entries: Vec<(u64, usize, usize)> = Vec::new();
    for (p, part) in parts.iter().enumerate() {
        entries.extend(
            part.ids
                .iter()
                .enumerate()
                .filter(|(_, id)| keep(**id))
                .map(|(i, id)| (*id, p, i)),
        );
    }
    entries.sort_unstable();
    // An id in several parts keeps the first part's entries (all of them:
    // a multivector row has one entry per vector).
    let mut first_part = (u64::MAX, usize::MAX);
    entries.retain(|&(id, p, _)| {
        if id != first_part.0 {
            first_part = (id, p);
        }
        p == first_part.1
    });
    let ids = entries.iter().map(|e| e.0).collect();
    let payload = match parts.first().map(|p| &p.payload) {
        Some(Payload::Codes(_) | Payload::FastScan(_) | Payload::Graph(_)) | None => {
            let rows: Vec<Cow<'_, [u8]>> = parts
                .iter()
                .map(|part| part.payload.code_rows())
                .collect::<Option<_>>()
                .ok_or_else(|| IndexError::params("mixed payload kinds"))?;
            let mut codes = Vec::with_capacity(entries.len() * width);
            for &(_, p, i) in &entries {
                codes.extend_from_slice(&rows[p][i * width..(i + 1) * width]);
            }
            Payload::Codes(codes)
        }
        Some(Payload::Vectors(_)) => {
            let mut values = Vec::with_capacity(entries.len() * width);
            for &(_, p, i) in &entries {
                let Payload::Vectors(v) = &parts[p].payload else {
                    return Err(IndexError::params("mixed payload kinds"));
                };
                values.extend_from_slice(&v[i * width..(i + 1) * width]);
            }
            Payload::Vectors(values)
        }
    };
    Ok(Partition { ids, payload })
}

/// Groups encoded members by partition: `ids[i]` went to `assignment[i]`.
/// Each partition's members come out in ascending id order.
pub fn group_by_partition(
    partitions: usize,
    ids: &[u64],
    assignment: &[u32],
    payload: &Payload,
    width: usize,
) -> Result<Vec<Partition>> {
    if ids.len() != assignment.len() {
        return Err(IndexError::params("one partition per id is needed"));
    }
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| (assignment[i], ids[i]));
    let mut out: Vec<Partition> = (0..partitions)
        .map(|_| Partition {
            ids: Vec::new(),
            payload: match payload {
                Payload::Vectors(_) => Payload::Vectors(Vec::new()),
                Payload::Codes(_) | Payload::FastScan(_) | Payload::Graph(_) => Payload::Codes(Vec::new()),
            },
        })
        .collect();
    for i in order {
        let p = assignment[i] as usize;
        let part = out
            .get_mut(p)
            .ok_or_else(|| IndexError::params(format!("partition {p} of {partitions}")))?;
        part.ids.push(ids[i]);
        match (payload, &mut part.payload) {
            (Payload::Vectors(all), Payload::Vectors(mine)) => {
                let w = width / 4;
                mine.extend_from_slice(&all[i * w..(i + 1) * w]);
            }
            (Payload::Codes(all), Payload::Codes(mine)) => mine.extend_from_slice(&all[i * width..(i + 1) * width]),
            _ => return Err(IndexError::params("mixed payload kinds")),
        }
    }
    Ok(out)
}
