//! Score-based metrics: ROC AUC and average precision (exact, from the sorted scores, not a
//! binned approximation), Brier score, log loss, and calibration.

use crate::cells::Value;
use crate::metric::NullReason;
use crate::ranks::{self, Ranked, RankedRow};
use serde::{Deserialize, Serialize};

/// Calibration bins: equal width over [0, 1].
pub const CALIBRATION_BINS: usize = 10;

/// Sufficient statistics of the scores of one group: the scored rows (merged by
/// concatenation, sorted only when a metric needs their order, see [`crate::ranks`]) and the
/// sums every other score metric needs ([`ScoreSums`], through `Deref`).
#[derive(Debug, Clone, Default)]
pub struct ScoreStats {
    /// `(score, label, weight)` for every row.
    rows: Vec<(f64, bool, f64)>,
    sums: ScoreSums,
}

/// The score statistics that merge by addition: Brier score, log loss and calibration, with
/// what their intervals need. A group of a report is the sum of its cells' sums; its rows are
/// never copied (the order metrics come from one walk over all cells, [`crate::ranks`]).
#[derive(Debug, Clone, Default)]
pub struct ScoreSums {
    weight: f64,
    brier: f64,
    /// Sum of squared per-row Brier terms, for the interval of the mean.
    brier_sq: f64,
    log_loss: f64,
    log_loss_sq: f64,
    bins: [CalibrationBin; CALIBRATION_BINS],
    /// Per calibration bin and label (negative, positive): weight, sum and sum of squares of
    /// the scores, for the bootstrap of the calibration error.
    bin_labels: [[Moments; 2]; CALIBRATION_BINS],
}

/// Weight, sum and sum of squares of scores.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Moments {
    weight: f64,
    sum: f64,
    sum_sq: f64,
}

/// One calibration bin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CalibrationBin {
    pub weight: f64,
    pub score_sum: f64,
    pub positive_sum: f64,
}

/// A point of a calibration curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CalibrationPoint {
    /// Lower edge of the score bin.
    pub bin_lower: f64,
    /// Upper edge of the score bin.
    pub bin_upper: f64,
    /// Weight of the rows in the bin.
    pub count: f64,
    /// Their mean score: what the model predicted.
    pub mean_score: f64,
    /// Their share of positives: what happened.
    pub fraction_positive: f64,
}

impl ScoreStats {
    /// Counts one row's score, outcome and weight.
    #[inline]
    pub fn add(&mut self, score: f64, label: bool, w: f64) {
        self.rows.push((score, label, w));
        self.sums.add(score, label, w);
    }

    /// Adds another group's statistics; exact, like [`Cells::merge`](crate::Cells::merge).
    pub fn merge(&mut self, o: &ScoreStats) {
        self.rows.extend_from_slice(&o.rows);
        self.sums.merge(&o.sums);
    }

    /// The sums (everything but the rows).
    pub fn sums(&self) -> &ScoreSums {
        &self.sums
    }

    /// The rows as cell `cell` of a walk over several cells.
    pub(crate) fn ranked_rows(&self, cell: u32) -> impl Iterator<Item = RankedRow> + '_ {
        self.rows.iter().map(move |&(score, label, weight)| RankedRow {
            score,
            weight,
            cell,
            label,
        })
    }

    /// Everything that depends on the order of this group's scores, from one sort and one walk.
    pub fn ranked(&self, roc_points: usize, thresholds: &[f64]) -> Ranked {
        let mut rows: Vec<RankedRow> = self.ranked_rows(0).collect();
        ranks::sort_descending(&mut rows);
        let query = ranks::Query { roc_points, thresholds };
        ranks::walk(&rows, &[0], 1, query)
            .pop()
            .expect("a walk over one group yields one result")
    }

    /// Area under the ROC curve, exact ([`Ranked::roc_auc`]).
    pub fn roc_auc(&self) -> Value {
        self.ranked(2, &[]).roc_auc
    }

    /// Average precision as scikit-learn defines it ([`Ranked::average_precision`]).
    pub fn average_precision(&self) -> Value {
        self.ranked(2, &[]).average_precision
    }

    /// Hanley and McNeil's interval for the ROC AUC ([`Ranked::roc_auc_interval`]).
    pub fn roc_auc_interval(&self, z: f64) -> Option<[f64; 2]> {
        self.ranked(2, &[]).roc_auc_interval(z)
    }

    /// The logit interval of average precision ([`Ranked::average_precision_interval`]).
    pub fn average_precision_interval(&self, z: f64) -> Option<[f64; 2]> {
        self.ranked(2, &[]).average_precision_interval(z)
    }

    /// Confusion cells when deciding `score >= t`, for each threshold in `thresholds`.
    pub fn cells_at(&self, thresholds: &[f64]) -> Vec<crate::cells::Cells> {
        self.ranked(2, thresholds).cells_at
    }

    /// The ROC curve thinned to at most `max_points` points (always keeping both ends): the
    /// points of [`Self::roc_curve`] at evenly spaced indices.
    pub fn roc_curve_thinned(&self, max_points: usize) -> Vec<(f64, f64, f64)> {
        self.ranked(max_points, &[]).roc_curve
    }

    /// ROC curve points `(fpr, tpr, threshold)` at every distinct score, from the top.
    pub fn roc_curve(&self) -> Vec<(f64, f64, f64)> {
        self.ranked(usize::MAX, &[]).roc_curve
    }
}

