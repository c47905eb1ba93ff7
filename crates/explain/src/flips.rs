//! Why a counterfactual twin's decision differs from its citizen's: for each pair whose decision
//! flips, which inputs differ between the two, and what switching each of them alone does.
//!
//! A twin differs from its citizen in the changed attribute and in whatever that attribute
//! causes. For each flipped pair and each input column whose values differ, the citizen's row is
//! scored with that one column taken from the twin; the change of the score is that column's
//! contribution. Contributions need not add up to the whole change (a model is not additive),
//! which is why the share of pairs where one column alone reverses the decision is given too.

use crate::score::checked;
use crate::{ExplainError, Scorer};
use arrow::array::{RecordBatch, UInt32Array};
use serde::{Deserialize, Serialize};

/// Flipped pairs shown one by one: the first ones.
pub const FLIP_EXAMPLES: usize = 10;

/// What one column contributes to the flips.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FlipContribution {
    /// The input column.
    pub column: String,
    /// Flipped pairs in which the citizen and the twin differ in this column.
    pub pairs_differing: usize,
    /// Mean change of the citizen's score when only this column is taken from the twin, over
    /// those pairs.
    pub mean_score_change: f64,
    /// Mean absolute change of the score, over those pairs.
    pub mean_abs_score_change: f64,
    /// Of those pairs, how many take the twin's decision when only this column is switched.
    pub reverses: usize,
}

/// One flipped pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FlipExample {
    /// The pair's position among the explained pairs, from 0.
    pub pair: usize,
    /// The citizen's score.
    pub score: f64,
    /// The twin's score.
    pub twin_score: f64,
    /// Each differing column with the score change when it alone is taken from the twin.
    pub changes: Vec<ColumnChange>,
}

/// One column's effect in one pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ColumnChange {
    /// The column.
    pub column: String,
    /// The score change when it alone is switched.
    pub score_change: f64,
}

/// The flip contributions of a set of pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FlipContributions {
    /// Pairs looked at.
    pub pairs: usize,
    /// Pairs whose decisions differ.
    pub flipped: usize,
    /// Per input column that differs in at least one flipped pair, in the order asked.
    pub columns: Vec<FlipContribution>,
    /// The first [`FLIP_EXAMPLES`] flipped pairs.
    pub examples: Vec<FlipExample>,
}

/// The flip contributions of `columns` over the pairs (`citizens[i]`, `twins[i]`).
pub fn flip_contributions<S: Scorer + ?Sized>(
    citizens: &RecordBatch,
    twins: &RecordBatch,
    columns: &[&str],
    scorer: &mut S,
) -> Result<FlipContributions, ExplainError> {
    let n = citizens.num_rows();
    if twins.num_rows() != n {
        return Err(ExplainError::Length {
            what: "the twins".into(),
            got: twins.num_rows(),
            rows: n,
        });
    }
    if twins.schema() != citizens.schema() {
        return Err(ExplainError::Config("the twins' columns are not the citizens'".into()));
    }
    let schema = citizens.schema();
    let mut indices = Vec::with_capacity(columns.len());
    for c in columns {
        indices.push(crate::error::column_index(&schema, c)?);
    }
    let score_of = |s: crate::Scored| -> (Vec<bool>, Vec<f64>) {
        let score = s
            .score
            .unwrap_or_else(|| s.decision.iter().map(|&d| f64::from(u8::from(d))).collect());
        (s.decision, score)
    };
    let (decision, score) = score_of(checked(scorer, citizens, "(none)", 0)?);
    let (twin_decision, twin_score) = score_of(checked(scorer, twins, "(twins)", 0)?);
    let flipped: Vec<u32> = (0..n as u32)
        .filter(|&i| decision[i as usize] != twin_decision[i as usize])
        .collect();
    let mut result = Vec::new();
    // Per flipped pair (by position in `flipped`), its columns' changes, for the examples.
    let mut per_pair: Vec<Vec<ColumnChange>> = vec![Vec::new(); flipped.len().min(FLIP_EXAMPLES)];
    for (&name, &index) in columns.iter().zip(&indices) {
        let arrow_err = |error| ExplainError::Arrow {
            column: name.to_owned(),
            error,
        };
        let ours = citizens.column(index);
        let theirs = twins.column(index);
        let differs = arrow::compute::kernels::cmp::distinct(ours, theirs).map_err(arrow_err)?;
        let pairs: Vec<(usize, u32)> = flipped
            .iter()
            .enumerate()
            .filter(|&(_, &i)| differs.value(i as usize))
            .map(|(k, &i)| (k, i))
            .collect();
        if pairs.is_empty() {
            continue;
        }
        let take = UInt32Array::from(pairs.iter().map(|&(_, i)| i).collect::<Vec<_>>());
        let mut cols: Vec<_> = citizens
            .columns()
            .iter()
            .map(|c| arrow::compute::take(c, &take, None))
            .collect::<Result<_, _>>()
            .map_err(arrow_err)?;
        cols[index] = arrow::compute::take(theirs, &take, None).map_err(arrow_err)?;
        let switched = RecordBatch::try_new(schema.clone(), cols).map_err(arrow_err)?;
        let (now_decision, now_score) = score_of(checked(scorer, &switched, name, 0)?);
        let mut sum = 0.0;
        let mut sum_abs = 0.0;
        let mut reverses = 0;
        for (j, &(k, i)) in pairs.iter().enumerate() {
            let change = now_score[j] - score[i as usize];
            sum += change;
            sum_abs += change.abs();
            reverses += usize::from(now_decision[j] == twin_decision[i as usize]);
            if let Some(changes) = per_pair.get_mut(k) {
                changes.push(ColumnChange {
                    column: name.to_owned(),
                    score_change: change,
                });
            }
        }
        result.push(FlipContribution {
            column: name.to_owned(),
            pairs_differing: pairs.len(),
            mean_score_change: sum / pairs.len() as f64,
            mean_abs_score_change: sum_abs / pairs.len() as f64,
            reverses,
        });
    }
    let examples = per_pair
        .into_iter()
        .zip(&flipped)
        .map(|(changes, &i)| FlipExample {
            pair: i as usize,
            score: score[i as usize],
            twin_score: twin_score[i as usize],
            changes,
        })
        .collect();
    Ok(FlipContributions {
        pairs: n,
        flipped: flipped.len(),
        columns: result,
        examples,
    })
}
