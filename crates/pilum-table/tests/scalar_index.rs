//! Scalar indices (BTREE, BITMAP, LABEL_LIST, NGRAM, ZONEMAP) against the
//! unindexed scan: random data (nulls, NaN, signed zeros, empty strings,
//! unicode, empty and null lists) and random filters must give the same
//! rows with and without indices, before and after append, delete, update,
//! compaction and `optimize_indices`; plus bad input and damaged files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use common::{TestLocation, stream_of};
use pilum_table::*;
use proptest::prelude::*;
use std::sync::Arc;

const CATS: [&str; 7] = ["", "alpha", "beta", "ünï", "日本", "zeta", "Alpha"];
const LABELS: [&str; 6] = ["a", "b", "c", "dé", "e", "f"];
const CODE_CHARS: [char; 11] = ['a', 'b', 'A', 'B', '_', 'x', 'y', 'z', 'é', '(', ' '];
const PRICES: [f64; 9] = [
    0.0,
    -0.0,
    1.5,
    -1.5,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    2.0,
    1e9,
];

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("num", DataType::Int32, true),
        Field::new("price", DataType::Float64, true),
        Field::new("cat", DataType::Utf8, true),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        ),
        Field::new("code", DataType::Utf8, true),
        Field::new("day", DataType::Int64, true),
    ]))
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn batch(ids: std::ops::Range<i64>, seed: u64) -> RecordBatch {
    let mut rng = Rng(seed | 1);
    let n = ids.end - ids.start;
    let num: Int32Array = (0..n)
        .map(|_| (rng.below(10) != 0).then(|| rng.below(40) as i32 - 20))
        .collect();
    let price: Float64Array = (0..n)
        .map(|_| (rng.below(12) != 0).then(|| PRICES[rng.below(9) as usize]))
        .collect();
    let cat: StringArray = (0..n)
        .map(|_| (rng.below(9) != 0).then(|| CATS[rng.below(7) as usize]))
        .collect();
    let mut tags = ListBuilder::new(StringBuilder::new());
    for _ in 0..n {
        match rng.below(8) {
            0 => tags.append(false),
            k => {
                for _ in 0..(k % 4) {
                    if rng.below(10) == 0 {
                        tags.values().append_null();
                    } else {
                        tags.values().append_value(LABELS[rng.below(6) as usize]);
                    }
                }
                tags.append(true);
            }
        }
    }
    let code: StringArray = (0..n)
        .map(|_| {
            (rng.below(15) != 0).then(|| {
                let len = rng.below(14) as usize;
                (0..len).map(|_| CODE_CHARS[rng.below(11) as usize]).collect::<String>()
            })
        })
        .collect();
    let day: Int64Array = ids
        .clone()
        .map(|i| (rng.below(20) != 0).then(|| i + rng.below(30) as i64))
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(ids)),
        Arc::new(num),
        Arc::new(price),
        Arc::new(cat),
        Arc::new(tags.finish()),
        Arc::new(code),
        Arc::new(day),
    ];
    RecordBatch::try_new(schema(), columns).unwrap()
}

/// Filters, each a template over one or two columns.
fn filters() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for op in ["=", "<>", "<", "<=", ">", ">="] {
        out.push(format!("num {op} 3"));
        out.push(format!("price {op} 0.0"));
        out.push(format!("price {op} -0.0"));
        out.push(format!("price {op} 1.5"));
        out.push(format!("price {op} '-inf'::double"));
        out.push(format!("price {op} CAST('NaN' AS DOUBLE)"));
        out.push(format!("cat {op} 'beta'"));
        out.push(format!("day {op} 150"));
    }
    out.extend(
        [
            "num IN (1, -4, 7, 100)",
            "num BETWEEN -3 AND 5",
            "num IS NULL",
            "num IS NOT NULL",
            "price IS NULL",
            "price IN (1.5, 2.0)",
            "price > 1.0 AND price < 1e10",
            "price >= -0.0 AND price <= 0.0",
            "num >= -3 AND num < 5 AND num <> 0",
            "num > 5 AND num > 7 AND cat <= 'beta'",
            "day < 400 AND (day >= 150 OR num = 2)",
            "cat = ''",
            "cat IN ('ünï', '日本', 'nope')",
            "cat IS NULL",
            "cat IS NOT NULL",
            "array_has_any(tags, make_array('a', 'dé'))",
            "array_has_all(tags, make_array('a', 'b'))",
            "array_has_all(tags, make_array('a', 'zz'))",
            "array_has(tags, 'c')",
            "tags IS NULL",
            "tags IS NOT NULL",
            "contains(code, 'ab_')",
            "contains(code, 'é(')",
            "code LIKE '%xyz%'",
            "code LIKE 'a%b_'",
            "code ILIKE '%AB%'",
            "code ~ 'a(b|B)_x'",
            "code ~ '^[ab]+z'",
            "regexp_like(code, 'ABA')",
            "regexp_like(code, 'x(y|z)+', 'i')",
            "code IS NULL",
            "day BETWEEN 100 AND 300",
            "day IN (5, 77, 1000)",
            "num = 3 AND cat = 'beta'",
            "num = 3 OR cat = 'beta'",
            "num < 0 OR contains(code, 'abA')",
            "(num > 5 AND price >= 0.0) OR array_has(tags, 'f')",
            "NOT (num = 3)",
            "num = 3 AND id % 2 = 0",
            "day > 100 AND contains(code, 'xyz')",
        ]
        .map(String::from),
    );
    out
}

