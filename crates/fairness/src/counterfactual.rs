//! Counterfactual fairness from twin pairs: each citizen and a twin who differs only in one
//! attribute (and what that attribute causes). A fair decision does not flip between them.

use crate::interval::wilson;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// One half of a pair, waiting for its partner.
#[derive(Debug, Clone)]
struct Half {
    twin: bool,
    decision: bool,
    score: Option<f64>,
    values: Vec<u32>,
}

#[derive(Debug, Clone, Default)]
struct PairStats {
    pairs: u64,
    flips: u64,
    to_positive: u64,
    to_negative: u64,
    abs_score_sum: f64,
    abs_score_max: f64,
    scored: u64,
}

/// Pairs rows by twin id and counts decision flips per changed attribute value pair.
#[derive(Debug, Clone, Default)]
pub struct Twins {
    pending: HashMap<u64, Half>,
    /// `(attribute index, original value code, twin value code)`.
    changes: BTreeMap<(usize, u32, u32), PairStats>,
    all: PairStats,
    duplicates: u64,
}

impl Twins {
    /// Adds a row: its twin id, whether it is the twin (counterfactual) half, decision, score and
    /// group codes (global, as in the accumulator).
    pub fn add(&mut self, id: u64, twin: bool, decision: bool, score: Option<f64>, values: Vec<u32>) {
        let half = Half {
            twin,
            decision,
            score,
            values,
        };
        let Some(other) = self.pending.remove(&id) else {
            self.pending.insert(id, half);
            return;
        };
        if other.twin == half.twin {
            self.duplicates += 1;
            return;
        }
        let (orig, cf) = if half.twin { (other, half) } else { (half, other) };
        let flip = orig.decision != cf.decision;
        let d = orig.score.zip(cf.score).map(|(a, b)| (a - b).abs());
        let record = |s: &mut PairStats| {
            s.pairs += 1;
            if flip {
                s.flips += 1;
                if cf.decision {
                    s.to_positive += 1;
                } else {
                    s.to_negative += 1;
                }
            }
            if let Some(d) = d {
                s.scored += 1;
                s.abs_score_sum += d;
                s.abs_score_max = s.abs_score_max.max(d);
            }
        };
        record(&mut self.all);
        for (a, (x, y)) in orig.values.iter().zip(&cf.values).enumerate() {
            if x != y {
                record(self.changes.entry((a, *x, *y)).or_default());
            }
        }
    }

    /// The same pairs with every group code mapped through `f(attribute, code)`.
    pub fn translated(self, f: &dyn Fn(usize, u32) -> u32) -> Twins {
        let tr = |v: Vec<u32>| v.into_iter().enumerate().map(|(a, c)| f(a, c)).collect::<Vec<_>>();
        Twins {
            pending: self
                .pending
                .into_iter()
                .map(|(id, h)| {
                    (
                        id,
                        Half {
                            values: tr(h.values),
                            ..h
                        },
                    )
                })
                .collect(),
            changes: self
                .changes
                .into_iter()
                .map(|((a, x, y), s)| ((a, f(a, x), f(a, y)), s))
                .collect(),
            all: self.all,
            duplicates: self.duplicates,
        }
    }

    /// Merges another accumulator whose codes are already translated to this one's.
    pub fn merge(&mut self, other: Twins) {
        for (id, half) in other.pending {
            let Half {
                twin,
                decision,
                score,
                values,
            } = half;
            self.add(id, twin, decision, score, values);
        }
        self.duplicates += other.duplicates;
        for (k, s) in other.changes {
            let e = self.changes.entry(k).or_default();
            merge_stats(e, &s);
        }
        merge_stats(&mut self.all, &other.all);
    }

