//! Commits and reads against an S3-compatible server: moto, started on
//! 127.0.0.1 by the test and stopped after. Without moto installed the test
//! is skipped, unless `PILUM_REQUIRE_S3=1` (as in CI) makes that a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use pilum_table::*;
use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto() -> Option<Moto> {
    let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let child = Command::new(python)
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Create the bucket (moto does not check signatures).
    let status = Command::new("curl")
        .args(["-sf", "-X", "PUT", &format!("{}/pilum-test", moto.endpoint)])
        .stdout(Stdio::null())
        .status()
        .ok()?;
    status.success().then_some(moto)
}

/// A running moto, or `None` when it is not installed (a failure instead
/// when `PILUM_REQUIRE_S3` is set, as in CI).
fn moto_or_skip() -> Option<Moto> {
    let moto = start_moto();
    if moto.is_none() {
        assert!(
            std::env::var("PILUM_REQUIRE_S3").is_err(),
            "PILUM_REQUIRE_S3 is set but `python3 -m moto.server` could not start"
        );
        eprintln!("skipping: moto_server is not installed (pip install 'moto[server]')");
    }
    moto
}

fn options(endpoint: &str) -> HashMap<String, String> {
    [
        ("aws_endpoint", endpoint),
        ("aws_region", "us-east-1"),
        ("aws_access_key_id", "testing"),
        ("aws_secret_access_key", "testing"),
        ("aws_allow_http", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commits_and_reads_on_s3() {
    let Some(moto) = moto_or_skip() else {
        return;
    };
    let uri = "s3://pilum-test/tables/t1";
    let options = options(&moto.endpoint);
    let parsed = pilum_io::parse_uri_with_options(uri, &options).unwrap();
    let location = DatasetLocation::from_store_location(parsed, uri);
    assert!(matches!(
        Dataset::open_with_options(uri, &options).await,
        Err(TableError::DatasetNotFound { .. })
    ));
    let mut ds = create(
        &location,
        vec![batch(0..300)],
        &WriteParams {
            max_rows_per_file: 100,
            ..Default::default()
        },
    )
    .await;
    let again = Dataset::write(
        location.clone(),
        schema(),
        stream_of(vec![batch(0..1)]),
        WriteMode::Create,
        &WriteParams::default(),
    )
    .await;
    assert!(matches!(again, Err(TableError::DatasetAlreadyExists { .. })));
    ds.delete("id < 50").await.unwrap();
    ds.tags().create("v2", 2).await.unwrap();
    // Concurrent appends through separate handles all land.
    let mut tasks = Vec::new();
    for writer in 0..4i64 {
        let options = options.clone();
        tasks.push(tokio::spawn(async move {
            let mut ds = Dataset::open_with_options(uri, &options).await.unwrap();
            ds.append(
                stream_of(vec![batch(1000 + writer * 10..1010 + writer * 10)]),
                &WriteParams::default(),
            )
            .await
            .unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut latest = Dataset::open_with_options(uri, &options).await.unwrap();
    latest
        .add_columns(NewColumns::Sql(vec![("half".into(), "value / 2".into())]))
        .await
        .unwrap();
    let latest = Dataset::open_with_options(uri, &options).await.unwrap();
    assert_eq!(latest.version(), 7);
    assert_eq!(latest.count_rows(None).await.unwrap(), 250 + 40);
    assert_eq!(
        column_i64(
            &latest
                .scan()
                .project(["half"])
                .filter("id = 60")
                .try_into_batch()
                .await
                .unwrap(),
            "half"
        ),
        vec![300]
    );
    assert_eq!(
        latest.checkout_tag("v2").await.unwrap().count_rows(None).await.unwrap(),
        250
    );
    assert_eq!(
        column_i64(&latest.take(&[0], Some(&["id"])).await.unwrap(), "id"),
        vec![50]
    );
    // A manifest is never overwritten: claiming an existing version fails.
    let manifest = latest
        .location()
        .get(&latest.location().child("_versions/00000000000000000001.manifest"))
        .await
        .unwrap();
    assert!(
        !latest
            .location()
            .put_if_absent(
                &latest.location().child("_versions/00000000000000000001.manifest"),
                manifest
            )
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vector_index_on_s3() {
    let Some(moto) = moto_or_skip() else {
        return;
    };
    let uri = "s3://pilum-test/tables/indexed";
    let options = options(&moto.endpoint);
    let parsed = pilum_io::parse_uri_with_options(uri, &options).unwrap();
    let location = DatasetLocation::from_store_location(parsed, uri);
    let params = WriteParams {
        max_rows_per_file: 500,
        ..Default::default()
    };
    let mut ds = create(&location, vec![batch(0..2000)], &params).await;
    for kind in [IndexType::IvfFlat, IndexType::IvfPq] {
        let index = VectorIndexParams {
            replace: true,
            num_partitions: Some(8),
            num_sub_vectors: (kind == IndexType::IvfPq).then_some(2),
            ..VectorIndexParams::new("vec", kind)
        };
        ds.create_index(&index, &Progress::none()).await.unwrap();
        // A fresh handle reads the index files from the store.
        let reopened = Dataset::open_with_options(uri, &options).await.unwrap();
        let query = VectorQuery::new("vec", vec![500.2; 4], 3);
        let found = reopened.nearest(&query, None, false, Some(&["id"])).await.unwrap();
        assert_eq!(column_i64(&found, "id"), vec![500, 501, 499], "{kind:?}");
    }
    ds.append(stream_of(vec![batch(5000..5010)]), &params).await.unwrap();
    let query = VectorQuery::new("vec", vec![5003.0; 4], 1);
    let found = ds.nearest(&query, None, false, Some(&["id"])).await.unwrap();
    assert_eq!(
        column_i64(&found, "id"),
        vec![5003],
        "unindexed rows are searched exactly"
    );
    ds.optimize_indices(&OptimizeIndexOptions::default()).await.unwrap();
    assert_eq!(ds.index_statistics("vec_idx").await.unwrap().num_unindexed_rows, 0);
    ds.drop_index("vec_idx").await.unwrap();
    let stats = ds.cleanup_old_versions(Duration::ZERO).await.unwrap();
    assert!(stats.files_removed > 0);
    let leftover = location.list("_indices").await.unwrap();
    assert!(leftover.is_empty(), "{leftover:?}");
}
