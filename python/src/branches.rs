//! Branches, references into them, tags on any branch, and clones.

use crate::dataset::{PyDataset, location};
use crate::runtime::run;
use chrono::{DateTime, Utc};
use pilum::{Dataset, VersionRef};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::collections::HashMap;

/// A reference as pylance takes it: a version of the handle's branch, a
/// tag name, or `(branch, version)` (`None`/"main" for main, `None` for
/// the latest version).
#[derive(FromPyObject)]
pub(crate) enum RefArg {
    /// A version number.
    Version(u64),
    /// A tag name.
    Tag(String),
    /// `(branch, version)`.
    Branch(Option<String>, Option<u64>),
}

impl From<RefArg> for VersionRef {
    fn from(arg: RefArg) -> Self {
        match arg {
            RefArg::Version(v) => VersionRef::Version(v),
            RefArg::Tag(name) => VersionRef::Tag(name),
            RefArg::Branch(branch, version) => VersionRef::Branch(branch.filter(|b| b != pilum::MAIN_BRANCH), version),
        }
    }
}

/// `reference`, or the latest version of the handle's branch.
fn reference_or_latest(dataset: &Dataset, reference: Option<RefArg>) -> VersionRef {
    match reference {
        Some(arg) => arg.into(),
        None => VersionRef::Branch(dataset.branch().map(str::to_string), None),
    }
}

#[pymethods]
impl PyDataset {
    /// The branch this handle reads and commits (`None`: main).
    #[getter]
    fn branch(&self) -> Option<String> {
        self.snapshot().branch().map(str::to_string)
    }

    /// A handle at `reference` (this one is unchanged).
    fn checkout_ref(&self, py: Python<'_>, reference: RefArg) -> PyResult<Self> {
        let dataset = self.snapshot();
        let reference = VersionRef::from(reference);
        let moved = run(py, async move { dataset.checkout_ref(&reference).await })?;
        Ok(Self::new(moved))
    }

    /// Creates branch `name` at `reference` (default: the latest version of
    /// this handle's branch) and returns a handle on it.
    #[pyo3(signature = (name, reference=None))]
    fn create_branch(&self, py: Python<'_>, name: String, reference: Option<RefArg>) -> PyResult<Self> {
        let dataset = self.snapshot();
        let reference = reference_or_latest(&dataset, reference);
        let branch = run(py, async move { dataset.create_branch(&name, &reference).await })?;
        Ok(Self::new(branch))
    }

    /// Every branch: `{name: {parent_branch, parent_version, create_at, created_at, directory}}`.
    fn branches_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dataset = self.snapshot();
        let branches = run(py, async move { dataset.branches().list().await })?;
        let out = PyDict::new(py);
        for branch in branches {
            let entry = PyDict::new(py);
            entry.set_item("parent_branch", branch.parent_branch)?;
            entry.set_item("parent_version", branch.parent_version)?;
            entry.set_item("create_at", branch.created_at.timestamp())?;
            entry.set_item("created_at", branch.created_at)?;
            entry.set_item("directory", branch.directory)?;
            out.set_item(branch.name, entry)?;
        }
        Ok(out)
    }

    /// Deletes branch `name` and the files written on it.
    fn branch_delete(&self, py: Python<'_>, name: String) -> PyResult<()> {
        let dataset = self.snapshot();
        run(py, async move { dataset.branches().delete(&name).await })
    }

    /// Tags as `(name, version, branch, timestamp)`, sorted by name.
    #[allow(clippy::type_complexity)]
    fn tags_list(&self, py: Python<'_>) -> PyResult<Vec<(String, u64, Option<String>, DateTime<Utc>)>> {
        let dataset = self.snapshot();
        let tags = run(py, async move { dataset.tags().list().await })?;
        Ok(tags
            .into_iter()
            .map(|t| (t.name, t.version, t.branch, t.timestamp))
            .collect())
    }

    /// Creates (`update=false`) or moves (`update=true`) tag `name` to
    /// `reference` (default: the latest version of this handle's branch).
    #[pyo3(signature = (name, reference=None, update=false))]
    fn tag_set(&self, py: Python<'_>, name: String, reference: Option<RefArg>, update: bool) -> PyResult<()> {
        let dataset = self.snapshot();
        let reference = reference_or_latest(&dataset, reference);
        run(py, async move {
            let tags = dataset.tags();
            if update {
                tags.update_ref(&name, &reference).await
            } else {
                tags.create_ref(&name, &reference).await
            }
        })
    }

    /// Writes through this handle's own branch (not a branch looked up by
    /// name, which may have been deleted and created again) and returns the
    /// handle at the committed version.
    #[pyo3(signature = (data, mode, max_rows_per_file, max_bytes_per_file, progress=None))]
    fn write_into(
        &self,
        py: Python<'_>,
        data: pyo3_arrow::PyRecordBatchReader,
        mode: &str,
        max_rows_per_file: u64,
        max_bytes_per_file: u64,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let mode = crate::dataset::write_mode(mode)?;
        let params = crate::dataset::write_params(max_rows_per_file, max_bytes_per_file)?;
        let (schema, batches) = crate::stream::input_stream(data, progress)?;
        let location = self.snapshot().location().clone();
        let written = run(py, async move {
            Dataset::write(location, schema, batches, mode, &params).await
        })?;
        Ok(Self::new(written))
    }

    /// Creates a dataset at `target_uri` from `reference`: its files in
    /// place (`deep=false`) or copied (`deep=true`).
    #[pyo3(signature = (target_uri, reference, deep, storage_options=None))]
    fn clone_to(
        &self,
        py: Python<'_>,
        target_uri: String,
        reference: RefArg,
        deep: bool,
        storage_options: Option<HashMap<String, String>>,
    ) -> PyResult<Self> {
        let dataset = self.snapshot();
        let reference = VersionRef::from(reference);
        let clone = run(py, async move {
            let target = location(&target_uri, storage_options)?;
            if deep {
                dataset.deep_clone(target, &reference).await
            } else {
                dataset.shallow_clone(target, &reference).await
            }
        })?;
        Ok(Self::new(clone))
    }
}
