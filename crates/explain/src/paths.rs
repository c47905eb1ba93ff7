//! Path-specific effects: how a model's decisions change between citizens and twins that change a
//! protected attribute along one causal path, and how the selection gap between two groups splits
//! into the part that runs through proxies, the part through mediators, and the remainder.
//!
//! The crate does not know how the twins were made (in Sandkasse the generator recomputes a chosen
//! set of the attribute's descendants with every random draw held fixed); it takes the citizens'
//! and each path's twins' decisions and scores, in the same row order, and the attribute's value of
//! every citizen and twin.

use crate::ExplainError;
use crate::interval::{mean_interval, wilson};
use crate::score::Scored;
use serde::{Deserialize, Serialize};

/// Bootstrap resamples behind the decomposition's intervals.
pub const DECOMPOSITION_RESAMPLES: usize = 1000;

/// One path's twins, scored.
#[derive(Debug, Clone)]
pub struct PathTwins<'a> {
    /// The path's name (`total`, `proxy`, `mediated`, or a user's).
    pub name: &'a str,
    /// The columns the path recomputes, for the record.
    pub recomputed: &'a [String],
    /// The model's answer for each citizen's twin on this path, in citizen order.
    pub scored: &'a Scored,
}

/// The attribute being changed: its value for each citizen and in each citizen's twin (the same on
/// every path), as codes into `values`.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// The attribute's name.
    pub attribute: &'a str,
    /// The value names.
    pub values: &'a [String],
    /// Each citizen's value.
    pub from: &'a [u32],
    /// Each twin's value.
    pub to: &'a [u32],
}

/// A mean with its interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Estimate {
    /// The estimate.
    pub value: f64,
    /// Its interval at the stated confidence (`[v, v]` when every pair agrees exactly).
    pub interval: Option<[f64; 2]>,
}

/// What one path does to the decisions of the citizens with one change of value (or all of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PathEffect {
    /// The attribute's value in the citizens (empty for all pairs together).
    pub from: String,
    /// The attribute's value in their twins (empty for all pairs together).
    pub to: String,
    /// Citizen–twin pairs.
    pub pairs: u64,
    /// Share of pairs whose decision differs, with its Wilson interval.
    pub flip_rate: Estimate,
    /// Share of pairs where the twin is selected and the citizen is not (Wilson interval).
    pub flips_to_positive: Estimate,
    /// Share of pairs where the citizen is selected and the twin is not (Wilson interval).
    pub flips_to_negative: Estimate,
    /// Mean of twin's score minus citizen's score (Student-t interval); `None` without scores.
    pub mean_score_change: Option<Estimate>,
    /// Mean absolute score change (Student-t interval); `None` without scores.
    pub mean_abs_score_change: Option<Estimate>,
}

/// One path's effects, overall and per change of value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PathReport {
    /// The path's name.
    pub path: String,
    /// The columns its twins recompute; every other column is the citizen's own (on the total
    /// path the attribute's column and the CPR number are the twin's too).
    pub recomputed: Vec<String>,
    /// Over every pair.
    pub overall: PathEffect,
    /// Per change of the attribute's value (`from` → `to`), in value order.
    pub by_change: Vec<PathEffect>,
}

/// The selection gap between the twins' group and the citizens' group, split by path.
///
/// For citizens of value `from` whose twins take value `to`: `gap` is the selection rate of the
/// `to` citizens minus that of the `from` citizens; `proxy` and `mediated` are the mean change in
/// the `from` citizens' selection when only the proxies, or only the mediators, take their
/// counterfactual values (the attribute's own column stays the citizen's); `remainder` is
/// `gap − proxy − mediated`: who the groups are (their ages, sexes and everything not caused by
/// the attribute), the model's direct use of the attribute's column, and the interaction of the
/// two paths (`total − proxy − mediated`, the last two together, also given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GapDecomposition {
    /// The citizens' value.
    pub from: String,
    /// Their twins' value.
    pub to: String,
    /// Citizens with value `from` (whose twins are measured) and with value `to`.
    pub citizens: [u64; 2],
    /// Selection rate of the `to` citizens minus the `from` citizens'.
    pub gap: Estimate,
    /// The part through the proxies.
    pub proxy: Estimate,
    /// The part through the mediators.
    pub mediated: Estimate,
    /// `gap − proxy − mediated`.
    pub remainder: Estimate,
    /// The total effect on the `from` citizens (every descendant recomputed), when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Estimate>,
    /// `total − proxy − mediated`: what neither path explains alone, and the model's direct use
    /// of the attribute's column (which changes on the total path only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interaction: Option<Estimate>,
}

