//! From accumulated statistics to the [`Report`]: per-group metrics for every attribute and
//! every intersection, disparities three ways, and individual-level indices.

use crate::accumulate::{Accumulator, GroupStats};
use crate::bootstrap::{Resampler, percentile_interval};
use crate::cells::{Cells, RateMetric, Value};
use crate::individual;
use crate::interval::wilson;
use crate::metric::{MetricName, NullReason};
use crate::scores::CalibrationPoint;
use crate::significance::{self, Correction, Test};
use rayon::prelude::*;
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
    fn new(group: &str, difference: Value, ratio: Value) -> Self {
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

fn metrics_of(c: &Cells, confidence: f64) -> BTreeMap<MetricName, Metric> {
    RateMetric::ALL
        .iter()
        .map(|&m| {
            let interval = m
                .proportion(c)
                .filter(|(_, den)| *den > 0.0)
                .map(|(num, den)| wilson(num, den, confidence));
            (
                MetricName::from(m),
                Metric {
                    value: m.compute(c),
                    interval,
                    bootstrap_interval: None,
                },
            )
        })
        .collect()
}

/// A per-group seed, so a group's score bootstrap does not depend on which other groups exist.
fn group_seed(seed: u64, values: &[String]) -> u64 {
    // FNV-1a over the values, separated.
    values
        .iter()
        .flat_map(|v| v.bytes().chain([0xff]))
        .fold(0xcbf2_9ce4_8422_2325 ^ seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

fn group_report(values: Vec<String>, stats: GroupStats, acc: &Accumulator, config: &Config) -> GroupReport {
    let count = stats.cells.n();
    let mut metrics = metrics_of(&stats.cells, config.confidence);
    metrics.insert(
        MetricName::Count,
        Metric {
            value: Value::some(count),
            interval: None,
            bootstrap_interval: None,
        },
    );
    if acc.has_scores() {
        let s = &stats.scores;
        let z = crate::interval::z_for(config.confidence);
        let (brier_ci, log_loss_ci) = s
            .brier_and_log_loss_intervals(z)
            .map_or((None, None), |(b, l)| (Some(b), Some(l)));
        let ece = s.ece();
        let ece_ci = ece.value.and_then(|_| {
            s.ece_bootstrap_interval(config.bootstrap, group_seed(config.seed, &values), config.confidence)
        });
        for (name, v, interval, bootstrap_interval) in [
            (MetricName::RocAuc, s.roc_auc(), s.roc_auc_interval(z), None),
            (
                MetricName::AveragePrecision,
                s.average_precision(),
                s.average_precision_interval(z),
                None,
            ),
            (MetricName::Brier, s.brier(), brier_ci, None),
            (MetricName::LogLoss, s.log_loss(), log_loss_ci, None),
            (MetricName::ExpectedCalibrationError, ece, None, ece_ci),
        ] {
            metrics.insert(
                name,
                Metric {
                    value: v,
                    interval,
                    bootstrap_interval,
                },
            );
        }
    }
    let sweep_cells = if acc.has_scores() && count > 0.0 {
        stats.scores.cells_at(&sweep_thresholds())
    } else {
        Vec::new()
    };
    GroupReport {
        group: values.join("|"),
        small: count < config.min_group_size,
        empty: count == 0.0,
        values,
        count,
        metrics,
        metrics_vs_label_true: acc
            .has_label_true()
            .then(|| metrics_of(&stats.cells_true, config.confidence)),
        calibration: if acc.has_scores() {
            stats.scores.calibration_curve()
        } else {
            Vec::new()
        },
        threshold_sweep: sweep_cells
            .iter()
            .zip(sweep_thresholds())
            .map(|(c, threshold)| SweepPoint {
                threshold,
                selection_rate: RateMetric::SelectionRate.compute(c).value,
                true_positive_rate: RateMetric::TruePositiveRate.compute(c).value,
                false_positive_rate: RateMetric::FalsePositiveRate.compute(c).value,
                precision: RateMetric::Precision.compute(c).value,
                accuracy: RateMetric::Accuracy.compute(c).value,
            })
            .collect(),
        roc_curve: if acc.has_scores() && count > 0.0 {
            stats
                .scores
                .roc_curve_thinned(101)
                .into_iter()
                .map(|(fpr, tpr, t)| (fpr, tpr, t.is_finite().then_some(t)))
                .collect()
        } else {
            Vec::new()
        },
        stats,
        sweep_cells,
    }
}

/// Disparities at each threshold of the sweep: the same summaries as at the decision
/// threshold, from each group's confusion counts at that threshold. Empty groups have no
/// sweep counts and count as empty.
fn sweep_disparities(
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

fn disparity(
    metric: RateMetric,
    groups: &[Unit],
    overall: &Cells,
    reference: Option<&Unit>,
    with_tests: bool,
) -> Disparity {
    let mut excluded = Vec::new();
    let mut vals: Vec<(&str, f64)> = Vec::new();
    for g in groups.iter().filter(|g| !g.empty) {
        if g.small {
            excluded.push(Excluded {
                group: g.group.to_owned(),
                reason: format!("smaller than the minimum group size ({})", g.count),
            });
            continue;
        }
        match metric.compute(&g.cells).value {
            Some(v) => vals.push((g.group, v)),
            None => excluded.push(Excluded {
                group: g.group.to_owned(),
                reason: metric.null_reason().to_string(),
            }),
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

fn combined(disparities: &[Disparity], groups: &[Unit], reference: Option<&Unit>) -> Combined {
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
fn correct(disparities: &mut [Disparity], method: Correction) {
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
struct Unit<'a> {
    group: &'a str,
    cells: Cells,
    count: f64,
    small: bool,
    empty: bool,
}

impl<'a> Unit<'a> {
    fn of(g: &'a GroupReport) -> Self {
        Self {
            group: &g.group,
            cells: g.stats.cells,
            count: g.count,
            small: g.small,
            empty: g.empty,
        }
    }
}

/// All non-empty subsets of `0..k`, singletons first, then pairs, and so on.
fn subsets(k: usize) -> Vec<Vec<usize>> {
    let mut all: Vec<Vec<usize>> = (1u32..(1 << k))
        .map(|m| (0..k).filter(|i| m & (1 << i) != 0).collect())
        .collect();
    all.sort_by_key(|s| (s.len(), s.clone()));
    all
}

impl Report {
    /// Builds the report from accumulated statistics.
    pub fn build(acc: &Accumulator, config: &Config) -> Report {
        let acc = &acc.canonical();
        let names = acc.attributes();
        // Intersection cells in a fixed order: the bootstrap must not depend on hash order.
        let mut atoms: Vec<(&Vec<u32>, GroupStats)> = acc.cells().map(|(k, st)| (k, st.clone())).collect();
        atoms.sort_by(|a, b| a.0.cmp(b.0));
        // Sort each cell's scores once; groups then merge sorted runs.
        for (_, st) in &mut atoms {
            st.scores.sort();
        }
        let mut overall_stats = GroupStats::default();
        for (_, st) in &atoms {
            overall_stats.merge(st);
        }
        overall_stats.scores.sort();
        let overall = group_report(vec!["(all)".into()], overall_stats.clone(), acc, config);
        let mut attributes = Vec::new();
        let mut layouts = Vec::new();
        for subset in subsets(names.len()) {
            // Aggregate cells onto this subset of attributes.
            let mut agg: BTreeMap<Vec<u32>, GroupStats> = BTreeMap::new();
            for (key, st) in &atoms {
                agg.entry(subset.iter().map(|&a| key[a]).collect())
                    .or_default()
                    .merge(st);
            }
            // Every combination of observed values, empty ones included.
            let mut combos: Vec<Vec<u32>> = vec![Vec::new()];
            for &a in &subset {
                let n = acc.values(a).len() as u32;
                combos = combos
                    .into_iter()
                    .flat_map(|c| (0..n).map(move |v| [c.clone(), vec![v]].concat()))
                    .collect();
            }
            let parts: Vec<(Vec<String>, GroupStats)> = combos
                .into_iter()
                .map(|codes| {
                    let values = subset
                        .iter()
                        .zip(&codes)
                        .map(|(&a, &c)| acc.values(a)[c as usize].clone())
                        .collect();
                    (values, agg.remove(&codes).unwrap_or_default())
                })
                .collect();
            // Groups are independent (each score bootstrap has its own seed), so they are
            // built in parallel; the order of the result does not depend on the threads.
            let mut groups: Vec<GroupReport> = parts
                .into_par_iter()
                .map(|(values, mut stats)| {
                    stats.scores.sort();
                    group_report(values, stats, acc, config)
                })
                .collect();
            groups.sort_by(|a, b| a.values.cmp(&b.values));
            // Which group each intersection cell belongs to, for the bootstrap.
            let layout: Vec<usize> = atoms
                .iter()
                .map(|(key, _)| {
                    let values: Vec<&str> = subset
                        .iter()
                        .map(|&a| acc.values(a)[key[a] as usize].as_str())
                        .collect();
                    groups
                        .iter()
                        .position(|g| g.values == values)
                        .expect("every cell has its group")
                })
                .collect();
            let attribute = subset.iter().map(|&a| names[a].as_str()).collect::<Vec<_>>().join("&");
            let units: Vec<Unit> = groups.iter().map(Unit::of).collect();
            let reference = match config.reference.get(&attribute) {
                Some(v) => units.iter().find(|g| g.group == v),
                None => units
                    .iter()
                    .filter(|g| !g.small)
                    .max_by(|a, b| a.count.total_cmp(&b.count).then(b.group.cmp(a.group))),
            };
            let disparities: Vec<Disparity> = DISPARITY_METRICS
                .iter()
                .map(|&m| disparity(m, &units, &overall_stats.cells, reference, true))
                .collect();
            let mut disparities = disparities;
            correct(&mut disparities, config.correction);
            let disparities_vs_label_true: Vec<Disparity> = if acc.has_label_true() {
                let units_true: Vec<Unit> = groups
                    .iter()
                    .map(|g| Unit {
                        cells: g.stats.cells_true,
                        ..Unit::of(g)
                    })
                    .collect();
                let reference_true = reference.and_then(|r| units_true.iter().find(|u| u.group == r.group));
                let mut d: Vec<Disparity> = DISPARITY_METRICS
                    .iter()
                    .map(|&m| disparity(m, &units_true, &overall_stats.cells_true, reference_true, true))
                    .collect();
                correct(&mut d, config.correction);
                d
            } else {
                Vec::new()
            };
            let combined = combined(&disparities, &units, reference);
            let threshold_sweep = if acc.has_scores() {
                let sweep: Vec<&[Cells]> = groups.iter().map(|g| g.sweep_cells.as_slice()).collect();
                sweep_disparities(&units, &sweep, &overall.sweep_cells, reference.map(|r| r.group))
            } else {
                Vec::new()
            };
            let group_cells: Vec<Cells> = groups.iter().map(|g| g.stats.cells).collect();
            let reference = reference.map(|r| r.group.to_owned());
            attributes.push(AttributeReport {
                reference,
                columns: subset.iter().map(|&a| names[a].clone()).collect(),
                between_group_generalized_entropy_alpha2: individual::between_groups(&group_cells, 2.0),
                between_group_theil: individual::between_groups(&group_cells, 1.0),
                attribute,
                groups,
                disparities,
                disparities_vs_label_true,
                combined,
                threshold_sweep,
            });
            layouts.push(layout);
        }
        let mut report = Report {
            schema_version: SCHEMA_VERSION,
            config: config.clone(),
            generalized_entropy_alpha2: individual::generalized_entropy(&overall_stats.cells, 2.0),
            theil: individual::generalized_entropy(&overall_stats.cells, 1.0),
            overall,
            attributes,
            counterfactual: acc
                .twins()
                .map(|t| t.report(names, &|a, v| acc.values(a)[v as usize].clone(), config.confidence)),
        };
        if config.bootstrap > 0 {
            let cells: Vec<Cells> = atoms.iter().map(|(_, st)| st.cells).collect();
            bootstrap(&mut report, &cells, &layouts, config);
        }
        report
    }

    /// The report of one attribute (or intersection, names joined by `&`).
    pub fn attribute(&self, name: &str) -> Option<&AttributeReport> {
        self.attributes.iter().find(|a| a.attribute == name)
    }
}

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

/// Replicate values of one attribute's statistics.
#[derive(Default)]
struct Replicates {
    /// `[group][metric]`.
    group_metrics: Vec<Vec<Vec<f64>>>,
    /// `[disparity metric][summary]`.
    summaries: Vec<[Vec<f64>; 4]>,
    /// `[disparity metric][reference comparison] -> (differences, ratios)`.
    to_reference: Vec<Vec<(Vec<f64>, Vec<f64>)>>,
    equalized_odds: [Vec<f64>; 3],
    disparate_impact: Vec<Vec<f64>>,
    average_odds: Vec<Vec<f64>>,
}

fn push(v: &mut Vec<f64>, x: Value) {
    if let Some(x) = x.value {
        v.push(x);
    }
}

/// Bootstrap percentile intervals for every group rate metric and every disparity.
fn bootstrap(report: &mut Report, atoms: &[Cells], layouts: &[Vec<usize>], config: &Config) {
    let mut rs = Resampler::new(config.seed);
    let n_metrics = RateMetric::ALL.len();
    let mut overall_reps: Vec<Vec<f64>> = vec![Vec::new(); n_metrics];
    let mut reps: Vec<Replicates> = report
        .attributes
        .iter()
        .map(|a| Replicates {
            group_metrics: vec![vec![Vec::new(); n_metrics]; a.groups.len()],
            summaries: a.disparities.iter().map(|_| Default::default()).collect(),
            to_reference: a
                .disparities
                .iter()
                .map(|d| vec![Default::default(); d.to_reference.len()])
                .collect(),
            equalized_odds: Default::default(),
            disparate_impact: vec![Vec::new(); a.combined.disparate_impact.len()],
            average_odds: vec![Vec::new(); a.combined.average_odds_difference.len()],
        })
        .collect();
    for _ in 0..config.bootstrap {
        let re: Vec<Cells> = rs.replicate(atoms, config.bootstrap_scheme);
        let mut overall = Cells::default();
        for c in &re {
            overall.merge(c);
        }
        for (mi, m) in RateMetric::ALL.iter().enumerate() {
            push(&mut overall_reps[mi], m.compute(&overall));
        }
        for ((attr, layout), rep) in report.attributes.iter().zip(layouts).zip(reps.iter_mut()) {
            let mut cells = vec![Cells::default(); attr.groups.len()];
            for (k, &g) in layout.iter().enumerate() {
                cells[g].merge(&re[k]);
            }
            for (g, c) in cells.iter().enumerate() {
                for (mi, m) in RateMetric::ALL.iter().enumerate() {
                    push(&mut rep.group_metrics[g][mi], m.compute(c));
                }
            }
            // Small and empty flags stay those of the data, so replicates compare the same groups.
            let units: Vec<Unit> = attr
                .groups
                .iter()
                .zip(&cells)
                .map(|(g, c)| Unit {
                    cells: *c,
                    ..Unit::of(g)
                })
                .collect();
            let reference = attr
                .reference
                .as_deref()
                .and_then(|r| units.iter().find(|u| u.group == r));
            let ds: Vec<Disparity> = DISPARITY_METRICS
                .iter()
                .map(|&m| disparity(m, &units, &overall, reference, false))
                .collect();
            for ((d, point), (sums, refs)) in ds
                .iter()
                .zip(&attr.disparities)
                .zip(rep.summaries.iter_mut().zip(rep.to_reference.iter_mut()))
            {
                push(&mut sums[0], d.difference_between_groups);
                push(&mut sums[1], d.ratio_between_groups);
                push(&mut sums[2], d.difference_to_overall);
                push(&mut sums[3], d.ratio_to_overall);
                for (pc, (diffs, ratios)) in point.to_reference.iter().zip(refs.iter_mut()) {
                    if let Some(c) = d.to_reference.iter().find(|c| c.group == pc.group) {
                        push(diffs, c.difference);
                        push(ratios, c.ratio);
                    }
                }
            }
            let c = combined(&ds, &units, reference);
            push(&mut rep.equalized_odds[0], c.equalized_odds_difference);
            push(&mut rep.equalized_odds[1], c.equalized_odds_ratio);
            push(&mut rep.equalized_odds[2], c.equalized_odds_difference_mean);
            for (pc, v) in attr
                .combined
                .disparate_impact
                .iter()
                .zip(rep.disparate_impact.iter_mut())
            {
                if let Some(x) = c.disparate_impact.iter().find(|x| x.group == pc.group) {
                    push(v, x.ratio);
                }
            }
            for (pc, v) in attr
                .combined
                .average_odds_difference
                .iter()
                .zip(rep.average_odds.iter_mut())
            {
                if let Some(x) = c.average_odds_difference.iter().find(|x| x.group == pc.group) {
                    push(v, x.difference);
                }
            }
        }
    }
    let ci = |v: &mut Vec<f64>| percentile_interval(v, config.confidence);
    for (mi, m) in RateMetric::ALL.iter().enumerate() {
        if let Some(metric) = report.overall.metrics.get_mut(&MetricName::from(*m)) {
            metric.bootstrap_interval = ci(&mut overall_reps[mi]);
        }
    }
    for (attr, mut rep) in report.attributes.iter_mut().zip(reps) {
        for (g, group) in attr.groups.iter_mut().enumerate() {
            for (mi, m) in RateMetric::ALL.iter().enumerate() {
                if let Some(metric) = group
                    .metrics
                    .get_mut(&MetricName::from(*m))
                    .filter(|x| x.value.value.is_some())
                {
                    metric.bootstrap_interval = ci(&mut rep.group_metrics[g][mi]);
                }
            }
        }
        for ((d, sums), refs) in attr
            .disparities
            .iter_mut()
            .zip(rep.summaries.iter_mut())
            .zip(rep.to_reference.iter_mut())
        {
            let defined = |v: Value, x: Option<[f64; 2]>| v.value.and(x);
            d.intervals = Intervals {
                difference_between_groups: defined(d.difference_between_groups, ci(&mut sums[0])),
                ratio_between_groups: defined(d.ratio_between_groups, ci(&mut sums[1])),
                difference_to_overall: defined(d.difference_to_overall, ci(&mut sums[2])),
                ratio_to_overall: defined(d.ratio_to_overall, ci(&mut sums[3])),
            };
            for (c, (diffs, ratios)) in d.to_reference.iter_mut().zip(refs.iter_mut()) {
                c.difference_interval = defined(c.difference, ci(diffs));
                c.ratio_interval = defined(c.ratio, ci(ratios));
            }
        }
        let cb = &mut attr.combined;
        let vals = [
            cb.equalized_odds_difference,
            cb.equalized_odds_ratio,
            cb.equalized_odds_difference_mean,
        ];
        for (k, v) in vals.iter().enumerate() {
            cb.equalized_odds_intervals[k] = v.value.and(ci(&mut rep.equalized_odds[k]));
        }
        for (c, v) in cb.disparate_impact.iter_mut().zip(rep.disparate_impact.iter_mut()) {
            c.ratio_interval = c.ratio.value.and(ci(v));
        }
        for (c, v) in cb.average_odds_difference.iter_mut().zip(rep.average_odds.iter_mut()) {
            c.difference_interval = c.difference.value.and(ci(v));
        }
    }
}
