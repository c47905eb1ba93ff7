//! Stability (issue 16, AI Act Art. 15): a decision about a citizen must depend on that citizen's
//! row only. The rows of the run's first request are scored again, by the same isolated workers,
//! three ways: as the same request, in a seeded random order, and [`SINGLE_ROWS`] of them, chosen
//! at seeded random positions, one row per request. Every probability must equal the run's own
//! within [`TOLERANCE`] and every decision must be the same. A model that reads the rest of its
//! batch (a batch mean, a rank, a neighbouring row), its rows' positions, or how many rows it is
//! given, or that draws randomness, fails, and the record shows the rows where it did.
//!
//! A fourth check reaches past the first request: while the run scores, [`SAMPLED_PER_REQUEST`]
//! rows at seeded random positions of seeded requests across the whole dataset (at most
//! [`MAX_SAMPLED`]) are kept with their probabilities, and scored again together in one request
//! in a seeded random order, each among rows from elsewhere in the data. A model that behaves
//! only on the first citizens of a seed (which are known in advance) is caught there.
//!
//! The seed mixes the run's seed with the model's SHA-256, so the positions checked cannot be
//! known to the model that is checked. The stage runs in every run: it is a verdict, not an
//! option.

use crate::explanations::score;
use crate::{Clock, EvaluateError};
use arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use arrow::datatypes::UInt64Type;
use explain::Permutation;
use explain::Scored;
use inference::Pool;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Rows of the first request scored one row per request (a round trip each), at seeded random
/// positions.
pub const SINGLE_ROWS: usize = 64;
/// The largest difference of a probability that still counts as the same: float32 arithmetic
/// that reorders a sum may differ in the last bits, a model that reads its batch differs more.
pub const TOLERANCE: f64 = 1e-6;
/// Rows shown per check where the model was unstable.
pub const MAX_EXAMPLES: usize = 5;
/// Rows kept from each sampled request for the `sampled` check.
pub const SAMPLED_PER_REQUEST: usize = 2;
/// The most rows the `sampled` check keeps from the whole run.
pub const MAX_SAMPLED: usize = 512;

/// Rows kept while scoring for the `sampled` check, with the run's probabilities.
pub(crate) struct Sampled {
    /// The rows, in dataset order.
    pub(crate) rows: RecordBatch,
    /// Their probabilities in the run.
    pub(crate) probs: Vec<f32>,
    /// Their positions in the dataset.
    pub(crate) positions: Vec<u64>,
}

/// How the rows were scored again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StabilityCheck {
    /// The run's first request again, as it was: a model that draws randomness differs.
    Repeated,
    /// The same rows in a seeded random order: a model that reads a row's position or its
    /// neighbours differs.
    Permuted,
    /// Rows at seeded random positions, each alone in its request.
    SingleRows,
    /// Rows kept at seeded positions of requests across the whole run, scored again together
    /// in a seeded random order: each among rows from elsewhere in the data.
    Sampled,
}

impl StabilityCheck {
    /// The check's name in the record and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Repeated => "repeated",
            Self::Permuted => "permuted",
            Self::SingleRows => "single_rows",
            Self::Sampled => "sampled",
        }
    }
}

/// A row where the second scoring disagreed with the run's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnstableRow {
    /// Position of the row in the dataset (0-based).
    pub row: u64,
    /// The citizen's `person_id`, when the dataset has one (a twin carries its citizen's).
    pub person_id: Option<u64>,
    /// Whether the row is a counterfactual twin.
    #[serde(default)]
    pub twin: bool,
    /// The probability the run scored.
    pub probability: f64,
    /// The probability this check scored (−1 if it was not a number, which the worker's output
    /// validation does not let through).
    pub again: f64,
}

