//! Disparities of one attribute: between groups, to the whole population and to the
//! reference group, at the decision threshold and across the sweep, with significance tests.

use super::*;
use crate::cells::{Cells, RateMetric, Value};
use crate::metric::NullReason;
use crate::significance::{self, Correction};

/// Disparities at each threshold of the sweep: the same summaries as at the decision
/// threshold, from each group's confusion counts at that threshold. Empty groups have no
/// sweep counts and count as empty.
pub(super) fn sweep_disparities(
    groups: &[Unit],
    sweep: &[&[Cells]],
    overall: &[Cells],
    reference: Option<&str>,
) -> Vec<SweepDisparity> {
    overall
        .iter()
        .zip(sweep_thresholds())
        .enumerate()
        .map(|(k, (overall_cells, threshold))| {
            let units: Vec<Unit> = groups
                .iter()
                .zip(sweep)
                .map(|(u, cells)| Unit {
                    cells: cells.get(k).copied().unwrap_or_default(),
                    ..*u
                })
                .collect();
            let reference = reference.and_then(|r| units.iter().find(|u| u.group == r));
            let ds: Vec<Disparity> = DISPARITY_METRICS
                .iter()
                .map(|&m| disparity(m, &units, overall_cells, reference, false))
                .collect();
            let c = combined(&ds, &units, reference);
            let di: Vec<Option<f64>> = c.disparate_impact.iter().map(|x| x.ratio.value).collect();
            SweepDisparity {
                threshold,
                disparities: ds
                    .iter()
                    .map(|d| SweepSummary {
                        metric: d.metric,
                        difference_between_groups: d.difference_between_groups.value,
                        ratio_between_groups: d.ratio_between_groups.value,
                        difference_to_overall: d.difference_to_overall.value,
                        ratio_to_overall: d.ratio_to_overall.value,
                    })
                    .collect(),
                equalized_odds_difference: c.equalized_odds_difference.value,
                disparate_impact_min: di.iter().flatten().copied().reduce(f64::min),
                four_fifths_rule: if di.is_empty() || di.iter().any(Option::is_none) {
                    None
                } else {
                    Some(di.iter().flatten().all(|&r| r >= 0.8))
                },
            }
        })
        .collect()
}

pub(super) fn disparity(
    metric: RateMetric,
    groups: &[Unit],
    overall: &Cells,
    reference: Option<&Unit>,
    with_tests: bool,
) -> Disparity {
    let mut excluded = Vec::new();
    let mut vals: Vec<(&str, f64)> = Vec::new();
    // Replicates (`with_tests` false) need neither the tests nor the reasons for leaving a
    // group out; making those strings a thousand times cost more than the arithmetic.
    for g in groups.iter().filter(|g| !g.empty) {
        if g.small {
            if with_tests {
                excluded.push(Excluded {
                    group: g.group.to_owned(),
                    reason: format!("smaller than the minimum group size ({})", g.count),
                });
            }
            continue;
        }
        match metric.compute(&g.cells).value {
            Some(v) => vals.push((g.group, v)),
            None if with_tests => excluded.push(Excluded {
                group: g.group.to_owned(),
                reason: metric.null_reason().to_string(),
            }),
            None => {}
        }
    }
    let none = || Value::null(NullReason::FewerThanTwoGroups);
    let (diff_bg, ratio_bg) = if vals.len() >= 2 {
        let max = vals.iter().map(|v| v.1).fold(f64::NEG_INFINITY, f64::max);
        let min = vals.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
        (Value::some(max - min), Value::ratio(min, max, NullReason::AllZero))
    } else {
        (none(), none())
    };
    let (diff_o, ratio_o) = match (metric.compute(overall).value, vals.is_empty()) {
        (Some(o), false) => {
            let d = vals.iter().map(|v| (v.1 - o).abs()).fold(0.0, f64::max);
            // min(group / overall, overall / group); 0 / 0 is undefined, as between groups.
            let ratio = if o == 0.0 && vals.iter().all(|v| v.1 == 0.0) {
                Value::null(NullReason::AllZeroWithOverall)
            } else {
                let r = vals
                    .iter()
                    .map(|v| {
                        if v.1 == 0.0 || o == 0.0 {
                            0.0
                        } else {
                            (v.1 / o).min(o / v.1)
                        }
                    })
                    .fold(f64::INFINITY, f64::min);
                Value::some(r)
            };
            (Value::some(d), ratio)
        }
        _ => (none(), none()),
    };
    let to_reference = match reference.and_then(|r| metric.compute(&r.cells).value.map(|v| (r, v))) {
        Some((r, rv)) => vals
            .iter()
            .filter(|v| v.0 != r.group)
            .map(|&(g, v)| {
                let mut c =
                    ReferenceComparison::new(g, Value::some(v - rv), Value::ratio(v, rv, NullReason::ReferenceZero));
                if with_tests {
                    let gc = groups
                        .iter()
                        .find(|u| u.group == g)
                        .map(|u| u.cells)
                        .unwrap_or_default();
                    if let (Some((x1, n1)), Some((x2, n2))) = (metric.proportion(&gc), metric.proportion(&r.cells))
                        && let Some((p, t)) = significance::test(x1, n1, x2, n2)
                    {
                        c.p_value = Some(p);
                        c.test = Some(t);
                    }
                }
                c
            })
            .collect(),
        None => Vec::new(),
    };
    Disparity {
        metric,
        difference_between_groups: diff_bg,
        ratio_between_groups: ratio_bg,
        difference_to_overall: diff_o,
        ratio_to_overall: ratio_o,
        to_reference,
        excluded,
        intervals: Intervals::default(),
    }
}

