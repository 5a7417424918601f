//! Damaged scalar index files: byte flips spread over every file of a
//! BTREE, BITMAP, LABEL_LIST, NGRAM and ZONEMAP segment, truncations and
//! deletion. Each outcome of the indexed filter is either exactly the
//! unindexed answer or a typed error naming an index file; never a panic,
//! an internal error or a different answer. The unindexed scan keeps
//! working throughout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use common::*;
use pilum_table::*;
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::sync::Arc;

const ROWS: i64 = 900;

fn rows() -> RecordBatch {
    let mut rng = StdRng::seed_from_u64(5);
    let cats = ["alpha", "beta", "gamma", "delta"];
    let words = ["river", "stone", "cloud", "ember", "frost"];
    let mut tags = ListBuilder::new(StringBuilder::new());
    for _ in 0..ROWS {
        for _ in 0..rng.random_range(0..3) {
            tags.values().append_value(cats[rng.random_range(0..4)]);
        }
        tags.append(true);
    }
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("num", DataType::Int64, true),
        Field::new("cat", DataType::Utf8, true),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        ),
        Field::new("code", DataType::Utf8, true),
        Field::new("day", DataType::Int64, true),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..ROWS)),
        Arc::new(Int64Array::from_iter(
            (0..ROWS).map(|i| (i % 11 != 0).then_some((i * 7919) % 500)),
        )),
        Arc::new(StringArray::from_iter(
            (0..ROWS).map(|i| (i % 13 != 0).then_some(cats[(i % 4) as usize])),
        )),
        Arc::new(tags.finish()),
        Arc::new(StringArray::from_iter_values((0..ROWS).map(|i| {
            format!("{}_{}_{i}", words[(i % 5) as usize], words[(i * 3 % 5) as usize])
        }))),
        Arc::new(Int64Array::from_iter_values((0..ROWS).map(|i| i / 3))),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

async fn matching(ds: &Dataset, filter: &str, use_index: bool) -> Result<Vec<i64>> {
    let batch = ds
        .scan()
        .project(["id"])
        .filter(filter)
        .use_scalar_index(use_index)
        .try_into_batch()
        .await?;
    let mut ids = column_i64(&batch, "id");
    ids.sort_unstable();
    Ok(ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_scalar_index_files_give_typed_errors_or_the_same_answer() {
    let kinds = [
        ("num", ScalarIndexType::BTree, "num BETWEEN 100 AND 180 OR num IS NULL"),
        ("cat", ScalarIndexType::Bitmap, "cat IN ('beta', 'delta')"),
        (
            "tags",
            ScalarIndexType::LabelList,
            "array_has_any(tags, make_array('gamma'))",
        ),
        ("code", ScalarIndexType::NGram, "code LIKE '%ember_fro%'"),
        ("day", ScalarIndexType::ZoneMap, "day BETWEEN 40 AND 90"),
    ];
    let mut rng = StdRng::seed_from_u64(17);
    let (mut cases, mut errors) = (0, 0);
    for (column, kind, filter) in kinds {
        let pristine = tempfile::tempdir().unwrap();
        let batch = rows();
        let params = WriteParams {
            max_rows_per_file: 300,
            ..WriteParams::default()
        };
        let mut ds = Dataset::write(
            local_location(pristine.path()),
            batch.schema(),
            stream_of(vec![batch]),
            WriteMode::Create,
            &params,
        )
        .await
        .unwrap();
        ds.create_scalar_index(&ScalarIndexParams::new(column, kind), &Progress::none())
            .await
            .unwrap();
        let expected = matching(&ds, filter, false).await.unwrap();
        assert!(!expected.is_empty(), "{filter} matches rows");
        assert_eq!(matching(&ds, filter, true).await.unwrap(), expected, "{filter}");
        let files: Vec<String> = ds.index_segments()[0].files().iter().map(|f| f.path.clone()).collect();
        for file in &files {
            let size = std::fs::metadata(pristine.path().join(file)).unwrap().len() as usize;
            let mut damages = byte_damages(size, 32, &mut rng);
            damages.push(Box::new(|b: &mut Vec<u8>| b.clear()));
            for (n, damage) in damages.iter().enumerate() {
                let dir = tempfile::tempdir().unwrap();
                copy_dir(pristine.path(), dir.path());
                let path = dir.path().join(file);
                let mut bytes = std::fs::read(&path).unwrap();
                damage(&mut bytes);
                std::fs::write(&path, bytes).unwrap();
                let damaged = Dataset::open_location(local_location(dir.path())).await.unwrap();
                match matching(&damaged, filter, true).await {
                    Ok(got) => assert_eq!(got, expected, "{kind:?} {file} damage {n}: a different answer"),
                    Err(e) => {
                        errors += 1;
                        assert!(
                            matches!(e, TableError::Corrupt { .. } | TableError::File(_) | TableError::Io(_)),
                            "{kind:?} {file} damage {n}: {e:?}"
                        );
                        assert!(
                            e.to_string().contains("_indices/"),
                            "{kind:?} {file} damage {n}: the error names no index file: {e}"
                        );
                    }
                }
                assert_eq!(matching(&damaged, filter, false).await.unwrap(), expected);
                cases += 1;
            }
        }
    }
    assert!(cases >= 5 * 28, "{cases} cases");
    // The filters really read the damaged files: most damage is detected.
    assert!(errors * 2 > cases, "{errors} errors in {cases} cases");
}
