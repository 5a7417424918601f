//! Times one IVF_HNSW_SQ partition's graph build over 8-bit codes, with
//! distances computed on the codes and on their decoded values:
//! `cargo run --release -p pilum-index --example hnsw_build_time -- [rows] [dim]`.

use pilum_index::{HnswGraph, HnswParams, Metric, ScalarQuantizer, Vectors};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let rows = args.first().copied().unwrap_or(20_000);
    let dim = args.get(1).copied().unwrap_or(768);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let centres: Vec<f32> = (0..100 * dim).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
    let mut data = Vec::with_capacity(rows * dim);
    for _ in 0..rows {
        let c = rng.random_range(0..100);
        data.extend((0..dim).map(|j| centres[c * dim + j] + 0.5 * (rng.random::<f32>() - 0.5)));
    }
    let view = Vectors::new(&data, dim)?;
    let sq = ScalarQuantizer::train(view)?;
    let codes = sq.encode_batch(view)?;
    let pairs = sq.code_metric(Metric::L2);
    let code = |i: u32| &codes[i as usize * dim..(i as usize + 1) * dim];
    let params = HnswParams::default();
    let started = Instant::now();
    let on_codes = HnswGraph::build(rows, params, &|a, b| pairs.distance(code(a), code(b)))?;
    let codes_s = started.elapsed().as_secs_f64();
    let mut values = Vec::with_capacity(codes.len());
    for c in codes.chunks_exact(dim) {
        pairs.decode_into(c, &mut values);
    }
    let row = |i: u32| &values[i as usize * dim..(i as usize + 1) * dim];
    let started = Instant::now();
    let on_values = HnswGraph::build(rows, params, &|a, b| pairs.decoded_distance(row(a), row(b)))?;
    let values_s = started.elapsed().as_secs_f64();
    println!(
        "{rows} x {dim}: graph on codes {codes_s:.2} s ({} links), on decoded values {values_s:.2} s ({} links)",
        on_codes.links().len(),
        on_values.links().len()
    );
    Ok(())
}
