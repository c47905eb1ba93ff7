//! The names of everything a report measures, and why a value can be missing.
//!
//! Why enums and not strings: the report is written here and read by the criteria, the
//! Markdown, the HTML report, the API and the pages. With a string key, a metric renamed in one
//! place silently vanishes from the others; with these enums, adding a metric makes the compiler
//! list every `match` that must name it (its labels below, in both languages, included).

use crate::cells::RateMetric;
use serde::{Deserialize, Serialize};

/// A metric of one group, as the key of [`crate::GroupReport::metrics`].
///
/// The variants are declared in the alphabetical order of their names, so a map keyed by them
/// serializes in the same order as one keyed by the names (the records stay byte-stable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
// Variant doc comments would turn this enum's JSON Schema into a `oneOf` (and loosen the maps
// keyed by it), so the variants are described in `//` comments.
#[allow(missing_docs)]
pub enum MetricName {
    // Correct decisions over all.
    Accuracy,
    // Area under the precision-recall curve of the scores.
    AveragePrecision,
    // Mean of the true positive and true negative rates.
    BalancedAccuracy,
    // Actual positives over all.
    BaseRate,
    // Mean squared difference of score and outcome.
    Brier,
    // The group's (weighted) size.
    Count,
    // Weighted mean gap between mean score and observed rate over the calibration bins.
    ExpectedCalibrationError,
    // Harmonic mean of precision and recall.
    F1,
    // False positives over predicted positives.
    FalseDiscoveryRate,
    // False negatives over actual positives.
    FalseNegativeRate,
    // False negatives over predicted negatives.
    FalseOmissionRate,
    // False positives over actual negatives.
    FalsePositiveRate,
    // Mean negative log-likelihood of the outcome under the score.
    LogLoss,
    // True negatives over predicted negatives.
    NegativePredictiveValue,
    // True positives over predicted positives.
    Precision,
    // Area under the ROC curve of the scores.
    RocAuc,
    // Predicted positives over all.
    SelectionRate,
    // True negatives over actual negatives.
    TrueNegativeRate,
    // True positives over actual positives.
    TruePositiveRate,
}

