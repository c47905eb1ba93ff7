//! Stability (issue 16, AI Act Art. 15): a decision about a citizen must depend on that citizen's
//! row only. The rows of the run's first request are scored again, by the same isolated
//! workers, three ways: as the same request, in reverse order, and (the first [`SINGLE_ROWS`] of
//! them) one row per request.
//! Every probability must equal the run's own within [`TOLERANCE`] and every decision must be
//! the same. A model that looks at the rest of its batch (a batch mean, a rank, a cumulative
//! sum), or at how many rows it is given, or that draws randomness, fails, and the record shows
//! the rows where it did. The stage runs in every run: it is a verdict, not an option.

use crate::explanations::score;
use crate::{Clock, EvaluateError};
use arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use arrow::datatypes::UInt64Type;
use explain::Scored;
use inference::Pool;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Of the rows of the first request, the first this many are scored one row per request (a
/// round trip each).
pub const SINGLE_ROWS: usize = 64;
/// The largest difference of a probability that still counts as the same: float32 arithmetic
/// that reorders a sum may differ in the last bits, a model that reads its batch differs more.
pub const TOLERANCE: f64 = 1e-6;
/// Rows shown per check where the model was unstable.
pub const MAX_EXAMPLES: usize = 5;

/// How the rows were scored again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StabilityCheck {
    /// The run's first request again, as it was: a model that draws randomness differs.
    Repeated,
    /// The same rows in reverse order: a model that reads a row's position differs.
    Reversed,
    /// Each row alone, one request per row.
    SingleRows,
}

impl StabilityCheck {
    /// The check's name in the record and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Repeated => "repeated",
            Self::Reversed => "reversed",
            Self::SingleRows => "single_rows",
        }
    }
}

/// A row where the second scoring disagreed with the run's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnstableRow {
    /// Position of the row in the dataset (0-based).
    pub row: u64,
    /// The citizen's `person_id`, when the dataset has one.
    pub person_id: Option<u64>,
    /// The probability the run scored.
    pub probability: f64,
    /// The probability this check scored.
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
    /// The largest absolute difference of a probability from the run's.
    pub max_difference: f64,
    /// Rows whose probability differs by more than the tolerance.
    pub rows_differing: usize,
    /// Rows whose decision differs.
    pub decisions_changed: usize,
    /// The first rows that differ (at most [`MAX_EXAMPLES`]).
    pub examples: Vec<UnstableRow>,
}

impl CheckResult {
    /// Whether this check found the model stable.
    pub fn stable(&self) -> bool {
        self.rows_differing == 0 && self.decisions_changed == 0
    }
}

/// The stability verdict of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Stability {
    /// Whether every check gave the run's probabilities within the tolerance and its decisions.
    pub stable: bool,
    /// The largest difference that counts as the same probability.
    pub tolerance: f64,
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
}

/// Scores the rows of the run's first request (the first `batch_rows` of `first`, the first
/// source batch) again three ways and compares with `probs`, the run's own probabilities for
/// them. `None` when there are no rows.
pub(crate) fn check(
    first: &RecordBatch,
    probs: &[f32],
    feature_names: &[String],
    batch_rows: usize,
    threshold: f64,
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
    let person_id = rows
        .column_by_name("person_id")
        .and_then(|c| c.as_primitive_opt::<UInt64Type>())
        .cloned();
    let fail = |e: String| clock.check().err().unwrap_or(EvaluateError::Stability(e));
    let again = |batch: &RecordBatch, step: usize| -> Result<Vec<f64>, EvaluateError> {
        clock.check()?;
        let Scored { score, .. } = score(pool, 0, batch, feature_names, step, threshold).map_err(fail)?;
        score.ok_or_else(|| EvaluateError::Stability("the worker gave no probabilities".into()))
    };
    let step = batch_rows.max(1);
    let mut checks = Vec::new();
    let repeated = again(&rows, step)?;
    checks.push(compare(
        StabilityCheck::Repeated,
        &run,
        &repeated,
        step,
        threshold,
        &person_id,
    ));
    let reverse = UInt32Array::from_iter_values((0..n as u32).rev());
    let reversed_rows =
        arrow::compute::take_record_batch(&rows, &reverse).map_err(|e| EvaluateError::Stability(e.to_string()))?;
    let mut reversed = again(&reversed_rows, step)?;
    reversed.reverse();
    checks.push(compare(
        StabilityCheck::Reversed,
        &run,
        &reversed,
        step,
        threshold,
        &person_id,
    ));
    let single_n = n.min(SINGLE_ROWS);
    let single = again(&rows.slice(0, single_n), 1)?;
    checks.push(compare(
        StabilityCheck::SingleRows,
        &run[..single_n],
        &single,
        1,
        threshold,
        &person_id,
    ));
    Ok(Some(Stability {
        stable: checks.iter().all(CheckResult::stable),
        tolerance: TOLERANCE,
        checks,
        seconds: t0.elapsed().as_secs_f64(),
    }))
}

