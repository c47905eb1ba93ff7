//! Criteria an authority fixes before a run, and their verdicts.
//!
//! A criterion names an attribute, a fairness metric, what it is compared against, and a
//! threshold, e.g. `disparate_impact >= 0.8` on `origin`. Its verdict is `pass` when the whole
//! interval lies on the passing side, `fail` when the whole interval lies on the failing side,
//! and `inconclusive` when the interval straddles the threshold (or the metric is undefined) —
//! with the numbers behind it.

use crate::cells::Value;
use crate::report::{AttributeReport, ReferenceComparison, Report};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum CriteriaError {
    #[error("criteria file is not valid TOML: {0}")]
    Toml(String),
    #[error("criteria file is not valid JSON: {0}")]
    Json(String),
    #[error("criterion {index} ({name}): {reason}")]
    Invalid { index: usize, name: String, reason: String },
}

/// Comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Op {
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "<")]
    Lt,
}

impl Op {
    fn holds(self, v: f64, t: f64) -> bool {
        match self {
            Op::Ge => v >= t,
            Op::Gt => v > t,
            Op::Le => v <= t,
            Op::Lt => v < t,
        }
    }
}

/// What a metric is compared against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Against {
    /// Largest gap between any two groups (fairlearn's `between_groups`).
    #[default]
    BetweenGroups,
    /// Worst group against the reference group.
    Reference,
    /// Worst group against the whole population (fairlearn's `to_overall`).
    Overall,
}

/// One criterion.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    #[serde(default)]
    pub name: Option<String>,
    /// Attribute, or an intersection as `a&b`.
    pub attribute: String,
    /// `demographic_parity_difference|ratio`, `equal_opportunity_difference|ratio`,
    /// `predictive_parity_difference|ratio`, `false_positive_rate_difference|ratio`,
    /// `accuracy_difference|ratio`, `equalized_odds_difference|ratio`, `disparate_impact`,
    /// `average_odds_difference`.
    pub metric: String,
    #[serde(default)]
    pub against: Against,
    pub op: Op,
    pub threshold: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    criterion: Vec<Criterion>,
}

/// Parses criteria from TOML (`[[criterion]]` tables) or JSON (`{"criterion": [...]}` or a
/// bare array), chosen by the text's first non-blank character.
pub fn parse(text: &str) -> Result<Vec<Criterion>, CriteriaError> {
    let trimmed = text.trim_start();
    let list = if trimmed.starts_with('[') && !trimmed.starts_with("[[") {
        serde_json::from_str::<Vec<Criterion>>(text).map_err(|e| CriteriaError::Json(e.to_string()))?
    } else if trimmed.starts_with('{') {
        serde_json::from_str::<File>(text)
            .map_err(|e| CriteriaError::Json(e.to_string()))?
            .criterion
    } else {
        toml::from_str::<File>(text)
            .map_err(|e| CriteriaError::Toml(e.to_string()))?
            .criterion
    };
    for (i, c) in list.iter().enumerate() {
        let invalid = |reason: String| CriteriaError::Invalid {
            index: i + 1,
            name: c.name.clone().unwrap_or_else(|| c.metric.clone()),
            reason,
        };
        if resolve(&c.metric).is_none() {
            return Err(invalid(format!(
                "unknown metric {:?}; known: {}",
                c.metric,
                METRICS.join(", ")
            )));
        }
        if !c.threshold.is_finite() {
            return Err(invalid("threshold must be a finite number".into()));
        }
        let (_, kind) = resolve(&c.metric).expect("checked");
        if matches!(kind, Kind::DisparateImpact | Kind::AverageOdds) && c.against != Against::Reference {
            return Err(invalid(format!(
                "{} is always measured against the reference group; set against = \"reference\"",
                c.metric
            )));
        }
        if matches!(kind, Kind::EqualizedOdds(_)) && c.against != Against::BetweenGroups {
            return Err(invalid("equalized odds is measured between groups".into()));
        }
    }
    Ok(list)
}

