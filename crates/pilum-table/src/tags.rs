//! Tags: names for versions, created atomically, with names that cannot
//! escape the dataset's directory.

use crate::dataset::{Dataset, micros_to_time};
use crate::error::{Result, TableError};
use crate::location::DatasetLocation;
use crate::paths;
use crate::proto;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use prost::Message;

/// A tag and the version it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagInfo {
    /// Tag name.
    pub name: String,
    /// Tagged version.
    pub version: u64,
    /// When the tag was created or last moved.
    pub timestamp: DateTime<Utc>,
}

/// The tags of a dataset.
#[derive(Debug, Clone)]
pub struct Tags<'a> {
    dataset: &'a Dataset,
}

impl Dataset {
    /// The dataset's tags.
    pub fn tags(&self) -> Tags<'_> {
        Tags { dataset: self }
    }
}

/// Checks a tag name: 1–128 characters of `A-Z a-z 0-9 . _ -`, not starting
/// with `.` or `-`, no `..`.
pub fn validate_tag_name(name: &str) -> Result<()> {
    let invalid = |reason| {
        Err(TableError::InvalidTagName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() || name.len() > 128 {
        return invalid("must be 1 to 128 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return invalid("only letters, digits, '.', '_' and '-' are allowed");
    }
    if name.starts_with('.') || name.starts_with('-') {
        return invalid("must not start with '.' or '-'");
    }
    if name.contains("..") {
        return invalid("must not contain '..'");
    }
    Ok(())
}

impl Tags<'_> {
    fn location(&self) -> &DatasetLocation {
        &self.dataset.location
    }

    fn encode(version: u64) -> Bytes {
        let tag = proto::Tag {
            version,
            timestamp_micros: Utc::now().timestamp_micros(),
        };
        Bytes::from(tag.encode_to_vec())
    }

    async fn check_version(&self, version: u64) -> Result<()> {
        self.location().load_manifest(version).await.map(|_| ())
    }

    /// Tags `version` as `name`; fails if the tag exists (atomic put-if-absent).
    pub async fn create(&self, name: &str, version: u64) -> Result<()> {
        validate_tag_name(name)?;
        self.check_version(version).await?;
        let path = paths::tag(&self.location().root, name);
        if self.location().put_if_absent(&path, Self::encode(version)).await? {
            Ok(())
        } else {
            Err(TableError::TagAlreadyExists { name: name.to_string() })
        }
    }

    /// Moves an existing tag to `version`.
    pub async fn update(&self, name: &str, version: u64) -> Result<()> {
        self.get(name).await?;
        self.check_version(version).await?;
        self.location()
            .put(&paths::tag(&self.location().root, name), Self::encode(version))
            .await
    }

    /// Deletes a tag.
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.get(name).await?;
        self.location().delete(&paths::tag(&self.location().root, name)).await
    }

    /// The version tagged `name`.
    pub async fn get(&self, name: &str) -> Result<u64> {
        Ok(self.get_info(name).await?.version)
    }

    async fn get_info(&self, name: &str) -> Result<TagInfo> {
        validate_tag_name(name)?;
        let path = paths::tag(&self.location().root, name);
        let bytes = self
            .location()
            .get_opt(&path)
            .await?
            .ok_or_else(|| TableError::TagNotFound { name: name.to_string() })?;
        let tag = proto::Tag::decode(bytes.as_ref()).map_err(|e| TableError::corrupt(&path, e))?;
        Ok(TagInfo {
            name: name.to_string(),
            version: tag.version,
            timestamp: micros_to_time(tag.timestamp_micros),
        })
    }

    /// Every tag, sorted by name.
    pub async fn list(&self) -> Result<Vec<TagInfo>> {
        let mut tags = Vec::new();
        for meta in self.location().list(paths::TAGS_DIR).await? {
            let Some(name) = meta.location.filename().and_then(|f| f.strip_suffix(".tag")) else {
                continue;
            };
            if validate_tag_name(name).is_ok() {
                tags.push(self.get_info(name).await?);
            }
        }
        tags.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_names_cannot_escape() {
        for good in ["v1", "release-2024.01", "A_b"] {
            assert!(validate_tag_name(good).is_ok(), "{good}");
        }
        for bad in ["", "../x", "a/b", ".hidden", "a..b", "-x", "a b", "é", &"x".repeat(200)] {
            assert!(validate_tag_name(bad).is_err(), "{bad}");
        }
    }
}
