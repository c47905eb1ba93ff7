//! Bootstrap replication: percentile intervals for every group metric and every disparity,
//! from resampled cell counts.

use super::disparities::*;
use super::*;
use crate::bootstrap::{Resampler, percentile_interval};
use crate::cells::{Cells, RateMetric, Value};
use crate::metric::MetricName;
use rayon::prelude::*;

/// Replicate values of one attribute's statistics.
#[derive(Default)]
pub(super) struct Replicates {
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

pub(super) fn push(v: &mut Vec<f64>, x: Value) {
    if let Some(x) = x.value {
        v.push(x);
    }
}

/// For each of the point estimate's comparisons, the replicate's comparison of the same group,
/// if it has one. Both lists follow the attribute's group order, so one forward scan matches
/// them (a search per entry cost most of the bootstrap with 72 groups); a group missing from
/// the replicate (its rate undefined there) leaves the scan where it was.
fn matched<'r>(
    point: &'r [ReferenceComparison],
    replicate: &'r [ReferenceComparison],
) -> impl Iterator<Item = Option<&'r ReferenceComparison>> + 'r {
    let mut next = 0;
    point.iter().map(move |p| {
        let found = replicate[next..].iter().position(|r| r.group == p.group)?;
        next += found + 1;
        Some(&replicate[next - 1])
    })
}

/// Bootstrap percentile intervals for every group rate metric and every disparity.
pub(super) fn bootstrap(report: &mut Report, atoms: &[Cells], layouts: &[Vec<usize>], config: &Config) {
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
    // The draws are sequential (one seeded stream, so the report is reproducible); what each
    // attribute makes of them is independent, so the attributes are replicated in parallel.
    let replicates: Vec<(Vec<Cells>, Cells)> = (0..config.bootstrap)
        .map(|_| {
            let re: Vec<Cells> = rs.replicate(atoms, config.bootstrap_scheme);
            let mut overall = Cells::default();
            for c in &re {
                overall.merge(c);
            }
            (re, overall)
        })
        .collect();
    for (_, overall) in &replicates {
        for (mi, m) in RateMetric::ALL.iter().enumerate() {
            push(&mut overall_reps[mi], m.compute(overall));
        }
    }
    report
        .attributes
        .par_iter()
        .zip(layouts)
        .zip(reps.par_iter_mut())
        .for_each(|((attr, layout), rep)| {
            for (re, overall) in &replicates {
                let overall = *overall;
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
                    for (c, (diffs, ratios)) in matched(&point.to_reference, &d.to_reference).zip(refs.iter_mut()) {
                        if let Some(c) = c {
                            push(diffs, c.difference);
                            push(ratios, c.ratio);
                        }
                    }
                }
                let c = combined(&ds, &units, reference);
                push(&mut rep.equalized_odds[0], c.equalized_odds_difference);
                push(&mut rep.equalized_odds[1], c.equalized_odds_ratio);
                push(&mut rep.equalized_odds[2], c.equalized_odds_difference_mean);
                for (x, v) in
                    matched(&attr.combined.disparate_impact, &c.disparate_impact).zip(rep.disparate_impact.iter_mut())
                {
                    if let Some(x) = x {
                        push(v, x.ratio);
                    }
                }
                for (x, v) in matched(&attr.combined.average_odds_difference, &c.average_odds_difference)
                    .zip(rep.average_odds.iter_mut())
                {
                    if let Some(x) = x {
                        push(v, x.difference);
                    }
                }
            }
        });
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
