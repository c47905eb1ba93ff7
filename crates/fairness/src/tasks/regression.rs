//! A numeric outcome (weekly hours of home care needed, a count): per group the mean outcome and prediction,
//! the mean error (bias: prediction − outcome, positive when the model over-predicts), MAE, RMSE, R², and how
//! far the group's predictions lie from the reference group's (the two-sample Kolmogorov–Smirnov distance).

use super::grouped::{CellStats, GroupColumns, Grouped};
use super::{AttributeOutcome, GroupOutcome, Series, Sum, TaskConfig, gap, reference_of};
use crate::cells::Value;
use crate::input::{Col, GroupCol, InputError, MissingGroups};
use crate::metric::NullReason;
use serde::{Deserialize, Serialize};

/// One chunk of rows of a regression model's output.
#[derive(Debug, Clone)]
pub struct RegressionBatch<'a> {
    /// The outcome the model is judged against.
    pub outcome: Col<'a, f64>,
    /// The model's prediction.
    pub prediction: Col<'a, f64>,
    /// The group attributes.
    pub groups: Vec<GroupCol<'a>>,
}

/// Sufficient statistics of a regression over some rows.
#[derive(Debug, Clone, Default)]
pub struct RegressionStats {
    n: u64,
    /// Welford/Chan: the outcome's mean and sum of squared deviations, for R²'s denominator.
    mean_y: f64,
    m2_y: f64,
    sum_y: Sum,
    sum_p: Sum,
    sum_e: Sum,
    sum_abs_e: Sum,
    sum_sq_e: Sum,
    /// Every prediction, for the distribution distance (sorted when a report is made).
    predictions: Vec<f64>,
}

impl RegressionStats {
    fn add(&mut self, y: f64, p: f64) {
        self.n += 1;
        let d = y - self.mean_y;
        self.mean_y += d / self.n as f64;
        self.m2_y += d * (y - self.mean_y);
        let e = p - y;
        self.sum_y.add(y);
        self.sum_p.add(p);
        self.sum_e.add(e);
        self.sum_abs_e.add(e.abs());
        self.sum_sq_e.add(e * e);
        self.predictions.push(p);
    }
}

impl CellStats for RegressionStats {
    fn merge(&mut self, o: &Self) {
        if o.n == 0 {
            return;
        }
        let n = self.n + o.n;
        let delta = o.mean_y - self.mean_y;
        self.m2_y += o.m2_y + delta * delta * (self.n as f64) * (o.n as f64) / n as f64;
        self.mean_y += delta * o.n as f64 / n as f64;
        self.n = n;
        self.sum_y.merge(&o.sum_y);
        self.sum_p.merge(&o.sum_p);
        self.sum_e.merge(&o.sum_e);
        self.sum_abs_e.merge(&o.sum_abs_e);
        self.sum_sq_e.merge(&o.sum_sq_e);
        self.predictions.extend_from_slice(&o.predictions);
    }

    fn count(&self) -> u64 {
        self.n
    }
}

/// The metrics of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RegressionMetrics {
    /// Mean outcome.
    pub mean_outcome: Value,
    /// Mean prediction.
    pub mean_prediction: Value,
    /// Mean of prediction − outcome: the model's bias for the group.
    pub mean_error: Value,
    /// Mean absolute error.
    pub mean_absolute_error: Value,
    /// Root mean squared error.
    pub root_mean_squared_error: Value,
    /// 1 − (sum of squared errors) / (sum of squared deviations of the outcome from its mean): null when the
    /// outcome does not vary in the group.
    pub r2: Value,
    /// Two-sample Kolmogorov–Smirnov distance between the group's predictions and the reference group's
    /// (0 for the reference itself).
    pub ks_to_reference: Value,
}

