//! Vector search over a dataset version: a small planner that searches the
//! fragments an index covers through the index, the rest exactly, and
//! merges the two by distance.

mod ann;
mod batch;
mod column;
mod exact;
mod output;
mod plan;
mod widen;

pub use batch::QUERY_INDEX;
pub(crate) use column::{VectorRows, VectorShape};
pub use plan::{DISTANCE, VectorQuery};
