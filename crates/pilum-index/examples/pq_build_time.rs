//! Times coarse k-means, product-quantizer training and encoding on
//! clustered vectors:
//! `cargo run --release -p pilum-index --example pq_build_time -- [rows] [dim] [sub_vectors] [bits]`.

use pilum_index::{KMeans, PqShape, ProductQuantizer, Vectors};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let rows = args.first().copied().unwrap_or(200_000);
    let dim = args.get(1).copied().unwrap_or(128);
    let sub_vectors = args.get(2).copied().unwrap_or(32);
    let bits = args.get(3).copied().unwrap_or(8) as u8;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let centres: Vec<f32> = (0..1000 * dim).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
    let mut data = Vec::with_capacity(rows * dim);
    for _ in 0..rows {
        let c = rng.random_range(0..1000);
        data.extend((0..dim).map(|j| centres[c * dim + j] + 0.2 * (rng.random::<f32>() - 0.5)));
    }
    let view = Vectors::new(&data, dim)?;
    let started = Instant::now();
    let coarse = KMeans::new(((rows as f64).sqrt().round() as usize).max(1)).train(view)?;
    println!(
        "coarse k-means ({} centroids): {:.2} s, {} iterations",
        coarse.centroids.len() / dim,
        started.elapsed().as_secs_f64(),
        coarse.iterations
    );
    let shape = PqShape { sub_vectors, bits };
    let started = Instant::now();
    let pq = ProductQuantizer::train(view, shape, &KMeans::new(1 << bits))?;
    let trained = started.elapsed();
    let started = Instant::now();
    let codes = pq.encode_batch(view)?;
    let encoded = started.elapsed();
    println!(
        "{rows} x {dim}, {sub_vectors} x {bits}-bit: train {:.2} s, encode {:.2} s ({} code bytes)",
        trained.as_secs_f64(),
        encoded.as_secs_f64(),
        codes.len()
    );
    Ok(())
}
