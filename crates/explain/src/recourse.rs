//! Recourse: for each citizen with the unfavourable decision, the smallest change of one
//! actionable input (in its allowed direction, within its bounds) that changes the decision.
//!
//! The search asks the model only (no gradients, no coefficients): the input is set to a grid of
//! values from the citizen's own towards the bound, the first grid value that changes the decision
//! is found, and the interval before it is bisected down to one whole unit for integer columns and
//! to the tolerance for the others. Each step scores every citizen still searching at once. For a
//! model monotone in the input (a logistic regression) the answer is the exact minimum; for
//! others it is the smallest change on the grid's first crossing, which can miss a narrower
//! crossing between two grid values — said in the record.

use crate::error::column_index;
use crate::interval::wilson;
use crate::{Estimate, ExplainError, Groups, Scored, Scorer};
use arrow::array::{Array, ArrayRef, AsArray, Float64Array, UInt32Array};
use arrow::datatypes::{DataType, Float64Type};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

/// Which way an actionable input may move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Only up.
    Up,
    /// Only down.
    Down,
    /// Either way.
    Either,
}

/// An input a citizen (or the authority on their behalf) can change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Action {
    /// The column.
    pub column: String,
    /// Which way it may move.
    pub direction: Direction,
    /// Smallest value it may take.
    pub min: f64,
    /// Largest value it may take.
    pub max: f64,
    /// The smallest step it moves by, when it is recorded in whole units of something (a score
    /// in whole points, hours in quarters): a change is a whole number of these. Integer columns
    /// move by whole numbers regardless; `None` for a float column: any change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<f64>,
    /// Why it is actionable, for the reader.
    pub why: String,
}

/// How the search runs; written into the result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecourseConfig {
    /// The decision a citizen wants changed (true: the positive one).
    pub unfavourable: bool,
    /// Grid values between the citizen's own and the bound before bisecting.
    pub grid: usize,
    /// Bisection stops when the interval is this narrow (relative to max(1, |value|)) for
    /// non-integer columns; integer columns are bisected to one unit.
    pub tolerance: f64,
    /// Confidence of every interval.
    pub confidence: f64,
    /// Seed of the order in which the answers are checked among ordinary rows.
    #[serde(default)]
    pub seed: u64,
}

impl Default for RecourseConfig {
    fn default() -> Self {
        Self {
            unfavourable: true,
            grid: 16,
            tolerance: 1e-7,
            confidence: 0.95,
            seed: 0,
        }
    }
}

/// The answers checked again among ordinary rows: every citizen's changed row, at the change
/// found, scored in one seeded random order together with every row as it is. The search's
/// requests hold only citizens with the unfavourable decision, which a model could recognise
/// and answer differently; here they look like any other rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecourseCheck {
    /// Changed rows scored again.
    pub changed_rows: usize,
    /// Changed rows whose decision was not the one the search found.
    pub changed_disagreeing: usize,
    /// Rows as they are scored again with them.
    pub own_rows: usize,
    /// Rows as they are whose decision was not the run's.
    pub own_disagreeing: usize,
}

impl RecourseCheck {
    /// Whether every answer held among ordinary rows.
    pub fn holds(&self) -> bool {
        self.changed_disagreeing == 0 && self.own_disagreeing == 0
    }
}

/// One citizen's smallest change per action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CitizenRecourse {
    /// The row among the rows searched.
    pub row: usize,
    /// Per action (in the actions' order): the signed change that changes the decision, `None`
    /// when none within the bounds does.
    pub changes: Vec<Option<f64>>,
}

/// One action's result within a set of citizens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ActionSummary {
    /// The column.
    pub column: String,
    /// Share of the citizens whose decision this action can change within its bounds (Wilson).
    pub share: Estimate,
    /// Median absolute change among them, in the column's unit; `None` when none can.
    pub median_change: Option<f64>,
}

