//! Concurrent writers (threads and processes) and a writer killed mid-append.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use pilum_table::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn local(dir: &tempfile::TempDir) -> DatasetLocation {
    let uri = dir.path().join("ds").to_string_lossy().to_string();
    DatasetLocation::from_store_location(pilum_io::parse_uri(&uri).unwrap(), &uri)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_from_threads_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let location = local(&dir);
    create(&location, vec![batch(0..10)], &WriteParams::default()).await;
    let writers = 8;
    let appends = 5;
    let mut handles = Vec::new();
    for writer in 0..writers {
        let location = location.clone();
        handles.push(tokio::spawn(async move {
            // Every writer has its own handle, as separate clients would.
            let mut ds = Dataset::open_location(location).await.unwrap();
            for append in 0..appends {
                let start = 1000 * (writer + 1) + 10 * append;
                ds.append(stream_of(vec![batch(start..start + 10)]), &WriteParams::default())
                    .await
                    .unwrap();
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let ds = Dataset::open_location(location).await.unwrap();
    assert_eq!(
        ds.version(),
        1 + (writers * appends) as u64,
        "every commit is a version"
    );
    let mut expected: Vec<i64> = (0..10).collect();
    for writer in 0..writers {
        for append in 0..appends {
            let start = 1000 * (writer + 1) + 10 * append;
            expected.extend(start..start + 10);
        }
    }
    expected.sort_unstable();
    assert_eq!(ids(&ds).await, expected, "no lost rows");
    let versions = ds.versions().await.unwrap();
    assert_eq!(versions.len(), 41);
    assert_eq!(versions.iter().filter(|v| v.operation == Operation::Append).count(), 40);
    // Row ids stay unique across rebased appends.
    let row_ids = column_u64(
        &ds.scan()
            .project(["id"])
            .with_row_id(true)
            .try_into_batch()
            .await
            .unwrap(),
        ROW_ID,
    );
    let unique: std::collections::HashSet<u64> = row_ids.iter().copied().collect();
    assert_eq!(unique.len(), row_ids.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_disjoint_deletes_and_updates_rebase() {
    let dir = tempfile::tempdir().unwrap();
    let location = local(&dir);
    create(&location, vec![batch(0..400)], &WriteParams::default()).await;
    let mut handles = Vec::new();
    for writer in 0..4i64 {
        let location = location.clone();
        handles.push(tokio::spawn(async move {
            let mut ds = Dataset::open_location(location).await.unwrap();
            ds.delete(&format!("id % 4 = {writer} AND id < 100")).await.unwrap();
            ds.update(&[("value", "-1")], Some(&format!("id % 4 = {writer} AND id >= 300")))
                .await
                .unwrap();
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let ds = Dataset::open_location(location).await.unwrap();
    assert_eq!(ds.version(), 9);
    assert_eq!(ids(&ds).await, (100..400).collect::<Vec<_>>());
    assert_eq!(ds.count_rows(Some("value = -1")).await.unwrap(), 100);
}

#[tokio::test]
async fn append_against_overwrite_is_a_typed_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let location = local(&dir);
    let mut stale = create(&location, vec![batch(0..10)], &WriteParams::default()).await;
    Dataset::write(
        location.clone(),
        schema(),
        stream_of(vec![batch(50..60)]),
        WriteMode::Overwrite,
        &WriteParams::default(),
    )
    .await
    .unwrap();
    let err = stale
        .append(stream_of(vec![batch(10..20)]), &WriteParams::default())
        .await;
    assert!(matches!(err, Err(TableError::CommitConflict { .. })), "{err:?}");
    let latest = Dataset::open_location(location).await.unwrap();
    assert_eq!(latest.version(), 2);
    assert_eq!(ids(&latest).await, (50..60).collect::<Vec<_>>());
}

/// Child-process entry point: appends batches to the dataset named in the environment.
#[tokio::test]
#[ignore = "run by the process tests as a child"]
async fn child_writer() {
    let Ok(uri) = std::env::var("PILUM_CHILD_URI") else {
        return;
    };
    let writer: i64 = std::env::var("PILUM_CHILD_ID").unwrap().parse().unwrap();
    let batches: i64 = std::env::var("PILUM_CHILD_BATCHES").unwrap().parse().unwrap();
    let rows: i64 = std::env::var("PILUM_CHILD_ROWS").unwrap().parse().unwrap();
    let one_commit = std::env::var("PILUM_CHILD_ONE_COMMIT").is_ok();
    let mut ds = Dataset::open(&uri).await.unwrap();
    if one_commit {
        let all = (0..batches)
            .map(|b| batch(writer * 1_000_000_000 + b * rows..writer * 1_000_000_000 + (b + 1) * rows))
            .collect();
        ds.append(stream_of(all), &WriteParams::default()).await.unwrap();
    } else {
        for b in 0..batches {
            let start = writer * 1_000_000 + b * rows;
            ds.append(stream_of(vec![batch(start..start + rows)]), &WriteParams::default())
                .await
                .unwrap();
        }
    }
}

fn spawn_child(uri: &str, writer: i64, batches: i64, rows: i64, one_commit: bool) -> std::process::Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "child_writer",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PILUM_CHILD_URI", uri)
        .env("PILUM_CHILD_ID", writer.to_string())
        .env("PILUM_CHILD_BATCHES", batches.to_string())
        .env("PILUM_CHILD_ROWS", rows.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if one_commit {
        command.env("PILUM_CHILD_ONE_COMMIT", "1");
    }
    command.spawn().unwrap()
}

#[tokio::test]
async fn concurrent_appends_from_processes_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let location = local(&dir);
    create(&location, vec![batch(0..5)], &WriteParams::default()).await;
    let processes = 4;
    let per_process = 6;
    let children: Vec<_> = (1..=processes)
        .map(|w| spawn_child(&location.uri, w, per_process, 7, false))
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let ds = Dataset::open_location(location).await.unwrap();
    assert_eq!(ds.version(), 1 + (processes * per_process) as u64);
    let mut expected: Vec<i64> = (0..5).collect();
    for w in 1..=processes {
        for b in 0..per_process {
            let start = w * 1_000_000 + b * 7;
            expected.extend(start..start + 7);
        }
    }
    expected.sort_unstable();
    assert_eq!(ids(&ds).await, expected);
}

#[tokio::test]
async fn killed_writer_leaves_the_previous_version_intact() {
    let dir = tempfile::tempdir().unwrap();
    let location = local(&dir);
    create(&location, vec![batch(0..100)], &WriteParams::default()).await;
    let data_dir = dir.path().join("ds").join("data");
    let files_before = std::fs::read_dir(&data_dir).unwrap().count();
    // A large single-commit append: kill it once its data file has started.
    let mut child = spawn_child(&location.uri, 1, 4000, 1000, true);
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::read_dir(&data_dir).unwrap().count() == files_before {
        assert!(Instant::now() < deadline, "the child never started writing");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let mut ds = Dataset::open_location(location.clone()).await.unwrap();
    assert_eq!(ds.version(), 1, "the killed write never committed");
    assert_eq!(ids(&ds).await, (0..100).collect::<Vec<_>>());
    ds.append(stream_of(vec![batch(100..110)]), &WriteParams::default())
        .await
        .unwrap();
    assert_eq!(ds.version(), 2);
    assert_eq!(
        ids(&Dataset::open_location(location).await.unwrap()).await,
        (0..110).collect::<Vec<_>>()
    );
}
