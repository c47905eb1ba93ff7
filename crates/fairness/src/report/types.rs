//! The report's types: what a report says, as it is written and read back.

use crate::accumulate::GroupSums;
use crate::cells::Cells;
use crate::cells::{RateMetric, Value};
use crate::metric::MetricName;
use crate::scores::CalibrationPoint;
use crate::significance::{Correction, Test};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Settings of a report.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Config {
    /// Groups smaller than this are shown but flagged and kept out of disparities.
    pub min_group_size: f64,
    /// Reference group per attribute (`attribute -> value`); the largest group by default.
    pub reference: BTreeMap<String, String>,
    /// Confidence level of intervals.
    pub confidence: f64,
    /// Bootstrap resamples (0 turns the bootstrap off).
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    pub seed: u64,
    /// Whether the bootstrap resamples within intersection cells or all rows at once.
    pub bootstrap_scheme: crate::bootstrap::Scheme,
    /// Multiple-testing correction of the tests against the reference group.
    pub correction: Correction,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            min_group_size: 30.0,
            reference: BTreeMap::new(),
            confidence: 0.95,
            bootstrap: 1000,
            seed: 0,
            bootstrap_scheme: crate::bootstrap::Scheme::Stratified,
            correction: Correction::Holm,
        }
    }
}

/// One metric of one group.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Metric {
    /// The value, or null with its reason.
    #[serde(flatten)]
    pub value: Value,
    /// Wilson score interval for proportions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<[f64; 2]>,
    /// Bootstrap percentile interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_interval: Option<[f64; 2]>,
}

/// Metrics of one group (or the whole population).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupReport {
    /// Values joined by `|` for intersections.
    pub group: String,
    /// The group's value of each attribute, in the attributes' order.
    pub values: Vec<String>,
    /// The group's (weighted) size.
    pub count: f64,
    /// Below the minimum group size: shown, not compared.
    pub small: bool,
    /// An intersection with no rows.
    pub empty: bool,
    /// The metrics against the recorded outcome, by name.
    pub metrics: BTreeMap<MetricName, Metric>,
    /// The same metrics against the second (true) label, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_vs_label_true: Option<BTreeMap<MetricName, Metric>>,
    /// The calibration curve, for score models.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calibration: Vec<CalibrationPoint>,
    /// Rate metrics when deciding `score >= threshold`, at thresholds 0.05, 0.10, ..., 0.95.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threshold_sweep: Vec<SweepPoint>,
    /// ROC curve `(fpr, tpr, threshold)`, thinned to at most 101 points. The first point's
    /// threshold lies above every score (infinite): it is `null`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roc_curve: Vec<(f64, f64, Option<f64>)>,
    /// The sufficient statistics the metrics were computed from, kept for the bootstrap; not serialized.
    #[serde(skip)]
    pub stats: GroupSums,
    /// Confusion counts at each threshold of the sweep.
    #[serde(skip)]
    pub sweep_cells: Vec<Cells>,
}

/// Rates at one decision threshold.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SweepPoint {
    /// The decision threshold.
    pub threshold: f64,
    /// Predicted positives over all.
    pub selection_rate: Option<f64>,
    /// True positives over actual positives.
    pub true_positive_rate: Option<f64>,
    /// False positives over actual negatives.
    pub false_positive_rate: Option<f64>,
    /// True positives over predicted positives.
    pub precision: Option<f64>,
    /// Correct decisions over all.
    pub accuracy: Option<f64>,
}

/// Disparities of an attribute when deciding `score >= threshold`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SweepDisparity {
    /// The decision threshold.
    pub threshold: f64,
    /// Per rate metric (the same as `disparities`): difference and ratio between groups and
    /// to overall, over the groups that are compared (not small, metric defined).
    pub disparities: Vec<SweepSummary>,
    /// The worse of the TPR and FPR differences between groups.
    pub equalized_odds_difference: Option<f64>,
    /// The lowest selection-rate ratio of a group to the reference group, and whether every
    /// group meets the four-fifths rule.
    pub disparate_impact_min: Option<f64>,
    /// Whether every group meets the four-fifths rule.
    pub four_fifths_rule: Option<bool>,
}

/// Summaries of one metric's disparity at one threshold.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SweepSummary {
    /// The rate compared.
    pub metric: RateMetric,
    /// max - min over the compared groups.
    pub difference_between_groups: Option<f64>,
    /// min / max over the compared groups.
    pub ratio_between_groups: Option<f64>,
    /// Largest |group - overall|.
    pub difference_to_overall: Option<f64>,
    /// Smallest min(group/overall, overall/group).
    pub ratio_to_overall: Option<f64>,
}

/// The thresholds of the sweep: 0.05 to 0.95 in steps of 0.05.
pub fn sweep_thresholds() -> Vec<f64> {
    (1..=19).map(|k| f64::from(k) / 20.0).collect()
}

/// A disparity of one metric across the groups of one attribute.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Disparity {
    /// The rate compared.
    pub metric: RateMetric,
    /// max - min and min / max over the compared groups.
    pub difference_between_groups: Value,
    /// See `difference_between_groups`.
    pub ratio_between_groups: Value,
    /// Largest |group - overall| and smallest min(group/overall, overall/group).
    pub difference_to_overall: Value,
    /// See `difference_to_overall`.
    pub ratio_to_overall: Value,
    /// Per group: group - reference and group / reference.
    pub to_reference: Vec<ReferenceComparison>,
    /// Groups left out, with the reason (small, or the metric undefined).
    pub excluded: Vec<Excluded>,
    /// Bootstrap percentile intervals of the four summaries, in the order above.
    pub intervals: Intervals,
}