/// Metric names criteria accept.
pub const METRICS: &[&str] = &[
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
    "predictive_parity_difference",
    "predictive_parity_ratio",
    "false_positive_rate_difference",
    "false_positive_rate_ratio",
    "accuracy_difference",
    "accuracy_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "disparate_impact",
    "average_odds_difference",
];

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A rate disparity: `true` for difference, `false` for ratio.
    Rate(bool),
    EqualizedOdds(bool),
    DisparateImpact,
    AverageOdds,
}

fn resolve(metric: &str) -> Option<(&'static str, Kind)> {
    let rate = |m: &str| -> Option<&'static str> {
        Some(match m {
            "demographic_parity" => "selection_rate",
            "equal_opportunity" => "true_positive_rate",
            "predictive_parity" => "precision",
            "false_positive_rate" => "false_positive_rate",
            "accuracy" => "accuracy",
            _ => return None,
        })
    };
    match metric {
        "disparate_impact" => Some(("selection_rate", Kind::DisparateImpact)),
        "average_odds_difference" => Some(("true_positive_rate", Kind::AverageOdds)),
        "equalized_odds_difference" => Some(("true_positive_rate", Kind::EqualizedOdds(true))),
        "equalized_odds_ratio" => Some(("true_positive_rate", Kind::EqualizedOdds(false))),
        m => {
            if let Some(base) = m.strip_suffix("_difference") {
                rate(base).map(|r| (r, Kind::Rate(true)))
            } else if let Some(base) = m.strip_suffix("_ratio") {
                rate(base).map(|r| (r, Kind::Rate(false)))
            } else {
                None
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    Inconclusive,
}

/// A criterion's verdict with the numbers behind it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Verdict {
    pub criterion: Criterion,
    pub verdict: Outcome,
    pub value: Option<f64>,
    pub interval: Option<[f64; 2]>,
    /// The group the worst value belongs to, when comparing groups one by one.
    pub group: Option<String>,
    pub explanation: String,
    /// Groups kept out of the comparison, with reasons.
    pub excluded: Vec<String>,
}

/// The worst of several per-group comparisons: for differences the largest |d| (its interval
/// folded to absolute values), for ratios the one furthest below 1.
fn worst(items: Vec<(String, Value, Option<[f64; 2]>)>, difference: bool) -> Option<(String, f64, Option<[f64; 2]>)> {
    let defined = items.into_iter().filter_map(|(g, v, i)| v.value.map(|v| (g, v, i)));
    if difference {
        defined
            .map(|(g, v, i)| {
                let i = i.map(|[lo, hi]| {
                    if lo <= 0.0 && hi >= 0.0 {
                        [0.0, lo.abs().max(hi.abs())]
                    } else {
                        [lo.abs().min(hi.abs()), lo.abs().max(hi.abs())]
                    }
                });
                (g, v.abs(), i)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
    } else {
        defined.min_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// What a criterion measures: value, interval, worst group, excluded groups, null reason.
type Measured = (
    Option<f64>,
    Option<[f64; 2]>,
    Option<String>,
    Vec<String>,
    Option<&'static str>,
);

/// The worst group's comparison with the reference (difference or ratio) as a measurement.
fn worst_against_reference(list: &[ReferenceComparison], difference: bool, excluded: Vec<String>) -> Measured {
    let items = list
        .iter()
        .map(|r| {
            if difference {
                (r.group.clone(), r.difference, r.difference_interval)
            } else {
                (r.group.clone(), r.ratio, r.ratio_interval)
            }
        })
        .collect();
    match worst(items, difference) {
        Some((g, v, i)) => (Some(v), i, Some(g), excluded, None),
        None => (
            None,
            None,
            None,
            excluded,
            Some("no group to compare with the reference"),
        ),
    }
}

fn measure(c: &Criterion, a: &AttributeReport) -> Measured {
    let (rate, kind) = resolve(&c.metric).expect("validated when parsed");
    let d = a.disparity(rate).expect("every disparity metric is computed");
    let excluded = d
        .excluded
        .iter()
        .map(|e| format!("{}: {}", e.group, e.reason))
        .collect();
    let (value, interval, group) = match kind {
        Kind::Rate(diff) => match c.against {
            Against::BetweenGroups => {
                let (v, i) = if diff {
                    (d.difference_between_groups, d.intervals.difference_between_groups)
                } else {
                    (d.ratio_between_groups, d.intervals.ratio_between_groups)
                };
                (v, i, None)
            }
            Against::Overall => {
                let (v, i) = if diff {
                    (d.difference_to_overall, d.intervals.difference_to_overall)
                } else {
                    (d.ratio_to_overall, d.intervals.ratio_to_overall)
                };
                (v, i, None)
            }
            Against::Reference => return worst_against_reference(&d.to_reference, diff, excluded),
        },
        Kind::EqualizedOdds(diff) => {
            let cb = &a.combined;
            if diff {
                (cb.equalized_odds_difference, cb.equalized_odds_intervals[0], None)
            } else {
                (cb.equalized_odds_ratio, cb.equalized_odds_intervals[1], None)
            }
        }
        Kind::DisparateImpact | Kind::AverageOdds => {
            let (list, diff) = if matches!(kind, Kind::DisparateImpact) {
                (&a.combined.disparate_impact, false)
            } else {
                (&a.combined.average_odds_difference, true)
            };
            return worst_against_reference(list, diff, excluded);
        }
    };
    (value.value, interval, group, excluded, value.null_reason)
}

/// Judges every criterion against a report.
pub fn evaluate(criteria: &[Criterion], report: &Report) -> Vec<Verdict> {
    criteria
        .iter()
        .map(|c| {
            let Some(a) = report.attribute(&c.attribute) else {
                return Verdict {
                    criterion: c.clone(),
                    verdict: Outcome::Inconclusive,
                    value: None,
                    interval: None,
                    group: None,
                    explanation: format!("attribute {:?} is not in the report", c.attribute),
                    excluded: Vec::new(),
                };
            };
            let (value, interval, group, excluded, null_reason) = measure(c, a);
            let op = serde_json::to_value(c.op)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let (verdict, explanation) = match (value, interval) {
                (None, _) => (
                    Outcome::Inconclusive,
                    format!("{} is undefined: {}", c.metric, null_reason.unwrap_or("no value")),
                ),
                (Some(v), Some([lo, hi])) => {
                    let (all_pass, all_fail) = (
                        c.op.holds(lo, c.threshold) && c.op.holds(hi, c.threshold),
                        !c.op.holds(lo, c.threshold) && !c.op.holds(hi, c.threshold),
                    );
                    if all_pass {
                        (
                            Outcome::Pass,
                            format!(
                                "{v:.4} {op} {} holds across the interval [{lo:.4}, {hi:.4}]",
                                c.threshold
                            ),
                        )
                    } else if all_fail {
                        (
                            Outcome::Fail,
                            format!(
                                "{v:.4} {op} {} fails across the interval [{lo:.4}, {hi:.4}]",
                                c.threshold
                            ),
                        )
                    } else {
                        (
                            Outcome::Inconclusive,
                            format!(
                                "the interval [{lo:.4}, {hi:.4}] around {v:.4} straddles the threshold {}",
                                c.threshold
                            ),
                        )
                    }
                }
                (Some(v), None) => {
                    let ok = c.op.holds(v, c.threshold);
                    (
                        if ok { Outcome::Pass } else { Outcome::Fail },
                        format!(
                            "{v:.4} {op} {} {} (point estimate only: no interval was computed)",
                            c.threshold,
                            if ok { "holds" } else { "fails" }
                        ),
                    )
                }
            };
            Verdict {
                criterion: c.clone(),
                verdict,
                value,
                interval,
                group,
                explanation,
                excluded,
            }
        })
        .collect()
}
