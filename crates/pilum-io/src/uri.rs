//! Turning a user's URI or local path into a store and an object path.

use crate::error::{IoError, Result};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::{ObjectStore, local::LocalFileSystem, memory::InMemory, path::Path};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

/// A store and the path of an object (or prefix) inside it.
#[derive(Debug, Clone)]
pub struct StoreLocation {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The path within the store.
    pub path: Path,
    /// The filesystem path, when the store is the local filesystem.
    pub local_path: Option<std::path::PathBuf>,
    /// How readers of this store group ranges into requests.
    pub read_options: crate::ReadOptions,
}

impl StoreLocation {
    /// An [`ObjectReader`](crate::ObjectReader) of the object at this location
    /// (positional reads of one open handle for local files).
    pub fn reader(&self) -> Result<crate::ObjectReader> {
        match &self.local_path {
            Some(file) => crate::ObjectReader::new_local(self.store.clone(), self.path.clone(), file),
            None => Ok(crate::ObjectReader::new(self.store.clone(), self.path.clone())),
        }
        .map(|reader| reader.with_options(self.read_options))
    }
}

/// Parses a local path (absolute or relative), a `file://` URI, an
/// `s3://bucket/prefix` URI (configured from the environment), or a
/// `memory://` URI (a fresh in-memory store, useful in tests).
pub fn parse_uri(uri: &str) -> Result<StoreLocation> {
    parse_uri_with_options(uri, &HashMap::new())
}

/// Like [`parse_uri`], with store options for `s3://` URIs: any
/// `object_store` Amazon S3 config key, e.g. `aws_endpoint`, `aws_region`,
/// `aws_access_key_id`, `aws_secret_access_key`, `aws_allow_http`. Options
/// override the `AWS_*` environment variables.
pub fn parse_uri_with_options(uri: &str, options: &HashMap<String, String>) -> Result<StoreLocation> {
    let invalid = |reason: &str| IoError::InvalidUri {
        uri: uri.to_string(),
        reason: reason.to_string(),
    };
    if let Some(rest) = uri.strip_prefix("memory://") {
        let path = Path::parse(rest).map_err(|e| invalid(&e.to_string()))?;
        return Ok(StoreLocation {
            store: Arc::new(InMemory::new()),
            path,
            local_path: None,
            read_options: crate::ReadOptions::local(),
        });
    }
    if uri.starts_with("s3://") {
        return parse_s3(uri, options);
    }
    let local = uri.strip_prefix("file://").unwrap_or(uri);
    if local.contains("://") {
        return Err(invalid("unsupported scheme; use a local path, file:// or memory://"));
    }
    let absolute = normalize(&std::path::absolute(local).map_err(|e| invalid(&e.to_string()))?);
    let path = Path::from_absolute_path(&absolute).map_err(|e| invalid(&e.to_string()))?;
    Ok(StoreLocation {
        store: Arc::new(LocalFileSystem::new()),
        path,
        local_path: Some(absolute),
        read_options: crate::ReadOptions::local(),
    })
}

fn parse_s3(uri: &str, options: &HashMap<String, String>) -> Result<StoreLocation> {
    let invalid = |reason: String| IoError::InvalidUri {
        uri: uri.to_string(),
        reason,
    };
    let rest = uri.trim_start_matches("s3://");
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(invalid("missing bucket name".to_string()));
    }
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    for (key, value) in options {
        let key = AmazonS3ConfigKey::from_str(&key.to_ascii_lowercase())
            .map_err(|_| invalid(format!("unknown storage option {key:?}")))?;
        builder = builder.with_config(key, value);
    }
    let store = builder.build().map_err(|e| invalid(e.to_string()))?;
    let path = Path::parse(prefix.trim_end_matches('/')).map_err(|e| invalid(e.to_string()))?;
    Ok(StoreLocation {
        store: Arc::new(store),
        path,
        local_path: None,
        read_options: crate::ReadOptions::object_store(),
    })
}

/// Resolves `.` and `..` components lexically (object paths cannot hold them).
fn normalize(path: &std::path::Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_local_memory_and_rejects_other_schemes() {
        let loc = parse_uri("/tmp/a/../b/./c.pilum").unwrap();
        assert_eq!(loc.path.as_ref(), "tmp/b/c.pilum");
        assert_eq!(loc.local_path.unwrap(), std::path::PathBuf::from("/tmp/b/c.pilum"));
        assert!(parse_uri("file:///tmp/x").unwrap().local_path.is_some());
        let mem = parse_uri("memory://bucket/t.pilum").unwrap();
        assert!(mem.local_path.is_none());
        assert_eq!(mem.path.as_ref(), "bucket/t.pilum");
        assert!(matches!(parse_uri("gopher://x/y"), Err(IoError::InvalidUri { .. })));
        let options = HashMap::from([("aws_region".to_string(), "us-east-1".to_string())]);
        let s3 = parse_uri_with_options("s3://bucket/tables/t1/", &options).unwrap();
        assert_eq!(s3.path.as_ref(), "tables/t1");
        assert_eq!(s3.read_options, crate::ReadOptions::object_store());
        assert_eq!(s3.reader().unwrap().options(), &crate::ReadOptions::object_store());
        assert_eq!(mem.read_options, crate::ReadOptions::local());
        let bad = HashMap::from([("no_such_option".to_string(), "x".to_string())]);
        assert!(matches!(
            parse_uri_with_options("s3://b/t", &bad),
            Err(IoError::InvalidUri { .. })
        ));
    }
}
