//! Stability of a regression or multi-class model (issue 16's check, for these tasks): a prediction
//! about a citizen must depend on that citizen's row only. The run's first request is scored again by
//! the same isolated workers as it was, in a seeded random order, and [`SINGLE_ROWS`] of its rows at
//! seeded random positions one row per request. A number must equal the run's within
//! [`RELATIVE_TOLERANCE`] (relative, at least absolute 1e-6), a class exactly. A model that reads the
//! rest of its batch (a batch mean), its rows' positions or how many it is given, or that draws
//! randomness, is shown unstable with the rows where it was. The seed mixes the run's seed with the
//! model's hash, so the positions cannot be known to the model.

use crate::{Clock, EvaluateError};
use arrow::array::{ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::datatypes::{Float64Type, UInt32Type};
use inference::Pool;
use serde::{Deserialize, Serialize};

/// Rows of the first request scored one per request.
pub const SINGLE_ROWS: usize = 32;
/// Two numbers are the same within this share of the larger (float arithmetic that reorders a sum
/// differs in the last bits; a model that reads its batch differs more).
pub const RELATIVE_TOLERANCE: f64 = 1e-6;
/// Rows shown per check where the model was unstable.
pub const MAX_EXAMPLES: usize = 5;

/// One way of scoring again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TaskCheck {
    /// `repeated`, `permuted` or `single_rows`.
    pub check: String,
    /// Rows scored again.
    pub rows: usize,
    /// Rows whose prediction differs from the run's.
    pub rows_differing: usize,
    /// The largest absolute difference of a number (regression), or 1 where a class differs.
    pub max_difference: f64,
    /// Positions in the dataset of the first rows that differ (at most [`MAX_EXAMPLES`]).
    pub examples: Vec<u64>,
    /// Why the worker gave no answer, when it did not (the check fails, not the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The verdict: stable when every check agreed with the run's own predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TaskStability {
    /// Every check agreed.
    pub stable: bool,
    /// The checks.
    pub checks: Vec<TaskCheck>,
}

/// The predictions of a scored batch's one column as numbers (a class as its position).
fn numbers(a: &ArrayRef) -> Option<Vec<f64>> {
    if let Some(v) = a.as_primitive_opt::<Float64Type>() {
        return Some(v.values().to_vec());
    }
    a.as_primitive_opt::<UInt32Type>()
        .map(|v| v.values().iter().map(|&c| f64::from(c)).collect())
}

fn differs(a: f64, b: f64, exact: bool) -> bool {
    if exact {
        a != b
    } else {
        (a - b).abs() > RELATIVE_TOLERANCE * a.abs().max(b.abs()).max(1.0)
    }
}

/// Checks the rows of the run's first request (`inputs`, the model's columns only) against the
/// predictions the run gave them (`scored`, the worker's column). `exact`: classes, compared exactly.
pub(crate) fn check(
    inputs: &RecordBatch,
    scored: &ArrayRef,
    exact: bool,
    seed: u64,
    pool: &Pool,
    clock: &Clock,
) -> Result<TaskStability, EvaluateError> {
    let n = inputs.num_rows();
    let run =
        numbers(scored).ok_or_else(|| EvaluateError::Stability("the run's predictions are not numbers".into()))?;
    let mut checks = Vec::new();
    let compare = |name: &str, rows: &[usize], again: Result<Vec<f64>, String>| -> TaskCheck {
        let mut c = TaskCheck {
            check: name.to_owned(),
            rows: rows.len(),
            rows_differing: 0,
            max_difference: 0.0,
            examples: Vec::new(),
            error: None,
        };
        match again {
            Ok(v) if v.len() == rows.len() => {
                for (&row, &b) in rows.iter().zip(&v) {
                    let a = run[row];
                    if differs(a, b, exact) {
                        c.rows_differing += 1;
                        c.max_difference = c.max_difference.max(if exact { 1.0 } else { (a - b).abs() });
                        if c.examples.len() < MAX_EXAMPLES {
                            c.examples.push(row as u64);
                        }
                    }
                }
            }
            Ok(v) => c.error = Some(format!("{} predictions for {} rows", v.len(), rows.len())),
            Err(e) => c.error = Some(e),
        }
        if c.error.is_some() {
            c.rows_differing = rows.len();
        }
        c
    };
    let score = |batch: &RecordBatch| -> Result<Vec<f64>, String> {
        let out = pool.score_on(0, batch).map_err(|e| e.to_string())?;
        numbers(out.column(0)).ok_or_else(|| "the worker's answer is not numbers".to_owned())
    };
    let all: Vec<usize> = (0..n).collect();
    checks.push(compare("repeated", &all, score(inputs)));
    clock.check()?;
    let order: Vec<usize> = explain::Permutation::new(n, seed)
        .indices()
        .iter()
        .map(|&i| i as usize)
        .collect();
    let take = |rows: &[usize]| -> Result<RecordBatch, EvaluateError> {
        let idx = UInt32Array::from(rows.iter().map(|&r| r as u32).collect::<Vec<_>>());
        let cols = inputs
            .columns()
            .iter()
            .map(|c| arrow::compute::take(c.as_ref(), &idx, None))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EvaluateError::Stability(e.to_string()))?;
        RecordBatch::try_new(inputs.schema(), cols).map_err(|e| EvaluateError::Stability(e.to_string()))
    };
    checks.push(compare("permuted", &order, score(&take(&order)?)));
    clock.check()?;
    let singles: Vec<usize> = order.iter().copied().take(SINGLE_ROWS.min(n)).collect();
    let mut again = Ok(Vec::with_capacity(singles.len()));
    for &row in &singles {
        clock.check()?;
        match (score(&inputs.slice(row, 1)), &mut again) {
            (Ok(v), Ok(all)) => all.extend(v),
            (Err(e), _) => {
                again = Err(e);
                break;
            }
            _ => break,
        }
    }
    checks.push(compare("single_rows", &singles, again));
    Ok(TaskStability {
        stable: checks.iter().all(|c| c.rows_differing == 0 && c.error.is_none()),
        checks,
    })
}
