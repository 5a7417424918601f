//! Runs the built `pilum` binary against datasets in temporary directories.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn pilum(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pilum"))
        .args(args)
        .env("PILUM_HISTORY", "/dev/null")
        .output()
        .unwrap()
}

/// Runs and expects success; returns stdout.
fn ok(args: &[&str]) -> String {
    let out = pilum(args);
    assert!(
        out.status.success(),
        "pilum {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs with `--json` and parses stdout.
fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let text = ok(&all);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Runs and expects failure with `code`; returns stderr.
fn fails(args: &[&str], code: i32) -> String {
    let out = pilum(args);
    assert_eq!(out.status.code(), Some(code), "pilum {args:?}: {out:?}");
    String::from_utf8(out.stderr).unwrap()
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().to_string()
}

fn write_csv(file: &str, rows: std::ops::Range<i64>) {
    let mut text = String::from("id,name,score\n");
    for i in rows {
        let name = if i % 4 == 3 { String::new() } else { format!("n{i}") };
        text.push_str(&format!("{i},{name},{}\n", i as f64 / 4.0));
    }
    std::fs::write(file, text).unwrap();
}

#[test]
fn import_query_inspect_export_maintain() {
    let dir = tempfile::tempdir().unwrap();
    let csv = path(dir.path(), "in.csv");
    let ds = path(dir.path(), "ds");
    write_csv(&csv, 0..1000);

    let imported = json(&["import", &csv, &ds, "--max-rows-per-file", "300"]);
    assert_eq!(
        (imported["rows"].as_u64(), imported["version"].as_u64()),
        (Some(1000), Some(1))
    );
    let again = fails(&["import", &csv, &ds], 1);
    assert!(again.contains("already exists"), "{again}");
    let appended = json(&["import", &csv, &ds, "--mode", "append", "--max-rows-per-file", "300"]);
    assert_eq!(appended["version"].as_u64(), Some(2));

    let info = json(&["info", &ds]);
    assert_eq!(info["rows"].as_u64(), Some(2000));
    assert_eq!(info["fragments"].as_u64(), Some(8));
    assert!(info["data_bytes"].as_u64().unwrap() > 0);
    let columns: Vec<&str> = info["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, vec!["id", "name", "score"]);
    let text = ok(&["info", &ds]);
    assert!(text.contains("2000 live") && text.contains("| score"), "{text}");

    let rows = json(&["sql", &format!("SELECT count(*) AS n, max(id) AS m FROM '{ds}'")]);
    assert_eq!(rows, serde_json::json!([{"n": 2000, "m": 999}]));
    let deleted = json(&["sql", "DELETE FROM t WHERE id >= 500", "--table", &format!("t={ds}")]);
    assert_eq!(deleted, serde_json::json!([{"count": 1000}]));
    let updated = json(&[
        "sql",
        "UPDATE t SET score = -1 WHERE name IS NULL",
        "-t",
        &format!("t={ds}"),
    ]);
    assert_eq!(updated[0]["count"].as_u64(), Some(250));
    let table = ok(&[
        "sql",
        &format!("SELECT id, name FROM '{ds}' WHERE id < 2 ORDER BY id LIMIT 2"),
    ]);
    assert!(
        table.contains("| id | name |") && table.contains("| 0  | n0   |"),
        "{table}"
    );
    assert!(table.contains("(2 rows)"), "{table}");
    let nulls = json(&["sql", &format!("SELECT name FROM '{ds}' WHERE id = 3 LIMIT 1")]);
    assert_eq!(nulls, serde_json::json!([{"name": null}]));

    let versions = json(&["versions", &ds]);
    let ops: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, vec!["create", "append", "delete", "update"]);
    let rows_per_version: Vec<u64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rows"].as_u64().unwrap())
        .collect();
    assert_eq!(rows_per_version, vec![1000, 2000, 1000, 1000]);
    assert!(ok(&["versions", &ds]).contains("| 4       |"));

    json(&["tags", &ds, "--create", "before-delete", "--version", "2"]);
    let tags = json(&["tags", &ds]);
    assert_eq!(tags[0]["name"], "before-delete");
    assert_eq!(tags[0]["version"].as_u64(), Some(2));
    let dup = fails(&["tags", &ds, "--create", "before-delete"], 1);
    assert!(dup.contains("already exists"), "{dup}");
    json(&["tags", &ds, "--create", "before-delete", "--version", "1", "--force"]);
    let old = json(&[
        "sql",
        &format!("SELECT count(*) AS n FROM pilum_scan('{ds}', 'before-delete')"),
    ]);
    assert_eq!(old, serde_json::json!([{"n": 1000}]));

    let out = path(dir.path(), "out.parquet");
    let exported = json(&[
        "export",
        &ds,
        &out,
        "--version",
        "2",
        "--columns",
        "id,score",
        "--where",
        "id < 10",
    ]);
    assert_eq!(exported["rows"].as_u64(), Some(20));
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&out).unwrap())
            .unwrap()
            .build()
            .unwrap();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 20);
    assert_eq!(batches[0].schema().fields().len(), 2);

    let compacted = json(&["compact", &ds]);
    assert_eq!(compacted["committed"], true);
    assert!(compacted["fragments_removed"].as_u64().unwrap() > compacted["fragments_added"].as_u64().unwrap());
    let info = json(&["info", &ds]);
    assert_eq!(
        (info["rows"].as_u64(), info["deleted_rows"].as_u64()),
        (Some(1000), Some(0))
    );
    let cleaned = json(&["cleanup", &ds, "--older-than", "0"]);
    assert_eq!(
        cleaned["versions_removed"].as_u64(),
        Some(3),
        "all but the latest and the tagged"
    );
    let versions = json(&["versions", &ds]);
    let kept: Vec<u64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(kept, vec![1, 5]);
    let still = json(&["sql", &format!("SELECT count(*) AS n FROM '{ds}'")]);
    assert_eq!(still, serde_json::json!([{"n": 1000}]));
}

