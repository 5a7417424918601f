//! Fragment lists kept in pages (dataset format 1.4): commits share the
//! pages they do not change, opening and counting read no page, filtered
//! scans read only the pages their filter can touch, and every operation
//! gives the answer an inline list gives.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use object_store::memory::InMemory;
use pilum_io::CountingStore;
use pilum_table::*;
use std::collections::HashSet;
use std::sync::Arc;

/// Sets the page size of `ds` (the commit lays the list out again).
async fn set_page_size(ds: &mut Dataset, fragments_per_page: usize) {
    ds.update_config(
        [(
            "pilum.fragments_per_page".to_string(),
            Some(fragments_per_page.to_string()),
        )],
        [],
    )
    .await
    .unwrap();
}

/// The (id, value) pairs of `batch`, sorted.
fn id_values(batch: &arrow_array::RecordBatch) -> Vec<(i64, i64)> {
    let mut rows: Vec<(i64, i64)> = column_i64(batch, "id")
        .into_iter()
        .zip(column_i64(batch, "value"))
        .collect();
    rows.sort_unstable();
    rows
}

fn page_paths(ds: &Dataset) -> HashSet<String> {
    ds.manifest().fragment_pages().into_iter().map(|p| p.path).collect()
}

/// A table of `fragments` fragments of 100 rows (ids 0..100 * fragments)
/// in pages of `per_page`.
async fn paged_table(location: &DatasetLocation, fragments: i64, per_page: usize) -> Dataset {
    let mut ds = create(location, vec![batch(0..100 * fragments)], &small_files()).await;
    set_page_size(&mut ds, per_page).await;
    assert_eq!(
        ds.manifest().fragment_pages().len(),
        (fragments as usize).div_ceil(per_page)
    );
    ds
}

#[tokio::test]
async fn appends_share_every_page_they_do_not_absorb() {
    for_each_backend(|t| async move {
        let mut ds = paged_table(&t.location, 40, 4).await;
        assert_ne!(ds.manifest().reader_features() & 16, 0, "reader feature bit 16");
        for step in 0..20i64 {
            let before = page_paths(&ds);
            let start = 4000 + step * 100;
            ds.append(stream_of(vec![batch(start..start + 100)]), &small_files())
                .await
                .unwrap();
            let after = page_paths(&ds);
            let written: Vec<&String> = after.difference(&before).collect();
            assert_eq!(written.len(), 1, "an append writes one page (step {step})");
            // Full pages are never rewritten; the tail stays short.
            let pages = ds.manifest().fragment_pages();
            let full = pages.iter().filter(|p| p.fragment_count == 4).count();
            assert!(pages.len() <= full + 3, "{pages:?}");
            for page in pages.iter().filter(|p| p.fragment_count == 4) {
                assert!(before.contains(&page.path) || written.contains(&&page.path));
            }
        }
        let reopened = Dataset::open_location(t.location.clone()).await.unwrap();
        assert_eq!(ids(&reopened).await, (0..6000).collect::<Vec<_>>());
        assert_eq!(reopened.count_rows(None).await.unwrap(), 6000);
        assert_eq!(reopened.manifest().fragment_count(), 60);
    })
    .await;
}