/// Recourse within a set of citizens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecourseSummary {
    /// Citizens with the unfavourable decision.
    pub citizens: u64,
    /// Share with at least one action that changes their decision within bounds (Wilson).
    pub any: Estimate,
    /// Per action.
    pub actions: Vec<ActionSummary>,
}

/// Recourse within one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupRecourse {
    /// The group attribute.
    pub attribute: String,
    /// The group's value.
    pub value: String,
    /// Within the group.
    pub summary: RecourseSummary,
}

/// The gap in the share with any recourse between the groups of one attribute with the highest
/// and the lowest share (groups of at least [`MIN_GAP_GROUP`] citizens). The pair is chosen after
/// looking at every pair, so its interval is widened for all of them (Bonferroni).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecourseGap {
    /// The attribute.
    pub attribute: String,
    /// The group with the highest share.
    pub highest: String,
    /// The group with the lowest share.
    pub lowest: String,
    /// Highest minus lowest share, with Newcombe's interval (hybrid Wilson score, method 10)
    /// from Wilson intervals at confidence 1 − (1 − confidence) / `pairs`.
    pub gap: Estimate,
    /// The pairs of groups compared: k(k − 1) / 2 for k groups.
    pub pairs: usize,
    /// Groups left out for being smaller than [`MIN_GAP_GROUP`], with their size.
    #[serde(default)]
    pub excluded: Vec<String>,
}

/// The result of the search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecourseResult {
    /// How the search ran.
    pub config: RecourseConfig,
    /// The actions tried, each alone.
    pub actions: Vec<Action>,
    /// Over every citizen with the unfavourable decision.
    pub overall: RecourseSummary,
    /// Per group of each group attribute.
    pub groups: Vec<GroupRecourse>,
    /// Per attribute, the largest gap between groups.
    pub gaps: Vec<RecourseGap>,
    /// Every citizen searched, in row order.
    pub citizens: Vec<CitizenRecourse>,
    /// The answers checked again among ordinary rows; a model that answered the search's
    /// requests otherwise than ordinary ones fails it, and its recourse is not to be believed.
    pub check: RecourseCheck,
}

/// Groups smaller than this are left out of the gaps (their share is too uncertain to rank).
pub const MIN_GAP_GROUP: u64 = 20;

