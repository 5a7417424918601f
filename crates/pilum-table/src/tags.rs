//! Tags: names for versions, created atomically, with names that cannot
//! escape the dataset's directory.

use crate::branches::VersionRef;
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
    /// The branch the version belongs to (`None`: main).
    pub branch: Option<String>,
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

    fn encode(target: &Dataset) -> Bytes {
        let tag = proto::Tag {
            version: target.version(),
            timestamp_micros: Utc::now().timestamp_micros(),
            branch: target.branch().unwrap_or_default().to_string(),
        };
        Bytes::from(tag.encode_to_vec())
    }

    /// Tags `version` of the handle's branch as `name`; fails if the tag
    /// exists (atomic put-if-absent).
    pub async fn create(&self, name: &str, version: u64) -> Result<()> {
        self.create_ref(name, &VersionRef::Version(version)).await
    }

    /// Tags the version `reference` names (on any branch) as `name`.
    pub async fn create_ref(&self, name: &str, reference: &VersionRef) -> Result<()> {
        validate_tag_name(name)?;
        let target = self.dataset.checkout_ref(reference).await?;
        let path = paths::tag(&self.location().root, name);
        if !self.location().put_if_absent(&path, Self::encode(&target)).await? {
            return Err(TableError::TagAlreadyExists { name: name.to_string() });
        }
        self.confirm(&path, &target).await
    }

    /// Moves an existing tag to `version` of the handle's branch.
    pub async fn update(&self, name: &str, version: u64) -> Result<()> {
        self.update_ref(name, &VersionRef::Version(version)).await
    }

    /// Moves an existing tag to the version `reference` names.
    pub async fn update_ref(&self, name: &str, reference: &VersionRef) -> Result<()> {
        let previous = self.get_info(name).await?;
        let target = self.dataset.checkout_ref(reference).await?;
        let path = paths::tag(&self.location().root, name);
        self.location().put(&path, Self::encode(&target)).await?;
        if let Err(e) = self.confirm_target(&target).await {
            // The new target is gone: point the tag back where it was.
            let restored = proto::Tag {
                version: previous.version,
                timestamp_micros: previous.timestamp.timestamp_micros(),
                branch: previous.branch.unwrap_or_default(),
            };
            self.location()
                .put(&path, Bytes::from(restored.encode_to_vec()))
                .await?;
            return Err(e);
        }
        Ok(())
    }

    /// After writing tag `path`: make sure no cleanup deleted its version,
    /// else withdraw the tag.
    async fn confirm(&self, path: &object_store::path::Path, target: &Dataset) -> Result<()> {
        if let Err(e) = self.confirm_target(target).await {
            let _ = self.location().delete(path).await;
            return Err(e);
        }
        Ok(())
    }

    async fn confirm_target(&self, target: &Dataset) -> Result<()> {
        let manifest = target.location.manifest_path(target.version());
        crate::pins::confirm(self.location(), &manifest, target.version()).await
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

    /// Tag `name` with its branch and time.
    pub async fn get_info(&self, name: &str) -> Result<TagInfo> {
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
            branch: (!tag.branch.is_empty()).then_some(tag.branch),
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
                // A tag deleted between the listing and the read is gone.
                match self.get_info(name).await {
                    Ok(tag) => tags.push(tag),
                    Err(TableError::TagNotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
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
