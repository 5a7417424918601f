//! Vector search over a dataset version. Today: exact search (every live
//! row of the selected fragments is compared with the query); index-backed
//! search over covered fragments will plan beside it here.

mod exact;

pub use exact::{DISTANCE, VectorQuery};
