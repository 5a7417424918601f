//! Scan options from Python turned into a Pilum scanner.

use pilum::{Dataset, Materialization, Scanner};

/// The options of one scan, as Python passes them.
#[derive(Debug)]
pub struct ScanRequest {
    pub columns: Option<Vec<String>>,
    pub filter: Option<String>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    pub with_row_id: bool,
    pub with_row_address: bool,
    pub batch_size: Option<usize>,
    pub fragments: Option<Vec<u64>>,
    pub late_materialization: Option<bool>,
    /// Whether scalar indices narrow the filter (same result either way).
    pub use_scalar_index: bool,
}

impl Default for ScanRequest {
    fn default() -> Self {
        Self {
            columns: None,
            filter: None,
            limit: None,
            offset: None,
            with_row_id: false,
            with_row_address: false,
            batch_size: None,
            fragments: None,
            late_materialization: None,
            use_scalar_index: true,
        }
    }
}

impl ScanRequest {
    /// A scanner over `dataset` with these options.
    pub fn scanner(self, dataset: &Dataset) -> Scanner {
        let mut scanner = dataset.scan();
        if let Some(columns) = self.columns {
            scanner = scanner.project(columns);
        }
        if let Some(filter) = self.filter {
            scanner = scanner.filter(filter);
        }
        if self.limit.is_some() || self.offset.is_some() {
            scanner = scanner.limit(self.limit, self.offset);
        }
        if let Some(rows) = self.batch_size {
            scanner = scanner.batch_size(rows.max(1));
        }
        if let Some(ids) = self.fragments {
            scanner = scanner.with_fragments(ids);
        }
        match self.late_materialization {
            Some(true) => scanner = scanner.materialization(Materialization::Late),
            Some(false) => scanner = scanner.materialization(Materialization::Early),
            None => {}
        }
        scanner
            .use_scalar_index(self.use_scalar_index)
            .with_row_id(self.with_row_id)
            .with_row_address(self.with_row_address)
    }
}