fn metrics(s: &RegressionStats, reference: Option<&[f64]>, sorted: &[f64]) -> RegressionMetrics {
    if s.n == 0 {
        let e = Value::null(NullReason::EmptyGroup);
        return RegressionMetrics {
            mean_outcome: e,
            mean_prediction: e,
            mean_error: e,
            mean_absolute_error: e,
            root_mean_squared_error: e,
            r2: e,
            ks_to_reference: e,
        };
    }
    let n = s.n as f64;
    RegressionMetrics {
        mean_outcome: Value::some(s.sum_y.value() / n),
        mean_prediction: Value::some(s.sum_p.value() / n),
        mean_error: Value::some(s.sum_e.value() / n),
        mean_absolute_error: Value::some(s.sum_abs_e.value() / n),
        root_mean_squared_error: Value::some((s.sum_sq_e.value() / n).sqrt()),
        r2: if s.m2_y > 0.0 {
            Value::some(1.0 - s.sum_sq_e.value() / s.m2_y)
        } else {
            Value::null(NullReason::ConstantOutcome)
        },
        ks_to_reference: match reference {
            Some(r) if !r.is_empty() => Value::some(ks_distance(sorted, r)),
            _ => Value::null(NullReason::NoGroupToCompare),
        },
    }
}

/// The two-sample Kolmogorov–Smirnov statistic of two sorted samples: the largest distance between their
/// empirical distribution functions (as `scipy.stats.ks_2samp` computes it).
pub fn ks_distance(a: &[f64], b: &[f64]) -> f64 {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    d
}

fn sorted(s: &RegressionStats) -> Vec<f64> {
    let mut v = s.predictions.clone();
    v.sort_by(f64::total_cmp);
    v
}

/// A regression model's fairness, per group of each attribute and per intersection.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RegressionReport {
    /// Rows judged.
    pub rows: u64,
    /// The metrics of every row together.
    pub overall: RegressionMetrics,
    /// Per attribute.
    pub attributes: Vec<AttributeOutcome<RegressionMetrics>>,
    /// The intersection of all attributes, when there are two or more.
    pub intersection: Option<AttributeOutcome<RegressionMetrics>>,
}

/// Streams regression batches into mergeable statistics per intersection cell.
#[derive(Debug, Clone)]
pub struct RegressionAccumulator {
    grouped: Grouped<RegressionStats>,
    missing: MissingGroups,
}

impl RegressionAccumulator {
    /// Empty, for these group attributes.
    pub fn new(attributes: &[&str], missing: MissingGroups) -> Self {
        Self {
            grouped: Grouped::new(attributes),
            missing,
        }
    }

    /// Checks a batch (lengths, finite numbers, groups) and adds it; nothing is added when it is refused.
    pub fn add(&mut self, b: &RegressionBatch<'_>) -> Result<(), InputError> {
        let n = b.outcome.values.len();
        for c in [&b.outcome, &b.prediction] {
            if c.values.len() != n {
                return Err(InputError::Length {
                    column: c.name.to_owned(),
                    got: c.values.len(),
                    expected: n,
                    reference: b.outcome.name.to_owned(),
                });
            }
            if let Some(row) = c.values.iter().position(|v| !v.is_finite()) {
                return Err(InputError::Other(format!(
                    "column {:?}, row {row}: {} is not a finite number",
                    c.name, c.values[row]
                )));
            }
        }
        GroupColumns { groups: &b.groups }.validate(n, b.outcome.name, self.missing)?;
        let (y, p) = (b.outcome.values, b.prediction.values);
        self.grouped.add_rows(&b.groups, n, |s, i| s.add(y[i], p[i]))
    }

    /// Adds another accumulator's rows.
    pub fn merge(&mut self, other: &RegressionAccumulator) -> Result<(), InputError> {
        self.grouped.merge(&other.grouped)
    }

    /// The report.
    pub fn report(&self, config: &TaskConfig) -> RegressionReport {
        let overall = self.grouped.overall();
        let overall_sorted = sorted(&overall);
        let overall_metrics = metrics(&overall, None, &overall_sorted);
        let names = self.grouped.attributes().to_vec();
        let attributes = names
            .iter()
            .enumerate()
            .map(|(a, name)| {
                attribute(
                    name,
                    self.grouped
                        .groups(a)
                        .into_iter()
                        .filter(|(_, g)| !config.skip_empty_groups || g.count() > 0)
                        .collect(),
                    &overall_metrics,
                    config,
                )
            })
            .collect();
        let intersection = (names.len() >= 2).then(|| {
            attribute(
                &names.join(" & "),
                self.grouped.intersections(),
                &overall_metrics,
                config,
            )
        });
        RegressionReport {
            rows: overall.n,
            overall: RegressionMetrics {
                ks_to_reference: Value::null(NullReason::NoGroupToCompare),
                ..overall_metrics
            },
            attributes,
            intersection,
        }
    }
}

