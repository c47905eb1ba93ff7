//! Building a report from accumulated statistics: groups for every subset of attributes,
//! their metrics, and the disparities between them.

use super::disparities::*;
use super::replicate::bootstrap;
use super::*;
use crate::accumulate::{Accumulator, GroupStats, GroupSums};
use crate::cells::{Cells, RateMetric, Value};
use crate::individual;
use crate::interval::wilson;
use crate::metric::MetricName;
use crate::ranks::{self, Ranked, RankedRow};
use rayon::prelude::*;
use std::collections::BTreeMap;

pub(super) fn metrics_of(c: &Cells, confidence: f64) -> BTreeMap<MetricName, Metric> {
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
pub(super) fn group_seed(seed: u64, values: &[String]) -> u64 {
    // FNV-1a over the values, separated.
    values
        .iter()
        .flat_map(|v| v.bytes().chain([0xff]))
        .fold(0xcbf2_9ce4_8422_2325 ^ seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

/// The report of one group from its sums and, for score models, the walk down its scores.
pub(super) fn group_report(
    values: Vec<String>,
    stats: GroupSums,
    ranked: Option<Ranked>,
    acc: &Accumulator,
    config: &Config,
) -> GroupReport {
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
    let ranked = ranked.filter(|_| acc.has_scores());
    if let Some(r) = &ranked {
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
            (MetricName::RocAuc, r.roc_auc, r.roc_auc_interval(z), None),
            (
                MetricName::AveragePrecision,
                r.average_precision,
                r.average_precision_interval(z),
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
    let (sweep_cells, roc_curve) = match ranked {
        Some(r) if count > 0.0 => (r.cells_at, r.roc_curve),
        _ => (Vec::new(), Vec::new()),
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
        roc_curve: roc_curve
            .into_iter()
            .map(|(fpr, tpr, t)| (fpr, tpr, t.is_finite().then_some(t)))
            .collect(),
        stats,
        sweep_cells,
    }
}

/// The groups of one subset of attributes.
struct Family {
    /// The attributes, by index.
    subset: Vec<usize>,
    /// Every combination of their observed values' codes, empty ones included, first
    /// attribute outermost.
    combos: Vec<Vec<u32>>,
    /// Per intersection cell (in the report's cell order), the index of its combination.
    group_of_cell: Vec<u32>,
}

/// All non-empty subsets of `0..k`, singletons first, then pairs, and so on.
pub(super) fn subsets(k: usize) -> Vec<Vec<usize>> {
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
        let mut atoms: Vec<(&Vec<u32>, &GroupStats)> = acc.cells().collect();
        atoms.sort_by(|a, b| a.0.cmp(b.0));
        let mut overall_stats = GroupSums::default();
        for (_, st) in &atoms {
            overall_stats.add(st);
        }
        // Each subset of attributes, and the groups its cells fall into: combinations of
        // observed values, empty ones included, in the order of their codes.
        let families: Vec<Family> = subsets(names.len())
            .into_iter()
            .map(|subset| {
                let mut combos: Vec<Vec<u32>> = vec![Vec::new()];
                for &a in &subset {
                    let n = acc.values(a).len() as u32;
                    combos = combos
                        .into_iter()
                        .flat_map(|c| (0..n).map(move |v| [c.clone(), vec![v]].concat()))
                        .collect();
                }
                let group_of_cell = atoms
                    .iter()
                    .map(|(key, _)| {
                        subset
                            .iter()
                            .fold(0u32, |i, &a| i * acc.values(a).len() as u32 + key[a])
                    })
                    .collect();
                Family {
                    subset,
                    combos,
                    group_of_cell,
                }
            })
            .collect();
        // The order metrics of every group of every subset from one sort of all scored rows.
        let mut ranked: Vec<Vec<Option<Ranked>>> = if acc.has_scores() {
            let mut rows: Vec<RankedRow> = atoms
                .iter()
                .enumerate()
                .flat_map(|(c, (_, st))| st.scores.ranked_rows(c as u32))
                .collect();
            ranks::sort_descending(&mut rows);
            let thresholds = sweep_thresholds();
            let query = ranks::Query {
                roc_points: 101,
                thresholds: &thresholds,
            };
            let overall_family = vec![0u32; atoms.len()];
            let mut walks: Vec<(&[u32], usize)> = vec![(&overall_family, 1)];
            walks.extend(families.iter().map(|f| (f.group_of_cell.as_slice(), f.combos.len())));
            walks
                .into_par_iter()
                .map(|(group_of_cell, groups)| {
                    ranks::walk(&rows, group_of_cell, groups, query)
                        .into_iter()
                        .map(Some)
                        .collect()
                })
                .collect()
        } else {
            vec![Vec::new(); families.len() + 1]
        };
        let mut ranked_of = |family: usize, group: usize| ranked[family].get_mut(group).and_then(Option::take);
        let overall = group_report(
            vec!["(all)".into()],
            overall_stats.clone(),
            ranked_of(0, 0),
            acc,
            config,
        );
        let mut attributes = Vec::new();
        let mut layouts = Vec::new();
        for (
            family,
            Family {
                subset,
                combos,
                group_of_cell,
            },
        ) in families.into_iter().enumerate()
        {
            let mut sums = vec![GroupSums::default(); combos.len()];
            for ((_, st), &g) in atoms.iter().zip(&group_of_cell) {
                sums[g as usize].add(st);
            }
            let parts: Vec<(Vec<String>, GroupSums, Option<Ranked>)> = combos
                .into_iter()
                .zip(sums)
                .enumerate()
                .map(|(g, (codes, stats))| {
                    let values = subset
                        .iter()
                        .zip(&codes)
                        .map(|(&a, &c)| acc.values(a)[c as usize].clone())
                        .collect();
                    (values, stats, ranked_of(family + 1, g))
                })
                .collect();
            // Groups are independent (each score bootstrap has its own seed), so they are
            // built in parallel; the order of the result does not depend on the threads.
            let mut groups: Vec<GroupReport> = parts
                .into_par_iter()
                .map(|(values, stats, ranked)| group_report(values, stats, ranked, acc, config))
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
