//! `pilum branches`: list, create or delete branches.

use crate::args::BranchesArgs;
use crate::error::Result;
use crate::inspect::{done, open};
use crate::output::{self, Style};
use pilum::VersionRef;
use serde_json::json;
use std::collections::HashMap;

/// Lists branches, or creates / deletes one.
pub async fn run(args: &BranchesArgs, style: Style, options: &HashMap<String, String>) -> Result<()> {
    let dataset = open(&args.uri, options).await?;
    if let Some(name) = &args.create {
        let from = VersionRef::Branch(args.from_branch.clone(), args.from_version);
        let branch = dataset.create_branch(name, &from).await?;
        let info = dataset.branches().get(name).await?;
        let parent = info.parent_branch.as_deref().unwrap_or(pilum::MAIN_BRANCH);
        return done(
            style,
            json!({"branch": name, "parent_branch": parent, "parent_version": info.parent_version, "version": branch.version()}),
            &format!("created branch {name} from {parent} version {}", info.parent_version),
        );
    }
    if let Some(name) = &args.delete {
        dataset.branches().delete(name).await?;
        return done(style, json!({"deleted": name}), &format!("deleted branch {name}"));
    }
    let branches = dataset.branches().list().await?;
    let mut rows = Vec::new();
    let mut values = Vec::new();
    for branch in &branches {
        let latest = dataset.checkout_branch(Some(&branch.name), None).await?.version();
        let parent = branch.parent_branch.as_deref().unwrap_or(pilum::MAIN_BRANCH);
        rows.push(vec![
            branch.name.clone(),
            parent.to_string(),
            branch.parent_version.to_string(),
            latest.to_string(),
            branch.created_at.to_rfc3339(),
        ]);
        values.push(json!({
            "name": branch.name,
            "parent_branch": parent,
            "parent_version": branch.parent_version,
            "latest_version": latest,
            "created_at": branch.created_at.to_rfc3339(),
            "directory": branch.directory,
        }));
    }
    output::records(
        style,
        &["branch", "parent", "parent version", "latest version", "created"],
        rows,
        json!(values),
    )
}
