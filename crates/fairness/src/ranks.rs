//! The metrics that depend on the order of the scores (ROC AUC, average precision, the ROC
//! curve, the confusion cells at a sweep of thresholds), for many groups from one sort.
//!
//! Every group of a report is a union of intersection cells. Sorting each group's rows again
//! (and copying them into the group first) cost most of a report's time; instead the rows of
//! all cells are sorted once, and one walk down that order feeds every group of an attribute
//! subset at once: a row goes to the fold of the group its cell belongs to. A single
//! [`ScoreStats`](crate::ScoreStats) is the case of one cell in one group, so there is one
//! implementation of each metric.

use crate::cells::{Cells, Value};
use crate::metric::NullReason;
use rayon::prelude::*;

/// One scored row and the intersection cell it belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RankedRow {
    pub(crate) score: f64,
    pub(crate) weight: f64,
    pub(crate) cell: u32,
    pub(crate) label: bool,
}

/// Sorts rows by descending score. Ties are ordered by label and weight, so the sequence of
/// `(score, label, weight)` (and with it every sum a walk makes) does not depend on the order
/// the rows arrived in, nor on how threads split them.
pub(crate) fn sort_descending(rows: &mut [RankedRow]) {
    // An integer key (the order of `f64::total_cmp`, reversed) sorts faster than comparing
    // floats; the few ties are then put in order run by run.
    let key = |s: f64| {
        let bits = s.to_bits();
        !(if bits >> 63 == 1 { !bits } else { bits | 1 << 63 })
    };
    rows.par_sort_unstable_by_key(|r| key(r.score));
    for run in rows.chunk_by_mut(|a, b| a.score.to_bits() == b.score.to_bits()) {
        if run.len() > 1 {
            run.sort_unstable_by(|a, b| a.label.cmp(&b.label).then(a.weight.total_cmp(&b.weight)));
        }
    }
}

/// What to compute besides the two areas.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Query<'a> {
    /// The ROC curve is thinned to at most this many points (both ends kept); `usize::MAX`
    /// keeps every point.
    pub(crate) roc_points: usize,
    /// Confusion cells when deciding `score >= t`, for each `t`.
    pub(crate) thresholds: &'a [f64],
}

/// What a walk down one group's scores, from the highest, finds.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// Weight of the rows with a positive label.
    pub positives: f64,
    /// Weight of the rows with a negative label.
    pub negatives: f64,
    /// The probability that a random positive scores above a random negative, ties counting
    /// one half (the Mann-Whitney statistic), exact.
    pub roc_auc: Value,
    /// Average precision as scikit-learn defines it: the sum over score thresholds of
    /// (recall gain) × precision.
    pub average_precision: Value,
    /// ROC curve points `(fpr, tpr, threshold)` from the top (the first at an infinite
    /// threshold), thinned to evenly spaced indices of the full curve.
    pub roc_curve: Vec<(f64, f64, f64)>,
    /// Confusion cells at each threshold asked for, in the order asked.
    pub cells_at: Vec<Cells>,
}

impl Ranked {
    /// Hanley and McNeil's (1982) interval for the ROC AUC.
    pub fn roc_auc_interval(&self, z: f64) -> Option<[f64; 2]> {
        let a = self.roc_auc.value?;
        let (pos, neg) = (self.positives, self.negatives);
        let q1 = a / (2.0 - a);
        let q2 = 2.0 * a * a / (1.0 + a);
        let var = (a * (1.0 - a) + (pos - 1.0) * (q1 - a * a) + (neg - 1.0) * (q2 - a * a)) / (pos * neg);
        let half = z * var.max(0.0).sqrt();
        Some([(a - half).max(0.0), (a + half).min(1.0)])
    }

    /// The logit interval for average precision (Boyd, Eng and Page, 2013, "Area under the
    /// precision-recall curve: point estimates and confidence intervals"): symmetric on the
    /// logit scale with standard error 1 / sqrt(n₊ · AP · (1 − AP)), n₊ the actual positives.
    /// They found it the best-covering of the cheap intervals; it stays inside (0, 1).
    pub fn average_precision_interval(&self, z: f64) -> Option<[f64; 2]> {
        let ap = self.average_precision.value?;
        let pos = self.positives;
        if ap <= 0.0 || ap >= 1.0 || pos <= 0.0 {
            return Some([ap, ap]);
        }
        let eta = (ap / (1.0 - ap)).ln();
        let tau = 1.0 / (pos * ap * (1.0 - ap)).sqrt();
        let expit = |x: f64| 1.0 / (1.0 + (-x).exp());
        Some([expit(eta - z * tau), expit(eta + z * tau)])
    }
}

