//! Full-text search over a JSON column (`arrow.json`): a whole-document
//! query, and queries on one path (`meta.title`), scored by BM25 exactly as
//! a brute-force reference over the documents' texts scores them, through
//! the index and over appended (unindexed) rows; phrases stay inside one
//! value, fuzzy terms keep their path, and path queries on a column that
//! is not read as JSON are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use common::stream_of;
use pilum_index::text::{Analyzer, AnalyzerConfig, Bm25, CorpusStats};
use pilum_table::*;
use std::collections::HashMap;
use std::sync::Arc;

const WORDS: [&str; 16] = [
    "river", "stone", "light", "quick", "brown", "falcon", "north", "south", "garden", "window", "silver", "copper",
    "forest", "ocean", "planet", "harbor",
];

fn schema() -> SchemaRef {
    let meta = Field::new("meta", DataType::Utf8, true).with_metadata(HashMap::from([(
        "ARROW:extension:name".to_string(),
        "arrow.json".to_string(),
    )]));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        meta,
        Field::new("note", DataType::Utf8, true),
    ]))
}

fn words(i: i64, salt: u64, n: usize) -> String {
    let mut state = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03);
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            WORDS[((state >> 33) as usize) % (1 + (state % 16) as usize)]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Document `i`'s `(path, text)` values; `None` for a null row.
fn fields(i: i64) -> Option<Vec<(&'static str, String)>> {
    if i % 13 == 4 {
        return None;
    }
    Some(vec![
        ("authors.name", words(i, 5, 1)),
        ("authors.name", words(i, 6, 1)),
        ("body", words(i, 2, 3 + (i % 7) as usize)),
        ("n", i.to_string()),
        ("title", words(i, 1, 2 + (i % 3) as usize)),
    ])
}

/// Document `i` as JSON text (the words need no escaping).
fn document(i: i64) -> Option<String> {
    let f = fields(i)?;
    Some(format!(
        r#"{{"title": "{}", "body": "{}", "n": {}, "authors": [{{"name": "{}"}}, {{"name": "{}"}}], "skip": null}}"#,
        f[4].1, f[2].1, i, f[0].1, f[1].1
    ))
}

fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    let id: ArrayRef = Arc::new(Int64Array::from_iter_values(ids.clone()));
    let meta: ArrayRef = Arc::new(StringArray::from_iter(ids.clone().map(document)));
    let note: ArrayRef = Arc::new(StringArray::from_iter(ids.map(|i| Some(words(i, 9, 3)))));
    RecordBatch::try_new(schema(), vec![id, meta, note]).unwrap()
}

fn plain() -> AnalyzerConfig {
    AnalyzerConfig {
        stop_words: None,
        stem: None,
        ..AnalyzerConfig::default()
    }
}