impl MetricName {
    /// Every metric, in the order of their names.
    pub const ALL: &'static [MetricName] = &[
        MetricName::Accuracy,
        MetricName::AveragePrecision,
        MetricName::BalancedAccuracy,
        MetricName::BaseRate,
        MetricName::Brier,
        MetricName::Count,
        MetricName::ExpectedCalibrationError,
        MetricName::F1,
        MetricName::FalseDiscoveryRate,
        MetricName::FalseNegativeRate,
        MetricName::FalseOmissionRate,
        MetricName::FalsePositiveRate,
        MetricName::LogLoss,
        MetricName::NegativePredictiveValue,
        MetricName::Precision,
        MetricName::RocAuc,
        MetricName::SelectionRate,
        MetricName::TrueNegativeRate,
        MetricName::TruePositiveRate,
    ];

    /// The name in records, criteria and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricName::Accuracy => "accuracy",
            MetricName::AveragePrecision => "average_precision",
            MetricName::BalancedAccuracy => "balanced_accuracy",
            MetricName::BaseRate => "base_rate",
            MetricName::Brier => "brier",
            MetricName::Count => "count",
            MetricName::ExpectedCalibrationError => "expected_calibration_error",
            MetricName::F1 => "f1",
            MetricName::FalseDiscoveryRate => "false_discovery_rate",
            MetricName::FalseNegativeRate => "false_negative_rate",
            MetricName::FalseOmissionRate => "false_omission_rate",
            MetricName::FalsePositiveRate => "false_positive_rate",
            MetricName::LogLoss => "log_loss",
            MetricName::NegativePredictiveValue => "negative_predictive_value",
            MetricName::Precision => "precision",
            MetricName::RocAuc => "roc_auc",
            MetricName::SelectionRate => "selection_rate",
            MetricName::TrueNegativeRate => "true_negative_rate",
            MetricName::TruePositiveRate => "true_positive_rate",
        }
    }

    /// The metric with this name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.as_str() == s)
    }

    /// The label people read: `(Danish, English)`.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            MetricName::Accuracy => ("Nøjagtighed", "Accuracy"),
            MetricName::AveragePrecision => ("Gennemsnitlig præcision (AP)", "Average precision (AP)"),
            MetricName::BalancedAccuracy => ("Balanceret nøjagtighed", "Balanced accuracy"),
            MetricName::BaseRate => ("Basisrate (andel positive)", "Base rate (share positive)"),
            MetricName::Brier => ("Brier-score (lavere er bedre)", "Brier score (lower is better)"),
            MetricName::Count => ("Antal", "Count"),
            MetricName::ExpectedCalibrationError => (
                "Forventet kalibreringsfejl (ECE, lavere er bedre)",
                "Expected calibration error (ECE, lower is better)",
            ),
            MetricName::F1 => ("F1-score", "F1 score"),
            MetricName::FalseDiscoveryRate => ("Falsk opdagelsesrate", "False discovery rate"),
            MetricName::FalseNegativeRate => ("Falsk negativ-rate (FNR)", "False negative rate (FNR)"),
            MetricName::FalseOmissionRate => ("Falsk udeladelsesrate", "False omission rate"),
            MetricName::FalsePositiveRate => ("Falsk positiv-rate (FPR)", "False positive rate (FPR)"),
            MetricName::LogLoss => ("Log-tab (lavere er bedre)", "Log loss (lower is better)"),
            MetricName::NegativePredictiveValue => ("Negativ prædiktiv værdi (NPV)", "Negative predictive value (NPV)"),
            MetricName::Precision => ("Præcision (PPV)", "Precision (PPV)"),
            MetricName::RocAuc => ("ROC AUC (areal under ROC-kurven)", "ROC AUC (area under the ROC curve)"),
            MetricName::SelectionRate => ("Udvælgelsesrate", "Selection rate"),
            MetricName::TrueNegativeRate => ("Sand negativ-rate (TNR)", "True negative rate (TNR)"),
            MetricName::TruePositiveRate => ("Sand positiv-rate (TPR)", "True positive rate (TPR)"),
        }
    }

    /// Whether the value is a proportion (shown as a percentage).
    pub fn is_rate(self) -> bool {
        match self {
            MetricName::Accuracy
            | MetricName::BalancedAccuracy
            | MetricName::BaseRate
            | MetricName::SelectionRate
            | MetricName::TruePositiveRate
            | MetricName::FalsePositiveRate
            | MetricName::TrueNegativeRate
            | MetricName::FalseNegativeRate
            | MetricName::Precision
            | MetricName::NegativePredictiveValue
            | MetricName::FalseDiscoveryRate
            | MetricName::FalseOmissionRate => true,
            MetricName::AveragePrecision
            | MetricName::Brier
            | MetricName::Count
            | MetricName::ExpectedCalibrationError
            | MetricName::F1
            | MetricName::LogLoss
            | MetricName::RocAuc => false,
        }
    }
}

impl From<RateMetric> for MetricName {
    fn from(m: RateMetric) -> Self {
        match m {
            RateMetric::BaseRate => MetricName::BaseRate,
            RateMetric::SelectionRate => MetricName::SelectionRate,
            RateMetric::TruePositiveRate => MetricName::TruePositiveRate,
            RateMetric::FalsePositiveRate => MetricName::FalsePositiveRate,
            RateMetric::TrueNegativeRate => MetricName::TrueNegativeRate,
            RateMetric::FalseNegativeRate => MetricName::FalseNegativeRate,
            RateMetric::Precision => MetricName::Precision,
            RateMetric::NegativePredictiveValue => MetricName::NegativePredictiveValue,
            RateMetric::FalseDiscoveryRate => MetricName::FalseDiscoveryRate,
            RateMetric::FalseOmissionRate => MetricName::FalseOmissionRate,
            RateMetric::Accuracy => MetricName::Accuracy,
            RateMetric::BalancedAccuracy => MetricName::BalancedAccuracy,
            RateMetric::F1 => MetricName::F1,
        }
    }
}