/// Bootstrap intervals of a disparity's summaries.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Intervals {
    /// Of `difference_between_groups`.
    pub difference_between_groups: Option<[f64; 2]>,
    /// Of `ratio_between_groups`.
    pub ratio_between_groups: Option<[f64; 2]>,
    /// Of `difference_to_overall`.
    pub difference_to_overall: Option<[f64; 2]>,
    /// Of `ratio_to_overall`.
    pub ratio_to_overall: Option<[f64; 2]>,
}

/// One group against the attribute's reference group: the comparison a regulator reads per group, with its significance.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReferenceComparison {
    /// The group compared.
    pub group: String,
    /// group - reference.
    pub difference: Value,
    /// group / reference.
    pub ratio: Value,
    /// Bootstrap percentile interval of `difference`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difference_interval: Option<[f64; 2]>,
    /// Bootstrap percentile interval of `ratio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_interval: Option<[f64; 2]>,
    /// Significance of the difference from the reference group, before and after correction
    /// for the attribute's multiple tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// `p_value` after the configured multiple-testing correction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_adjusted: Option<f64>,
    /// The test that gave `p_value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Test>,
}

impl ReferenceComparison {
    pub(super) fn new(group: &str, difference: Value, ratio: Value) -> Self {
        Self {
            group: group.to_owned(),
            difference,
            ratio,
            difference_interval: None,
            ratio_interval: None,
            p_value: None,
            p_adjusted: None,
            test: None,
        }
    }
}

/// A group left out of a comparison, so the reader sees who was not compared and why.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Excluded {
    /// The group.
    pub group: String,
    /// Why (small, or the metric undefined for it).
    pub reason: String,
}

/// Disparities that combine several rates.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Combined {
    /// fairlearn's equalized odds: the worse of the TPR and FPR disparities.
    pub equalized_odds_difference: Value,
    /// The worse of the TPR and FPR ratios.
    pub equalized_odds_ratio: Value,
    /// The mean of the TPR and FPR differences between groups.
    pub equalized_odds_difference_mean: Value,
    /// Per group against the reference: selection rate ratio (AIF360's disparate impact) and
    /// whether it meets the four-fifths rule; mean of the FPR and TPR differences (AIF360's
    /// average odds difference).
    pub disparate_impact: Vec<ReferenceComparison>,
    /// Per group: whether its selection-rate ratio to the reference is at least 0.8; `None` when undefined.
    pub four_fifths_rule: Vec<(String, Option<bool>)>,
    /// Per group against the reference: the mean of the FPR and TPR differences.
    pub average_odds_difference: Vec<ReferenceComparison>,
    /// Bootstrap intervals of the three equalized-odds summaries.
    pub equalized_odds_intervals: [Option<[f64; 2]>; 3],
}

/// Everything about one attribute or one intersection of attributes.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AttributeReport {
    /// Attribute names joined by `&`.
    pub attribute: String,
    /// The attributes it is made of.
    pub columns: Vec<String>,
    /// The reference group (the configured one, else the largest that is not small); `None` when no group can be one.
    pub reference: Option<String>,
    /// Its groups.
    pub groups: Vec<GroupReport>,
    /// Per rate metric, the disparity across its groups.
    pub disparities: Vec<Disparity>,
    /// The same disparities measured against the second (true) label, when given: where a
    /// model's disparities against the recorded label are smaller than against the truth, it
    /// reproduces the bias in the records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disparities_vs_label_true: Vec<Disparity>,
    /// Disparities that combine several rates.
    pub combined: Combined,
    /// Disparities at each threshold of the sweep, for score models.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threshold_sweep: Vec<SweepDisparity>,
    /// Between-group part of the generalized entropy index (alpha 2) of the benefits.
    pub between_group_generalized_entropy_alpha2: Option<f64>,
    /// Between-group part of the Theil index of the benefits.
    pub between_group_theil: Option<f64>,
}

/// The version of the report's layout. 2: the verdicts moved out of the report, to whoever
/// judged it ([`crate::criteria::Judged`], the run record).
pub const SCHEMA_VERSION: u32 = 2;

/// The report.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    /// [`SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The settings it was built with, so it can be rebuilt.
    pub config: Config,
    /// The whole population.
    pub overall: GroupReport,
    /// Generalized entropy index (alpha 2) of the benefits over individuals.
    pub generalized_entropy_alpha2: Option<f64>,
    /// Theil index of the benefits over individuals.
    pub theil: Option<f64>,
    /// Per attribute and intersection.
    pub attributes: Vec<AttributeReport>,
    /// Decision flips between citizens and their counterfactual twins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterfactual: Option<crate::counterfactual::CounterfactualReport>,
}

/// The rate metrics whose disparities are reported (fairness names in parentheses):
/// selection rate (demographic parity), TPR (equal opportunity), FPR (FPR parity),
/// precision (predictive parity), accuracy.
pub const DISPARITY_METRICS: &[RateMetric] = &[
    RateMetric::SelectionRate,
    RateMetric::TruePositiveRate,
    RateMetric::FalsePositiveRate,
    RateMetric::Precision,
    RateMetric::Accuracy,
];

impl AttributeReport {
    /// The group with this name (values joined by `|`), if any.
    pub fn group(&self, name: &str) -> Option<&GroupReport> {
        self.groups.iter().find(|g| g.group == name)
    }

    /// The disparity of this rate metric, if it is reported.
    pub fn disparity(&self, metric: RateMetric) -> Option<&Disparity> {
        self.disparities.iter().find(|d| d.metric == metric)
    }
}

impl GroupReport {
    /// The metric's value, or `None` when absent or undefined.
    pub fn value(&self, metric: impl Into<MetricName>) -> Option<f64> {
        self.metrics.get(&metric.into()).and_then(|m| m.value.value)
    }
}
