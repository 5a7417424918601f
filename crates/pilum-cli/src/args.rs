//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Pilum datasets from the terminal: SQL, inspection, import/export, maintenance.
///
/// Exit status: 0 on success, 1 when a command fails, 2 for bad arguments.
#[derive(Debug, Parser)]
#[command(name = "pilum", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Object-store option for s3:// URIs, e.g. `-o aws_region=eu-west-1` (repeatable).
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE", global = true, value_parser = key_value)]
    pub options: Vec<(String, String)>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run SQL; without a query, start an interactive shell (reads stdin when it is not a terminal).
    ///
    /// Tables are registered with `--table name=uri`, or named by path in the
    /// query: SELECT * FROM 'data/captions'. Time travel: pilum_scan('uri', 3),
    /// pilum_scan('uri', 'tag'); history: pilum_versions('uri').
    Sql(SqlArgs),
    /// Show a dataset's schema, version, fragments, sizes and indices.
    Info(DatasetArg),
    /// List a dataset's versions.
    Versions(DatasetArg),
    /// List, create or delete tags.
    Tags(TagsArgs),
    /// List, create or delete branches.
    Branches(BranchesArgs),
    /// Import a Parquet, CSV or JSON Lines file into a dataset.
    Import(ImportArgs),
    /// Export a dataset version to a Parquet file.
    Export(ExportArgs),
    /// Merge small fragments and drop deleted rows (commits one version).
    Compact(CompactArgs),
    /// Delete versions (and files only they use) older than a period; tagged versions stay.
    Cleanup(CleanupArgs),
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The SQL to run (several statements separated by `;`).
    pub query: Option<String>,
    /// Register a dataset as a table: `--table name=uri` (repeatable).
    #[arg(short, long = "table", value_name = "NAME=URI", value_parser = key_value)]
    pub tables: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct DatasetArg {
    /// Dataset path or URI.
    pub uri: String,
    /// Read this branch instead of the main line.
    #[arg(long)]
    pub branch: Option<String>,
}

#[derive(Debug, Args)]
pub struct BranchesArgs {
    /// Dataset path or URI.
    pub uri: String,
    /// Create a branch.
    #[arg(long, value_name = "NAME", conflicts_with = "delete")]
    pub create: Option<String>,
    /// The branch --create starts from (default: main).
    #[arg(long, requires = "create")]
    pub from_branch: Option<String>,
    /// The version --create starts from (default: the latest of --from-branch).
    #[arg(long, requires = "create")]
    pub from_version: Option<u64>,
    /// Delete a branch and the files written on it.
    #[arg(long, value_name = "NAME")]
    pub delete: Option<String>,
}

#[derive(Debug, Args)]
pub struct TagsArgs {
    /// Dataset path or URI.
    pub uri: String,
    /// Create (or move, with --force) a tag.
    #[arg(long, value_name = "NAME", conflicts_with = "delete")]
    pub create: Option<String>,
    /// The version --create tags (default: the latest).
    #[arg(long, requires = "create")]
    pub version: Option<u64>,
    /// Move an existing tag instead of failing.
    #[arg(long, requires = "create")]
    pub force: bool,
    /// Delete a tag.
    #[arg(long, value_name = "NAME")]
    pub delete: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Parquet,
    Csv,
    Jsonl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Fail if the dataset exists.
    Create,
    /// Add rows (creating the dataset if needed).
    Append,
    /// Replace the dataset's rows and schema with a new version.
    Overwrite,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Source file.
    pub source: PathBuf,
    /// Destination dataset path or URI.
    pub uri: String,
    /// Source format (default: from the file extension).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// What to do when the dataset exists.
    #[arg(long, value_enum, default_value = "create")]
    pub mode: Mode,
    /// CSV without a header row (columns are named column_1, column_2, ...).
    #[arg(long)]
    pub no_header: bool,
    /// CSV field delimiter.
    #[arg(long, default_value = ",")]
    pub delimiter: char,
    /// Rows per data file at most.
    #[arg(long)]
    pub max_rows_per_file: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Dataset path or URI.
    pub uri: String,
    /// Destination Parquet file.
    pub output: PathBuf,
    /// Export this version (default: the latest).
    #[arg(long, conflicts_with = "tag")]
    pub version: Option<u64>,
    /// Export the version this tag points to.
    #[arg(long)]
    pub tag: Option<String>,
    /// Only these columns (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// Only rows matching this SQL predicate.
    #[arg(long = "where", value_name = "PREDICATE")]
    pub filter: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompactArgs {
    /// Dataset path or URI.
    pub uri: String,
    /// Fragments with fewer live rows are merged up to this many rows.
    #[arg(long)]
    pub target_rows: Option<u64>,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Dataset path or URI.
    pub uri: String,
    /// Age of the versions to delete: `30s`, `15m`, `2h`, `7d` or `0` (everything but the latest and tagged).
    #[arg(long, default_value = "7d", value_parser = duration)]
    pub older_than: std::time::Duration,
    /// Clean up this branch's versions instead of main's.
    #[arg(long)]
    pub branch: Option<String>,
    /// Also delete files no version ever referenced once older than
    /// --older-than (default: after 7 days). Unsafe while writes run.
    #[arg(long)]
    pub delete_unverified: bool,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

/// Parses `0`, `<n>s`, `<n>m`, `<n>h`, `<n>d`.
pub fn duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("bad duration {text:?}"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("bad duration {text:?}: use s, m, h or d")),
    };
    Ok(std::time::Duration::from_secs(number.saturating_mul(seconds)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_durations_and_pairs() {
        assert_eq!(duration("0").unwrap().as_secs(), 0);
        assert_eq!(duration("90s").unwrap().as_secs(), 90);
        assert_eq!(duration("2h").unwrap().as_secs(), 7200);
        assert_eq!(duration("7d").unwrap().as_secs(), 604_800);
        assert!(duration("7w").is_err() && duration("d").is_err());
        assert_eq!(key_value("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(key_value("=x").is_err() && key_value("x").is_err());
    }
}