/// One way of scoring again, and how far it fell from the run's own scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckResult {
    /// How the rows were scored again.
    pub check: StabilityCheck,
    /// Rows scored again.
    pub rows: usize,
    /// Rows per request.
    pub batch_rows: usize,
    /// The largest absolute difference of a probability from the run's (1 when the worker gave
    /// none: probabilities lie in [0, 1]).
    pub max_difference: f64,
    /// Rows whose probability differs by more than the tolerance.
    pub rows_differing: usize,
    /// Rows whose decision differs.
    pub decisions_changed: usize,
    /// The first rows that differ (at most [`MAX_EXAMPLES`]).
    pub examples: Vec<UnstableRow>,
    /// Why the worker gave no answer for these rows, when it did not (the run's own requests
    /// succeeded, so a model that fails only here fails the check, not the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CheckResult {
    /// Whether this check found the model stable.
    pub fn stable(&self) -> bool {
        self.rows_differing == 0 && self.decisions_changed == 0 && self.error.is_none()
    }
}

/// The stability verdict of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Stability {
    /// Whether every check gave the run's probabilities within the tolerance and its decisions.
    pub stable: bool,
    /// The largest difference that counts as the same probability.
    pub tolerance: f64,
    /// Seed of the order and positions checked: the run's seed mixed with the model's SHA-256.
    pub seed: u64,
    /// Each way the rows were scored again.
    pub checks: Vec<CheckResult>,
    /// Wall time of the stage.
    pub seconds: f64,
}

/// What the robustness stages found (issue 16); `stability` is in every run that scored rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Robustness {
    /// Whether a decision depends on the citizen's row only.
    pub stability: Stability,
    /// What measurement error in the inputs does to the decisions; `None` when skipped
    /// (`--no-robustness`) or in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perturbation: Option<crate::Perturbation>,
    /// For the citizens with the unfavourable decision, the smallest change of an actionable
    /// input that changes it; `None` when skipped, when the scenario declares no actionable
    /// input the model reads, or in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recourse: Option<crate::Recourse>,
    /// The model on populations the generator makes with one setting changed; `None` unless
    /// asked for (`--shift`), or in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift: Option<crate::Shift>,
}

/// Scores the rows of the run's first request (the first `batch_rows` of `first`, the first
/// source batch) again three ways and compares with `probs`, the run's own probabilities for
/// them. `None` when there are no rows.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check(
    first: &RecordBatch,
    probs: &[f32],
    sampled: Option<&Sampled>,
    feature_names: &[String],
    batch_rows: usize,
    threshold: f64,
    seed: u64,
    pool: &Pool,
    clock: &Clock,
) -> Result<Option<Stability>, EvaluateError> {
    let n = first.num_rows().min(probs.len()).min(batch_rows.max(1));
    if n == 0 {
        return Ok(None);
    }
    let t0 = Instant::now();
    let rows = first.slice(0, n);
    let run: Vec<f64> = probs[..n].iter().map(|&p| f64::from(p)).collect();
    let ids = Ids::of(&rows, None);
    let step = batch_rows.max(1);
    // The worker's answer for `positions` of the rows, in requests of `per_request`: its
    // probabilities, or why it gave none. Cancel and deadline end the run as they do elsewhere.
    let again = |rows: &RecordBatch,
                 positions: &[u32],
                 per_request: usize|
     -> Result<Result<Vec<f64>, String>, EvaluateError> {
        clock.check()?;
        let take = UInt32Array::from(positions.to_vec());
        let batch =
            arrow::compute::take_record_batch(rows, &take).map_err(|e| EvaluateError::Stability(e.to_string()))?;
        match score(pool, 0, &batch, feature_names, per_request, threshold) {
            Ok(Scored { score: Some(p), .. }) => Ok(Ok(p)),
            Ok(Scored { score: None, .. }) => Ok(Err("the worker gave no probabilities".into())),
            Err(e) => {
                clock.check()?;
                Ok(Err(crate::fit::shown(&e)))
            }
        }
    };
    let all: Vec<u32> = (0..n as u32).collect();
    let order = Permutation::new(n, seed);
    let mut singles = Permutation::new(n, seed ^ 0x5349_4e47_4c45_u64).indices().to_vec();
    singles.truncate(SINGLE_ROWS);
    let mut checks = vec![
        compare(
            StabilityCheck::Repeated,
            &run,
            &all,
            again(&rows, &all, step)?,
            step,
            threshold,
            &ids,
        ),
        compare(
            StabilityCheck::Permuted,
            &run,
            order.indices(),
            again(&rows, order.indices(), step)?,
            step,
            threshold,
            &ids,
        ),
        compare(
            StabilityCheck::SingleRows,
            &run,
            &singles,
            again(&rows, &singles, 1)?,
            1,
            threshold,
            &ids,
        ),
    ];
    if let Some(sm) = sampled.filter(|sm| sm.rows.num_rows() > 0) {
        let m = sm.rows.num_rows();
        let run: Vec<f64> = sm.probs.iter().map(|&p| f64::from(p)).collect();
        let order = Permutation::new(m, seed ^ 0x5341_4d50_4c45_u64);
        let ids = Ids::of(&sm.rows, Some(&sm.positions));
        checks.push(compare(
            StabilityCheck::Sampled,
            &run,
            order.indices(),
            again(&sm.rows, order.indices(), m)?,
            m,
            threshold,
            &ids,
        ));
    }
    Ok(Some(Stability {
        stable: checks.iter().all(CheckResult::stable),
        tolerance: TOLERANCE,
        seed,
        checks,
        seconds: t0.elapsed().as_secs_f64(),
    }))
}