async fn ids_for(ds: &Dataset, filter: &str, indexed: bool) -> Vec<i64> {
    let batch = ds
        .scan()
        .project(["id"])
        .filter(filter)
        .use_scalar_index(indexed)
        .try_into_batch()
        .await
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    let mut ids = batch.column(0).as_primitive::<Int64Type>().values().to_vec();
    ids.sort_unstable();
    ids
}

/// Every filter gives the unindexed scan's rows and count.
async fn check_all(ds: &Dataset, what: &str) {
    for filter in filters() {
        let expected = ids_for(ds, &filter, false).await;
        let got = ids_for(ds, &filter, true).await;
        assert_eq!(got, expected, "{what}: {filter}");
        let count = ds.scan().filter(filter.as_str()).count_rows().await.unwrap();
        assert_eq!(count as usize, expected.len(), "{what}: count of {filter}");
    }
}

async fn index(ds: &mut Dataset, column: &str, kind: ScalarIndexType) {
    let mut params = ScalarIndexParams::new(column, kind);
    params.zone_rows = 64;
    ds.create_scalar_index(&params, &Progress::none()).await.unwrap();
}

async fn scenario(kinds: [ScalarIndexType; 3], seed: u64) {
    let location = TestLocation::new(common::Backend::Memory);
    let params = WriteParams {
        max_rows_per_file: 250,
        ..WriteParams::default()
    };
    let mut ds = Dataset::write(
        location.location.clone(),
        schema(),
        stream_of(vec![batch(0..700, seed)]),
        WriteMode::Create,
        &params,
    )
    .await
    .unwrap();
    index(&mut ds, "num", kinds[0]).await;
    index(&mut ds, "price", kinds[1]).await;
    index(&mut ds, "cat", kinds[2]).await;
    index(&mut ds, "tags", ScalarIndexType::LabelList).await;
    index(&mut ds, "code", ScalarIndexType::NGram).await;
    index(&mut ds, "day", ScalarIndexType::ZoneMap).await;
    check_all(&ds, "fresh").await;
    ds.append(stream_of(vec![batch(700..900, seed + 1)]), &params)
        .await
        .unwrap();
    check_all(&ds, "appended").await;
    ds.delete("id % 7 = 0").await.unwrap();
    ds.update(&[("num", "num + 1"), ("cat", "'beta'")], Some("id % 11 = 0"))
        .await
        .unwrap();
    check_all(&ds, "deleted and updated").await;
    ds.optimize_indices(&OptimizeIndexOptions::default()).await.unwrap();
    check_all(&ds, "optimized").await;
    let options = CompactionOptions {
        target_rows_per_fragment: 2000,
        materialize_deletions_threshold: 0.05,
        ..CompactionOptions::default()
    };
    ds.compact_files(&options).await.unwrap();
    check_all(&ds, "compacted").await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]
    #[test]
    fn indexed_filters_match_unindexed_scans(
        seed in 1u64..u64::MAX,
        num in 0usize..3,
        price in 0usize..3,
        cat in 0usize..3,
    ) {
        use ScalarIndexType::*;
        let kinds = [[BTree, Bitmap, ZoneMap][num], [BTree, ZoneMap, Bitmap][price], [Bitmap, BTree, ZoneMap][cat]];
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(scenario(kinds, seed));
    }
}

#[tokio::test]
async fn every_kind_on_every_combination_once() {
    use ScalarIndexType::*;
    for (i, kinds) in [
        [BTree, BTree, Bitmap],
        [Bitmap, ZoneMap, BTree],
        [ZoneMap, Bitmap, ZoneMap],
    ]
    .into_iter()
    .enumerate()
    {
        scenario(kinds, 0x5eed + i as u64).await;
    }
}