/// How far `again` fell from `run`, row by row. A probability that is not a number on either
/// side differs (NaN is never within the tolerance).
fn compare(
    check: StabilityCheck,
    run: &[f64],
    again: &[f64],
    batch_rows: usize,
    threshold: f64,
    person_id: &Option<arrow::array::UInt64Array>,
) -> CheckResult {
    let mut result = CheckResult {
        check,
        rows: run.len(),
        batch_rows,
        max_difference: 0.0,
        rows_differing: 0,
        decisions_changed: 0,
        examples: Vec::new(),
    };
    for (i, (&p, &q)) in run.iter().zip(again).enumerate() {
        let d = (p - q).abs();
        let differs = d.is_nan() || d > TOLERANCE;
        let decision_changed = (p >= threshold) != (q >= threshold);
        if d.is_nan() || d > result.max_difference {
            result.max_difference = if d.is_nan() { f64::INFINITY } else { d };
        }
        result.rows_differing += usize::from(differs);
        result.decisions_changed += usize::from(decision_changed);
        if (differs || decision_changed) && result.examples.len() < MAX_EXAMPLES {
            result.examples.push(UnstableRow {
                row: i as u64,
                person_id: person_id.as_ref().filter(|a| a.is_valid(i)).map(|a| a.value(i)),
                probability: p,
                again: q,
            });
        }
    }
    // A model that answers fewer rows than asked is caught by `score`; this keeps the count
    // honest if it ever were not.
    result.rows_differing += run.len().saturating_sub(again.len());
    result
}

/// The stability verdict as a Markdown section.
pub(crate) fn markdown(s: &Stability) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "\n## Stability\n\n**{}**: the first rows scored again in the same order, in reverse order and one row per \
         request must give the run's probabilities within {:e} and its decisions.\n\n| check | rows | rows per request \
         | largest difference | rows differing | decisions changed |\n| --- | ---: | ---: | ---: | ---: | ---: |\n",
        if s.stable { "Stable" } else { "Unstable" },
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
                    "- {}: row {}{}: {:.6} in the run, {:.6} again",
                    c.check.as_str(),
                    e.row,
                    e.person_id.map(|p| format!(" (person_id {p})")).unwrap_or_default(),
                    e.probability,
                    e.again
                )
            })
        })
        .collect();
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

    #[test]
    fn a_difference_beyond_the_tolerance_or_a_nan_is_unstable_and_shown() {
        let run = [0.2, 0.4, 0.6, 0.8];
        let same = compare(
            StabilityCheck::Repeated,
            &run,
            &[0.2, 0.4 + 5e-7, 0.6, 0.8],
            4,
            0.5,
            &None,
        );
        assert!(same.stable(), "{same:?}");
        let again = [0.2, 0.4 + 2e-6, 0.45, f64::NAN];
        let c = compare(StabilityCheck::SingleRows, &run, &again, 1, 0.5, &None);
        assert!(!c.stable());
        assert_eq!((c.rows_differing, c.decisions_changed), (3, 2), "{c:?}");
        assert_eq!(c.max_difference, f64::INFINITY);
        let rows: Vec<u64> = c.examples.iter().map(|e| e.row).collect();
        assert_eq!(rows, [1, 2, 3]);
    }
}
