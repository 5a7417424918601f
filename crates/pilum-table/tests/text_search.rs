//! Full-text search end to end: BM25 scores and rankings against a brute
//! force reference over the live rows (after append, delete, update and
//! compaction), a build under a tiny memory budget producing the same
//! files, phrase / fuzzy / prefix / boolean semantics, filters, Chinese
//! and Japanese text, bad input and damaged index files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type};
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use common::{Backend, TestLocation, stream_of};
use pilum_index::text::{Analyzer, AnalyzerConfig, Bm25, CorpusStats};
use pilum_table::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const WORDS: [&str; 40] = [
    "river", "stone", "light", "quick", "brown", "falcon", "search", "engine", "vector", "column", "storage", "index",
    "query", "token", "phrase", "ranking", "memory", "budget", "segment", "merge", "north", "south", "garden",
    "window", "silver", "copper", "forest", "ocean", "planet", "signal", "harbor", "valley", "summit", "meadow",
    "canyon", "desert", "island", "glacier", "prairie", "tundra",
];

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, true),
        Field::new("title", DataType::Utf8, true),
    ]))
}

/// Document `i`: words drawn with a skewed distribution; every 17th is null.
fn doc(i: i64) -> Option<String> {
    if i % 17 == 5 {
        return None;
    }
    let mut state = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(7);
    let len = 3 + (i % 23) as usize;
    let words: Vec<&str> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let spread = (state % 40) as usize + 1;
            WORDS[((state >> 20) as usize) % spread]
        })
        .collect();
    Some(words.join(" "))
}

fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    let id: ArrayRef = Arc::new(Int64Array::from_iter_values(ids.clone()));
    let text: ArrayRef = Arc::new(StringArray::from_iter(ids.clone().map(doc)));
    let title: ArrayRef = Arc::new(StringArray::from_iter(
        ids.map(|i| Some(WORDS[(i % 40) as usize].to_string())),
    ));
    RecordBatch::try_new(schema(), vec![id, text, title]).unwrap()
}

async fn create(location: &DatasetLocation, rows: i64) -> Dataset {
    let params = WriteParams {
        max_rows_per_file: 300,
        ..WriteParams::default()
    };
    Dataset::write(
        location.clone(),
        schema(),
        stream_of(vec![batch(0..rows)]),
        WriteMode::Create,
        &params,
    )
    .await
    .unwrap()
}

fn plain() -> AnalyzerConfig {
    AnalyzerConfig {
        stop_words: None,
        stem: None,
        ..AnalyzerConfig::default()
    }
}

fn text_params(positions: bool) -> TextIndexParams {
    TextIndexParams {
        analyzer: plain(),
        with_position: positions,
        ..TextIndexParams::new("text")
    }
}