    pub fn report(
        &self,
        attributes: &[String],
        values: &dyn Fn(usize, u32) -> String,
        confidence: f64,
    ) -> CounterfactualReport {
        let entry = |attribute: String, from: String, to: String, s: &PairStats| ChangeReport {
            attribute,
            from,
            to,
            pairs: s.pairs,
            flip_rate: (s.pairs > 0).then(|| s.flips as f64 / s.pairs as f64),
            flip_rate_interval: (s.pairs > 0).then(|| wilson(s.flips as f64, s.pairs as f64, confidence)),
            flips_to_positive: s.to_positive,
            flips_to_negative: s.to_negative,
            mean_abs_score_change: (s.scored > 0).then(|| s.abs_score_sum / s.scored as f64),
            max_abs_score_change: (s.scored > 0).then_some(s.abs_score_max),
        };
        CounterfactualReport {
            overall: entry("(any)".into(), String::new(), String::new(), &self.all),
            by_change: self
                .changes
                .iter()
                .map(|(&(a, x, y), s)| entry(attributes[a].clone(), values(a, x), values(a, y), s))
                .collect(),
            unmatched_rows: self.pending.len() as u64,
            duplicate_rows: self.duplicates,
        }
    }
}

fn merge_stats(a: &mut PairStats, b: &PairStats) {
    a.pairs += b.pairs;
    a.flips += b.flips;
    a.to_positive += b.to_positive;
    a.to_negative += b.to_negative;
    a.abs_score_sum += b.abs_score_sum;
    a.abs_score_max = a.abs_score_max.max(b.abs_score_max);
    a.scored += b.scored;
}

/// Flips for one change of one attribute (`from` in the original, `to` in the twin).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChangeReport {
    /// The attribute changed between a citizen and their twin.
    pub attribute: String,
    /// Its value in the original.
    pub from: String,
    /// Its value in the twin.
    pub to: String,
    /// Pairs with this change.
    pub pairs: u64,
    /// Share of pairs whose decision differs; `None` without pairs.
    pub flip_rate: Option<f64>,
    /// Wilson interval of `flip_rate`.
    pub flip_rate_interval: Option<[f64; 2]>,
    /// Pairs where the twin got a positive decision and the original did not.
    pub flips_to_positive: u64,
    /// Pairs where the twin got a negative decision and the original did not.
    pub flips_to_negative: u64,
    /// Mean absolute score difference within a pair; `None` without scores.
    pub mean_abs_score_change: Option<f64>,
    /// Largest absolute score difference within a pair.
    pub max_abs_score_change: Option<f64>,
}

/// Counterfactual fairness: how often changing only a protected attribute changes the decision.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CounterfactualReport {
    /// Over all pairs.
    pub overall: ChangeReport,
    /// Per attribute and change of value.
    pub by_change: Vec<ChangeReport>,
    /// Rows whose twin never appeared.
    pub unmatched_rows: u64,
    /// Rows that repeated a half already seen.
    pub duplicate_rows: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_by_hand() {
        let mut t = Twins::default();
        // Pair 1: origin 0 -> 1, decision 1 -> 0 (flip), scores 0.7 -> 0.4.
        t.add(1, false, true, Some(0.7), vec![0]);
        t.add(1, true, false, Some(0.4), vec![1]);
        // Pair 2: twin first; origin 0 -> 1, no flip, scores 0.2 -> 0.3.
        t.add(2, true, false, Some(0.3), vec![1]);
        t.add(2, false, false, Some(0.2), vec![0]);
        // Unmatched.
        t.add(3, false, true, None, vec![0]);
        let r = t.report(&["origin".into()], &|_, v| ["danish", "other"][v as usize].into(), 0.95);
        assert_eq!(r.overall.pairs, 2);
        assert_eq!(r.overall.flip_rate, Some(0.5));
        assert_eq!(r.overall.flips_to_negative, 1);
        let c = &r.by_change[0];
        assert_eq!((c.from.as_str(), c.to.as_str()), ("danish", "other"));
        assert!((c.mean_abs_score_change.unwrap() - 0.2).abs() < 1e-12);
        assert!((c.max_abs_score_change.unwrap() - 0.3).abs() < 1e-12);
        assert_eq!(r.unmatched_rows, 1);
    }
}