/// What names a row in the examples.
struct Ids<'a> {
    person_id: Option<arrow::array::UInt64Array>,
    twin: Option<arrow::array::BooleanArray>,
    /// The dataset position of each row checked; `None`: the rows are the dataset's first.
    positions: Option<&'a [u64]>,
}

impl<'a> Ids<'a> {
    fn of(rows: &RecordBatch, positions: Option<&'a [u64]>) -> Self {
        Self {
            person_id: rows
                .column_by_name("person_id")
                .and_then(|c| c.as_primitive_opt::<UInt64Type>())
                .cloned(),
            twin: rows.column_by_name("is_twin").and_then(|c| c.as_boolean_opt()).cloned(),
            positions,
        }
    }
}

/// How far the answers for `positions` fell from `run` (the run's probability of every row, by
/// position). A worker that gave no answer differs on every row, by the most a probability can.
fn compare(
    check: StabilityCheck,
    run: &[f64],
    positions: &[u32],
    again: Result<Vec<f64>, String>,
    batch_rows: usize,
    threshold: f64,
    ids: &Ids<'_>,
) -> CheckResult {
    let mut result = CheckResult {
        check,
        rows: positions.len(),
        batch_rows,
        max_difference: 0.0,
        rows_differing: 0,
        decisions_changed: 0,
        examples: Vec::new(),
        error: None,
    };
    let again = match again {
        Ok(a) if a.len() == positions.len() => a,
        Ok(a) => {
            result.error = Some(format!("{} probabilities for {} rows", a.len(), positions.len()));
            result.rows_differing = positions.len();
            result.max_difference = 1.0;
            return result;
        }
        Err(e) => {
            result.error = Some(e);
            result.rows_differing = positions.len();
            result.max_difference = 1.0;
            return result;
        }
    };
    for (&at, &q) in positions.iter().zip(&again) {
        let i = at as usize;
        let p = run[i];
        // Probabilities lie in [0, 1]; one that is not a number differs by the most there is.
        let d = if (p - q).is_nan() { 1.0 } else { (p - q).abs() };
        let differs = d > TOLERANCE;
        let decision_changed = (p >= threshold) != (q >= threshold);
        result.max_difference = result.max_difference.max(d);
        result.rows_differing += usize::from(differs);
        result.decisions_changed += usize::from(decision_changed);
        if (differs || decision_changed) && result.examples.len() < MAX_EXAMPLES {
            result.examples.push(UnstableRow {
                row: ids.positions.and_then(|p| p.get(i).copied()).unwrap_or(i as u64),
                person_id: ids.person_id.as_ref().filter(|a| a.is_valid(i)).map(|a| a.value(i)),
                twin: ids.twin.as_ref().is_some_and(|a| a.is_valid(i) && a.value(i)),
                probability: p,
                again: if q.is_finite() { q } else { -1.0 },
            });
        }
    }
    result
}