/// Every path's effects and the gap decompositions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PathEffects {
    /// The attribute changed.
    pub attribute: String,
    /// Citizens (each with one twin per path).
    pub citizens: usize,
    /// The confidence of every interval.
    pub confidence: f64,
    /// One report per path, in the order asked.
    pub paths: Vec<PathReport>,
    /// The selection gaps split by path, per change of value; empty unless both `proxy` and
    /// `mediated` were measured.
    pub decomposition: Vec<GapDecomposition>,
    /// Bootstrap resamples behind the decomposition's intervals (percentile intervals, citizens
    /// resampled with their twins).
    pub resamples: usize,
    /// The bootstrap's seed.
    pub seed: u64,
}

/// The effects of each path in `paths` on the decisions (and scores) of `citizens`.
pub fn path_effects(
    citizens: &Scored,
    change: Change<'_>,
    paths: &[PathTwins<'_>],
    confidence: f64,
    seed: u64,
) -> Result<PathEffects, ExplainError> {
    let n = citizens.decision.len();
    let check = |what: &str, got: usize| {
        if got == n {
            Ok(())
        } else {
            Err(ExplainError::Length {
                what: what.to_owned(),
                got,
                rows: n,
            })
        }
    };
    check("the citizens' values of the attribute", change.from.len())?;
    check("the twins' values of the attribute", change.to.len())?;
    if let Some(s) = &citizens.score {
        check("the citizens' scores", s.len())?;
    }
    if let Some(&bad) = change
        .from
        .iter()
        .chain(change.to)
        .find(|&&v| v as usize >= change.values.len())
    {
        return Err(ExplainError::Config(format!(
            "value code {bad} of {} has no name ({} values)",
            change.attribute,
            change.values.len()
        )));
    }
    for p in paths {
        check(&format!("the {} twins' decisions", p.name), p.scored.decision.len())?;
        if let Some(s) = &p.scored.score {
            check(&format!("the {} twins' scores", p.name), s.len())?;
        }
    }
    let mut pairs: Vec<(u32, u32)> = change.from.iter().copied().zip(change.to.iter().copied()).collect();
    pairs.sort_unstable();
    pairs.dedup();
    let name = |v: u32| change.values[v as usize].clone();
    let reports = paths
        .iter()
        .map(|p| {
            let all: Vec<usize> = (0..n).collect();
            PathReport {
                path: p.name.to_owned(),
                recomputed: p.recomputed.to_vec(),
                overall: effect(citizens, p.scored, &all, String::new(), String::new(), confidence),
                by_change: pairs
                    .iter()
                    .map(|&(f, t)| {
                        let rows: Vec<usize> = (0..n).filter(|&i| change.from[i] == f && change.to[i] == t).collect();
                        effect(citizens, p.scored, &rows, name(f), name(t), confidence)
                    })
                    .collect(),
            }
        })
        .collect();
    let find = |name: &str| paths.iter().find(|p| p.name == name).map(|p| p.scored);
    let decomposition = match (find("proxy"), find("mediated")) {
        (Some(proxy), Some(mediated)) => pairs
            .iter()
            .filter_map(|&(f, t)| {
                decompose(
                    citizens,
                    change,
                    (f, t),
                    [proxy, mediated],
                    find("total"),
                    confidence,
                    seed,
                )
                .map(|mut d| {
                    d.from = name(f);
                    d.to = name(t);
                    d
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(PathEffects {
        attribute: change.attribute.to_owned(),
        citizens: n,
        confidence,
        paths: reports,
        decomposition,
        resamples: DECOMPOSITION_RESAMPLES,
        seed,
    })
}

fn effect(citizens: &Scored, twins: &Scored, rows: &[usize], from: String, to: String, confidence: f64) -> PathEffect {
    let n = rows.len() as f64;
    let (mut flips, mut up, mut down) = (0.0, 0.0, 0.0);
    for &i in rows {
        match (citizens.decision[i], twins.decision[i]) {
            (false, true) => up += 1.0,
            (true, false) => down += 1.0,
            _ => {}
        }
    }
    flips += up + down;
    let rate = |k: f64| Estimate {
        value: if n > 0.0 { k / n } else { f64::NAN },
        interval: (n > 0.0).then(|| wilson(k, n, confidence)),
    };
    let (signed, absolute) = match (&citizens.score, &twins.score) {
        (Some(a), Some(b)) if !rows.is_empty() => {
            let d: Vec<f64> = rows.iter().map(|&i| b[i] - a[i]).collect();
            let abs: Vec<f64> = d.iter().map(|x| x.abs()).collect();
            let est = |v: &[f64]| {
                let (mean, _, interval) = mean_interval(v, confidence);
                Estimate { value: mean, interval }
            };
            (Some(est(&d)), Some(est(&abs)))
        }
        _ => (None, None),
    };
    PathEffect {
        from,
        to,
        pairs: rows.len() as u64,
        flip_rate: rate(flips),
        flips_to_positive: rate(up),
        flips_to_negative: rate(down),
        mean_score_change: signed,
        mean_abs_score_change: absolute,
    }
}

/// The decomposition for citizens of value `f` whose twins take `t`, or `None` when either group
/// has no citizens.
fn decompose(
    citizens: &Scored,
    change: Change<'_>,
    (f, t): (u32, u32),
    [proxy, mediated]: [&Scored; 2],
    total: Option<&Scored>,
    confidence: f64,
    seed: u64,
) -> Option<GapDecomposition> {
    let d = |b: bool| f64::from(u8::from(b));
    // Per citizen of `f`: its decision and the changes along each path; per citizen of `t`: its decision.
    let from_rows: Vec<[f64; 4]> = (0..citizens.decision.len())
        .filter(|&i| change.from[i] == f && change.to[i] == t)
        .map(|i| {
            let own = d(citizens.decision[i]);
            [
                own,
                d(proxy.decision[i]) - own,
                d(mediated.decision[i]) - own,
                total.map_or(0.0, |s| d(s.decision[i]) - own),
            ]
        })
        .collect();
    let to_rows: Vec<f64> = (0..citizens.decision.len())
        .filter(|&i| change.from[i] == t)
        .map(|i| d(citizens.decision[i]))
        .collect();
    if from_rows.is_empty() || to_rows.is_empty() {
        return None;
    }
    let parts = |a: &[[f64; 4]], b: &[f64]| -> [f64; 6] {
        let mean = |k: usize| a.iter().map(|r| r[k]).sum::<f64>() / a.len() as f64;
        let gap = b.iter().sum::<f64>() / b.len() as f64 - mean(0);
        let (p, m, tot) = (mean(1), mean(2), mean(3));
        [gap, p, m, gap - p - m, tot, tot - p - m]
    };
    let point = parts(&from_rows, &to_rows);
    // Percentile bootstrap, each group resampled on its own (the groups are disjoint sets of
    // citizens; a citizen's twins go with it).
    let mut rng = SplitMix(seed ^ (u64::from(f) << 32 | u64::from(t)));
    let mut draws: Vec<[f64; 6]> = Vec::with_capacity(DECOMPOSITION_RESAMPLES);
    let (mut a, mut b) = (vec![[0.0; 4]; from_rows.len()], vec![0.0; to_rows.len()]);
    for _ in 0..DECOMPOSITION_RESAMPLES {
        for x in a.iter_mut() {
            *x = from_rows[rng.below(from_rows.len())];
        }
        for x in b.iter_mut() {
            *x = to_rows[rng.below(to_rows.len())];
        }
        draws.push(parts(&a, &b));
    }
    let alpha = (1.0 - confidence) / 2.0;
    let est = |k: usize| {
        let mut v: Vec<f64> = draws.iter().map(|d| d[k]).collect();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((p * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
        Estimate {
            value: point[k],
            interval: Some([q(alpha), q(1.0 - alpha)]),
        }
    };
    Some(GapDecomposition {
        from: String::new(),
        to: String::new(),
        citizens: [from_rows.len() as u64, to_rows.len() as u64],
        gap: est(0),
        proxy: est(1),
        mediated: est(2),
        remainder: est(3),
        total: total.map(|_| est(4)),
        interaction: total.map(|_| est(5)),
    })
}

/// SplitMix64, for the bootstrap: a pure function of the seed.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}