/// BM25 of an OR query over `corpus` (every document the statistics
/// count), ranking only the `live` ids.
fn reference(query: &str, corpus: &[i64], live: &[i64], k: usize) -> Vec<(i64, f32)> {
    let analyzer = Analyzer::new(plain()).unwrap();
    let terms: Vec<String> = {
        let mut t = analyzer.terms(query);
        t.sort();
        t.dedup();
        t
    };
    let docs: HashMap<i64, Vec<String>> = corpus
        .iter()
        .filter_map(|&i| doc(i).map(|d| (i, analyzer.terms(&d))))
        .collect();
    let stats = CorpusStats {
        num_docs: docs.len() as u64,
        total_terms: docs.values().map(|d| d.len() as u64).sum(),
    };
    let bm25 = Bm25::default();
    let df: HashMap<&String, u64> = terms
        .iter()
        .map(|t| (t, docs.values().filter(|d| d.contains(t)).count() as u64))
        .collect();
    let mut out: Vec<(i64, f32)> = live
        .iter()
        .filter_map(|i| docs.get(i).map(|d| (*i, d)))
        .filter_map(|(i, d)| {
            let mut score = 0.0f32;
            let mut any = false;
            for t in &terms {
                let tf = d.iter().filter(|w| *w == t).count() as u32;
                if tf > 0 {
                    any = true;
                    score += bm25.score(bm25.idf(df[t], &stats), tf, d.len() as u32, stats.average_length());
                }
            }
            any.then_some((i, score))
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out.truncate(k);
    out
}

async fn search(ds: &Dataset, query: FullTextQuery, k: Option<usize>) -> Vec<(i64, f32)> {
    common::text_hits(ds, query, k).await
}

fn assert_matches_reference(got: &[(i64, f32)], want: &[(i64, f32)], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    let exact: BTreeMap<i64, f32> = want.iter().copied().collect();
    for ((gi, gs), (_, ws)) in got.iter().zip(want) {
        assert!(
            (gs - ws).abs() <= 1e-4 * ws.abs().max(1.0),
            "{what}: scores {got:?} vs {want:?}"
        );
        if let Some(w) = exact.get(gi) {
            assert!((gs - w).abs() <= 1e-4 * w.abs().max(1.0), "{what}: row {gi}");
        }
    }
}

const QUERIES: [&str; 6] = [
    "river",
    "glacier tundra",
    "quick brown falcon",
    "search engine ranking memory",
    "prairie",
    "nothingmatches river",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bm25_matches_a_reference_after_append_delete_update_and_compaction() {
    let guard = TestLocation::new(Backend::Local);
    let mut ds = create(&guard.location, 1200).await;
    ds.create_text_index(&text_params(false), &Progress::none())
        .await
        .unwrap();
    let mut corpus: Vec<i64> = (0..1200).collect();
    let mut live = corpus.clone();
    let check = |ds: Dataset, corpus: Vec<i64>, live: Vec<i64>, what: &'static str| async move {
        assert!(
            search(&ds, FullTextQuery::text("river"), Some(1000)).await.len() > 100,
            "{what}"
        );
        for q in QUERIES {
            for k in [1usize, 10, 1000] {
                let got = search(&ds, FullTextQuery::text(q), Some(k)).await;
                assert_matches_reference(&got, &reference(q, &corpus, &live, k), what);
            }
        }
        ds
    };
    ds = check(ds, corpus.clone(), live.clone(), "indexed").await;
    // Appended rows are unindexed: scored exactly with the same statistics.
    ds.append(stream_of(vec![batch(1200..1500)]), &WriteParams::default())
        .await
        .unwrap();
    corpus.extend(1200..1500);
    live.extend(1200..1500);
    ds = check(ds, corpus.clone(), live.clone(), "appended").await;
    // Deleted rows never appear; indexed ones still count in statistics.
    ds.delete("id % 5 = 0").await.unwrap();
    live.retain(|i| i % 5 != 0);
    corpus.retain(|&i| i < 1200 || i % 5 != 0);
    ds = check(ds, corpus.clone(), live.clone(), "deleted").await;
    // Compaction hands coverage to rewritten fragments (same rows and ids).
    ds.compact_files(&CompactionOptions::default()).await.unwrap();
    ds = check(ds, corpus.clone(), live.clone(), "compacted").await;
    // optimize_indices indexes the rest: the results keep matching.
    ds.optimize_indices(&OptimizeIndexOptions::default()).await.unwrap();
    let stats = ds.index_statistics("text_idx").await.unwrap();
    assert_eq!(stats.num_unindexed_rows, 0, "{stats:?}");
    // The folded segment is rebuilt from live rows: deleted ones leave
    // the statistics.
    let _ = (corpus, check(ds, live.clone(), live, "optimized").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_under_a_tiny_memory_budget_writes_the_same_files() {
    let (small, large) = (TestLocation::new(Backend::Local), TestLocation::new(Backend::Local));
    let mut files = Vec::new();
    for (guard, memory_limit) in [(&small, 1usize), (&large, 1 << 30)] {
        let mut ds = create(&guard.location, 20_000).await;
        let params = TextIndexParams {
            memory_limit,
            ..text_params(true)
        };
        ds.create_text_index(&params, &Progress::none()).await.unwrap();
        let root = guard.location.uri.clone();
        let mut bytes = Vec::new();
        for f in ds.index_segments()[0].files() {
            bytes.push((f.role.clone(), std::fs::read(format!("{root}/{}", f.path)).unwrap()));
        }
        bytes.sort();
        assert_eq!(
            bytes.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(),
            ["docs", "postings", "terms"]
        );
        files.push(bytes);
        let got = search(&ds, FullTextQuery::text("river glacier"), Some(10)).await;
        assert_matches_reference(
            &got,
            &reference(
                "river glacier",
                &(0..20_000).collect::<Vec<_>>(),
                &(0..20_000).collect::<Vec<_>>(),
                10,
            ),
            "budget",
        );
    }
    assert!(files[0][1].1.len() > 100_000, "a corpus large enough to spill");
    assert_eq!(files[0], files[1], "spilled runs merge into the same index");
}

/// Hand-written documents for query semantics.
async fn semantics_dataset(guard: &TestLocation, positions: bool) -> Dataset {
    let texts = [
        Some("the quick brown fox jumps over the lazy dog"),
        Some("quick brown dogs and quick foxes"),
        Some("a brown quick fox"),
        Some("searching engines rank documents"),
        Some("search engine ranking"),
        Some("黑客帝国是一部科幻电影"),
        Some("東京は日本の首都です"),
        None,
    ];
    let titles = ["fox", "dog", "fox story", "search", "engines", "film", "city", "empty"];
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(0..texts.len() as i64)),
            Arc::new(StringArray::from_iter(texts)),
            Arc::new(StringArray::from_iter_values(titles)),
        ],
    )
    .unwrap();
    let mut ds = Dataset::write(
        guard.location.clone(),
        schema(),
        stream_of(vec![batch]),
        WriteMode::Create,
        &WriteParams::default(),
    )
    .await
    .unwrap();
    for column in ["text", "title"] {
        let params = TextIndexParams {
            with_position: positions,
            ..TextIndexParams::new(column)
        };
        ds.create_text_index(&params, &Progress::none()).await.unwrap();
    }
    ds
}

async fn ids(ds: &Dataset, query: FullTextQuery) -> Vec<i64> {
    let mut out: Vec<i64> = search(ds, query, None).await.into_iter().map(|r| r.0).collect();
    out.sort_unstable();
    out
}

fn on_text(query: &str) -> MatchQuery {
    MatchQuery::new(query, Some("text".into()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_phrase_fuzzy_prefix_and_boolean_semantics() {
    let guard = TestLocation::new(Backend::Memory);
    let ds = semantics_dataset(&guard, true).await;
    let phrase = |q: &str, slop| FullTextQuery::Phrase {
        query: q.into(),
        column: Some("text".into()),
        slop,
    };
    assert_eq!(ids(&ds, phrase("quick brown", 0)).await, [0, 1]);
    assert_eq!(ids(&ds, phrase("brown quick", 0)).await, [2]);
    // "… and quick foxes": the stop word "and" sits before, not between.
    assert_eq!(ids(&ds, phrase("quick fox", 0)).await, [1, 2]);
    assert_eq!(ids(&ds, phrase("quick fox", 1)).await, [0, 1, 2]);
    // The stop word's gap is expected: "jumps over the lazy" holds "jumps … lazy".
    assert_eq!(ids(&ds, phrase("jumps over the lazy", 0)).await, [0]);
    let and = MatchQuery {
        operator: Operator::And,
        ..on_text("quick fox")
    };
    assert_eq!(ids(&ds, FullTextQuery::Match(and)).await, [0, 1, 2]);
    let three = MatchQuery {
        minimum_should_match: 3,
        ..on_text("quick fox dog")
    };
    assert_eq!(ids(&ds, FullTextQuery::Match(three)).await, [0, 1]);
    let fuzzy = MatchQuery {
        fuzziness: Some(1),
        ..on_text("serch")
    };
    assert_eq!(ids(&ds, FullTextQuery::Match(fuzzy)).await, [3, 4]);
    assert!(ids(&ds, FullTextQuery::Match(on_text("serch"))).await.is_empty());
    let auto = MatchQuery {
        fuzziness: None,
        ..on_text("rankng")
    };
    assert_eq!(ids(&ds, FullTextQuery::Match(auto)).await, [3, 4]);
    let prefix = FullTextQuery::Prefix {
        prefix: "eng".into(),
        column: Some("text".into()),
        max_expansions: 50,
    };
    assert_eq!(ids(&ds, prefix).await, [3, 4]);
    let boolean = FullTextQuery::Boolean(vec![
        (Occur::Must, FullTextQuery::Match(on_text("quick"))),
        (Occur::MustNot, FullTextQuery::Match(on_text("dog"))),
    ]);
    assert_eq!(ids(&ds, boolean).await, [2]);
    let should = FullTextQuery::Boolean(vec![
        (Occur::Should, FullTextQuery::Match(on_text("fox"))),
        (Occur::Should, FullTextQuery::Match(on_text("search"))),
    ]);
    assert_eq!(ids(&ds, should).await, [0, 1, 2, 3, 4]);
    let boost = FullTextQuery::Boost {
        positive: Box::new(FullTextQuery::Match(on_text("quick"))),
        negative: Box::new(FullTextQuery::Match(on_text("dog"))),
        negative_boost: 0.01,
    };
    assert_eq!(search(&ds, boost, Some(1)).await[0].0, 2);
    // Several columns: a plain string searches every indexed column.
    assert_eq!(ids(&ds, FullTextQuery::text("story")).await, [2]);
    let multi = FullTextQuery::MultiMatch {
        query: "fox".into(),
        columns: vec!["text".into(), "title".into()],
        boosts: Some(vec![1.0, 10.0]),
        operator: Operator::Or,
    };
    let ranked = search(&ds, multi, None).await;
    assert_eq!(ranked.len(), 3);
    assert!(
        ranked[0].0 == 0 || ranked[0].0 == 2,
        "title boost ranks fox titles first: {ranked:?}"
    );
    // Chinese and Japanese text is segmented (bigrams), not one token per sentence.
    assert_eq!(ids(&ds, FullTextQuery::Match(on_text("科幻"))).await, [5]);
    assert_eq!(ids(&ds, FullTextQuery::Match(on_text("東京"))).await, [6]);
    assert_eq!(ids(&ds, FullTextQuery::Match(on_text("首都"))).await, [6]);
    // Filters: before ranking, or on the ranked rows.
    for prefilter in [true, false] {
        let result = ds
            .full_text_search(&FullTextSearch {
                filter: Some(Predicate::Sql("id > 0".into())),
                prefilter,
                columns: Some(vec!["id".into()]),
                ..FullTextSearch::new(FullTextQuery::Match(on_text("quick")))
            })
            .await
            .unwrap();
        let got: Vec<i64> = result.column(0).as_primitive::<Int64Type>().values().to_vec();
        assert!(!got.contains(&0) && got.contains(&2), "{got:?}");
        let scores = result.column_by_name(SCORE).unwrap().as_primitive::<Float32Type>();
        assert!(scores.values().windows(2).all(|w| w[0] >= w[1]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_typed_error_and_changes_nothing() {
    let guard = TestLocation::new(Backend::Memory);
    let mut ds = semantics_dataset(&guard, false).await;
    let version = ds.version();
    let phrase = FullTextQuery::Phrase {
        query: "quick brown".into(),
        column: Some("text".into()),
        slop: 0,
    };
    let err = ds.full_text_search(&FullTextSearch::new(phrase)).await.unwrap_err();
    assert!(
        matches!(&err, TableError::InvalidArgument(m) if m.contains("with_position")),
        "{err}"
    );
    let err = ds
        .create_text_index(&TextIndexParams::new("id"), &Progress::none())
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::InvalidIndexParams { .. }), "{err}");
    let err = ds
        .create_text_index(&TextIndexParams::new("nope"), &Progress::none())
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::ColumnNotFound { .. }), "{err}");
    let err = ds
        .create_text_index(&TextIndexParams::new("text"), &Progress::none())
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::IndexAlreadyExists { .. }), "{err}");
    let bad_ngram = TextIndexParams {
        analyzer: AnalyzerConfig {
            base: pilum_index::text::BaseTokenizer::NGram { min: 3, max: 2 },
            ..AnalyzerConfig::default()
        },
        name: Some("other".into()),
        ..TextIndexParams::new("text")
    };
    let err = ds.create_text_index(&bad_ngram, &Progress::none()).await.unwrap_err();
    assert!(matches!(err, TableError::InvalidIndexParams { .. }), "{err}");
    let fuzzy = MatchQuery {
        fuzziness: Some(3),
        ..on_text("quick")
    };
    let err = ds
        .full_text_search(&FullTextSearch::new(FullTextQuery::Match(fuzzy)))
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::InvalidArgument(_)), "{err}");
    let unindexed = MatchQuery::new("1", Some("id".into()));
    let err = ds
        .full_text_search(&FullTextSearch::new(FullTextQuery::Match(unindexed)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TableError::InvalidArgument(m) if m.contains("inverted index")),
        "{err}"
    );
    assert_eq!(ds.version(), version, "nothing committed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_index_files_are_reported_as_corruption_naming_the_file() {
    for role in ["postings", "terms", "docs"] {
        let guard = TestLocation::new(Backend::Local);
        let mut ds = create(&guard.location, 600).await;
        ds.create_text_index(&text_params(true), &Progress::none())
            .await
            .unwrap();
        let file = ds.index_segments()[0]
            .files()
            .into_iter()
            .find(|f| f.role == role)
            .unwrap();
        let path = format!("{}/{}", guard.location.uri, file.path);
        let mut bytes = std::fs::read(&path).unwrap();
        // In the postings, damage the list of a queried term.
        let middle = if role == "postings" {
            let terms_file = ds.index_segments()[0]
                .files()
                .into_iter()
                .find(|f| f.role == "terms")
                .unwrap();
            let terms = std::fs::read(format!("{}/{}", guard.location.uri, terms_file.path)).unwrap();
            let dictionary = pilum_index::text::format::decode_terms(&terms, file.size).unwrap();
            let (_, entry) = dictionary.iter().find(|(t, _)| t == "river").unwrap();
            (entry.offset + u64::from(entry.length) / 2) as usize
        } else {
            bytes.len() / 2
        };
        bytes[middle] ^= 0x5a;
        std::fs::write(&path, &bytes).unwrap();
        let reopened = Dataset::open(&guard.location.uri).await.unwrap();
        let err = reopened
            .full_text_search(&FullTextSearch::new(FullTextQuery::text(
                "river stone light quick brown",
            )))
            .await
            .unwrap_err();
        match &err {
            TableError::Corrupt { path, .. } => assert!(path.ends_with(&format!("{role}.bin")), "{err}"),
            other => panic!("{role}: {other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_racing_appends_and_deletes_lands_and_stays_exact() {
    let guard = TestLocation::new(Backend::Local);
    let ds = create(&guard.location, 3000).await;
    let mut builder = ds.clone();
    let mut writer = ds.clone();
    // The writer appends and deletes while the index builds from the
    // version it started on; the build's commit rebases over them.
    let writes = async move {
        for round in 0..3i64 {
            let start = 3000 + round * 100;
            writer
                .append(stream_of(vec![batch(start..start + 100)]), &WriteParams::default())
                .await
                .unwrap();
        }
        writer.delete("id % 11 = 0").await.unwrap();
    };
    let build = async move {
        builder
            .create_text_index(&text_params(false), &Progress::none())
            .await
            .unwrap();
        builder
    };
    let ((), builder) = tokio::join!(writes, build);
    let latest = builder.checkout_latest().await.unwrap();
    let stats = latest.index_statistics("text_idx").await.unwrap();
    assert_eq!(
        stats.num_indexed_rows + stats.num_unindexed_rows,
        latest.count_rows(None).await.unwrap()
    );
    assert!(stats.num_unindexed_rows >= 300 - 300 / 11 - 1, "{stats:?}");
    // Whichever way the race went, results equal the reference: indexed
    // rows (deleted ones included) and unindexed live rows form the
    // statistics, and only live rows are returned.
    let live: Vec<i64> = (0..3300).filter(|i| i % 11 != 0).collect();
    let corpus: Vec<i64> = (0..3300).filter(|&i| i < 3000 || i % 11 != 0).collect();
    for q in QUERIES {
        let got = search(&latest, FullTextQuery::text(q), Some(20)).await;
        assert_matches_reference(&got, &reference(q, &corpus, &live, 20), "race");
    }
}
