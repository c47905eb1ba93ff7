//! Confusion cells and the rate metrics defined on them.
//!
//! Every rate metric is a ratio of (weighted) confusion counts, so it is exact under merging
//! and its bootstrap distribution only needs the counts. A rate whose denominator is zero is
//! undefined: it is reported as null with the reason, never as 0.

use crate::metric::NullReason;
use serde::{Deserialize, Serialize};

/// Weighted confusion counts of one group. Counts are `f64` so that weights fit; integer counts
/// stay exact up to 2^53.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Cells {
    /// True positives.
    pub tp: f64,
    /// False positives.
    pub fp: f64,
    /// True negatives.
    pub tn: f64,
    /// False negatives (`fn` in JSON; `fn` is a Rust keyword).
    #[serde(rename = "fn")]
    pub fn_: f64,
}

impl Cells {
    /// Counts one row of weight `w` in the cell its outcome and decision fall in.
    #[inline]
    pub fn add(&mut self, label: bool, pred: bool, w: f64) {
        match (label, pred) {
            (true, true) => self.tp += w,
            (false, true) => self.fp += w,
            (false, false) => self.tn += w,
            (true, false) => self.fn_ += w,
        }
    }

    /// Adds another group's counts: cells merge by addition, which is what makes per-thread accumulation exact.
    pub fn merge(&mut self, o: &Cells) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.tn += o.tn;
        self.fn_ += o.fn_;
    }

    /// The group's total weight.
    pub fn n(&self) -> f64 {
        self.tp + self.fp + self.tn + self.fn_
    }
    /// Actual positives (`tp + fn`).
    pub fn positives(&self) -> f64 {
        self.tp + self.fn_
    }
    /// Actual negatives (`tn + fp`).
    pub fn negatives(&self) -> f64 {
        self.tn + self.fp
    }
    /// Predicted positives (`tp + fp`).
    pub fn predicted_positive(&self) -> f64 {
        self.tp + self.fp
    }
    /// Predicted negatives (`tn + fn`).
    pub fn predicted_negative(&self) -> f64 {
        self.tn + self.fn_
    }
}

/// A metric value, or null with the reason it is undefined.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Value {
    /// The value; `None` when it is undefined.
    pub value: Option<f64>,
    /// Why it is undefined, so a reader sees the reason where the number would be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_reason: Option<NullReason>,
}

impl Value {
    /// A defined value.
    pub fn some(v: f64) -> Self {
        Self {
            value: Some(v),
            null_reason: None,
        }
    }
    /// An undefined value and its reason.
    pub fn null(reason: NullReason) -> Self {
        Self {
            value: None,
            null_reason: Some(reason),
        }
    }
    /// `num / den`, or null with `reason` when `den` is zero.
    pub fn ratio(num: f64, den: f64, reason: NullReason) -> Self {
        if den > 0.0 {
            Self::some(num / den)
        } else {
            Self::null(reason)
        }
    }
}

/// The rate metrics computed from confusion cells (fairlearn's names where it has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
// Variant doc comments would turn this enum's JSON Schema into a `oneOf` (and loosen the maps
// keyed by it), so the variants are described in `//` comments.
#[allow(missing_docs)]
pub enum RateMetric {
    // Actual positives over all: the prevalence the other rates are read against.
    BaseRate,
    // Predicted positives over all (demographic parity compares it).
    SelectionRate,
    // Recall: `tp / (tp + fn)` (equal opportunity compares it).
    TruePositiveRate,
    // `fp / (fp + tn)`.
    FalsePositiveRate,
    // Specificity: `tn / (tn + fp)`.
    TrueNegativeRate,
    // Miss rate: `fn / (fn + tp)`.
    FalseNegativeRate,
    // `tp / (tp + fp)` (predictive parity compares it).
    Precision,
    // `tn / (tn + fn)`.
    NegativePredictiveValue,
    // `fp / (fp + tp)`.
    FalseDiscoveryRate,
    // `fn / (fn + tn)`.
    FalseOmissionRate,
    // `(tp + tn)` over all.
    Accuracy,
    // The mean of the true positive and true negative rates.
    BalancedAccuracy,
    // The harmonic mean of precision and recall.
    F1,
}

