//! Accuracy and fairness of binary decisions, per group, from mergeable sufficient statistics.
//!
//! The crate knows nothing of models, data generation or HTTP. Feed it [`input::Batch`]es of
//! labels, decisions, scores and group columns; it keeps per-intersection confusion cells and
//! score statistics ([`accumulate::Accumulator`]) that merge exactly across chunks, threads and
//! machines, and turns them into a [`report::Report`]. A rate with a zero denominator is null
//! with its reason, never 0; small groups are flagged and kept out of comparisons.

pub mod accumulate;
pub mod arrow_input;
pub mod bootstrap;
pub mod cells;
pub mod counterfactual;
pub mod criteria;
pub mod individual;
pub mod input;
pub mod interval;
pub mod markdown;
pub mod metric;
pub mod report;
pub mod scores;
pub mod significance;

pub use accumulate::Accumulator;
pub use cells::{Cells, RateMetric, Value};
pub use input::{Batch, Col, GroupCol, InputError, MissingGroups};
pub use metric::{MetricName, NullReason};
pub use report::{Config, Report};
