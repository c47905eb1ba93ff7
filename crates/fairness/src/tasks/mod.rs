//! Fairness of models whose output is not a yes/no decision: a number (hours of home care, a count of visits)
//! or one of several categories (visitation levels). The same shape as the binary engine — mergeable statistics
//! per intersection cell of the group attributes, groups and intersections as sums of cells, disparities three
//! ways (between groups, to the whole population, to a reference group) as difference and ratio — with the
//! metrics of each task in its sibling file.
//!
//! Exactness: counts (the whole multi-class confusion matrix) merge exactly. Sums of floating-point numbers
//! (regression) are kept with Neumaier's compensation and the outcome's spread with Chan's pairwise update, so
//! chunks merged in any order agree to a few units in the last place, not bit for bit. The Kolmogorov–Smirnov
//! distance keeps every prediction of the cell (8 bytes a row) and is exact.

mod grouped;
pub mod multiclass;
pub mod regression;

use crate::cells::Value;
use crate::metric::NullReason;
use serde::{Deserialize, Serialize};

pub use grouped::{GroupColumns, Grouped};

/// One group (or intersection) of an attribute and its metrics.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupOutcome<M> {
    /// The group's value (for an intersection, the values joined by ` & ` in attribute order).
    pub group: String,
    /// Its rows.
    pub count: u64,
    /// Smaller than the minimum group size: shown, but kept out of the disparities.
    pub small: bool,
    /// Its metrics.
    pub metrics: M,
}

/// The groups of one attribute (or of the intersection of all) and the disparities between them.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AttributeOutcome<M> {
    /// The attribute (for the intersection, the attributes joined by ` & `).
    pub attribute: String,
    /// The group the others are compared with: the one named, or the largest.
    pub reference: Option<String>,
    /// Every group, in order of first appearance.
    pub groups: Vec<GroupOutcome<M>>,
    /// Per metric, its spread over the groups.
    pub disparities: Vec<Gap>,
}

/// A metric's disparity over the groups of one attribute (groups too small or with the metric undefined are
/// left out, and named).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Gap {
    /// The metric (for a per-class metric, `metric[class]`).
    pub metric: String,
    /// max − min over the compared groups.
    pub difference_between_groups: Value,
    /// min / max over the compared groups; null for a metric that may be negative.
    pub ratio_between_groups: Value,
    /// The largest |group − overall|.
    pub difference_to_overall: Value,
    /// The smallest min(group / overall, overall / group); null for a metric that may be negative.
    pub ratio_to_overall: Value,
    /// Each compared group against the reference group.
    pub to_reference: Vec<ToReference>,
    /// Groups left out, with why.
    pub excluded: Vec<Left>,
}

/// A group against the reference group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToReference {
    /// The group.
    pub group: String,
    /// group − reference.
    pub difference: Value,
    /// group / reference; null for a metric that may be negative.
    pub ratio: Value,
}

/// A group left out of a disparity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Left {
    /// The group.
    pub group: String,
    /// Why.
    pub reason: String,
}

/// A metric's values for a disparity: its name, whether it is never negative (so ratios mean something), the
/// overall value and each group's.
pub(crate) struct Series<'a> {
    pub metric: String,
    pub non_negative: bool,
    pub overall: Value,
    /// (group, small, value)
    pub groups: Vec<(&'a str, bool, Value)>,
}