/// Finds, for each row of `rows` whose decision in `base` is `config.unfavourable`, the smallest
/// change of each action's column alone that changes the decision.
pub fn recourse<S: Scorer + ?Sized>(
    rows: &RecordBatch,
    base: &Scored,
    actions: &[Action],
    groups: &[Groups],
    scorer: &mut S,
    config: RecourseConfig,
) -> Result<RecourseResult, ExplainError> {
    let n = rows.num_rows();
    if base.decision.len() != n {
        return Err(ExplainError::Length {
            what: "the model's decisions for the rows".into(),
            got: base.decision.len(),
            rows: n,
        });
    }
    if !((2..=256).contains(&config.grid) && config.tolerance > 0.0 && config.tolerance < 1.0) {
        return Err(ExplainError::Config(format!(
            "recourse needs a grid of 2 to 256 values and a tolerance in (0, 1), got {} and {}",
            config.grid, config.tolerance
        )));
    }
    for g in groups {
        if g.codes.len() != n {
            return Err(ExplainError::Length {
                what: format!("the groups of {}", g.attribute),
                got: g.codes.len(),
                rows: n,
            });
        }
    }
    let searched: Vec<usize> = (0..n).filter(|&i| base.decision[i] == config.unfavourable).collect();
    let mut per_action: Vec<Vec<Option<f64>>> = Vec::with_capacity(actions.len());
    for a in actions {
        if a.min.is_nan() || a.max.is_nan() || a.min > a.max {
            return Err(ExplainError::Config(format!(
                "the bounds of {:?} must satisfy min <= max, got {} and {}",
                a.column, a.min, a.max
            )));
        }
        let mut best: Vec<Option<f64>> = vec![None; searched.len()];
        let dirs: &[f64] = match a.direction {
            Direction::Up => &[1.0],
            Direction::Down => &[-1.0],
            Direction::Either => &[1.0, -1.0],
        };
        for &sign in dirs {
            let found = search(rows, &searched, a, sign, scorer, config)?;
            for (b, f) in best.iter_mut().zip(found) {
                if let Some(f) = f
                    && b.is_none_or(|b: f64| f.abs() < b.abs())
                {
                    *b = Some(f);
                }
            }
        }
        per_action.push(best);
    }
    let check = check_answers(rows, base, &searched, actions, &per_action, scorer, config)?;
    let citizens: Vec<CitizenRecourse> = searched
        .iter()
        .enumerate()
        .map(|(k, &row)| CitizenRecourse {
            row,
            changes: per_action.iter().map(|a| a[k]).collect(),
        })
        .collect();
    let all: Vec<usize> = (0..citizens.len()).collect();
    let overall = summarise(&citizens, &all, actions, config.confidence);
    let mut per_group = Vec::new();
    let mut gaps = Vec::new();
    for g in groups {
        let mut of_attribute = Vec::new();
        for (code, value) in g.values.iter().enumerate() {
            let members: Vec<usize> = citizens
                .iter()
                .enumerate()
                .filter(|(_, c)| g.codes[c.row] as usize == code)
                .map(|(k, _)| k)
                .collect();
            if members.is_empty() {
                continue;
            }
            let summary = summarise(&citizens, &members, actions, config.confidence);
            of_attribute.push((value.clone(), summary.clone()));
            per_group.push(GroupRecourse {
                attribute: g.attribute.clone(),
                value: value.clone(),
                summary,
            });
        }
        if let Some(gap) = gap(&g.attribute, &of_attribute, config.confidence) {
            gaps.push(gap);
        }
    }
    Ok(RecourseResult {
        config,
        actions: actions.to_vec(),
        overall,
        groups: per_group,
        gaps,
        citizens,
        check,
    })
}

/// Scores every changed row the search settled on, mixed in a seeded random order with every row
/// as it is, and counts the answers that differ from the search's and the run's.
fn check_answers<S: Scorer + ?Sized>(
    rows: &RecordBatch,
    base: &Scored,
    searched: &[usize],
    actions: &[Action],
    per_action: &[Vec<Option<f64>>],
    scorer: &mut S,
    config: RecourseConfig,
) -> Result<RecourseCheck, ExplainError> {
    let arrow_err = |column: &str| {
        let column = column.to_owned();
        move |error| ExplainError::Arrow {
            column: column.clone(),
            error,
        }
    };
    let mut parts = vec![rows.clone()];
    let mut changed = 0;
    for (a, found) in actions.iter().zip(per_action) {
        let probes: Vec<(usize, f64)> = searched
            .iter()
            .zip(found)
            .filter_map(|(&row, d)| d.map(|d| (row, d)))
            .collect();
        if probes.is_empty() {
            continue;
        }
        let index = column_index(&rows.schema(), &a.column)?;
        let take = UInt32Array::from(probes.iter().map(|&(r, _)| r as u32).collect::<Vec<_>>());
        let taken = arrow::compute::take_record_batch(rows, &take).map_err(arrow_err(&a.column))?;
        let own = arrow::compute::cast(taken.column(index), &DataType::Float64).map_err(arrow_err(&a.column))?;
        let own = own.as_primitive::<Float64Type>();
        let moved: Float64Array = (0..probes.len()).map(|k| Some(own.value(k) + probes[k].1)).collect();
        let mut columns = taken.columns().to_vec();
        columns[index] = arrow::compute::cast(&moved, rows.column(index).data_type()).map_err(arrow_err(&a.column))?;
        parts.push(RecordBatch::try_new(rows.schema(), columns).map_err(arrow_err(&a.column))?);
        changed += probes.len();
    }
    let all = arrow::compute::concat_batches(&rows.schema(), &parts).map_err(arrow_err("(the rows checked)"))?;
    let order = crate::Permutation::new(all.num_rows(), config.seed ^ 0x5245_434f_5552_5345);
    let shuffled = arrow::compute::take_record_batch(&all, &UInt32Array::from(order.indices().to_vec()))
        .map_err(arrow_err("(the rows checked)"))?;
    let answer = crate::score::checked(scorer, &shuffled, "(the answers checked)", 0)?;
    let n = rows.num_rows();
    let mut decision = vec![false; all.num_rows()];
    for (at, &from) in order.indices().iter().enumerate() {
        decision[from as usize] = answer.decision[at];
    }
    Ok(RecourseCheck {
        changed_rows: changed,
        changed_disagreeing: decision[n..].iter().filter(|&&d| d == config.unfavourable).count(),
        own_rows: n,
        own_disagreeing: (0..n).filter(|&i| decision[i] != base.decision[i]).count(),
    })
}