pub(super) fn combined(disparities: &[Disparity], groups: &[Unit], reference: Option<&Unit>) -> Combined {
    let find = |m: RateMetric| disparities.iter().find(|d| d.metric == m).expect("computed above");
    let (tpr, fpr) = (find(RateMetric::TruePositiveRate), find(RateMetric::FalsePositiveRate));
    let both = |a: Value, b: Value, f: fn(f64, f64) -> f64| match (a.value, b.value) {
        (Some(x), Some(y)) => Value::some(f(x, y)),
        _ => Value::null(NullReason::OddsDisparityUndefined),
    };
    let mut disparate_impact = Vec::new();
    let mut four_fifths = Vec::new();
    let mut average_odds = Vec::new();
    if let Some(r) = reference {
        let rc = &r.cells;
        for g in groups.iter().filter(|g| !g.empty && !g.small && g.group != r.group) {
            let c = &g.cells;
            let sel = |x: &Cells| RateMetric::SelectionRate.compute(x).value;
            let di = match (sel(c), sel(rc)) {
                (Some(a), Some(b)) => Value::ratio(a, b, NullReason::ReferenceSelectionZero),
                _ => Value::null(NullReason::EmptyGroup),
            };
            four_fifths.push((g.group.to_owned(), di.value.map(|v| v >= 0.8)));
            disparate_impact.push(ReferenceComparison::new(g.group, Value::null(NullReason::SeeRatio), di));
            let rate = |m: RateMetric, x: &Cells| m.compute(x).value;
            let aod = match (
                rate(RateMetric::FalsePositiveRate, c),
                rate(RateMetric::FalsePositiveRate, rc),
                rate(RateMetric::TruePositiveRate, c),
                rate(RateMetric::TruePositiveRate, rc),
            ) {
                (Some(a), Some(b), Some(x), Some(y)) => Value::some(((a - b) + (x - y)) / 2.0),
                _ => Value::null(NullReason::OddsUndefinedForGroup),
            };
            average_odds.push(ReferenceComparison::new(
                g.group,
                aod,
                Value::null(NullReason::DifferenceOnly),
            ));
        }
    }
    Combined {
        equalized_odds_difference: both(tpr.difference_between_groups, fpr.difference_between_groups, f64::max),
        equalized_odds_ratio: both(tpr.ratio_between_groups, fpr.ratio_between_groups, f64::min),
        equalized_odds_difference_mean: both(tpr.difference_between_groups, fpr.difference_between_groups, |a, b| {
            (a + b) / 2.0
        }),
        disparate_impact,
        four_fifths_rule: four_fifths,
        average_odds_difference: average_odds,
        equalized_odds_intervals: [None; 3],
    }
}

/// Adjusts the p-values of all of an attribute's tests against the reference together.
pub(super) fn correct(disparities: &mut [Disparity], method: Correction) {
    let p: Vec<f64> = disparities
        .iter()
        .flat_map(|d| d.to_reference.iter().filter_map(|c| c.p_value))
        .collect();
    let mut adjusted = significance::adjust(&p, method).into_iter();
    for c in disparities.iter_mut().flat_map(|d| d.to_reference.iter_mut()) {
        if c.p_value.is_some() {
            c.p_adjusted = adjusted.next();
        }
    }
}

/// What the disparity functions need of a group.
#[derive(Debug, Clone, Copy)]
pub(super) struct Unit<'a> {
    pub(super) group: &'a str,
    pub(super) cells: Cells,
    pub(super) count: f64,
    pub(super) small: bool,
    pub(super) empty: bool,
}

impl<'a> Unit<'a> {
    pub(super) fn of(g: &'a GroupReport) -> Self {
        Self {
            group: &g.group,
            cells: g.stats.cells,
            count: g.count,
            small: g.small,
            empty: g.empty,
        }
    }
}