/// The disparity of one metric, as the binary engine computes it for rates.
pub(crate) fn gap(s: Series<'_>, reference: Option<&str>) -> Gap {
    let mut excluded = Vec::new();
    let mut vals: Vec<(&str, f64)> = Vec::new();
    for &(g, small, v) in &s.groups {
        match (small, v.value) {
            (true, _) => excluded.push(Left {
                group: g.to_owned(),
                reason: "smaller than the minimum group size".to_owned(),
            }),
            (false, None) => excluded.push(Left {
                group: g.to_owned(),
                reason: format!("undefined: {}", v.null_reason.map_or("no value", NullReason::as_str)),
            }),
            (false, Some(x)) if !x.is_finite() => excluded.push(Left {
                group: g.to_owned(),
                reason: "undefined: not a finite number".to_owned(),
            }),
            (false, Some(x)) => vals.push((g, x)),
        }
    }
    let difference_only = Value::null(NullReason::DifferenceOnly);
    let (diff_bg, ratio_bg) = if vals.len() >= 2 {
        let min = vals.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
        let max = vals.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
        let ratio = if s.non_negative {
            Value::ratio(min, max, NullReason::AllZero)
        } else {
            difference_only
        };
        (Value::some(max - min), ratio)
    } else {
        let none = Value::null(NullReason::FewerThanTwoGroups);
        (none, none)
    };
    let (diff_o, ratio_o) = match (s.overall.value, vals.is_empty()) {
        (Some(o), false) if o.is_finite() => {
            let d = vals.iter().map(|v| (v.1 - o).abs()).fold(0.0, f64::max);
            let ratio = if !s.non_negative {
                difference_only
            } else if o == 0.0 && vals.iter().all(|v| v.1 == 0.0) {
                Value::null(NullReason::AllZeroWithOverall)
            } else if o == 0.0 || vals.iter().any(|v| v.1 == 0.0) {
                Value::some(0.0)
            } else {
                Value::some(
                    vals.iter()
                        .map(|v| (v.1 / o).min(o / v.1))
                        .fold(f64::INFINITY, f64::min),
                )
            };
            (Value::some(d), ratio)
        }
        _ => {
            let none = Value::null(NullReason::FewerThanTwoGroups);
            (none, none)
        }
    };
    let reference = reference.and_then(|r| vals.iter().find(|v| v.0 == r).copied());
    let to_reference = match reference {
        Some((r, rv)) => vals
            .iter()
            .filter(|v| v.0 != r)
            .map(|&(g, v)| ToReference {
                group: g.to_owned(),
                difference: Value::some(v - rv),
                ratio: if s.non_negative {
                    Value::ratio(v, rv, NullReason::ReferenceZero)
                } else {
                    difference_only
                },
            })
            .collect(),
        None => Vec::new(),
    };
    Gap {
        metric: s.metric,
        difference_between_groups: diff_bg,
        ratio_between_groups: ratio_bg,
        difference_to_overall: diff_o,
        ratio_to_overall: ratio_o,
        to_reference,
        excluded,
    }
}

/// How a task's report is made.
#[derive(Debug, Clone)]
pub struct TaskConfig {
    /// Groups smaller than this are shown but flagged and kept out of disparities.
    pub min_group_size: u64,
    /// Reference group per attribute (`attribute -> value`); the largest group by default.
    pub reference: std::collections::BTreeMap<String, String>,
    /// Leave out groups without rows. A file's dictionary may list values no row has (and a CSV lists
    /// none): a run leaves them out so its report does not depend on the file format; `metrics` keeps
    /// them, as fairlearn lists every value.
    pub skip_empty_groups: bool,
}

impl Default for TaskConfig {
    fn default() -> Self {
        Self {
            min_group_size: 30,
            reference: Default::default(),
            skip_empty_groups: false,
        }
    }
}

/// The reference group of an attribute: the one configured, or the largest (first of equals).
pub(crate) fn reference_of<S>(
    attribute: &str,
    groups: &[(String, S)],
    count: impl Fn(&S) -> u64,
    config: &TaskConfig,
) -> Option<String> {
    if let Some(r) = config.reference.get(attribute) {
        return Some(r.clone());
    }
    let mut best: Option<(&str, u64)> = None;
    for (g, s) in groups {
        let n = count(s);
        if n > 0 && best.is_none_or(|(_, b)| n > b) {
            best = Some((g, n));
        }
    }
    best.map(|(g, _)| g.to_owned())
}

/// Neumaier's compensated sum: adding in any order gives the same total to within a few units in the last
/// place, which is what lets chunks merge in any order and still agree with a reference to 1e-12.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Sum {
    sum: f64,
    c: f64,
}