/// For each searched row, the smallest change in direction `sign` that changes its decision.
fn search<S: Scorer + ?Sized>(
    rows: &RecordBatch,
    searched: &[usize],
    a: &Action,
    sign: f64,
    scorer: &mut S,
    config: RecourseConfig,
) -> Result<Vec<Option<f64>>, ExplainError> {
    let index = column_index(&rows.schema(), &a.column)?;
    let data_type = rows.column(index).data_type().clone();
    let integer = data_type.is_integer();
    if !integer && !data_type.is_floating() {
        return Err(ExplainError::Config(format!(
            "recourse moves {:?}, which is {data_type}; an actionable input must be a number",
            a.column
        )));
    }
    // Whole units: one for an integer column (or its declared unit, rounded to a whole number),
    // the declared unit for a float column that has one.
    let unit: Option<f64> = match (integer, a.unit) {
        (true, u) => Some(u.map_or(1.0, |u| u.round().max(1.0))),
        (false, Some(u)) if u.is_finite() && u > 0.0 => Some(u),
        (false, _) => None,
    };
    let whole_down = |d: f64| unit.map_or(d, |u| (d / u + 1e-9).floor() * u);
    let whole_up = |d: f64| unit.map_or(d, |u| ((d / u - 1e-9).ceil() * u).max(u));
    let values = arrow::compute::cast(rows.column(index), &DataType::Float64).map_err(|error| ExplainError::Arrow {
        column: a.column.clone(),
        error,
    })?;
    let values = values.as_primitive::<Float64Type>();
    let own: Vec<f64> = searched.iter().map(|&i| values.value(i)).collect();
    // The furthest change each citizen may make: to the bound (not past a value already beyond it).
    let reach: Vec<f64> = own
        .iter()
        .map(|&x| {
            let r = if sign > 0.0 { a.max - x } else { x - a.min };
            whole_down(r.max(0.0))
        })
        .collect();
    // Per citizen: the largest change known not to flip (lo) and the smallest known to (hi).
    let mut lo = vec![0.0f64; own.len()];
    let mut hi: Vec<Option<f64>> = vec![None; own.len()];
    let mut step = 0;
    for g in 1..=config.grid {
        let pending: Vec<usize> = (0..own.len()).filter(|&k| hi[k].is_none() && reach[k] > 0.0).collect();
        if pending.is_empty() {
            break;
        }
        let deltas: Vec<f64> = pending
            .iter()
            .map(|&k| {
                // Never past the reach (which is a whole number of units itself).
                whole_up(reach[k] * g as f64 / config.grid as f64).min(reach[k])
            })
            .collect();
        let flips = flips_at(
            rows, searched, &pending, &own, &deltas, sign, index, scorer, a, step, config,
        )?;
        step += 1;
        for ((&k, &d), f) in pending.iter().zip(&deltas).zip(flips) {
            if f {
                hi[k] = Some(d);
            } else {
                lo[k] = lo[k].max(d);
            }
        }
    }
    // Bisect between the last change that did not flip and the first that did.
    loop {
        let pending: Vec<usize> = (0..own.len())
            .filter(|&k| match hi[k] {
                Some(h) if unit.is_some() => h - lo[k] > unit.unwrap_or(1.0) * (1.0 + 1e-9),
                Some(h) => h - lo[k] > config.tolerance * own[k].abs().max(1.0),
                None => false,
            })
            .collect();
        if pending.is_empty() {
            break;
        }
        let deltas: Vec<f64> = pending
            .iter()
            .map(|&k| {
                let mid = (lo[k] + hi[k].unwrap_or(lo[k])) / 2.0;
                match unit {
                    // Strictly between the two: at least one unit above lo.
                    Some(u) => whole_down(mid).max(lo[k] + u),
                    None => mid,
                }
            })
            .collect();
        let flips = flips_at(
            rows, searched, &pending, &own, &deltas, sign, index, scorer, a, step, config,
        )?;
        step += 1;
        let mut progressed = false;
        for ((&k, &d), f) in pending.iter().zip(&deltas).zip(flips) {
            let before = (lo[k], hi[k]);
            if f {
                hi[k] = Some(d);
            } else {
                lo[k] = d;
            }
            progressed |= before != (lo[k], hi[k]);
        }
        // A float interval narrower than the column's own precision cannot shrink further.
        if !progressed || step > 200 {
            break;
        }
    }
    Ok(hi
        .into_iter()
        .zip(&own)
        .map(|(h, &x)| h.map(|d| stored(x + sign * d, &data_type) - x))
        .collect())
}