/// The stability verdict as a Markdown section.
pub(crate) fn markdown(s: &Stability) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "\n## Stability\n\n**{}**: the rows of the run's first request, scored again as the same request, in a seeded \
         random order and some one row per request at seeded random positions (seed {}), must give the run's \
         probabilities within {:e} and its decisions; so must rows kept at seeded positions of requests across the \
         whole run, scored again together in a seeded random order (`sampled`).\n\n| check | rows | rows per \
         request | largest difference | rows differing | decisions changed |\n| --- | ---: | ---: | ---: | ---: | \
         ---: |\n",
        if s.stable { "Stable" } else { "Unstable" },
        s.seed,
        s.tolerance
    );
    for c in &s.checks {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3e} | {} | {} |",
            c.check.as_str(),
            c.rows,
            c.batch_rows,
            c.max_difference,
            c.rows_differing,
            c.decisions_changed
        );
    }
    let examples: Vec<String> = s
        .checks
        .iter()
        .flat_map(|c| {
            c.examples.iter().map(move |e| {
                format!(
                    "- {}: row {}{}{}: {:.6} in the run, {:.6} again",
                    c.check.as_str(),
                    e.row,
                    e.person_id.map(|p| format!(" (person_id {p})")).unwrap_or_default(),
                    if e.twin { ", a twin" } else { "" },
                    e.probability,
                    e.again
                )
            })
        })
        .collect();
    for c in &s.checks {
        if let Some(e) = &c.error {
            let _ = writeln!(
                out,
                "\nThe {} check got no answer from the worker: {}",
                c.check.as_str(),
                escape::markdown_inline(e)
            );
        }
    }
    if !examples.is_empty() {
        out.push_str("\nRows where the model was unstable:\n\n");
        out.push_str(&examples.join("\n"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Ids<'static> {
        Ids {
            person_id: Some(arrow::array::UInt64Array::from(vec![10, 11, 12, 13])),
            twin: Some(arrow::array::BooleanArray::from(vec![false, true, false, true])),
            positions: None,
        }
    }

    #[test]
    fn a_difference_beyond_the_tolerance_a_nan_or_no_answer_is_unstable_and_shown() {
        let run = [0.2, 0.4, 0.6, 0.8];
        let all = [0, 1, 2, 3];
        let same = compare(
            StabilityCheck::Repeated,
            &run,
            &all,
            Ok(vec![0.2, 0.4 + 5e-7, 0.6, 0.8]),
            4,
            0.5,
            &ids(),
        );
        assert!(same.stable(), "{same:?}");
        // Answers come in the order asked for, and are compared by position.
        let order = [3, 1, 0, 2];
        let moved = compare(
            StabilityCheck::Permuted,
            &run,
            &order,
            Ok(vec![0.8, 0.4, 0.2, 0.6]),
            4,
            0.5,
            &ids(),
        );
        assert!(moved.stable(), "{moved:?}");
        let again = vec![0.2, 0.4 + 2e-6, 0.45, f64::NAN];
        let c = compare(StabilityCheck::SingleRows, &run, &all, Ok(again), 1, 0.5, &ids());
        assert!(!c.stable());
        assert_eq!((c.rows_differing, c.decisions_changed), (3, 2), "{c:?}");
        assert_eq!(c.max_difference, 1.0);
        let rows: Vec<(u64, Option<u64>, bool)> = c.examples.iter().map(|e| (e.row, e.person_id, e.twin)).collect();
        assert_eq!(rows, [(1, Some(11), true), (2, Some(12), false), (3, Some(13), true)]);
        // The record stays valid JSON that reads back: no NaN or infinity in it.
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<CheckResult>(&json).unwrap(), c);
        // No answer: every row differs and the reason is kept.
        let failed = compare(
            StabilityCheck::SingleRows,
            &run,
            &all,
            Err("refused".into()),
            1,
            0.5,
            &ids(),
        );
        assert!(!failed.stable());
        assert_eq!((failed.rows_differing, failed.error.as_deref()), (4, Some("refused")));
    }
}