impl Sum {
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.c += (self.sum - t) + x;
        } else {
            self.c += (x - t) + self.sum;
        }
        self.sum = t;
    }

    pub fn merge(&mut self, o: &Sum) {
        self.add(o.sum);
        self.add(o.c);
    }

    pub fn value(&self) -> f64 {
        self.sum + self.c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(non_negative: bool, overall: f64, groups: &[(&'static str, bool, Option<f64>)]) -> Series<'static> {
        Series {
            metric: "m".into(),
            non_negative,
            overall: Value::some(overall),
            groups: groups
                .iter()
                .map(|&(g, small, v)| (g, small, v.map_or(Value::null(NullReason::EmptyGroup), Value::some)))
                .collect(),
        }
    }

    #[test]
    fn a_gap_is_computed_over_comparable_groups_only_and_names_the_others() {
        let g = gap(
            series(
                true,
                2.0,
                &[
                    ("a", false, Some(1.0)),
                    ("b", false, Some(4.0)),
                    ("c", true, Some(100.0)),
                    ("d", false, None),
                ],
            ),
            Some("a"),
        );
        assert_eq!(g.difference_between_groups, Value::some(3.0));
        assert_eq!(g.ratio_between_groups, Value::some(0.25));
        assert_eq!(g.difference_to_overall, Value::some(2.0));
        assert_eq!(g.ratio_to_overall, Value::some(0.5));
        assert_eq!(g.to_reference.len(), 1);
        assert_eq!(g.to_reference[0].difference, Value::some(3.0));
        assert_eq!(g.to_reference[0].ratio, Value::some(4.0));
        let left: Vec<&str> = g.excluded.iter().map(|l| l.group.as_str()).collect();
        assert_eq!(left, ["c", "d"]);
        assert!(g.excluded[1].reason.contains("empty group"));
    }

    /// A metric that is not a finite number (sums that overflowed) is left out by name: `f64::min`
    /// and `f64::max` skip NaN, so it would silently vanish from the disparity.
    #[test]
    fn a_group_whose_metric_is_not_finite_is_left_out_by_name() {
        let g = gap(
            series(
                false,
                2.0,
                &[
                    ("a", false, Some(1.0)),
                    ("b", false, Some(f64::NAN)),
                    ("c", false, Some(4.0)),
                ],
            ),
            Some("a"),
        );
        assert_eq!(g.difference_between_groups, Value::some(3.0));
        assert_eq!(g.excluded.len(), 1, "{:?}", g.excluded);
        assert_eq!(g.excluded[0].group, "b");
        assert!(g.excluded[0].reason.contains("not a finite number"));
        assert!(g.to_reference.iter().all(|r| r.group != "b"));
    }

    #[test]
    fn a_metric_that_may_be_negative_has_differences_only() {
        let g = gap(
            series(false, 0.0, &[("a", false, Some(-1.0)), ("b", false, Some(2.0))]),
            Some("b"),
        );
        assert_eq!(g.difference_between_groups, Value::some(3.0));
        assert_eq!(g.ratio_between_groups.null_reason, Some(NullReason::DifferenceOnly));
        assert_eq!(g.ratio_to_overall.null_reason, Some(NullReason::DifferenceOnly));
        assert_eq!(g.to_reference[0].difference, Value::some(-3.0));
        let one = gap(series(true, 1.0, &[("a", false, Some(1.0))]), None);
        assert_eq!(
            one.difference_between_groups.null_reason,
            Some(NullReason::FewerThanTwoGroups)
        );
    }

    #[test]
    fn compensated_sums_do_not_lose_small_terms() {
        let mut s = Sum::default();
        s.add(1e16);
        for _ in 0..10 {
            s.add(1.0);
        }
        s.add(-1e16);
        assert_eq!(s.value(), 10.0);
        let (mut a, mut b) = (Sum::default(), Sum::default());
        a.add(1e16);
        a.add(1.0);
        b.add(1.0);
        b.add(-1e16);
        a.merge(&b);
        assert_eq!(a.value(), 2.0);
    }
}