#[tokio::test]
async fn opening_counting_and_a_narrow_filter_read_only_what_they_need() {
    let store = Arc::new(CountingStore::new(Arc::new(InMemory::new())));
    let location = DatasetLocation::in_store(store.clone(), "ds");
    paged_table(&location, 64, 4).await;
    store.reset();
    let ds = Dataset::open_location(location.clone()).await.unwrap();
    assert_eq!(store.counts().reads, 3, "hint, manifest, one miss");
    assert_eq!(ds.count_rows(None).await.unwrap(), 6400);
    assert_eq!(ds.manifest().fragment_count(), 64);
    let summary = ds.column_summary("id", None).unwrap();
    assert_eq!(
        summary.bounds,
        Some((
            datafusion::common::ScalarValue::Int64(Some(0)),
            datafusion::common::ScalarValue::Int64(Some(6399))
        ))
    );
    assert_eq!(store.counts().reads, 3, "counting and statistics read no page");

    // Rows 1000..1100 are fragment 11, in the third page of four.
    let found = ds
        .scan()
        .filter("id >= 1000 AND id < 1100")
        .try_into_batch()
        .await
        .unwrap();
    assert_eq!(column_i64(&found, "id"), (1000..1100).collect::<Vec<_>>());
    let reads = store.counts().reads - 3;
    // One page, then that fragment's file (at most one read per column).
    assert!(reads <= 1 + 1 + 4, "{reads} reads for one fragment of 64");

    // The first rows need the first page only.
    store.reset();
    let head = ds.scan().limit(Some(5), Some(2)).try_into_batch().await.unwrap();
    assert_eq!(column_i64(&head, "id"), vec![2, 3, 4, 5, 6]);
    assert!(store.counts().reads <= 1 + 1 + 4, "{:?}", store.counts());

    // A take by row id reads only the pages whose row-id range holds it.
    let fresh = Dataset::open_location(location.clone()).await.unwrap();
    store.reset();
    let taken = fresh.take_rows(&[4321, 17], None).await.unwrap();
    assert_eq!(column_i64(&taken, "id"), vec![4321, 17]);
    assert!(store.counts().reads <= 2 + 2 * (1 + 4), "{:?}", store.counts());

    // So does a take by live position.
    let fresh = Dataset::open_location(location.clone()).await.unwrap();
    store.reset();
    let taken = fresh.take(&[6399, 5, 2048], None).await.unwrap();
    assert_eq!(column_i64(&taken, "id"), vec![6399, 5, 2048]);
    assert!(store.counts().reads <= 3 + 3 * (1 + 4), "{:?}", store.counts());

    // A filter no statistics can narrow reads every page, once.
    store.reset();
    let all = ds.scan().filter("text LIKE 'row 1%'").count_rows().await.unwrap();
    assert_eq!(all, 1 + 10 + 100 + 1000);
    assert!(store.counts().reads >= 15, "the other pages and every file are read");
}

#[tokio::test]
async fn deletes_rewrite_only_the_pages_they_touch() {
    for_each_backend(|t| async move {
        let mut ds = paged_table(&t.location, 32, 4).await;
        let before = page_paths(&ds);
        assert_eq!(ds.delete("id = 1234 OR id = 1299").await.unwrap(), 2);
        let after = page_paths(&ds);
        assert_eq!(before.difference(&after).count(), 1, "one page replaced");
        assert_eq!(after.difference(&before).count(), 1);
        // Deleting a whole fragment removes it from its page.
        ds.delete("id >= 2000 AND id < 2100").await.unwrap();
        assert_eq!(ds.manifest().fragment_count(), 31);
        let expected: Vec<i64> = (0..3200)
            .filter(|i| *i != 1234 && *i != 1299 && !(2000..2100).contains(i))
            .collect();
        assert_eq!(ids(&ds).await, expected);
        let reopened = Dataset::open_location(t.location.clone()).await.unwrap();
        assert_eq!(reopened.count_rows(None).await.unwrap(), expected.len() as u64);
        assert_eq!(ids(&reopened).await, expected);
    })
    .await;
}

