//! Damaged index files: every byte flip, truncation or deletion of the
//! files of a segment of every kind (and of a hamming IVF_FLAT segment
//! over binary codes) either gives a typed error naming an index file, or (when the damaged bytes are never read) exactly the
//! undamaged answer; never a panic, never a silently different answer. A
//! search that does not use the index keeps working throughout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type};
use common::{copy_dir, stream_of};
use pilum_index::Metric;
use pilum_table::*;
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::path::Path;

const DIM: usize = 8;

const ROWS: usize = 1200;

fn batch() -> RecordBatch {
    let mut rng = StdRng::seed_from_u64(3);
    let values: Vec<f32> = (0..ROWS * DIM)
        .map(|i| ((i / DIM) % 9) as f32 + rng.random_range(-0.3f32..0.3))
        .collect();
    common::vector_batch(0..ROWS as i64, values, DIM)
}

/// The same rows as 8-byte binary codes in a `bits` column.
fn binary_batch() -> RecordBatch {
    let mut rng = StdRng::seed_from_u64(4);
    let codes: Vec<Vec<u8>> = (0..ROWS)
        .map(|i| {
            (0..DIM)
                .map(|b| ((i % 9) as u8).wrapping_mul(29).wrapping_add(b as u8 * 17) ^ rng.random_range(0u8..4))
                .collect()
        })
        .collect();
    common::binary_batch(0..ROWS as i64, codes, DIM)
}

/// Full-probe answers of a few queries: (ids, distances) each; on the
/// `bits` column by hamming distance when `binary`.
async fn answers(ds: &Dataset, use_index: bool, binary: bool) -> Result<Vec<(Vec<i64>, Vec<f32>)>> {
    let mut out = Vec::new();
    for q in 0..4 {
        let base = if binary {
            VectorQuery::new("bits", vec![(q * 40) as f32; DIM], 5).with_metric(Metric::Hamming)
        } else {
            VectorQuery::new("emb", vec![q as f32 * 2.0 + 0.1; DIM], 5).with_metric(Metric::L2)
        };
        let query = VectorQuery {
            nprobes: Some(64),
            use_index,
            ..base
        };
        let result = ds.nearest(&query, None, false, Some(&["id"])).await?;
        out.push((
            result.column(0).as_primitive::<Int64Type>().values().to_vec(),
            result.column(2).as_primitive::<Float32Type>().values().to_vec(),
        ));
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_index_files_give_typed_errors_or_the_same_answer() {
    let pristine = tempfile::tempdir().unwrap();
    let rows = batch();
    let mut ds = Dataset::write(
        common::local_location(pristine.path()),
        rows.schema(),
        stream_of(vec![rows]),
        WriteMode::Create,
        &WriteParams::default(),
    )
    .await
    .unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    let mut cases = 0;
    for (kind, num_bits) in [
        (IndexType::IvfFlat, 8),
        (IndexType::IvfPq, 8),
        (IndexType::IvfPq, 4),
        (IndexType::IvfSq, 8),
        (IndexType::IvfHnswSq, 8),
    ] {
        let params = VectorIndexParams {
            replace: true,
            num_partitions: Some(6),
            num_sub_vectors: (kind == IndexType::IvfPq).then_some(4),
            num_bits,
            ..VectorIndexParams::new("emb", kind)
        };
        ds.create_index(&params, &Progress::none()).await.unwrap();
        cases += sweep(pristine.path(), &ds, &format!("{kind:?}"), false, &mut rng).await;
    }
    let binary = tempfile::tempdir().unwrap();
    let rows = binary_batch();
    let mut ds = Dataset::write(
        common::local_location(binary.path()),
        rows.schema(),
        stream_of(vec![rows]),
        WriteMode::Create,
        &WriteParams::default(),
    )
    .await
    .unwrap();
    let hamming = VectorIndexParams {
        num_partitions: Some(6),
        metric: Metric::Hamming,
        ..VectorIndexParams::new("bits", IndexType::IvfFlat)
    };
    ds.create_index(&hamming, &Progress::none()).await.unwrap();
    cases += sweep(binary.path(), &ds, "hamming IVF_FLAT", true, &mut rng).await;
    assert!(cases >= 9 * 51, "{cases} cases");
}

/// Damages each file of `ds`'s first index segment (stored under
/// `pristine`) in turn, in copies, and checks every outcome; returns the
/// cases run.
async fn sweep(pristine: &Path, ds: &Dataset, kind: &str, binary: bool, rng: &mut StdRng) -> usize {
    let mut cases = 0;
    let baseline = answers(ds, true, binary).await.unwrap();
    let exact = answers(ds, false, binary).await.unwrap();
    let files: Vec<String> = ds.index_segments()[0].files().iter().map(|f| f.path.clone()).collect();
    {
        for file in &files {
            let size = std::fs::metadata(pristine.join(file)).unwrap().len() as usize;
            // Flips spread over the file plus random ones, truncations, deletion.
            let damages = common::byte_damages(size, 48, rng);
            for (n, damage) in damages.iter().enumerate() {
                let dir = tempfile::tempdir().unwrap();
                copy_dir(pristine, dir.path());
                let path = dir.path().join(file);
                let mut bytes = std::fs::read(&path).unwrap();
                damage(&mut bytes);
                std::fs::write(&path, bytes).unwrap();
                let damaged = Dataset::open_location(common::local_location(dir.path()))
                    .await
                    .unwrap();
                match answers(&damaged, true, binary).await {
                    Ok(got) => assert_eq!(got, baseline, "{kind} {file} damage {n}: a different answer"),
                    Err(e) => {
                        let text = e.to_string();
                        assert!(
                            matches!(e, TableError::Corrupt { .. } | TableError::File(_) | TableError::Io(_)),
                            "{kind} {file} damage {n}: {e:?}"
                        );
                        assert!(
                            text.contains("_indices/"),
                            "{kind} {file} damage {n}: error names no index file: {text}"
                        );
                    }
                }
                assert_eq!(
                    answers(&damaged, false, binary).await.unwrap(),
                    exact,
                    "exact search is unaffected"
                );
                cases += 1;
            }
            let dir = tempfile::tempdir().unwrap();
            copy_dir(pristine, dir.path());
            std::fs::remove_file(dir.path().join(file)).unwrap();
            let damaged = Dataset::open_location(common::local_location(dir.path()))
                .await
                .unwrap();
            let err = answers(&damaged, true, binary).await.unwrap_err();
            assert!(err.to_string().contains(file.as_str()), "{err}");
        }
    }
    cases
}
