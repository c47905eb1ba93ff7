//! The report's types: what a report says, as it is written and read back.

use crate::accumulate::GroupStats;
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
    pub values: Vec<String>,
    pub count: f64,
    /// Below the minimum group size: shown, not compared.
    pub small: bool,
    /// An intersection with no rows.
    pub empty: bool,
    pub metrics: BTreeMap<MetricName, Metric>,
    /// The same metrics against the second (true) label, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_vs_label_true: Option<BTreeMap<MetricName, Metric>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calibration: Vec<CalibrationPoint>,
    /// Rate metrics when deciding `score >= threshold`, at thresholds 0.05, 0.10, ..., 0.95.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threshold_sweep: Vec<SweepPoint>,
    /// ROC curve `(fpr, tpr, threshold)`, thinned to at most 101 points. The first point's
    /// threshold lies above every score (infinite): it is `null`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roc_curve: Vec<(f64, f64, Option<f64>)>,
    #[serde(skip)]
    pub stats: GroupStats,
    /// Confusion counts at each threshold of the sweep.
    #[serde(skip)]
    pub sweep_cells: Vec<Cells>,
}

/// Rates at one decision threshold.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SweepPoint {
    pub threshold: f64,
    pub selection_rate: Option<f64>,
    pub true_positive_rate: Option<f64>,
    pub false_positive_rate: Option<f64>,
    pub precision: Option<f64>,
    pub accuracy: Option<f64>,
}

/// Disparities of an attribute when deciding `score >= threshold`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SweepDisparity {
    pub threshold: f64,
    /// Per rate metric (the same as `disparities`): difference and ratio between groups and
    /// to overall, over the groups that are compared (not small, metric defined).
    pub disparities: Vec<SweepSummary>,
    pub equalized_odds_difference: Option<f64>,
    /// The lowest selection-rate ratio of a group to the reference group, and whether every
    /// group meets the four-fifths rule.
    pub disparate_impact_min: Option<f64>,
    pub four_fifths_rule: Option<bool>,
}

/// Summaries of one metric's disparity at one threshold.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SweepSummary {
    pub metric: RateMetric,
    pub difference_between_groups: Option<f64>,
    pub ratio_between_groups: Option<f64>,
    pub difference_to_overall: Option<f64>,
    pub ratio_to_overall: Option<f64>,
}

/// The thresholds of the sweep: 0.05 to 0.95 in steps of 0.05.
pub fn sweep_thresholds() -> Vec<f64> {
    (1..=19).map(|k| f64::from(k) / 20.0).collect()
}

/// A disparity of one metric across the groups of one attribute.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Disparity {
    pub metric: RateMetric,
    /// max - min and min / max over the compared groups.
    pub difference_between_groups: Value,
    pub ratio_between_groups: Value,
    /// Largest |group - overall| and smallest min(group/overall, overall/group).
    pub difference_to_overall: Value,
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
    pub difference_between_groups: Option<[f64; 2]>,
    pub ratio_between_groups: Option<[f64; 2]>,
    pub difference_to_overall: Option<[f64; 2]>,
    pub ratio_to_overall: Option<[f64; 2]>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReferenceComparison {
    pub group: String,
    pub difference: Value,
    pub ratio: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difference_interval: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio_interval: Option<[f64; 2]>,
    /// Significance of the difference from the reference group, before and after correction
    /// for the attribute's multiple tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_adjusted: Option<f64>,
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

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Excluded {
    pub group: String,
    pub reason: String,
}

/// Disparities that combine several rates.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Combined {
    /// fairlearn's equalized odds: the worse of the TPR and FPR disparities.
    pub equalized_odds_difference: Value,
    pub equalized_odds_ratio: Value,
    /// The mean of the TPR and FPR differences between groups.
    pub equalized_odds_difference_mean: Value,
    /// Per group against the reference: selection rate ratio (AIF360's disparate impact) and
    /// whether it meets the four-fifths rule; mean of the FPR and TPR differences (AIF360's
    /// average odds difference).
    pub disparate_impact: Vec<ReferenceComparison>,
    pub four_fifths_rule: Vec<(String, Option<bool>)>,
    pub average_odds_difference: Vec<ReferenceComparison>,
    /// Bootstrap intervals of the three equalized-odds summaries.
    pub equalized_odds_intervals: [Option<[f64; 2]>; 3],
}

/// Everything about one attribute or one intersection of attributes.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AttributeReport {
    /// Attribute names joined by `&`.
    pub attribute: String,
    pub columns: Vec<String>,
    pub reference: Option<String>,
    pub groups: Vec<GroupReport>,
    pub disparities: Vec<Disparity>,
    /// The same disparities measured against the second (true) label, when given: where a
    /// model's disparities against the recorded label are smaller than against the truth, it
    /// reproduces the bias in the records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disparities_vs_label_true: Vec<Disparity>,
    pub combined: Combined,
    /// Disparities at each threshold of the sweep, for score models.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threshold_sweep: Vec<SweepDisparity>,
    pub between_group_generalized_entropy_alpha2: Option<f64>,
    pub between_group_theil: Option<f64>,
}

/// The version of the report's layout. 2: the verdicts moved out of the report, to whoever
/// judged it ([`crate::criteria::Judged`], the run record).
pub const SCHEMA_VERSION: u32 = 2;

/// The report.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    pub schema_version: u32,
    pub config: Config,
    pub overall: GroupReport,
    pub generalized_entropy_alpha2: Option<f64>,
    pub theil: Option<f64>,
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
    pub fn group(&self, name: &str) -> Option<&GroupReport> {
        self.groups.iter().find(|g| g.group == name)
    }

    pub fn disparity(&self, metric: RateMetric) -> Option<&Disparity> {
        self.disparities.iter().find(|d| d.metric == metric)
    }
}

impl GroupReport {
    pub fn value(&self, metric: impl Into<MetricName>) -> Option<f64> {
        self.metrics.get(&metric.into()).and_then(|m| m.value.value)
    }
}