#[tokio::test]
async fn every_operation_agrees_with_an_inline_list() {
    let paged_at = TestLocation::new(Backend::Memory);
    let inline_at = TestLocation::new(Backend::Memory);
    let mut paged = paged_table(&paged_at.location, 12, 2).await;
    let mut inline = create(&inline_at.location, vec![batch(0..1200)], &small_files()).await;
    // Inline whatever PILUM_FRAGMENTS_PER_PAGE says.
    set_page_size(&mut inline, 1 << 20).await;
    let mut next = 1200i64;
    for round in 0..6i64 {
        for ds in [&mut paged, &mut inline] {
            ds.append(stream_of(vec![batch(next..next + 250)]), &small_files())
                .await
                .unwrap();
            ds.delete(format!("id % 7 = {round}").as_str()).await.unwrap();
            ds.update(&[("value", "value + 1")], Some(format!("id % 11 = {round}").as_str()))
                .await
                .unwrap();
            if round % 2 == 1 {
                ds.compact_files(&CompactionOptions {
                    target_rows_per_fragment: 300,
                    ..CompactionOptions::default()
                })
                .await
                .unwrap();
            }
        }
        next += 250;
        assert!(!paged.manifest().fragment_pages().is_empty());
        assert!(inline.manifest().fragment_pages().is_empty());
        for filter in [
            None,
            Some("id < 500"),
            Some("id >= 1300 AND value > 0"),
            Some("text = 'row 7'"),
        ] {
            let read = |ds: &Dataset| {
                let mut scan = ds.scan();
                if let Some(filter) = filter {
                    scan = scan.filter(filter);
                }
                scan.try_into_batch()
            };
            let (a, b) = (read(&paged).await.unwrap(), read(&inline).await.unwrap());
            assert_eq!(id_values(&a), id_values(&b), "round {round}, filter {filter:?}");
        }
        assert_eq!(
            paged.count_rows(None).await.unwrap(),
            inline.count_rows(None).await.unwrap()
        );
        let reopened = Dataset::open_location(paged_at.location.clone()).await.unwrap();
        assert_eq!(
            reopened.count_rows(Some("id < 800")).await.unwrap(),
            inline.count_rows(Some("id < 800")).await.unwrap()
        );
    }
    // Time travel and restore through pages.
    let first = paged.checkout_version(2).await.unwrap();
    assert_eq!(ids(&first).await, (0..1200).collect::<Vec<_>>());
    let mut restored = first.clone();
    restored.restore().await.unwrap();
    assert_eq!(restored.manifest().fragment_pages(), first.manifest().fragment_pages());
    assert_eq!(ids(&restored).await, (0..1200).collect::<Vec<_>>());
}

#[tokio::test]
async fn cleanup_keeps_shared_pages_and_removes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let location = local_location(&dir.path().join("ds"));
    let mut ds = paged_table(&location, 12, 4).await;
    for step in 0..5i64 {
        let start = 1200 + step * 100;
        ds.append(stream_of(vec![batch(start..start + 100)]), &small_files())
            .await
            .unwrap();
    }
    ds.delete("id = 5").await.unwrap();
    let pages_dir = dir.path().join("ds/_fragments");
    let on_disk = || -> HashSet<String> {
        std::fs::read_dir(&pages_dir)
            .unwrap()
            .map(|e| format!("_fragments/{}", e.unwrap().file_name().to_string_lossy()))
            .collect()
    };
    assert!(on_disk().len() > page_paths(&ds).len());
    let stats = ds
        .cleanup_with_options(
            &CleanupOptions {
                older_than: std::time::Duration::ZERO,
                delete_unverified: true,
            },
            &Progress::none(),
        )
        .await
        .unwrap();
    assert!(stats.files_removed > 0);
    assert_eq!(on_disk(), page_paths(&ds), "exactly the latest version's pages remain");
    let reopened = Dataset::open_location(location).await.unwrap();
    let expected: Vec<i64> = (0..1700).filter(|i| *i != 5).collect();
    assert_eq!(ids(&reopened).await, expected);
}