/// A document's values: each path with its analyzed terms.
type Values = Vec<(&'static str, Vec<String>)>;

/// BM25 of an OR query on `path` (every value when `None`) over documents
/// `0..rows`: statistics count every value's terms, scores the path's.
fn reference(query: &str, path: Option<&str>, rows: i64, k: usize) -> Vec<(i64, f32)> {
    let analyzer = Analyzer::new(plain()).unwrap();
    let mut terms = analyzer.terms(query);
    terms.sort();
    terms.dedup();
    let docs: Vec<(i64, Values)> = (0..rows)
        .filter_map(|i| fields(i).map(|f| (i, f.into_iter().map(|(p, t)| (p, analyzer.terms(&t))).collect())))
        .collect();
    let length = |d: &[(&str, Vec<String>)]| d.iter().map(|(_, t)| t.len()).sum::<usize>() as u32;
    let searched = |d: &[(&str, Vec<String>)], term: &String| -> u32 {
        d.iter()
            .filter(|(p, _)| path.is_none_or(|want| *p == want))
            .map(|(_, t)| t.iter().filter(|w| *w == term).count() as u32)
            .sum()
    };
    let stats = CorpusStats {
        num_docs: docs.len() as u64,
        total_terms: docs.iter().map(|(_, d)| u64::from(length(d))).sum(),
    };
    let bm25 = Bm25::default();
    let mut out: Vec<(i64, f32)> = docs
        .iter()
        .filter_map(|(i, d)| {
            let mut score = 0.0;
            let mut any = false;
            for term in &terms {
                let tf = searched(d, term);
                if tf > 0 {
                    any = true;
                    let df = docs.iter().filter(|(_, d)| searched(d, term) > 0).count() as u64;
                    score += bm25.score(bm25.idf(df, &stats), tf, length(d), stats.average_length());
                }
            }
            any.then_some((*i, score))
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out.truncate(k);
    out
}

async fn search(ds: &Dataset, query: FullTextQuery, k: usize) -> Vec<(i64, f32)> {
    common::text_hits(ds, query, Some(k)).await
}

fn assert_same(got: &[(i64, f32)], want: &[(i64, f32)], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for ((gi, gs), (wi, ws)) in got.iter().zip(want) {
        assert!(
            (gs - ws).abs() <= 1e-4 * ws.abs().max(1.0),
            "{what}: {got:?} vs {want:?}"
        );
        assert!(gi == wi || (gs - ws).abs() <= 1e-4, "{what}: {got:?} vs {want:?}");
    }
}

fn on(column: &str, query: &str) -> FullTextQuery {
    FullTextQuery::Match(MatchQuery::new(query, Some(column.to_string())))
}

async fn check_against_reference(ds: &Dataset, rows: i64, what: &str) {
    for (query, path) in [
        ("river", None),
        ("falcon ocean", None),
        ("river", Some("title")),
        ("falcon ocean harbor", Some("title")),
        ("quick", Some("body")),
        ("stone", Some("authors.name")),
        ("18", Some("n")),
    ] {
        let column = path.map_or("meta".to_string(), |p| format!("meta.{p}"));
        let got = search(ds, on(&column, query), 20).await;
        assert!(!got.is_empty(), "{what}: {column} {query:?} finds something");
        assert_same(
            &got,
            &reference(query, path, rows, 20),
            &format!("{what}: {column} {query:?}"),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_paths_are_searched_by_bm25_through_the_index_and_unindexed_rows() {
    let dir = tempfile::tempdir().unwrap();
    let params = WriteParams {
        max_rows_per_file: 150,
        ..WriteParams::default()
    };
    let mut ds = Dataset::write(
        common::local_location(dir.path()),
        schema(),
        stream_of(vec![batch(0..400)]),
        WriteMode::Create,
        &params,
    )
    .await
    .unwrap();
    let index = TextIndexParams {
        analyzer: plain(),
        with_position: true,
        ..TextIndexParams::new("meta")
    };
    ds.create_text_index(&index, &Progress::none()).await.unwrap();
    let segment = &ds.index_segments()[0];
    assert_eq!(segment.index_version(), 2);
    assert!(segment.text_info().unwrap().json);
    check_against_reference(&ds, 400, "indexed").await;
    // Appended rows are analyzed at query time, the same way.
    ds.append(stream_of(vec![batch(400..520)]), &params).await.unwrap();
    check_against_reference(&ds, 520, "with unindexed rows").await;
    ds.optimize_indices(&OptimizeIndexOptions::default()).await.unwrap();
    assert!(
        ds.index_segments()
            .iter()
            .all(|s| s.text_info().unwrap().json && s.index_version() == 2)
    );
    check_against_reference(&ds, 520, "optimized").await;

    // A phrase matches inside one value, never across two.
    let body: Vec<String> = fields(7).unwrap()[2].1.split(' ').map(String::from).collect();
    let (first, second) = (&body[0], &body[1]);
    let phrase = |column: &str, text: String| FullTextQuery::Phrase {
        query: text,
        column: Some(column.to_string()),
        slop: 0,
    };
    let found = search(&ds, phrase("meta.body", format!("{first} {second}")), 600).await;
    assert!(found.iter().any(|(id, _)| *id == 7), "phrase in body of row 7");
    let last_author = fields(7).unwrap()[1].1.clone();
    let across = format!("{last_author} {first}");
    let spanning = search(&ds, phrase("meta", across.clone()), 600).await;
    for (id, _) in spanning {
        let f = fields(id).unwrap();
        assert!(
            f.iter().any(|(_, t)| t.contains(&across)),
            "row {id} matched {across:?} across two values"
        );
    }

    // A fuzzy term keeps its path: "rivr" reaches "river" in titles only.
    let fuzzy = FullTextQuery::Match(MatchQuery {
        fuzziness: Some(1),
        ..MatchQuery::new("rivr", Some("meta.title".into()))
    });
    let fuzzy_hits = search(&ds, fuzzy, 600).await;
    let exact_hits = search(&ds, on("meta.title", "river"), 600).await;
    let ids = |hits: &[(i64, f32)]| {
        let mut v: Vec<i64> = hits.iter().map(|h| h.0).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&fuzzy_hits), ids(&exact_hits));
    // A prefix on a path.
    let prefix = FullTextQuery::Prefix {
        prefix: "harb".into(),
        column: Some("meta.title".into()),
        max_expansions: 10,
    };
    assert_eq!(
        ids(&search(&ds, prefix, 600).await),
        ids(&search(&ds, on("meta.title", "harbor"), 600).await)
    );
    // A path nobody has finds nothing.
    assert!(search(&ds, on("meta.nowhere", "river"), 10).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_queries_need_a_json_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut ds = Dataset::write(
        common::local_location(dir.path()),
        schema(),
        stream_of(vec![batch(0..50)]),
        WriteMode::Create,
        &WriteParams::default(),
    )
    .await
    .unwrap();
    ds.create_text_index(&TextIndexParams::new("note"), &Progress::none())
        .await
        .unwrap();
    assert_eq!(ds.index_segments()[0].index_version(), 1);
    assert!(!ds.index_segments()[0].text_info().unwrap().json);
    let err = ds
        .full_text_search(&FullTextSearch::new(on("note.title", "river")))
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::InvalidArgument(_)), "{err}");
    // The JSON column read as plain text (json: Some(false)) indexes its
    // raw text, keys included, and refuses path queries.
    let raw = TextIndexParams {
        json: Some(false),
        ..TextIndexParams::new("meta")
    };
    ds.create_text_index(&raw, &Progress::none()).await.unwrap();
    assert!(!search(&ds, on("meta", "title"), 5).await.is_empty(), "keys are text");
    let err = ds
        .full_text_search(&FullTextSearch::new(on("meta.title", "river")))
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::InvalidArgument(_)), "{err}");
}
