//! IVF-FLAT and IVF-PQ search composed from the crate's parts, against
//! exact search on clustered data: recall@10 as a function of probes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pilum_index::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DIM: usize = 32;
const K: usize = 10;

/// `n` vectors around 40 random centers (spread 0.3), and `q` queries drawn the same way.
fn clustered(n: usize, q: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let centers: Vec<f32> = (0..40 * DIM).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let mut draw = |count: usize| -> Vec<f32> {
        (0..count)
            .flat_map(|_| {
                let c = rng.random_range(0..40);
                let noise: Vec<f32> = (0..DIM).map(|_| rng.random_range(-0.3f32..0.3)).collect();
                centers[c * DIM..(c + 1) * DIM]
                    .iter()
                    .zip(noise)
                    .map(|(x, e)| x + e)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    (draw(n), draw(q))
}

struct Index {
    ivf: IvfModel,
    pq: Option<ProductQuantizer>,
    /// Per partition: (row, code) of its members.
    lists: Vec<Vec<(u64, Vec<u8>)>>,
}

fn build(data: Vectors<'_>, metric: Metric, partitions: usize, sub_vectors: Option<usize>) -> Index {
    let mut params = KMeans::new(partitions);
    params.max_iters = 15;
    let ivf = IvfModel::train(data, metric, partitions, &params).unwrap();
    let assignment = ivf.assign(data, 2).unwrap();
    let pq = sub_vectors.map(|m| {
        let residuals: Vec<f32> = data
            .iter()
            .zip(&assignment)
            .flat_map(|(v, &p)| ivf.residual(v, p).unwrap())
            .collect();
        ProductQuantizer::train(
            Vectors::new(&residuals, DIM).unwrap(),
            PqShape {
                sub_vectors: m,
                bits: 8,
            },
            &params,
        )
        .unwrap()
    });
    let mut lists = vec![Vec::new(); partitions];
    for (row, (v, &p)) in data.iter().zip(&assignment).enumerate() {
        let code = match &pq {
            Some(pq) => pq.encode(&ivf.residual(v, p).unwrap()).unwrap(),
            None => Vec::new(),
        };
        lists[p as usize].push((row as u64, code));
    }
    Index { ivf, pq, lists }
}

/// Probes `nprobes` partitions, keeps `k * refine` candidates by code
/// distance (or exact distance without PQ), then re-ranks them exactly.
fn search(index: &Index, data: Vectors<'_>, query: &[f32], nprobes: usize, refine: usize) -> Vec<u64> {
    let metric = index.ivf.metric();
    let mut candidates = TopK::new(K * refine.max(1));
    for (p, _) in index.ivf.rank(query, nprobes).unwrap() {
        let table = index.pq.as_ref().map(|pq| {
            pq.distance_table(&index.ivf.residual(query, p).unwrap(), metric)
                .unwrap()
        });
        for (row, code) in &index.lists[p as usize] {
            let d = match &table {
                Some(table) => ProductQuantizer::table_distance(table, code),
                None => metric.distance(query, data.get(*row as usize)),
            };
            candidates.push(d, *row);
        }
    }
    let mut exact = TopK::new(K);
    for n in candidates.into_sorted() {
        exact.push(metric.distance(query, data.get(n.id as usize)), n.id);
    }
    exact.into_sorted().iter().map(|n| n.id).collect()
}

fn recall(index: &Index, data: Vectors<'_>, queries: &[f32], nprobes: usize, refine: usize) -> f64 {
    let metric = index.ivf.metric();
    let mut hits = 0;
    for q in queries.chunks(DIM) {
        let truth: Vec<u64> = exact_search(q, data, None, metric, K)
            .unwrap()
            .iter()
            .map(|n| n.id)
            .collect();
        let got = search(index, data, q, nprobes, refine);
        hits += got.iter().filter(|id| truth.contains(id)).count();
    }
    hits as f64 / (queries.len() / DIM * K) as f64
}

#[test]
fn ivf_flat_is_exact_with_every_partition_and_degrades_with_one() {
    let (data, queries) = clustered(6000, 40);
    let view = Vectors::new(&data, DIM).unwrap();
    for metric in [Metric::L2, Metric::Cosine] {
        let index = build(view, metric, 32, None);
        assert_eq!(recall(&index, view, &queries, 32, 1), 1.0, "{metric}: all probes");
        let some = recall(&index, view, &queries, 8, 1);
        let one = recall(&index, view, &queries, 1, 1);
        assert!(some >= 0.95, "{metric}: 8 of 32 probes give {some}");
        assert!(one <= some, "{metric}: one probe {one}, eight {some}");
    }
}

#[test]
fn ivf_pq_with_refinement_reaches_high_recall() {
    let (data, queries) = clustered(6000, 40);
    let view = Vectors::new(&data, DIM).unwrap();
    let index = build(view, Metric::L2, 32, Some(8));
    let coarse = recall(&index, view, &queries, 8, 1);
    let refined = recall(&index, view, &queries, 8, 10);
    assert!(refined >= 0.95, "IVF-PQ, 8 probes, refine 10: {refined}");
    assert!(refined >= coarse, "refinement lowered recall: {coarse} -> {refined}");
}

#[test]
fn dot_metric_search_matches_exact_with_every_partition() {
    let (data, queries) = clustered(3000, 20);
    let view = Vectors::new(&data, DIM).unwrap();
    let index = build(view, Metric::Dot, 16, None);
    assert_eq!(recall(&index, view, &queries, 16, 1), 1.0);
}