#[tokio::test]
async fn damaged_or_missing_pages_are_corruption_naming_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let location = local_location(&dir.path().join("ds"));
    let ds = paged_table(&location, 8, 2).await;
    let page = ds.manifest().fragment_pages()[1].path.clone();
    let file = dir.path().join("ds").join(&page);
    let good = std::fs::read(&file).unwrap();
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    let damages: Vec<(&str, Option<Vec<u8>>)> = vec![
        ("flipped byte", Some(flipped)),
        ("truncated", Some(good[..good.len() - 3].to_vec())),
        ("empty", Some(Vec::new())),
        ("missing", None),
    ];
    for (what, bytes) in damages {
        match bytes {
            Some(bytes) => std::fs::write(&file, bytes).unwrap(),
            None => std::fs::remove_file(&file).unwrap(),
        }
        pilum_table::clear_metadata_cache();
        let opened = Dataset::open_location(location.clone()).await.unwrap();
        assert_eq!(
            opened.count_rows(None).await.unwrap(),
            800,
            "{what}: summaries still count"
        );
        let error = opened.scan().try_into_batch().await.unwrap_err();
        match &error {
            TableError::Corrupt { path, .. } => assert!(path.ends_with(&page), "{what}: {error}"),
            other => panic!("{what}: expected corruption, got {other:?}"),
        }
        std::fs::write(&file, &good).unwrap();
    }
    pilum_table::clear_metadata_cache();
    let healed = Dataset::open_location(location).await.unwrap();
    assert_eq!(ids(&healed).await, (0..800).collect::<Vec<_>>());
}