impl std::fmt::Display for RateMetric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl RateMetric {
    /// Every rate metric, in the order the report lists them.
    pub const ALL: &'static [RateMetric] = &[
        RateMetric::BaseRate,
        RateMetric::SelectionRate,
        RateMetric::TruePositiveRate,
        RateMetric::FalsePositiveRate,
        RateMetric::TrueNegativeRate,
        RateMetric::FalseNegativeRate,
        RateMetric::Precision,
        RateMetric::NegativePredictiveValue,
        RateMetric::FalseDiscoveryRate,
        RateMetric::FalseOmissionRate,
        RateMetric::Accuracy,
        RateMetric::BalancedAccuracy,
        RateMetric::F1,
    ];

    /// The metric's snake_case name, as in the record and the criteria.
    pub fn name(self) -> &'static str {
        match self {
            RateMetric::BaseRate => "base_rate",
            RateMetric::SelectionRate => "selection_rate",
            RateMetric::TruePositiveRate => "true_positive_rate",
            RateMetric::FalsePositiveRate => "false_positive_rate",
            RateMetric::TrueNegativeRate => "true_negative_rate",
            RateMetric::FalseNegativeRate => "false_negative_rate",
            RateMetric::Precision => "precision",
            RateMetric::NegativePredictiveValue => "negative_predictive_value",
            RateMetric::FalseDiscoveryRate => "false_discovery_rate",
            RateMetric::FalseOmissionRate => "false_omission_rate",
            RateMetric::Accuracy => "accuracy",
            RateMetric::BalancedAccuracy => "balanced_accuracy",
            RateMetric::F1 => "f1",
        }
    }

    /// The metric with this snake_case name, if any.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.name() == s)
    }

    /// `(numerator, denominator)` for metrics that are a single proportion (Wilson intervals
    /// apply); `None` for balanced accuracy and F1.
    pub fn proportion(self, c: &Cells) -> Option<(f64, f64)> {
        Some(match self {
            RateMetric::BaseRate => (c.positives(), c.n()),
            RateMetric::SelectionRate => (c.predicted_positive(), c.n()),
            RateMetric::TruePositiveRate => (c.tp, c.positives()),
            RateMetric::FalsePositiveRate => (c.fp, c.negatives()),
            RateMetric::TrueNegativeRate => (c.tn, c.negatives()),
            RateMetric::FalseNegativeRate => (c.fn_, c.positives()),
            RateMetric::Precision => (c.tp, c.predicted_positive()),
            RateMetric::NegativePredictiveValue => (c.tn, c.predicted_negative()),
            RateMetric::FalseDiscoveryRate => (c.fp, c.predicted_positive()),
            RateMetric::FalseOmissionRate => (c.fn_, c.predicted_negative()),
            RateMetric::Accuracy => (c.tp + c.tn, c.n()),
            RateMetric::BalancedAccuracy | RateMetric::F1 => return None,
        })
    }

    /// Why the metric is undefined when its denominator is zero.
    pub fn null_reason(self) -> NullReason {
        match self {
            RateMetric::BaseRate | RateMetric::SelectionRate | RateMetric::Accuracy => NullReason::EmptyGroup,
            RateMetric::TruePositiveRate | RateMetric::FalseNegativeRate => NullReason::NoActualPositives,
            RateMetric::FalsePositiveRate | RateMetric::TrueNegativeRate => NullReason::NoActualNegatives,
            RateMetric::Precision | RateMetric::FalseDiscoveryRate => NullReason::NoPredictedPositives,
            RateMetric::NegativePredictiveValue | RateMetric::FalseOmissionRate => NullReason::NoPredictedNegatives,
            RateMetric::BalancedAccuracy => NullReason::NeedsBothClasses,
            RateMetric::F1 => NullReason::NoActualOrPredictedPositives,
        }
    }

    /// The metric of these counts, or null with the reason when its denominator is 0.
    pub fn compute(self, c: &Cells) -> Value {
        if let Some((num, den)) = self.proportion(c) {
            return Value::ratio(num, den, self.null_reason());
        }
        match self {
            RateMetric::BalancedAccuracy => {
                if c.positives() > 0.0 && c.negatives() > 0.0 {
                    Value::some((c.tp / c.positives() + c.tn / c.negatives()) / 2.0)
                } else {
                    Value::null(self.null_reason())
                }
            }
            _ => Value::ratio(2.0 * c.tp, 2.0 * c.tp + c.fp + c.fn_, self.null_reason()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_rates() {
        // tp 3, fp 1, tn 4, fn 2
        let c = Cells {
            tp: 3.0,
            fp: 1.0,
            tn: 4.0,
            fn_: 2.0,
        };
        let v = |m: RateMetric| m.compute(&c).value.unwrap();
        assert_eq!(v(RateMetric::SelectionRate), 0.4);
        assert_eq!(v(RateMetric::TruePositiveRate), 0.6);
        assert_eq!(v(RateMetric::FalsePositiveRate), 0.2);
        assert_eq!(v(RateMetric::Precision), 0.75);
        assert_eq!(v(RateMetric::NegativePredictiveValue), 4.0 / 6.0);
        assert_eq!(v(RateMetric::Accuracy), 0.7);
        assert_eq!(v(RateMetric::BalancedAccuracy), 0.7);
        assert_eq!(v(RateMetric::F1), 6.0 / 9.0);
    }

    #[test]
    fn zero_denominators_are_null_with_reason() {
        let c = Cells {
            tp: 0.0,
            fp: 2.0,
            tn: 3.0,
            fn_: 0.0,
        };
        let tpr = RateMetric::TruePositiveRate.compute(&c);
        assert_eq!(tpr.value, None);
        assert_eq!(tpr.null_reason.map(NullReason::as_str), Some("no actual positives"));
        assert_eq!(RateMetric::FalsePositiveRate.compute(&c).value, Some(0.4));
        assert_eq!(RateMetric::BalancedAccuracy.compute(&c).value, None);
        assert_eq!(
            RateMetric::SelectionRate
                .compute(&Cells::default())
                .null_reason
                .map(NullReason::as_str),
            Some("empty group")
        );
    }
}