#[tokio::test]
async fn indices_are_listed_and_bad_requests_refused() {
    let location = TestLocation::new(common::Backend::Local);
    let mut ds = Dataset::write(
        location.location.clone(),
        schema(),
        stream_of(vec![batch(0..300, 9)]),
        WriteMode::Create,
        &WriteParams::default(),
    )
    .await
    .unwrap();
    index(&mut ds, "num", ScalarIndexType::BTree).await;
    let described = ds.describe_indices().await.unwrap();
    assert_eq!(described[0].name, "num_idx");
    assert_eq!(described[0].index_type, "BTREE");
    assert_eq!(ds.index_statistics("num_idx").await.unwrap().num_indexed_rows, 300);
    let again = ds
        .create_scalar_index(
            &ScalarIndexParams::new("num", ScalarIndexType::Bitmap),
            &Progress::none(),
        )
        .await;
    assert!(matches!(again, Err(TableError::IndexAlreadyExists { .. })), "{again:?}");
    for (column, kind) in [
        ("tags", ScalarIndexType::BTree),
        ("num", ScalarIndexType::NGram),
        ("num", ScalarIndexType::LabelList),
    ] {
        let mut params = ScalarIndexParams::new(column, kind);
        params.name = Some(format!("{column}_{}", kind.name()));
        let refused = ds.create_scalar_index(&params, &Progress::none()).await;
        assert!(
            matches!(refused, Err(TableError::InvalidIndexParams { .. })),
            "{refused:?}"
        );
    }
    let missing = ds
        .create_scalar_index(
            &ScalarIndexParams::new("nope", ScalarIndexType::BTree),
            &Progress::none(),
        )
        .await;
    assert!(matches!(missing, Err(TableError::ColumnNotFound { .. })), "{missing:?}");
    assert_eq!(ds.version(), 2, "refused builds commit nothing");
    // A bad regular expression is the scan's error, index or not.
    index(&mut ds, "code", ScalarIndexType::NGram).await;
    let bad = ds.scan().filter("code ~ '('").try_into_batch().await;
    assert!(bad.is_err());
}

#[tokio::test]
async fn damaged_index_files_are_reported_as_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let location = common::local_location(dir.path());
    let mut ds = Dataset::write(
        location.clone(),
        schema(),
        stream_of(vec![batch(0..300, 3)]),
        WriteMode::Create,
        &WriteParams::default(),
    )
    .await
    .unwrap();
    index(&mut ds, "cat", ScalarIndexType::Bitmap).await;
    let segment = &ds.index_segments()[0];
    let file = dir.path().join("_indices").join(segment.uuid()).join("postings.pilum");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let reopened = Dataset::open_location(location).await.unwrap();
    let err = reopened
        .scan()
        .filter("cat = 'beta'")
        .try_into_batch()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("postings.pilum"), "{text}");
    // Without indices the scan still answers.
    let plain = reopened
        .scan()
        .filter("cat = 'beta'")
        .use_scalar_index(false)
        .try_into_batch()
        .await;
    assert!(plain.is_ok());
}

/// Each kind is really consulted: with its files gone, the indexed filter
/// fails naming a missing file, while the unindexed scan still answers.
#[tokio::test]
async fn each_kind_is_consulted_by_its_filters() {
    use ScalarIndexType::*;
    let cases = [
        ("num", BTree, "num = 3"),
        ("cat", Bitmap, "cat IN ('beta', 'zeta')"),
        ("tags", LabelList, "array_has_all(tags, make_array('a', 'b'))"),
        ("code", NGram, "code ~ 'ab_x'"),
        ("code", NGram, "code LIKE '%xyz%'"),
        ("day", ZoneMap, "day BETWEEN 10 AND 20"),
    ];
    for (column, kind, filter) in cases {
        let dir = tempfile::tempdir().unwrap();
        let location = common::local_location(dir.path());
        let mut ds = Dataset::write(
            location.clone(),
            schema(),
            stream_of(vec![batch(0..300, 5)]),
            WriteMode::Create,
            &WriteParams::default(),
        )
        .await
        .unwrap();
        index(&mut ds, column, kind).await;
        let uuid = ds.index_segments()[0].uuid().to_string();
        std::fs::remove_dir_all(dir.path().join("_indices").join(uuid)).unwrap();
        let reopened = Dataset::open_location(location).await.unwrap();
        let indexed = reopened.scan().filter(filter).try_into_batch().await;
        assert!(indexed.is_err(), "{filter} did not consult its {kind:?} index");
        let plain = reopened
            .scan()
            .filter(filter)
            .use_scalar_index(false)
            .try_into_batch()
            .await;
        assert!(plain.is_ok(), "{filter}: {plain:?}");
    }
}
