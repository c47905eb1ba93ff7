//! From accumulated statistics to the [`Report`]: per-group metrics for every attribute and
//! every intersection, disparities three ways, and individual-level indices.
//!
//! One concept, its facets in sibling files: the types (`types`), building them (`build`),
//! disparities (`disparities`), and bootstrap replication (`replicate`).

mod build;
mod disparities;
mod replicate;
mod types;

pub use types::*;
