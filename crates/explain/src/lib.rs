//! Model-agnostic explanations of a model's decisions.
//!
//! The crate knows nothing of data generation, isolation or HTTP: it takes the rows as Arrow
//! record batches and a [`Scorer`] that turns rows into decisions and scores. The caller decides
//! where the scoring happens (in Sandkasse, always inside the isolated worker pool), so every
//! extra scoring an explanation needs goes through the same isolation as the run itself.
//!
//! Facets, one per file: [`permutation_importance`] (how much each input matters, overall and per
//! group, against the recorded and the true outcome) and [`partial_dependence`] (how the score
//! moves with one input, on average, per group and row by row) and [`flip_contributions`] (for
//! counterfactual twins whose decision differs from their citizen's, what each differing input does)
//! and [`weak_slices`] (where the model errs or selects more than elsewhere, with the false discovery
//! rate controlled) and [`path_effects`] (what changing a protected attribute along one causal path
//! does to the decisions, and how the selection gap splits by path) and [`perturbation_effect`] (what
//! each input moved by its measurement error does to the decisions, per group). Everything is seeded: the same rows, scorer
//! and seed give the same numbers, bit for bit.

#![deny(missing_docs)]

mod dependence;
mod error;
mod flips;
mod importance;
mod interval;
mod metrics;
mod paths;
mod permute;
mod perturb;
mod recourse;
mod score;
mod slices;

pub use dependence::{
    CATEGORY_GRID_VALUES, GridKind, GridValue, GroupCurve, ICE_ROWS, IceCurve, NUMERIC_GRID_POINTS, PartialDependence,
    partial_dependence,
};
pub use error::ExplainError;
pub use flips::{ColumnChange, FLIP_EXAMPLES, FlipContribution, FlipContributions, FlipExample, flip_contributions};
pub use importance::{
    ColumnImportance, Drops, Effect, GroupImportance, Groups, Importance, ImportanceConfig, MetricDrops, Outcomes,
    permutation_importance,
};
pub use interval::{mean_interval, wilson};
pub use metrics::{Metrics, accuracy, log_loss, roc_auc};
pub use paths::{
    Change, DECOMPOSITION_RESAMPLES, Estimate, GapDecomposition, PathEffect, PathEffects, PathReport, PathTwins,
    path_effects,
};
pub use permute::{Permutation, with_column_permuted};
pub use perturb::{
    ColumnNoise, GroupSensitivity, Linked, Neighbours, Noise, PerturbConfig, PerturbedColumn, Sensitivity, perturb,
    perturbation_effect,
};
pub use recourse::{
    Action, ActionSummary, CitizenRecourse, Direction, GroupRecourse, MIN_GAP_GROUP, RecourseCheck, RecourseConfig,
    RecourseGap, RecourseResult, RecourseSummary, recourse,
};
pub use score::{Scored, Scorer};
pub use slices::{Condition, FEW_VALUES, MAX_VALUES, Slice, SliceConfig, SliceMeasure, Slices, weak_slices};
