//! `pilum info`, `pilum versions`, `pilum tags`.

use crate::args::{DatasetArg, TagsArgs};
use crate::error::Result;
use crate::output::{self, Style};
use pilum::{Dataset, TableError};
use serde_json::json;
use std::collections::HashMap;

/// Opens the latest version of `args.uri`, on `args.branch` when named.
pub async fn open_arg(args: &DatasetArg, options: &HashMap<String, String>) -> Result<Dataset> {
    let dataset = open(&args.uri, options).await?;
    match &args.branch {
        Some(branch) => Ok(dataset.checkout_branch(Some(branch), None).await?),
        None => Ok(dataset),
    }
}

/// Opens the latest version of `uri`.
pub async fn open(uri: &str, options: &HashMap<String, String>) -> Result<Dataset> {
    Ok(Dataset::open_with_options(uri, options).await?)
}

/// Prints schema, version, fragments, sizes and indices.
pub async fn info(args: &DatasetArg, style: Style, options: &HashMap<String, String>) -> Result<()> {
    let dataset = open_arg(args, options).await?;
    let versions = dataset.versions().await?;
    let tags = dataset.tags().list().await?;
    let fragments = dataset.fragments().await?;
    let pages = dataset.manifest().fragment_pages().len();
    let physical: u64 = fragments.iter().map(|f| f.physical_rows).sum();
    let live = dataset.manifest().live_rows();
    let data_files: usize = fragments.iter().map(|f| f.files.len()).sum();
    let data_bytes: u64 = fragments.iter().flat_map(|f| &f.files).map(|file| file.size).sum();
    let deletion_files = fragments.iter().filter(|f| f.deletion.is_some()).count();
    let deletion_bytes: u64 = fragments
        .iter()
        .filter_map(|f| f.deletion.as_ref())
        .map(|d| d.size)
        .sum();
    let schema = dataset.schema();
    let columns: Vec<serde_json::Value> = schema
        .fields()
        .iter()
        .map(|f| json!({"name": f.name(), "type": f.data_type().to_string(), "nullable": f.is_nullable()}))
        .collect();
    let mut indices: Vec<serde_json::Value> = Vec::new();
    for d in dataset.describe_indices().await? {
        let stats = dataset.index_statistics(&d.name).await.ok();
        indices.push(json!({
                "name": d.name,
                "type": d.index_type,
                "columns": d.field_names,
                "metric": stats.as_ref().map(|s| s.metric.clone()),
                "segments": d.segments.len(),
                "indexed_rows": stats.as_ref().map(|s| s.num_indexed_rows),
                "unindexed_rows": stats.as_ref().map(|s| s.num_unindexed_rows),
        }));
    }
    if style == Style::Json {
        return output::json(&json!({
            "uri": dataset.uri(),
            "branch": dataset.branch().unwrap_or(pilum::MAIN_BRANCH),
            "version": dataset.version(),
            "timestamp": dataset.timestamp().to_rfc3339(),
            "versions": versions.len(),
            "tags": tags.iter().map(|t| &t.name).collect::<Vec<_>>(),
            "rows": live,
            "deleted_rows": physical - live,
            "fragments": fragments.len(),
            "fragment_pages": pages,
            "data_files": data_files,
            "data_bytes": data_bytes,
            "deletion_files": deletion_files,
            "deletion_bytes": deletion_bytes,
            "indices": indices,
            "schema": columns,
        }));
    }
    output::line(&format!("dataset    {}", dataset.uri()))?;
    output::line(&format!(
        "branch     {}",
        dataset.branch().unwrap_or(pilum::MAIN_BRANCH)
    ))?;
    output::line(&format!(
        "version    {} (latest, committed {}); {} versions retained, {} tags",
        dataset.version(),
        dataset.timestamp().to_rfc3339(),
        versions.len(),
        tags.len()
    ))?;
    output::line(&format!("rows       {live} live, {} deleted", physical - live))?;
    output::line(&format!(
        "fragments  {} ({data_files} data files, {}; {deletion_files} deletion files, {}){}",
        fragments.len(),
        output::bytes(data_bytes),
        output::bytes(deletion_bytes),
        match pages {
            0 => String::new(),
            pages => format!("; listed in {pages} fragment pages"),
        }
    ))?;
    if indices.is_empty() {
        output::line("indices    none")?;
    }
    for index in &indices {
        output::line(&format!(
            "index      {} {} on {} ({}, {} segments; {} rows indexed, {} not yet)",
            index["name"].as_str().unwrap_or_default(),
            index["type"].as_str().unwrap_or_default(),
            index["columns"].as_array().map_or(String::new(), |c| c
                .iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")),
            index["metric"].as_str().unwrap_or("?"),
            index["segments"],
            index["indexed_rows"],
            index["unindexed_rows"],
        ))?;
    }
    let rows = schema
        .fields()
        .iter()
        .map(|f| vec![f.name().clone(), f.data_type().to_string(), f.is_nullable().to_string()])
        .collect();
    output::records(style, &["column", "type", "nullable"], rows, serde_json::Value::Null)
}

/// Prints the version history.
pub async fn versions(args: &DatasetArg, style: Style, options: &HashMap<String, String>) -> Result<()> {
    let versions = open_arg(args, options).await?.versions().await?;
    let op = |v: &pilum::VersionInfo| v.operation.name().to_string();
    let rows = versions
        .iter()
        .map(|v| {
            vec![
                v.version.to_string(),
                v.timestamp.to_rfc3339(),
                op(v),
                v.num_rows.to_string(),
                v.num_fragments.to_string(),
            ]
        })
        .collect();
    let value = json!(
        versions
            .iter()
            .map(|v| json!({
                "version": v.version,
                "timestamp": v.timestamp.to_rfc3339(),
                "operation": op(v),
                "rows": v.num_rows,
                "fragments": v.num_fragments,
            }))
            .collect::<Vec<_>>()
    );
    output::records(
        style,
        &["version", "timestamp", "operation", "rows", "fragments"],
        rows,
        value,
    )
}

/// Lists tags, or creates, moves or deletes one.
pub async fn tags(args: &TagsArgs, style: Style, options: &HashMap<String, String>) -> Result<()> {
    let dataset = open(&args.uri, options).await?;
    let tags = dataset.tags();
    if let Some(name) = &args.create {
        let version = args.version.unwrap_or(dataset.version());
        match tags.create(name, version).await {
            Err(TableError::TagAlreadyExists { .. }) if args.force => tags.update(name, version).await?,
            other => other?,
        }
        return done(
            style,
            json!({"tag": name, "version": version}),
            &format!("tagged version {version} as {name}"),
        );
    }
    if let Some(name) = &args.delete {
        tags.delete(name).await?;
        return done(style, json!({"deleted": name}), &format!("deleted tag {name}"));
    }
    let list = tags.list().await?;
    let rows = list
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.branch.clone().unwrap_or_else(|| pilum::MAIN_BRANCH.into()),
                t.version.to_string(),
                t.timestamp.to_rfc3339(),
            ]
        })
        .collect();
    let value = json!(
        list.iter()
            .map(|t| json!({"name": t.name, "branch": t.branch, "version": t.version, "timestamp": t.timestamp.to_rfc3339()}))
            .collect::<Vec<_>>()
    );
    output::records(style, &["tag", "branch", "version", "timestamp"], rows, value)
}

/// Reports a finished change.
pub fn done(style: Style, value: serde_json::Value, sentence: &str) -> Result<()> {
    match style {
        Style::Json => output::json(&value),
        Style::Human => output::line(sentence),
    }
}
