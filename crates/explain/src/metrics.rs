//! The few metrics an importance is measured in, computed on a subset of rows.
//!
//! Written out here rather than taken from `fairness`, whose metrics come from mergeable
//! sufficient statistics of a whole run: an importance needs them on one scored batch at a time.

/// ROC AUC of `score` against `label` over `rows` (Mann–Whitney, tied scores counted half),
/// `None` when the rows hold only one class.
pub fn roc_auc(score: &[f64], label: &[bool], rows: &[u32]) -> Option<f64> {
    let mut r: Vec<(f64, bool)> = rows.iter().map(|&i| (score[i as usize], label[i as usize])).collect();
    r.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let positives = r.iter().filter(|x| x.1).count() as f64;
    let negatives = r.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    // Sum of the positives' ranks, ties given their average rank.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < r.len() {
        // From i + 1, so a score that equals nothing (NaN) still moves the walk on.
        let mut j = i + 1;
        while j < r.len() && r[j].0 == r[i].0 {
            j += 1;
        }
        let avg_rank = (i + j + 1) as f64 / 2.0;
        rank_sum += avg_rank * r[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// Share of `rows` whose decision equals the label; `None` for no rows.
pub fn accuracy(decision: &[bool], label: &[bool], rows: &[u32]) -> Option<f64> {
    if rows.is_empty() {
        return None;
    }
    let right = rows
        .iter()
        .filter(|&&i| decision[i as usize] == label[i as usize])
        .count();
    Some(right as f64 / rows.len() as f64)
}

/// Mean log loss of `score` against `label` over `rows`, scores clipped to
/// `[ε, 1 − ε]` with ε the f64 machine epsilon (as scikit-learn's `log_loss` does for float64);
/// `None` for no rows.
pub fn log_loss(score: &[f64], label: &[bool], rows: &[u32]) -> Option<f64> {
    if rows.is_empty() {
        return None;
    }
    let eps = f64::EPSILON;
    let sum: f64 = rows
        .iter()
        .map(|&i| {
            let p = score[i as usize].clamp(eps, 1.0 - eps);
            if label[i as usize] { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    Some(sum / rows.len() as f64)
}

/// The three metrics of one set of rows against one outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// ROC AUC; `None` without scores or with one class.
    pub roc_auc: Option<f64>,
    /// Accuracy of the decisions.
    pub accuracy: Option<f64>,
    /// Mean log loss; `None` without scores.
    pub log_loss: Option<f64>,
}

impl Metrics {
    /// The metrics of `rows`.
    pub fn of(decision: &[bool], score: Option<&[f64]>, label: &[bool], rows: &[u32]) -> Self {
        Self {
            roc_auc: score.and_then(|s| roc_auc(s, label, rows)),
            accuracy: accuracy(decision, label, rows),
            log_loss: score.and_then(|s| log_loss(s, label, rows)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_equal_hand_computed_values() {
        // Scores 0.1 0.4 0.35 0.8 against 0 0 1 1: scikit-learn's roc_auc_score gives 0.75.
        let s = [0.1, 0.4, 0.35, 0.8];
        let y = [false, false, true, true];
        let all = [0, 1, 2, 3];
        assert_eq!(roc_auc(&s, &y, &all), Some(0.75));
        // A tie between a positive and a negative counts half: 0.5, 0.5 against 0, 1.
        assert_eq!(roc_auc(&[0.5, 0.5], &[false, true], &[0, 1]), Some(0.5));
        assert_eq!(roc_auc(&s, &y, &[0, 1]), None);
        let d = [false, true, false, true];
        assert_eq!(accuracy(&d, &y, &all), Some(0.5));
        let ll = -(0.9f64.ln() + 0.6f64.ln() + 0.35f64.ln() + 0.8f64.ln()) / 4.0;
        assert!((log_loss(&s, &y, &all).unwrap() - ll).abs() < 1e-15);
        assert_eq!(accuracy(&d, &y, &[]), None);
        // A NaN score ends the walk (it used to spin forever on it).
        assert!(roc_auc(&[0.2, f64::NAN], &[false, true], &[0, 1]).is_some());
    }
}