/// The metrics of each of `groups` groups, from rows sorted by [`sort_descending`];
/// `group_of_cell[c]` is the group of cell `c`.
pub(crate) fn walk(rows: &[RankedRow], group_of_cell: &[u32], groups: usize, query: Query<'_>) -> Vec<Ranked> {
    // First pass: each group's class weights and number of distinct scores, which the
    // thinning of its ROC curve needs before the second pass.
    let mut count = vec![(f64::NAN, 0usize, 0.0f64, 0.0f64); groups];
    for r in rows {
        let c = &mut count[group_of_cell[r.cell as usize] as usize];
        if c.0 != r.score {
            c.0 = r.score;
            c.1 += 1;
        }
        if r.label {
            c.2 += r.weight;
        } else {
            c.3 += r.weight;
        }
    }
    let mut order: Vec<usize> = (0..query.thresholds.len()).collect();
    order.sort_by(|&a, &b| query.thresholds[b].total_cmp(&query.thresholds[a]));
    let mut folds: Vec<Fold<'_>> = count
        .iter()
        .map(|&(_, blocks, pos, neg)| Fold::new(pos, neg, blocks, query, &order))
        .collect();
    for r in rows {
        folds[group_of_cell[r.cell as usize] as usize].push(r.score, r.label, r.weight);
    }
    folds.into_iter().map(Fold::finish).collect()
}

/// The running state of one group's walk. Rows of equal score form a tie block, which is
/// closed when a lower score arrives.
struct Fold<'q> {
    pos: f64,
    neg: f64,
    thresholds: &'q [f64],
    /// Indices into `thresholds`, highest threshold first.
    order: &'q [usize],
    next_threshold: usize,
    cells: Vec<Cells>,
    /// Number of points of the full ROC curve (one per tie block, plus the origin).
    curve_len: usize,
    /// Distance between kept points of the full curve; 1 keeps every point.
    step: f64,
    /// Points to keep.
    keep: usize,
    /// Index of the next kept point among the `keep`.
    next_kept: usize,
    /// Its index in the full curve, so closing a block compares two integers.
    next_kept_at: usize,
    roc: Vec<(f64, f64, f64)>,
    /// The open tie block: score, positive and negative weight.
    block: Option<(f64, f64, f64)>,
    /// Closed tie blocks so far.
    closed: usize,
    tp: f64,
    fp: f64,
    u: f64,
    ap: f64,
    prev_recall: f64,
}

impl<'q> Fold<'q> {
    fn new(pos: f64, neg: f64, blocks: usize, query: Query<'q>, order: &'q [usize]) -> Self {
        let curve_len = blocks + 1;
        let (keep, step) = if curve_len <= query.roc_points || query.roc_points < 2 {
            (curve_len, 1.0)
        } else {
            (query.roc_points, (curve_len - 1) as f64 / (query.roc_points - 1) as f64)
        };
        let mut fold = Fold {
            pos,
            neg,
            thresholds: query.thresholds,
            order,
            next_threshold: 0,
            cells: vec![Cells::default(); query.thresholds.len()],
            curve_len,
            step,
            keep,
            next_kept: 0,
            next_kept_at: 0,
            roc: Vec::with_capacity(keep.min(1 << 16)),
            block: None,
            closed: 0,
            tp: 0.0,
            fp: 0.0,
            u: 0.0,
            ap: 0.0,
            prev_recall: 0.0,
        };
        fold.keep_points(f64::INFINITY);
        fold
    }

    /// The index into the full curve of the `k`-th kept point.
    fn kept_index(&self, k: usize) -> usize {
        ((k as f64 * self.step).round() as usize).min(self.curve_len - 1)
    }

    /// Keeps the current point of the curve as often as the thinning names it.
    fn keep_points(&mut self, threshold: f64) {
        while self.next_kept < self.keep && self.next_kept_at == self.closed {
            let fpr = if self.neg > 0.0 { self.fp / self.neg } else { 0.0 };
            let tpr = if self.pos > 0.0 { self.tp / self.pos } else { 0.0 };
            self.roc.push(if self.closed == 0 {
                (0.0, 0.0, f64::INFINITY)
            } else {
                (fpr, tpr, threshold)
            });
            self.next_kept += 1;
            self.next_kept_at = self.kept_index(self.next_kept);
        }
    }

    #[inline]
    fn push(&mut self, score: f64, label: bool, weight: f64) {
        let (p, n) = if label { (weight, 0.0) } else { (0.0, weight) };
        match &mut self.block {
            Some(b) if b.0 == score => {
                b.1 += p;
                b.2 += n;
            }
            open => {
                if let Some(done) = open.replace((score, p, n)) {
                    self.close(done);
                }
            }
        }
    }

    /// Settles every threshold above the current score.
    fn settle_thresholds_above(&mut self, score: Option<f64>) {
        while let Some(&k) = self.order.get(self.next_threshold) {
            if score.is_some_and(|s| s >= self.thresholds[k]) {
                break;
            }
            self.cells[k] = Cells {
                tp: self.tp,
                fp: self.fp,
                tn: self.neg - self.fp,
                fn_: self.pos - self.tp,
            };
            self.next_threshold += 1;
        }
    }

