//! The one thing the crate needs from a model: decisions and scores for rows.

use arrow::record_batch::RecordBatch;

/// A model's answer for a batch of rows, in row order.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The decision for each row (true: the positive outcome is predicted).
    pub decision: Vec<bool>,
    /// The probability of the positive outcome for each row, when the model gives one.
    pub score: Option<Vec<f64>>,
}

/// Something that scores rows. In Sandkasse this is the isolated worker pool; in tests, a
/// closure. Errors are reported as text, because they cross from whatever does the scoring.
pub trait Scorer {
    /// Scores `rows`; the answer must have one decision (and score) per row.
    fn score(&mut self, rows: &RecordBatch) -> Result<Scored, String>;
}

impl<F> Scorer for F
where
    F: FnMut(&RecordBatch) -> Result<Scored, String>,
{
    fn score(&mut self, rows: &RecordBatch) -> Result<Scored, String> {
        self(rows)
    }
}

/// `scorer`'s answer for `rows`, refused unless it has one decision (and score) per row.
pub(crate) fn checked<S: Scorer + ?Sized>(
    scorer: &mut S,
    rows: &RecordBatch,
    column: &str,
    step: usize,
) -> Result<Scored, crate::ExplainError> {
    let err = |error: String| crate::ExplainError::Score {
        column: column.to_owned(),
        step,
        error,
    };
    let s = scorer.score(rows).map_err(err)?;
    let n = rows.num_rows();
    if s.decision.len() != n || s.score.as_ref().is_some_and(|v| v.len() != n) {
        return Err(err(format!(
            "the scorer answered {} decisions and {} scores for {n} rows",
            s.decision.len(),
            s.score.as_ref().map_or(0, Vec::len)
        )));
    }
    if let Some(bad) = s
        .score
        .as_ref()
        .and_then(|v| v.iter().position(|x| !(0.0..=1.0).contains(x)))
    {
        return Err(err(format!(
            "the scorer answered {} for row {bad}: a score must be a probability in [0, 1]",
            s.score.as_ref().map_or(f64::NAN, |v| v[bad])
        )));
    }
    Ok(s)
}