impl std::ops::Deref for ScoreStats {
    type Target = ScoreSums;

    fn deref(&self) -> &ScoreSums {
        &self.sums
    }
}

impl ScoreSums {
    /// Counts one row's score, outcome and weight.
    #[inline]
    pub fn add(&mut self, score: f64, label: bool, w: f64) {
        let y = f64::from(u8::from(label));
        self.weight += w;
        let b = (score - y) * (score - y);
        self.brier += w * b;
        self.brier_sq += w * b * b;
        // scikit-learn clips to [eps, 1 - eps] before taking logarithms.
        let p = score.clamp(f64::EPSILON, 1.0 - f64::EPSILON);
        let l = -if label { p.ln() } else { (1.0 - p).ln() };
        self.log_loss += w * l;
        self.log_loss_sq += w * l * l;
        let b = ((score * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
        let bin = &mut self.bins[b];
        bin.weight += w;
        bin.score_sum += w * score;
        bin.positive_sum += w * y;
        let m = &mut self.bin_labels[b][usize::from(label)];
        m.weight += w;
        m.sum += w * score;
        m.sum_sq += w * score * score;
    }

    /// Adds another group's statistics; exact, like [`Cells::merge`](crate::Cells::merge).
    pub fn merge(&mut self, o: &ScoreSums) {
        self.weight += o.weight;
        self.brier += o.brier;
        self.brier_sq += o.brier_sq;
        self.log_loss += o.log_loss;
        self.log_loss_sq += o.log_loss_sq;
        for (a, b) in self.bins.iter_mut().zip(&o.bins) {
            a.weight += b.weight;
            a.score_sum += b.score_sum;
            a.positive_sum += b.positive_sum;
        }
        for (a, b) in self.bin_labels.iter_mut().flatten().zip(o.bin_labels.iter().flatten()) {
            a.weight += b.weight;
            a.sum += b.sum;
            a.sum_sq += b.sum_sq;
        }
    }

    /// Mean Brier score, null for an empty group.
    pub fn brier(&self) -> Value {
        Value::ratio(self.brier, self.weight, NullReason::EmptyGroup)
    }

    /// Mean log loss, null for an empty group.
    pub fn log_loss(&self) -> Value {
        Value::ratio(self.log_loss, self.weight, NullReason::EmptyGroup)
    }

    /// Normal-approximation intervals of the mean Brier score and mean log loss (the rows are
    /// independent, so the mean's standard error is the rows' standard deviation over sqrt(n)).
    pub fn brier_and_log_loss_intervals(&self, z: f64) -> Option<([f64; 2], [f64; 2])> {
        let n = self.weight;
        if n <= 1.0 {
            return None;
        }
        let ci = |sum: f64, sq: f64, lo: f64| {
            let mean = sum / n;
            let var = ((sq / n - mean * mean) * n / (n - 1.0)).max(0.0);
            let half = z * (var / n).sqrt();
            [(mean - half).max(lo), mean + half]
        };
        Some((
            ci(self.brier, self.brier_sq, 0.0),
            ci(self.log_loss, self.log_loss_sq, 0.0),
        ))
    }

    /// Bootstrap percentile interval of the expected calibration error, the group's size
    /// fixed. Per resample, the rows' counts over (bin, label) are drawn from their
    /// multinomial, exactly as resampling rows would; the sum of the scores drawn within a
    /// (bin, label) category is drawn from its normal approximation (mean and variance of
    /// that category's scores: scores in one bin differ by at most 0.1, so this term is
    /// small beside the label counts). `None` for an empty group or `resamples == 0`.
    pub fn ece_bootstrap_interval(&self, resamples: usize, seed: u64, confidence: f64) -> Option<[f64; 2]> {
        let total = self.weight;
        if total <= 0.0 || resamples == 0 {
            return None;
        }
        let cats: Vec<Moments> = self.bin_labels.iter().flatten().copied().collect();
        let weights: Vec<f64> = cats.iter().map(|m| m.weight).collect();
        let mut rs = crate::bootstrap::Resampler::new(seed);
        let mut reps = Vec::with_capacity(resamples);
        for _ in 0..resamples {
            let counts = rs.multinomial(&weights);
            let n: f64 = counts.iter().sum();
            let mut gap = 0.0;
            for (bin, pair) in counts.chunks(2).zip(cats.chunks(2)) {
                let mut score_sum = 0.0;
                for (&k, m) in bin.iter().zip(pair) {
                    if k > 0.0 && m.weight > 0.0 {
                        let mean = m.sum / m.weight;
                        let var = (m.sum_sq / m.weight - mean * mean).max(0.0);
                        score_sum += k * mean + (k * var).sqrt() * rs.standard_normal();
                    }
                }
                gap += (score_sum - bin[1]).abs();
            }
            if n > 0.0 {
                reps.push(gap / n);
            }
        }
        crate::bootstrap::percentile_interval(&mut reps, confidence)
    }

    /// Expected calibration error over equal-width bins.
    pub fn ece(&self) -> Value {
        if self.weight <= 0.0 {
            return Value::null(NullReason::EmptyGroup);
        }
        let e = self
            .bins
            .iter()
            .filter(|b| b.weight > 0.0)
            .map(|b| b.weight / self.weight * (b.score_sum / b.weight - b.positive_sum / b.weight).abs())
            .sum();
        Value::some(e)
    }

    /// The calibration curve: one point per non-empty bin.
    pub fn calibration_curve(&self) -> Vec<CalibrationPoint> {
        self.bins
            .iter()
            .enumerate()
            .filter(|(_, b)| b.weight > 0.0)
            .map(|(i, b)| CalibrationPoint {
                bin_lower: i as f64 / CALIBRATION_BINS as f64,
                bin_upper: (i + 1) as f64 / CALIBRATION_BINS as f64,
                count: b.weight,
                mean_score: b.score_sum / b.weight,
                fraction_positive: b.positive_sum / b.weight,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    /// The thinned curve is the full curve's points at evenly spaced indices; the full curve
    /// is made here the plain way (sort, tie blocks, running counts) as the reference.
    #[test]
    fn the_thinned_roc_curve_is_the_full_curve_sampled() {
        let mut s = ScoreStats::default();
        let mut rows = Vec::new();
        let mut x: u64 = 7;
        for _ in 0..5000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let score = ((x >> 33) % 1000) as f64 / 1000.0;
            let (y, w) = ((x >> 13).is_multiple_of(3), 1.0 + ((x >> 7) % 2) as f64);
            s.add(score, y, w);
            rows.push((score, y, w));
        }
        rows.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (pos, neg) = rows
            .iter()
            .fold((0.0, 0.0), |a, r| if r.1 { (a.0 + r.2, a.1) } else { (a.0, a.1 + r.2) });
        let mut full = vec![(0.0, 0.0, f64::INFINITY)];
        let (mut tp, mut fp) = (0.0, 0.0);
        for (i, r) in rows.iter().enumerate() {
            if r.1 {
                tp += r.2
            } else {
                fp += r.2
            }
            if rows.get(i + 1).is_none_or(|next| next.0 != r.0) {
                full.push((fp / neg, tp / pos, r.0));
            }
        }
        assert!(full.len() > 101);
        let got_full = s.roc_curve();
        assert_eq!(got_full.len(), full.len());
        for max in [2usize, 3, 101, 500] {
            let step = (full.len() - 1) as f64 / (max - 1) as f64;
            let want: Vec<_> = (0..max)
                .map(|k| full[((k as f64 * step).round() as usize).min(full.len() - 1)])
                .collect();
            let got = s.roc_curve_thinned(max);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!((g.0 - w.0).abs() < 1e-12 && (g.1 - w.1).abs() < 1e-12, "{g:?} {w:?}");
                assert!(g.2 == w.2 || (g.2.is_infinite() && w.2.is_infinite()));
            }
        }
        assert_eq!(s.roc_curve_thinned(full.len() + 5), got_full);
    }

    use super::*;

    fn stats(rows: &[(f64, bool)]) -> ScoreStats {
        let mut s = ScoreStats::default();
        for &(x, y) in rows {
            s.add(x, y, 1.0);
        }
        s
    }

    #[test]
    fn auc_by_hand_with_ties() {
        // Positives 0.9, 0.5; negatives 0.5, 0.1: pairs (0.9>0.5), (0.9>0.1), (0.5=0.5 -> 1/2), (0.5>0.1).
        let s = stats(&[(0.9, true), (0.5, true), (0.5, false), (0.1, false)]);
        assert_eq!(s.roc_auc().value, Some(3.5 / 4.0));
        assert_eq!(stats(&[(0.2, true), (0.3, true)]).roc_auc().value, None);
    }

    #[test]
    fn average_precision_by_hand() {
        // Descending: 0.9 (+) P=1 R=.5; 0.8 (-) ; 0.7 (+) P=2/3 R=1.
        let s = stats(&[(0.9, true), (0.8, false), (0.7, true)]);
        assert!((s.average_precision().value.unwrap() - (0.5 + 0.5 * 2.0 / 3.0)).abs() < 1e-15);
    }

    #[test]
    fn score_intervals_by_hand() {
        // Brier terms 0.01, 0.04, 0.09, 0.16: mean 0.075, sample sd sqrt(0.0043), se 0.0327872.
        let s = stats(&[(0.9, true), (0.2, false), (0.7, true), (0.4, false)]);
        let (b, l) = s.brier_and_log_loss_intervals(1.959_963_985).unwrap();
        assert!((b[0] - (0.075 - 1.959_963_985 * 0.032_787_192_5)).abs() < 1e-8, "{b:?}");
        assert!(l[0] < s.log_loss().value.unwrap() && s.log_loss().value.unwrap() < l[1]);
        // AUC 1 with 2 positives and 2 negatives: Hanley-McNeil variance 0.
        assert_eq!(s.roc_auc_interval(1.96), Some([1.0, 1.0]));
        let wide = stats(&[(0.9, true), (0.2, true), (0.7, false), (0.4, false)]);
        let [lo, hi] = wide.roc_auc_interval(1.96).unwrap();
        assert!(lo < 0.5 && hi > 0.5 && hi <= 1.0);
    }

    #[test]
    fn thresholds_by_hand() {
        let s = stats(&[(0.9, true), (0.6, false), (0.4, true), (0.1, false)]);
        let c = s.cells_at(&[0.5, 0.05, 0.95]);
        assert_eq!(
            c[0],
            crate::cells::Cells {
                tp: 1.0,
                fp: 1.0,
                tn: 1.0,
                fn_: 1.0
            }
        );
        assert_eq!(
            c[1],
            crate::cells::Cells {
                tp: 2.0,
                fp: 2.0,
                tn: 0.0,
                fn_: 0.0
            }
        );
        assert_eq!(
            c[2],
            crate::cells::Cells {
                tp: 0.0,
                fp: 0.0,
                tn: 2.0,
                fn_: 2.0
            }
        );
        assert_eq!(s.roc_curve().len(), 5);
        assert_eq!(s.roc_curve_thinned(3).len(), 3);
    }

    #[test]
    fn brier_log_loss_and_calibration() {
        let s = stats(&[(0.8, true), (0.3, false)]);
        assert!((s.brier().value.unwrap() - (0.04 + 0.09) / 2.0).abs() < 1e-15);
        assert!((s.log_loss().value.unwrap() - (-(0.8f64.ln()) - 0.7f64.ln()) / 2.0).abs() < 1e-15);
        // Bins [0.8,0.9): mean 0.8 vs 1; [0.3,0.4): 0.3 vs 0 -> ECE = (0.2 + 0.3) / 2.
        assert!((s.ece().value.unwrap() - 0.25).abs() < 1e-12);
        assert_eq!(s.calibration_curve().len(), 2);
    }
}