    fn close(&mut self, (score, p, n): (f64, f64, f64)) {
        // Rows at or above a threshold are all counted before a lower block arrives.
        self.settle_thresholds_above(Some(score));
        // Walking down the scores: each positive beats every negative still below it.
        self.u += p * (self.neg - self.fp - n) + 0.5 * p * n;
        self.tp += p;
        self.fp += n;
        let recall = self.tp / self.pos;
        self.ap += (recall - self.prev_recall) * (self.tp / (self.tp + self.fp));
        self.prev_recall = recall;
        self.closed += 1;
        if self.next_kept_at == self.closed {
            self.keep_points(score);
        }
    }

    fn finish(mut self) -> Ranked {
        if let Some(b) = self.block.take() {
            self.close(b);
        }
        self.settle_thresholds_above(None);
        let (pos, neg) = (self.pos, self.neg);
        Ranked {
            positives: pos,
            negatives: neg,
            roc_auc: if pos <= 0.0 || neg <= 0.0 {
                Value::null(NullReason::NeedsBothClasses)
            } else {
                Value::some(self.u / (pos * neg))
            },
            average_precision: if pos <= 0.0 {
                Value::null(NullReason::NoActualPositives)
            } else {
                Value::some(self.ap)
            },
            roc_curve: self.roc,
            cells_at: self.cells,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScoreStats;

    /// One walk over many cells gives each group what its own rows, merged and walked alone,
    /// give: routing rows to groups loses and mixes nothing.
    #[test]
    fn one_walk_over_cells_is_each_group_walked_alone() {
        let cells = 12usize;
        let mut stats = vec![ScoreStats::default(); cells];
        let mut x: u64 = 11;
        for _ in 0..20_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let cell = ((x >> 40) % cells as u64) as usize;
            // Few distinct scores, so tie blocks span cells.
            let score = ((x >> 20) % 200) as f64 / 200.0;
            stats[cell].add(score, (x >> 9).is_multiple_of(3), 1.0 + ((x >> 5) % 4) as f64 * 0.25);
        }
        // Cell c belongs to group c % 5; group 4 has cells 4 and 9, group 3 has 3 and 8.
        let group_of_cell: Vec<u32> = (0..cells as u32).map(|c| c % 5).collect();
        let mut rows: Vec<RankedRow> = stats
            .iter()
            .enumerate()
            .flat_map(|(c, s)| s.ranked_rows(c as u32))
            .collect();
        sort_descending(&mut rows);
        let thresholds = [0.5, 0.1, 0.9, 0.25];
        let query = Query {
            roc_points: 17,
            thresholds: &thresholds,
        };
        // An empty sixth group: no rows, null areas, only the origin of a curve.
        let walked = walk(&rows, &group_of_cell, 6, query);
        for g in 0..5u32 {
            let mut alone = ScoreStats::default();
            for (c, s) in stats.iter().enumerate() {
                if group_of_cell[c] == g {
                    alone.merge(s);
                }
            }
            let want = alone.ranked(17, &thresholds);
            let got = &walked[g as usize];
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(1.0);
            assert!(close(got.positives, want.positives) && close(got.negatives, want.negatives));
            assert!(
                close(got.roc_auc.value.unwrap(), want.roc_auc.value.unwrap()),
                "group {g}"
            );
            assert!(close(
                got.average_precision.value.unwrap(),
                want.average_precision.value.unwrap()
            ));
            assert_eq!(got.roc_curve.len(), want.roc_curve.len());
            for (a, b) in got.roc_curve.iter().zip(&want.roc_curve) {
                assert!(close(a.0, b.0) && close(a.1, b.1) && (a.2 == b.2), "{a:?} {b:?}");
            }
            for (a, b) in got.cells_at.iter().zip(&want.cells_at) {
                assert!(close(a.tp, b.tp) && close(a.fp, b.fp) && close(a.tn, b.tn) && close(a.fn_, b.fn_));
            }
        }
        let empty = &walked[5];
        assert_eq!(empty.roc_auc.value, None);
        assert_eq!(empty.average_precision.value, None);
        assert_eq!(empty.roc_curve, vec![(0.0, 0.0, f64::INFINITY)]);
    }

    /// The sums a walk makes do not depend on the order rows arrive in.
    #[test]
    fn the_result_does_not_depend_on_the_order_of_the_rows() {
        let mut rows: Vec<RankedRow> = (0..3000u32)
            .map(|i| RankedRow {
                score: f64::from(i % 37) / 37.0,
                weight: 0.1 + f64::from(i % 7) * 0.3,
                cell: i % 3,
                label: i % 5 < 2,
            })
            .collect();
        let query = Query {
            roc_points: 101,
            thresholds: &[0.5],
        };
        sort_descending(&mut rows);
        let a = walk(&rows, &[0, 1, 0], 2, query);
        rows.reverse();
        sort_descending(&mut rows);
        let b = walk(&rows, &[0, 1, 0], 2, query);
        assert_eq!(a, b);
    }
}