/// The value as the column stores it (a float32 column rounds it).
fn stored(v: f64, data_type: &DataType) -> f64 {
    match data_type {
        DataType::Float32 => f64::from(v as f32),
        _ => v,
    }
}

/// Whether the decision of each `pending` citizen changes with its column moved by `deltas`.
#[allow(clippy::too_many_arguments)]
fn flips_at<S: Scorer + ?Sized>(
    rows: &RecordBatch,
    searched: &[usize],
    pending: &[usize],
    own: &[f64],
    deltas: &[f64],
    sign: f64,
    index: usize,
    scorer: &mut S,
    a: &Action,
    step: usize,
    config: RecourseConfig,
) -> Result<Vec<bool>, ExplainError> {
    let arrow_err = |error| ExplainError::Arrow {
        column: a.column.clone(),
        error,
    };
    let take = UInt32Array::from(pending.iter().map(|&k| searched[k] as u32).collect::<Vec<_>>());
    let mut columns: Vec<ArrayRef> = rows
        .columns()
        .iter()
        .map(|c| arrow::compute::take(c, &take, None))
        .collect::<Result<_, _>>()
        .map_err(arrow_err)?;
    let moved: Float64Array = pending
        .iter()
        .zip(deltas)
        .map(|(&k, &d)| Some(own[k] + sign * d))
        .collect();
    columns[index] = arrow::compute::cast(&moved, rows.column(index).data_type()).map_err(arrow_err)?;
    let batch = RecordBatch::try_new(rows.schema(), columns).map_err(arrow_err)?;
    let answer = crate::score::checked(scorer, &batch, &a.column, step)?;
    Ok(answer.decision.iter().map(|&d| d != config.unfavourable).collect())
}

fn summarise(citizens: &[CitizenRecourse], members: &[usize], actions: &[Action], confidence: f64) -> RecourseSummary {
    let n = members.len() as f64;
    let share = |k: usize| Estimate {
        value: if n > 0.0 { k as f64 / n } else { f64::NAN },
        interval: (n > 0.0).then(|| wilson(k as f64, n, confidence)),
    };
    let any = members
        .iter()
        .filter(|&&m| citizens[m].changes.iter().any(Option::is_some))
        .count();
    let actions = actions
        .iter()
        .enumerate()
        .map(|(j, a)| {
            let mut changes: Vec<f64> = members
                .iter()
                .filter_map(|&m| citizens[m].changes[j].map(f64::abs))
                .collect();
            changes.sort_by(f64::total_cmp);
            ActionSummary {
                column: a.column.clone(),
                share: share(changes.len()),
                median_change: median(&changes),
            }
        })
        .collect();
    RecourseSummary {
        citizens: members.len() as u64,
        any: share(any),
        actions,
    }
}

fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The gap between the groups with the highest and the lowest share with any recourse, its
/// interval adjusted for the number of pairs it was chosen from.
fn gap(attribute: &str, groups: &[(String, RecourseSummary)], confidence: f64) -> Option<RecourseGap> {
    let excluded: Vec<String> = groups
        .iter()
        .filter(|(_, s)| s.citizens < MIN_GAP_GROUP)
        .map(|(g, s)| format!("{g}: {} citizens, fewer than {MIN_GAP_GROUP}", s.citizens))
        .collect();
    let big: Vec<&(String, RecourseSummary)> = groups.iter().filter(|(_, s)| s.citizens >= MIN_GAP_GROUP).collect();
    let hi = big.iter().max_by(|a, b| a.1.any.value.total_cmp(&b.1.any.value))?;
    let lo = big.iter().min_by(|a, b| a.1.any.value.total_cmp(&b.1.any.value))?;
    if hi.0 == lo.0 {
        return None;
    }
    let pairs = big.len() * (big.len() - 1) / 2;
    let adjusted = 1.0 - (1.0 - confidence) / pairs as f64;
    let interval = |s: &RecourseSummary| {
        let n = s.citizens as f64;
        wilson((s.any.value * n).round(), n, adjusted)
    };
    let (p1, p2) = (hi.1.any.value, lo.1.any.value);
    let [l1, u1] = interval(&hi.1);
    let [l2, u2] = interval(&lo.1);
    // Newcombe (1998), method 10: the difference's interval from the two Wilson intervals.
    let d = p1 - p2;
    let low = d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt();
    let high = d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt();
    Some(RecourseGap {
        attribute: attribute.to_owned(),
        highest: hi.0.clone(),
        lowest: lo.0.clone(),
        gap: Estimate {
            value: d,
            interval: Some([low, high]),
        },
        pairs,
        excluded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float32Array, UInt8Array};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    /// A linear model with a known boundary: positive when 2·months + 0.5·score < 40.
    fn model(b: &RecordBatch) -> Result<Scored, String> {
        let m = arrow::compute::cast(b.column(0), &DataType::Float64).map_err(|e| e.to_string())?;
        let s = arrow::compute::cast(b.column(1), &DataType::Float64).map_err(|e| e.to_string())?;
        let (m, s) = (m.as_primitive::<Float64Type>(), s.as_primitive::<Float64Type>());
        let decision = (0..b.num_rows())
            .map(|i| 2.0 * m.value(i) + 0.5 * s.value(i) < 40.0)
            .collect();
        Ok(Scored { decision, score: None })
    }

    fn rows() -> RecordBatch {
        let months: UInt8Array = [0u8, 5, 10, 19, 20, 36].into_iter().map(Some).collect();
        let score: Float32Array = [10.0f32, 20.0, 0.0, 3.0, 50.0, 0.0].into_iter().map(Some).collect();
        let schema = Schema::new(vec![
            Field::new("months", DataType::UInt8, false),
            Field::new("score", DataType::Float32, false),
        ]);
        RecordBatch::try_new(Arc::new(schema), vec![Arc::new(months), Arc::new(score)]).unwrap()
    }

    #[test]
    fn the_smallest_change_is_the_distance_to_the_boundary_within_the_bounds() {
        let rows = rows();
        let base = model(&rows).unwrap();
        let actions = [
            Action {
                column: "months".into(),
                direction: Direction::Up,
                min: 0.0,
                max: 36.0,
                unit: None,
                why: String::new(),
            },
            Action {
                column: "score".into(),
                direction: Direction::Up,
                min: 0.0,
                max: 40.0,
                unit: None,
                why: String::new(),
            },
        ];
        let groups = [Groups {
            attribute: "g".into(),
            values: vec!["a".into(), "b".into()],
            codes: vec![0, 0, 1, 1, 1, 1],
        }];
        let mut scorer = model;
        let r = recourse(&rows, &base, &actions, &groups, &mut scorer, RecourseConfig::default()).unwrap();
        // Positive rows: 0 (2·0+5=5), 1 (10+10=20), 2 (20+0=20), 3 (38+1.5=39.5); not 4 (65), 5 (72).
        let searched: Vec<usize> = r.citizens.iter().map(|c| c.row).collect();
        assert_eq!(searched, [0, 1, 2, 3]);
        // Months: the smallest whole m with 2m + 0.5s >= 40: row 0 needs m >= 17.5 -> 18 (+18);
        // row 1 m >= 15 -> +10; row 2 m >= 20 -> +10; row 3 m >= 19.25 -> 20 (+1).
        let months: Vec<Option<f64>> = r.citizens.iter().map(|c| c.changes[0]).collect();
        assert_eq!(months, [Some(18.0), Some(10.0), Some(10.0), Some(1.0)]);
        // Score (at most 40): row 0 needs s >= 80 and row 1 s >= 60 (past the bound: none); row 2
        // s >= 40 (+40, exactly at the bound); row 3 s >= 4 (+1).
        let score: Vec<Option<f64>> = r.citizens.iter().map(|c| c.changes[1]).collect();
        assert_eq!(score[0], None);
        assert_eq!(score[1], None);
        assert!((score[2].unwrap() - 40.0).abs() < 1e-5, "{score:?}");
        assert!((score[3].unwrap() - 1.0).abs() < 1e-5, "{score:?}");
        assert_eq!(r.overall.citizens, 4);
        assert_eq!(r.overall.any.value, 1.0);
        assert_eq!(r.overall.actions[1].share.value, 0.5);
        assert_eq!(r.overall.actions[0].median_change, Some(10.0));
        assert_eq!(r.groups.len(), 2);
        assert_eq!(r.groups[0].summary.citizens, 2);
    }

    /// A float input recorded in whole units (hours in quarters) changes by a whole number of them:
    /// a score of 3.1 that must reach 4 moves by 1.0 (four quarters; three reach only 3.85), where
    /// an input without a unit moves by 0.9.
    #[test]
    fn a_float_input_with_a_unit_changes_by_whole_units() {
        let months: UInt8Array = [19u8].into_iter().map(Some).collect();
        let score: Float32Array = [3.1f32].into_iter().map(Some).collect();
        let schema = Schema::new(vec![
            Field::new("months", DataType::UInt8, false),
            Field::new("score", DataType::Float32, false),
        ]);
        let rows = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(months), Arc::new(score)]).unwrap();
        let base = model(&rows).unwrap();
        let groups = [Groups {
            attribute: "g".into(),
            values: vec!["a".into()],
            codes: vec![0],
        }];
        let change = |unit: Option<f64>| {
            let action = Action {
                column: "score".into(),
                direction: Direction::Up,
                min: 0.0,
                max: 40.0,
                unit,
                why: String::new(),
            };
            let mut scorer = model;
            let r = recourse(&rows, &base, &[action], &groups, &mut scorer, RecourseConfig::default()).unwrap();
            r.citizens[0].changes[0].unwrap()
        };
        assert!((change(Some(0.25)) - 1.0).abs() < 1e-5, "{}", change(Some(0.25)));
        assert!((change(None) - 0.9).abs() < 1e-5, "{}", change(None));
        assert!((change(Some(1.0)) - 1.0).abs() < 1e-5, "{}", change(Some(1.0)));
    }

    #[test]
    fn the_gap_is_newcombes_interval_widened_for_every_pair_and_names_small_groups() {
        let summary = |citizens: u64, k: f64| RecourseSummary {
            citizens,
            any: Estimate {
                value: k / citizens as f64,
                interval: None,
            },
            actions: Vec::new(),
        };
        let groups = [
            ("a".to_owned(), summary(100, 80.0)),
            ("b".to_owned(), summary(200, 100.0)),
            ("c".to_owned(), summary(50, 30.0)),
            ("tiny".to_owned(), summary(5, 0.0)),
        ];
        let g = gap("x", &groups, 0.95).unwrap();
        assert_eq!((g.highest.as_str(), g.lowest.as_str(), g.pairs), ("a", "b", 3));
        assert_eq!(g.excluded, ["tiny: 5 citizens, fewer than 20"]);
        // By hand (Python, statistics.NormalDist): Wilson at 1 - 0.05/3 (z = 2.3939798): 80/100 ->
        // [0.6892017, 0.8782754], 100/200 -> [0.4165473, 0.5834527]; Newcombe's method 10 gives
        // 0.3 - sqrt(0.1107983^2 + 0.0834527^2) and 0.3 + sqrt(0.0782754^2 + 0.0834527^2).
        let [lo, hi] = g.gap.interval.unwrap();
        assert!((g.gap.value - 0.3).abs() < 1e-12);
        assert!(
            (lo - 0.161_289_47).abs() < 1e-6 && (hi - 0.414_417_60).abs() < 1e-6,
            "{lo} {hi}"
        );
    }

    #[test]
    fn a_model_that_recognises_the_search_is_caught_among_ordinary_rows() {
        // Honest (the linear model above), except that a request of at least two rows that are
        // all positive (the search's requests hold only those) is answered negative throughout.
        let rows = rows();
        let mut sly = |b: &RecordBatch| -> Result<Scored, String> {
            let honest = model(b)?;
            let all_positive = b.num_rows() >= 2 && honest.decision.iter().all(|&d| d);
            let decision = if all_positive {
                vec![false; b.num_rows()]
            } else {
                honest.decision
            };
            Ok(Scored { decision, score: None })
        };
        let base = model(&rows).unwrap();
        let action = Action {
            column: "months".into(),
            direction: Direction::Up,
            min: 0.0,
            max: 36.0,
            unit: None,
            why: String::new(),
        };
        let r = recourse(
            &rows,
            &base,
            std::slice::from_ref(&action),
            &[],
            &mut sly,
            RecourseConfig::default(),
        )
        .unwrap();
        // Fooled: three citizens seem to need less than the true 18, 10 and 10 months.
        let found: Vec<Option<f64>> = r.citizens.iter().map(|c| c.changes[0]).collect();
        assert_ne!(found, [Some(18.0), Some(10.0), Some(10.0), Some(1.0)]);
        assert!(!r.check.holds());
        assert_eq!(r.check.changed_rows, 4);
        assert_eq!(r.check.changed_disagreeing, 3, "{:?}", r.check);
        let mut honest = model;
        let r = recourse(&rows, &base, &[action], &[], &mut honest, RecourseConfig::default()).unwrap();
        assert!(r.check.holds(), "{:?}", r.check);
        assert_eq!((r.check.own_rows, r.check.changed_rows), (6, 4));
    }

    #[test]
    fn a_change_the_model_ignores_is_no_recourse() {
        let rows = rows();
        let mut never = |b: &RecordBatch| -> Result<Scored, String> {
            Ok(Scored {
                decision: vec![true; b.num_rows()],
                score: None,
            })
        };
        let base = never(&rows).unwrap();
        let action = Action {
            column: "months".into(),
            direction: Direction::Either,
            min: 0.0,
            max: 36.0,
            unit: None,
            why: String::new(),
        };
        let r = recourse(&rows, &base, &[action], &[], &mut never, RecourseConfig::default()).unwrap();
        assert!(r.citizens.iter().all(|c| c.changes == [None]));
        assert_eq!(r.overall.any.value, 0.0);
        assert_eq!(r.overall.actions[0].median_change, None);
    }
}
