//! Damaged index files: every byte flip, truncation or deletion of an
//! IVF_FLAT or IVF_PQ segment's files either gives a typed error naming an
//! index file, or (when the damaged bytes are never read) exactly the
//! undamaged answer; never a panic, never a silently different answer. A
//! search that does not use the index keeps working throughout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type};
use common::stream_of;
use pilum_index::Metric;
use pilum_table::*;
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::path::Path;

const DIM: usize = 8;

/// A change to a file's bytes.
type Damage = Box<dyn Fn(&mut Vec<u8>)>;
const ROWS: usize = 1200;

fn batch() -> RecordBatch {
    let mut rng = StdRng::seed_from_u64(3);
    let values: Vec<f32> = (0..ROWS * DIM)
        .map(|i| ((i / DIM) % 9) as f32 + rng.random_range(-0.3f32..0.3))
        .collect();
    common::vector_batch(0..ROWS as i64, values, DIM)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Full-probe answers of a few queries: (ids, distances) each.
async fn answers(ds: &Dataset, use_index: bool) -> Result<Vec<(Vec<i64>, Vec<f32>)>> {
    let mut out = Vec::new();
    for q in 0..4 {
        let query = VectorQuery {
            nprobes: Some(64),
            use_index,
            ..VectorQuery::new("emb", vec![q as f32 * 2.0 + 0.1; DIM], 5).with_metric(Metric::L2)
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
        let baseline = answers(&ds, true).await.unwrap();
        let exact = answers(&ds, false).await.unwrap();
        let files: Vec<String> = ds.index_segments()[0]
            .message
            .files
            .iter()
            .map(|f| f.path.clone())
            .collect();
        for file in &files {
            let size = std::fs::metadata(pristine.path().join(file)).unwrap().len() as usize;
            // Flips spread over the file plus random ones, truncations, deletion.
            let mut damages: Vec<Damage> = Vec::new();
            for i in 0..48 {
                let at = if i < 24 {
                    i * size / 24
                } else {
                    rng.random_range(0..size)
                };
                let mask = rng.random_range(1u8..=255);
                damages.push(Box::new(move |b: &mut Vec<u8>| b[at] ^= mask));
            }
            for keep in [0, size / 2, size - 1] {
                damages.push(Box::new(move |b: &mut Vec<u8>| b.truncate(keep)));
            }
            for (n, damage) in damages.iter().enumerate() {
                let dir = tempfile::tempdir().unwrap();
                copy_dir(pristine.path(), dir.path());
                let path = dir.path().join(file);
                let mut bytes = std::fs::read(&path).unwrap();
                damage(&mut bytes);
                std::fs::write(&path, bytes).unwrap();
                let damaged = Dataset::open_location(common::local_location(dir.path()))
                    .await
                    .unwrap();
                match answers(&damaged, true).await {
                    Ok(got) => assert_eq!(got, baseline, "{kind:?} {file} damage {n}: a different answer"),
                    Err(e) => {
                        let text = e.to_string();
                        assert!(
                            matches!(e, TableError::Corrupt { .. } | TableError::File(_) | TableError::Io(_)),
                            "{kind:?} {file} damage {n}: {e:?}"
                        );
                        assert!(
                            text.contains("_indices/"),
                            "{kind:?} {file} damage {n}: error names no index file: {text}"
                        );
                    }
                }
                assert_eq!(
                    answers(&damaged, false).await.unwrap(),
                    exact,
                    "exact search is unaffected"
                );
                cases += 1;
            }
            let dir = tempfile::tempdir().unwrap();
            copy_dir(pristine.path(), dir.path());
            std::fs::remove_file(dir.path().join(file)).unwrap();
            let damaged = Dataset::open_location(common::local_location(dir.path()))
                .await
                .unwrap();
            let err = answers(&damaged, true).await.unwrap_err();
            assert!(err.to_string().contains(file.as_str()), "{err}");
        }
    }
    assert!(cases >= 8 * 51, "{cases} cases");
}