#[tokio::test]
async fn branches_write_their_pages_in_their_own_directory() {
    let dir = tempfile::tempdir().unwrap();
    let location = local_location(&dir.path().join("ds"));
    let mut main = paged_table(&location, 12, 4).await;
    let mut branch = main
        .create_branch("exp", &VersionRef::Branch(None, None))
        .await
        .unwrap();
    branch
        .append(stream_of(vec![batch(5000..5100)]), &small_files())
        .await
        .unwrap();
    let shared: Vec<String> = page_paths(&branch).intersection(&page_paths(&main)).cloned().collect();
    assert_eq!(shared.len(), 3, "the branch shares main's full pages");
    for page in page_paths(&branch).difference(&page_paths(&main)) {
        assert!(page.starts_with("tree/exp-"), "{page}");
    }
    main.append(stream_of(vec![batch(9000..9100)]), &small_files())
        .await
        .unwrap();
    assert_eq!(ids(&branch).await.len(), 1300);
    assert_eq!(ids(&main).await.len(), 1300);
    main.branches().delete("exp").await.unwrap();
    let reopened = Dataset::open_location(location).await.unwrap();
    assert_eq!(ids(&reopened).await, (0..1200).chain(9000..9100).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_new_page_size_lays_the_list_out_again() {
    let t = TestLocation::new(Backend::Memory);
    let mut ds = paged_table(&t.location, 23, 2).await;
    let before = page_paths(&ds);
    set_page_size(&mut ds, 5).await;
    let sizes: Vec<u64> = ds
        .manifest()
        .fragment_pages()
        .iter()
        .map(|p| p.fragment_count)
        .collect();
    assert_eq!(sizes, vec![5, 5, 5, 5, 3]);
    assert!(page_paths(&ds).is_disjoint(&before));
    set_page_size(&mut ds, 100).await;
    assert!(
        ds.manifest().fragment_pages().is_empty(),
        "23 fragments fit one page: inline"
    );
    assert_eq!(ids(&ds).await, (0..2300).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_bad_page_size_is_refused_by_name() {
    let t = TestLocation::new(Backend::Memory);
    let mut ds = create(&t.location, vec![batch(0..10)], &WriteParams::default()).await;
    for bad in ["1", "0", "many", "-4"] {
        let error = ds
            .update_config([("pilum.fragments_per_page".to_string(), Some(bad.to_string()))], [])
            .await
            .unwrap_err();
        assert!(
            matches!(&error, TableError::InvalidArgument(m) if m.contains("pilum.fragments_per_page")),
            "{error:?}"
        );
    }
    assert_eq!(ds.version(), 1);
}

/// Seeded random histories on tables paged at 2, 3 and 5 fragments per
/// page, each checked after every step against the same history on a table
/// whose list stays inline: full and filtered scans, counts, positional
/// takes and takes by row id, and the reopened latest version.
#[tokio::test]
async fn random_histories_agree_with_inline_lists() {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    for (seed, per_page) in [(1u64, 2usize), (2, 3), (3, 5)] {
        let mut rng = StdRng::seed_from_u64(seed);
        let paged_at = TestLocation::new(Backend::Local);
        let inline_at = TestLocation::new(Backend::Memory);
        let mut paged = paged_table(&paged_at.location, 9, per_page).await;
        let mut inline = create(&inline_at.location, vec![batch(0..900)], &small_files()).await;
        set_page_size(&mut inline, 1 << 20).await;
        let mut next = 900i64;
        for step in 0..25 {
            let action = rng.random_range(0..6);
            let modulus = rng.random_range(3..13);
            let residue = rng.random_range(0..modulus);
            let rows = rng.random_range(1..350);
            for ds in [&mut paged, &mut inline] {
                match action {
                    0 | 1 => ds
                        .append(stream_of(vec![batch(next..next + rows)]), &small_files())
                        .await
                        .map(|_| ())
                        .unwrap(),
                    2 => ds
                        .delete(format!("id % {modulus} = {residue}").as_str())
                        .await
                        .map(|_| ())
                        .unwrap(),
                    3 => ds
                        .update(
                            &[("value", "value + 7")],
                            Some(format!("id % {modulus} = {residue}").as_str()),
                        )
                        .await
                        .map(|_| ())
                        .unwrap(),
                    4 => ds
                        .compact_files(&CompactionOptions {
                            target_rows_per_fragment: 150,
                            ..CompactionOptions::default()
                        })
                        .await
                        .map(|_| ())
                        .unwrap(),
                    _ => ds
                        .delete(format!("id >= {} AND id < {}", residue * 100, residue * 100 + rows).as_str())
                        .await
                        .map(|_| ())
                        .unwrap(),
                }
            }
            if action < 2 {
                next += rows;
            }
            let context = format!("seed {seed}, step {step}, action {action}");
            let reopened = Dataset::open_location(paged_at.location.clone()).await.unwrap();
            for ds in [&paged, &reopened] {
                assert_eq!(
                    ds.count_rows(None).await.unwrap(),
                    inline.count_rows(None).await.unwrap(),
                    "{context}"
                );
                let low = rng.random_range(0..next.max(1));
                let filter = format!("id >= {low} AND id < {}", low + 200);
                let (a, b) = (
                    ds.scan().filter(filter.as_str()).try_into_batch().await.unwrap(),
                    inline.scan().filter(filter.as_str()).try_into_batch().await.unwrap(),
                );
                assert_eq!(id_values(&a), id_values(&b), "{context}: {filter}");
            }
            let all = id_values(&reopened.scan().try_into_batch().await.unwrap());
            assert_eq!(
                all,
                id_values(&inline.scan().try_into_batch().await.unwrap()),
                "{context}"
            );
            let live = inline.count_rows(None).await.unwrap();
            if live > 0 {
                let offsets: Vec<u64> = (0..5).map(|_| rng.random_range(0..live)).collect();
                let (a, b) = (
                    reopened.take(&offsets, None).await.unwrap(),
                    inline.take(&offsets, None).await.unwrap(),
                );
                assert_eq!(column_i64(&a, "id"), column_i64(&b, "id"), "{context}: take");
                let with_ids = reopened
                    .scan()
                    .with_row_id(true)
                    .limit(Some(3), None)
                    .try_into_batch()
                    .await
                    .unwrap();
                let row_ids = column_u64(&with_ids, "_rowid");
                let taken = reopened.take_rows(&row_ids, None).await.unwrap();
                assert_eq!(
                    column_i64(&taken, "id"),
                    column_i64(&with_ids, "id"),
                    "{context}: take_rows"
                );
            }
        }
        assert!(paged.manifest().fragment_count() > per_page, "seed {seed} stayed paged");
    }
}