fn attribute(
    name: &str,
    groups: Vec<(String, RegressionStats)>,
    overall: &RegressionMetrics,
    config: &TaskConfig,
) -> AttributeOutcome<RegressionMetrics> {
    let reference = reference_of(name, &groups, |s| s.n, config);
    let sorted_groups: Vec<Vec<f64>> = groups.iter().map(|(_, s)| sorted(s)).collect();
    let reference_sorted = reference
        .as_deref()
        .and_then(|r| groups.iter().position(|(g, _)| g == r))
        .map(|k| sorted_groups[k].as_slice());
    let outcomes: Vec<GroupOutcome<RegressionMetrics>> = groups
        .iter()
        .zip(&sorted_groups)
        .map(|((g, s), sorted)| GroupOutcome {
            group: g.clone(),
            count: s.n,
            small: s.n < config.min_group_size,
            metrics: metrics(s, reference_sorted, sorted),
        })
        .collect();
    type Get = fn(&RegressionMetrics) -> Value;
    let series: [(&str, bool, Get); 7] = [
        ("mean_outcome", false, |m| m.mean_outcome),
        ("mean_prediction", false, |m| m.mean_prediction),
        ("mean_error", false, |m| m.mean_error),
        ("mean_absolute_error", true, |m| m.mean_absolute_error),
        ("root_mean_squared_error", true, |m| m.root_mean_squared_error),
        ("r2", false, |m| m.r2),
        ("ks_to_reference", true, |m| m.ks_to_reference),
    ];
    let disparities = series
        .iter()
        .map(|&(metric, non_negative, get)| {
            let overall = if metric == "ks_to_reference" {
                Value::null(NullReason::NoGroupToCompare)
            } else {
                get(overall)
            };
            gap(
                Series {
                    metric: metric.to_owned(),
                    non_negative,
                    overall,
                    groups: outcomes
                        .iter()
                        .map(|o| (o.group.as_str(), o.small, get(&o.metrics)))
                        .collect(),
                },
                reference.as_deref(),
            )
        })
        .collect();
    AttributeOutcome {
        attribute: name.to_owned(),
        reference,
        groups: outcomes,
        disparities,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::encode;

    fn acc(y: &[f64], p: &[f64], g: &[&str]) -> RegressionAccumulator {
        let (codes, _, dict) = encode(g.iter().map(|s| Some(*s)));
        let mut a = RegressionAccumulator::new(&["g"], MissingGroups::Error);
        a.add(&RegressionBatch {
            outcome: Col { name: "y", values: y },
            prediction: Col { name: "p", values: p },
            groups: vec![GroupCol {
                name: "g",
                codes: &codes,
                valid: None,
                dictionary: &dict,
            }],
        })
        .unwrap();
        a
    }

    /// Merged accumulators report their groups in order of first appearance, whatever order the
    /// cells sit in their hash maps (which differs per map): a run's report must not depend on it.
    #[test]
    fn merged_groups_keep_the_order_of_first_appearance() {
        let names = ["g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7"];
        let first = acc(&[1.0; 8], &[1.0; 8], &names);
        let second = acc(&[2.0; 3], &[2.0; 3], &["h0", "h1", "h2"]);
        for _ in 0..20 {
            let mut merged = RegressionAccumulator::new(&["g"], MissingGroups::Error);
            merged.merge(&first).unwrap();
            merged.merge(&second).unwrap();
            let r = merged.report(&TaskConfig::default());
            let order: Vec<&str> = r.attributes[0].groups.iter().map(|g| g.group.as_str()).collect();
            assert_eq!(
                order,
                ["g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "h0", "h1", "h2"]
            );
        }
    }

    #[test]
    fn hand_computed_metrics_of_two_groups() {
        // a: y 1,2,3 p 2,2,2 → errors 1,0,-1; b: y 4,4 p 5,7 → errors 1,3.
        let a = acc(
            &[1.0, 2.0, 3.0, 4.0, 4.0],
            &[2.0, 2.0, 2.0, 5.0, 7.0],
            &["a", "a", "a", "b", "b"],
        );
        let r = a.report(&TaskConfig {
            min_group_size: 1,
            ..Default::default()
        });
        let g = &r.attributes[0];
        assert_eq!(g.reference.as_deref(), Some("a"));
        let (ma, mb) = (&g.groups[0].metrics, &g.groups[1].metrics);
        assert_eq!(ma.mean_error, Value::some(0.0));
        assert_eq!(ma.mean_absolute_error, Value::some(2.0 / 3.0));
        assert_eq!(ma.root_mean_squared_error, Value::some((2.0f64 / 3.0).sqrt()));
        assert_eq!(ma.r2, Value::some(0.0), "1 - 2/2");
        assert_eq!(mb.r2.null_reason, Some(NullReason::ConstantOutcome));
        assert_eq!(mb.mean_error, Value::some(2.0));
        // a's predictions are all 2, b's 5 and 7: the distributions do not overlap.
        assert_eq!(mb.ks_to_reference, Value::some(1.0));
        assert_eq!(ma.ks_to_reference, Value::some(0.0));
        let bias = g.disparities.iter().find(|d| d.metric == "mean_error").unwrap();
        assert_eq!(bias.difference_between_groups, Value::some(2.0));
        assert_eq!(bias.to_reference[0].difference, Value::some(2.0));
        assert_eq!(r.rows, 5);
        assert_eq!(r.overall.mean_error, Value::some(4.0 / 5.0));
    }

    #[test]
    fn chunks_merged_in_any_order_agree() {
        let y: Vec<f64> = (0..1000).map(|i| ((i * 37) % 101) as f64 * 0.37).collect();
        let p: Vec<f64> = (0..1000).map(|i| ((i * 53) % 97) as f64 * 0.41).collect();
        let g: Vec<&str> = (0..1000).map(|i| ["x", "y", "z"][i % 3]).collect();
        let whole = acc(&y, &p, &g).report(&TaskConfig::default());
        let mut parts = acc(&y[700..], &p[700..], &g[700..]);
        parts.merge(&acc(&y[..300], &p[..300], &g[..300])).unwrap();
        parts.merge(&acc(&y[300..700], &p[300..700], &g[300..700])).unwrap();
        let merged = parts.report(&TaskConfig::default());
        let close = |a: Value, b: Value| match (a.value, b.value) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-12 * a.abs().max(1.0),
            (None, None) => a.null_reason == b.null_reason,
            _ => false,
        };
        assert_eq!(whole.attributes[0].reference, merged.attributes[0].reference);
        for gw in &whole.attributes[0].groups {
            // Groups are listed in order of first appearance, which differs between the two.
            let gm = merged.attributes[0]
                .groups
                .iter()
                .find(|g| g.group == gw.group)
                .unwrap();
            assert_eq!(gw.count, gm.count);
            let (w, m) = (&gw.metrics, &gm.metrics);
            assert!(close(w.r2, m.r2) && close(w.root_mean_squared_error, m.root_mean_squared_error));
            assert_eq!(w.ks_to_reference, m.ks_to_reference, "the distance is exact");
        }
    }

    #[test]
    fn a_number_that_is_not_finite_is_refused_naming_column_and_row() {
        let (codes, _, dict) = encode(["a", "a"].iter().map(|s| Some(*s)));
        let mut a = RegressionAccumulator::new(&["g"], MissingGroups::Error);
        let e = a
            .add(&RegressionBatch {
                outcome: Col {
                    name: "hours",
                    values: &[1.0, 2.0],
                },
                prediction: Col {
                    name: "predicted",
                    values: &[1.0, f64::NAN],
                },
                groups: vec![GroupCol {
                    name: "g",
                    codes: &codes,
                    valid: None,
                    dictionary: &dict,
                }],
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "column \"predicted\", row 1: NaN is not a finite number");
        assert_eq!(
            a.report(&TaskConfig::default()).rows,
            0,
            "nothing of a refused batch is kept"
        );
    }
}