impl std::fmt::Display for MetricName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a value is missing. Written into the record as its sentence, so a reader sees the reason
/// where the number would be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
// Variant doc comments would turn this enum's JSON Schema into a `oneOf` (and loosen the maps
// keyed by it), so the variants are described in `//` comments.
#[allow(missing_docs)]
pub enum NullReason {
    // The group has no rows.
    #[serde(rename = "empty group")]
    EmptyGroup,
    // A rate over actual positives, and there are none.
    #[serde(rename = "no actual positives")]
    NoActualPositives,
    // A rate over actual negatives, and there are none.
    #[serde(rename = "no actual negatives")]
    NoActualNegatives,
    // A rate over predicted positives, and there are none.
    #[serde(rename = "no predicted positives")]
    NoPredictedPositives,
    // A rate over predicted negatives, and there are none.
    #[serde(rename = "no predicted negatives")]
    NoPredictedNegatives,
    // The metric (ROC AUC, balanced accuracy) needs both outcomes in the group.
    #[serde(rename = "needs both actual positives and actual negatives")]
    NeedsBothClasses,
    // F1 with neither actual nor predicted positives.
    #[serde(rename = "no actual or predicted positives")]
    NoActualOrPredictedPositives,
    // A disparity needs at least two groups large enough to compare.
    #[serde(rename = "fewer than two comparable groups")]
    FewerThanTwoGroups,
    // A ratio to overall with every value 0.
    #[serde(rename = "every group's value and the overall value are 0")]
    AllZeroWithOverall,
    // A ratio between groups with every value 0.
    #[serde(rename = "every group's value is 0")]
    AllZero,
    // A ratio to the reference group, whose value is 0.
    #[serde(rename = "the reference group's value is 0")]
    ReferenceZero,
    // Disparate impact with a reference selection rate of 0.
    #[serde(rename = "the reference group's selection rate is 0")]
    ReferenceSelectionZero,
    // Equalized odds needs both the TPR and the FPR disparity.
    #[serde(rename = "TPR or FPR disparity undefined")]
    OddsDisparityUndefined,
    // Average odds needs the group's and the reference's TPR and FPR.
    #[serde(rename = "TPR or FPR undefined for the group or the reference")]
    OddsUndefinedForGroup,
    /// A disparate-impact entry is a ratio; its difference is not reported.
    #[serde(rename = "see ratio")]
    SeeRatio,
    /// An average-odds entry is a difference; its ratio is not reported.
    #[serde(rename = "a difference only")]
    DifferenceOnly,
    // No group besides the reference can be compared with it.
    #[serde(rename = "no group to compare with the reference")]
    NoGroupToCompare,
    // R² with an outcome that is the same for every row of the group.
    #[serde(rename = "the outcome does not vary in the group")]
    ConstantOutcome,
}

impl NullReason {
    /// The sentence, as written in records.
    pub fn as_str(self) -> &'static str {
        match self {
            NullReason::EmptyGroup => "empty group",
            NullReason::NoActualPositives => "no actual positives",
            NullReason::NoActualNegatives => "no actual negatives",
            NullReason::NoPredictedPositives => "no predicted positives",
            NullReason::NoPredictedNegatives => "no predicted negatives",
            NullReason::NeedsBothClasses => "needs both actual positives and actual negatives",
            NullReason::NoActualOrPredictedPositives => "no actual or predicted positives",
            NullReason::FewerThanTwoGroups => "fewer than two comparable groups",
            NullReason::AllZeroWithOverall => "every group's value and the overall value are 0",
            NullReason::AllZero => "every group's value is 0",
            NullReason::ReferenceZero => "the reference group's value is 0",
            NullReason::ReferenceSelectionZero => "the reference group's selection rate is 0",
            NullReason::OddsDisparityUndefined => "TPR or FPR disparity undefined",
            NullReason::OddsUndefinedForGroup => "TPR or FPR undefined for the group or the reference",
            NullReason::SeeRatio => "see ratio",
            NullReason::DifferenceOnly => "a difference only",
            NullReason::NoGroupToCompare => "no group to compare with the reference",
            NullReason::ConstantOutcome => "the outcome does not vary in the group",
        }
    }
}

impl std::fmt::Display for NullReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order_like_their_text() {
        let mut by_text: Vec<&str> = MetricName::ALL.iter().map(|m| m.as_str()).collect();
        by_text.sort_unstable();
        let by_enum: Vec<&str> = MetricName::ALL.iter().map(|m| m.as_str()).collect();
        assert_eq!(by_enum, by_text, "declare the variants in the order of their names");
        let mut sorted = MetricName::ALL.to_vec();
        sorted.sort();
        assert_eq!(sorted, MetricName::ALL);
        for &m in MetricName::ALL {
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
            assert_eq!(MetricName::from_name(m.as_str()), Some(m));
            assert_eq!(serde_json::from_value::<MetricName>(m.as_str().into()).unwrap(), m);
        }
        for &r in RateMetric::ALL {
            assert_eq!(MetricName::from(r).as_str(), r.name());
        }
    }

    #[test]
    fn null_reasons_serialize_as_their_sentence() {
        for r in [
            NullReason::EmptyGroup,
            NullReason::SeeRatio,
            NullReason::NoGroupToCompare,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
            assert_eq!(serde_json::from_value::<NullReason>(r.as_str().into()).unwrap(), r);
        }
    }
}
