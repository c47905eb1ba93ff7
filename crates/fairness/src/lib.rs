//! Accuracy and fairness of binary decisions, per group, from mergeable sufficient statistics; and of numeric
//! and multi-class outputs in [`tasks`].
//!
//! The crate knows nothing of models, data generation or HTTP. Feed it [`Batch`]es of
//! labels, decisions, scores and group columns; it keeps per-intersection confusion cells and
//! score statistics ([`Accumulator`]) that merge exactly across chunks, threads and
//! machines, and turns them into a [`Report`]. A rate with a zero denominator is null
//! with its reason, never 0; small groups are flagged and kept out of comparisons.

#![deny(missing_docs)]

mod accumulate;
mod arrow_input;
mod bootstrap;
mod cells;
mod counterfactual;
mod criteria;
mod individual;
mod input;
mod interval;
mod markdown;
mod metric;
mod paired;
mod ranks;
mod rebatch;
mod report;
mod scores;
mod significance;
pub mod tasks;

pub use accumulate::Accumulator;
pub use arrow_input::{Columns, add_multiclass_batch, add_record_batch, add_regression_batch};
pub use bootstrap::Scheme;
pub use cells::{Cells, RateMetric, Value};
pub use counterfactual::{ChangeReport, CounterfactualReport};
pub use criteria::{
    Against, Analysed, CriteriaError, Criterion, CriterionMetric, GridValue, Judged, MAX_GRID_NAME_CHARS, Measurement,
    Op, Outcome, ShiftAxis, ShiftBound, Verdict, evaluate as evaluate_criteria,
    evaluate_with_analyses as evaluate_criteria_with_analyses, parse as parse_criteria,
};
pub use input::{Batch, Col, GroupCol, InputError, MISSING, MissingGroups, encode as encode_groups};
pub use markdown::{P_FLOOR, render as render_markdown};
pub use metric::{MetricName, NullReason};
pub use paired::{
    PairedChange, PairedCounts, difference_change as paired_difference_change, ratio_change as paired_ratio_change,
    share_change as paired_share_change, share_change_unpaired,
};
pub use ranks::Ranked;
pub use rebatch::Rebatched;
pub use report::{
    AttributeReport, Combined, Config, Disparity, Excluded, GroupReport, Intervals, Metric, ReferenceComparison,
    Report, SCHEMA_VERSION, SweepDisparity, SweepPoint, SweepSummary, sweep_thresholds,
};
pub use scores::{CalibrationPoint, ScoreStats, ScoreSums};
pub use significance::{Correction, Test};
pub use tasks::multiclass::{MulticlassAccumulator, MulticlassBatch, MulticlassReport};
pub use tasks::regression::{RegressionAccumulator, RegressionBatch, RegressionReport};
pub use tasks::{AttributeOutcome, Gap, GroupOutcome, TaskConfig};