#[test]
fn imports_json_lines_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = path(dir.path(), "in.jsonl");
    let mut text = String::new();
    for i in 0..50 {
        let tags = if i % 2 == 0 {
            "null".to_string()
        } else {
            format!("\"t{i}\"")
        };
        text.push_str(&format!("{{\"id\": {i}, \"tag\": {tags}, \"ok\": {}}}\n", i % 3 == 0));
    }
    std::fs::write(&jsonl, text).unwrap();
    let from_json = path(dir.path(), "j");
    assert_eq!(json(&["import", &jsonl, &from_json])["rows"].as_u64(), Some(50));
    let counts = json(&[
        "sql",
        &format!("SELECT count(tag) AS tags, sum(CAST(ok AS INT)) AS oks FROM '{from_json}'"),
    ]);
    assert_eq!(counts, serde_json::json!([{"tags": 25, "oks": 17}]));

    let parquet_file = path(dir.path(), "j.parquet");
    json(&["export", &from_json, &parquet_file]);
    let from_parquet = path(dir.path(), "p");
    assert_eq!(
        json(&["import", &parquet_file, &from_parquet])["rows"].as_u64(),
        Some(50)
    );
    let same = json(&[
        "sql",
        &format!(
            "SELECT count(*) AS n FROM '{from_json}' a JOIN '{from_parquet}' b ON a.id = b.id AND a.tag IS NOT DISTINCT FROM b.tag"
        ),
    ]);
    assert_eq!(same, serde_json::json!([{"n": 50}]));
    let overwritten = json(&["import", &parquet_file, &from_parquet, "--mode", "overwrite"]);
    assert_eq!(overwritten["version"].as_u64(), Some(2));

    let unknown = fails(&["import", &path(dir.path(), "data.txt"), &path(dir.path(), "x")], 1);
    assert!(unknown.contains("--format"), "{unknown}");
}

#[test]
fn failures_exit_non_zero_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let missing = path(dir.path(), "missing");
    assert!(fails(&["info", &missing], 1).contains("dataset not found"));
    assert!(fails(&["versions", &missing], 1).contains("dataset not found"));
    assert!(fails(&["sql", "SELEC 1"], 1).starts_with("error: invalid query"));
    assert!(fails(&["sql", "SELECT * FROM no_such_table"], 1).contains("not found"));
    assert!(fails(&["sql", "SELECT 1", "--table", &format!("t={missing}")], 1).contains("dataset not found"));
    assert!(fails(&["sql", ";"], 1).contains("no SQL statement"));
    assert!(fails(&["import", &path(dir.path(), "none.csv"), &missing], 1).contains("none.csv"));
    fails(&["nonsense"], 2);
    fails(&["cleanup", &missing, "--older-than", "3 weeks"], 2);
    fails(&["sql", "--table", "no-equals-sign"], 2);
}

#[test]
fn shell_reads_statements_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let ds = path(dir.path(), "s");
    let script = format!(
        "CREATE EXTERNAL TABLE s (id BIGINT NOT NULL, v VARCHAR) STORED AS PILUM LOCATION '{ds}';\n\
         INSERT INTO s\n  VALUES (1, 'a;b'), (2, NULL);\n\
         -- a comment; with a semicolon\n\
         SELECT id, v\n  FROM s\n  ORDER BY id;\n"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_pilum"))
        .args(["sql", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![
            serde_json::json!([]),
            serde_json::json!([{"count": 2}]),
            serde_json::json!([{"id": 1, "v": "a;b"}, {"id": 2, "v": null}]),
        ]
    );
    // A failing statement stops a script with a non-zero status.
    let mut child = Command::new(env!("CARGO_BIN_EXE_pilum"))
        .arg("sql")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SELECT 1;\nSELECT nope;\nSELECT 2;\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("(1 row)") && !stdout.contains("| 2 "), "{stdout}");
}

#[test]
fn branches_are_listed_created_inspected_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let csv = path(dir.path(), "in.csv");
    let ds = path(dir.path(), "ds");
    write_csv(&csv, 0..100);
    json(&["import", &csv, &ds]);
    json(&["import", &csv, &ds, "--mode", "append"]);
    let created = json(&["branches", &ds, "--create", "exp", "--from-version", "1"]);
    assert_eq!(
        (created["parent_branch"].as_str(), created["parent_version"].as_u64()),
        (Some("main"), Some(1))
    );
    let branches = json(&["branches", &ds]);
    assert_eq!(branches[0]["name"], "exp");
    assert_eq!(branches[0]["latest_version"].as_u64(), Some(1));
    let info = json(&["info", &ds, "--branch", "exp"]);
    assert_eq!(
        (info["branch"].as_str(), info["rows"].as_u64()),
        (Some("exp"), Some(100))
    );
    assert_eq!(json(&["info", &ds])["rows"].as_u64(), Some(200));
    assert_eq!(json(&["versions", &ds, "--branch", "exp"]).as_array().unwrap().len(), 1);
    assert!(ok(&["branches", &ds]).contains("| exp"));
    let dup = fails(&["branches", &ds, "--create", "exp"], 1);
    assert!(dup.contains("already exists"), "{dup}");
    let bad = fails(&["branches", &ds, "--create", "../x"], 1);
    assert!(bad.contains("invalid branch name"), "{bad}");
    json(&["branches", &ds, "--delete", "exp"]);
    assert_eq!(json(&["branches", &ds]), serde_json::json!([]));
    let gone = fails(&["info", &ds, "--branch", "exp"], 1);
    assert!(gone.contains("not found"), "{gone}");
}
