//! Permutation importance: how much a model's decisions and quality depend on each input.
//!
//! For each column, its values are moved between rows by a seeded permutation (so the column
//! keeps its distribution but loses its link to the row), the rows are scored again, and the
//! change is measured against the unpermuted scoring: the share of decisions that change, and
//! the drop of ROC AUC and accuracy and the rise of log loss, against the recorded outcome and,
//! when known, the true one. Overall and for each group of each group attribute; over several
//! repeats, with a Student-t interval. A column the model ignores gives identical scores, so every
//! number of it is exactly 0 with the interval `[0, 0]`.

use crate::interval::mean_interval;
use crate::metrics::Metrics;
use crate::permute::{Permutation, with_column_permuted};
use crate::score::checked;
use crate::{ExplainError, Scored, Scorer};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

/// The outcomes the metrics are measured against, one per row.
#[derive(Debug, Clone, Copy)]
pub struct Outcomes<'a> {
    /// The outcome as recorded (with whatever bias the recording has).
    pub recorded: &'a [bool],
    /// The true outcome, when the data know it (Sandkasse's synthetic data always do).
    pub truth: Option<&'a [bool]>,
}

/// A group attribute: the group of each row as an index into `values`.
#[derive(Debug, Clone)]
pub struct Groups {
    /// The attribute's name (e.g. `origin`).
    pub attribute: String,
    /// Its values, in the order reports show them.
    pub values: Vec<String>,
    /// Per row, the index of its value in `values`.
    pub codes: Vec<u32>,
}

/// How the importance is computed; written into the result so anyone can recompute it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImportanceConfig {
    /// Permutations per column (at least 2, for an interval).
    pub repeats: usize,
    /// The seed every permutation derives from (with the column's name and the repeat).
    pub seed: u64,
    /// Confidence of the intervals, in (0, 1).
    pub confidence: f64,
}

impl Default for ImportanceConfig {
    fn default() -> Self {
        Self {
            repeats: 5,
            seed: 1,
            confidence: 0.95,
        }
    }
}

/// One quantity over the repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Effect {
    /// Mean over the repeats.
    pub mean: f64,
    /// Sample standard deviation over the repeats.
    pub sd: f64,
    /// Student-t interval of the mean; `[0, 0]` when every repeat gave exactly 0.
    pub interval: Option<[f64; 2]>,
}

impl Effect {
    fn of(values: &[f64], confidence: f64) -> Self {
        let (mean, sd, interval) = mean_interval(values, confidence);
        Self { mean, sd, interval }
    }
}

/// What permuting a column costs against one outcome. Positive means the column helps: AUC and
/// accuracy drop, log loss rises. `None` where the metric is undefined (no scores, one class).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MetricDrops {
    /// Unpermuted AUC minus permuted AUC.
    pub roc_auc: Option<Effect>,
    /// Unpermuted accuracy minus permuted accuracy.
    pub accuracy: Option<Effect>,
    /// Permuted log loss minus unpermuted log loss.
    pub log_loss: Option<Effect>,
}

/// The effects of permuting one column on one set of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Drops {
    /// Rows in the set.
    pub rows: usize,
    /// Share of the rows whose decision changes.
    pub decisions_changed: Effect,
    /// Against the recorded outcome.
    pub recorded: MetricDrops,
    /// Against the true outcome, when known.
    pub truth: Option<MetricDrops>,
}

/// The importance of one column within one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupImportance {
    /// The group attribute.
    pub attribute: String,
    /// The group's value.
    pub value: String,
    /// The effects within the group.
    pub drops: Drops,
}

/// The importance of one input column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ColumnImportance {
    /// The column.
    pub column: String,
    /// Over all rows.
    pub overall: Drops,
    /// Within each non-empty group of each attribute.
    pub groups: Vec<GroupImportance>,
}

/// The permutation importance of every column asked for, in the order asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Importance {
    /// How it was computed.
    pub config: ImportanceConfig,
    /// Rows scored per permutation.
    pub rows: usize,
    /// One entry per column.
    pub columns: Vec<ColumnImportance>,
}

/// A set of rows the effects are measured on: all rows, or one group's.
struct Scope {
    group: Option<(String, String)>,
    rows: Vec<u32>,
    recorded: Metrics,
    truth: Option<Metrics>,
}

/// Per scope and repeat, the raw differences, before they become [`Effect`]s.
#[derive(Default)]
struct Samples {
    changed: Vec<f64>,
    recorded: [Vec<f64>; 3],
    truth: [Vec<f64>; 3],
}

/// The permutation importance of each of `columns` in `rows`, scored by `scorer`.
///
/// `rows` are the model's input rows (any extra column is carried along unpermuted); `outcomes`
/// and every `groups` have one entry per row. The permutation of a column in a repeat is a pure
/// function of `config.seed`, the column's name and the repeat, so adding or reordering columns
/// changes no other column's numbers.
pub fn permutation_importance<S: Scorer + ?Sized>(
    rows: &RecordBatch,
    columns: &[&str],
    outcomes: Outcomes<'_>,
    groups: &[Groups],
    scorer: &mut S,
    config: ImportanceConfig,
) -> Result<Importance, ExplainError> {
    let n = rows.num_rows();
    check(config, n, outcomes, groups)?;
    let schema = rows.schema();
    for c in columns {
        crate::error::column_index(&schema, c)?;
    }
    let base = checked(scorer, rows, "(none)", 0)?;
    let scopes = scopes(n, groups, &base, outcomes);
    let mut result = Vec::with_capacity(columns.len());
    for &column in columns {
        let mut samples: Vec<Samples> = scopes.iter().map(|_| Samples::default()).collect();
        for repeat in 0..config.repeats {
            let permutation = Permutation::new(n, permutation_seed(config.seed, column, repeat));
            let permuted = with_column_permuted(rows, column, &permutation)?;
            let now = checked(scorer, &permuted, column, repeat)?;
            for (scope, s) in scopes.iter().zip(&mut samples) {
                let changed = scope
                    .rows
                    .iter()
                    .filter(|&&i| base.decision[i as usize] != now.decision[i as usize])
                    .count();
                s.changed.push(changed as f64 / scope.rows.len() as f64);
                let m = Metrics::of(&now.decision, now.score.as_deref(), outcomes.recorded, &scope.rows);
                push_drops(&mut s.recorded, &scope.recorded, &m);
                if let (Some(t), Some(truth)) = (outcomes.truth, &scope.truth) {
                    let m = Metrics::of(&now.decision, now.score.as_deref(), t, &scope.rows);
                    push_drops(&mut s.truth, truth, &m);
                }
            }
        }
        let mut overall = None;
        let mut by_group = Vec::new();
        for (scope, s) in scopes.iter().zip(samples) {
            let drops = Drops {
                rows: scope.rows.len(),
                decisions_changed: Effect::of(&s.changed, config.confidence),
                recorded: metric_drops(&s.recorded, config.confidence),
                truth: scope.truth.map(|_| metric_drops(&s.truth, config.confidence)),
            };
            match &scope.group {
                None => overall = Some(drops),
                Some((attribute, value)) => by_group.push(GroupImportance {
                    attribute: attribute.clone(),
                    value: value.clone(),
                    drops,
                }),
            }
        }
        result.push(ColumnImportance {
            column: column.to_owned(),
            overall: overall.expect("the first scope is all rows"),
            groups: by_group,
        });
    }
    Ok(Importance {
        config,
        rows: n,
        columns: result,
    })
}

fn check(config: ImportanceConfig, n: usize, outcomes: Outcomes<'_>, groups: &[Groups]) -> Result<(), ExplainError> {
    if config.repeats < 2 || config.repeats > 1000 {
        return Err(ExplainError::Config(format!(
            "repeats must be 2 to 1000 (an interval needs two), got {}",
            config.repeats
        )));
    }
    if !(config.confidence > 0.0 && config.confidence < 1.0) {
        return Err(ExplainError::Config(format!(
            "confidence must be between 0 and 1, got {}",
            config.confidence
        )));
    }
    if n == 0 {
        return Err(ExplainError::Config("there are no rows to permute".into()));
    }
    let length = |what: String, got: usize| {
        if got == n {
            Ok(())
        } else {
            Err(ExplainError::Length { what, got, rows: n })
        }
    };
    length("the recorded outcome".into(), outcomes.recorded.len())?;
    if let Some(t) = outcomes.truth {
        length("the true outcome".into(), t.len())?;
    }
    for g in groups {
        length(format!("group attribute {:?}", g.attribute), g.codes.len())?;
        if let Some(&bad) = g.codes.iter().find(|&&c| c as usize >= g.values.len()) {
            return Err(ExplainError::Config(format!(
                "group attribute {:?} has a row coded {bad} but only {} values",
                g.attribute,
                g.values.len()
            )));
        }
    }
    Ok(())
}

/// All rows first, then each non-empty group of each attribute, in the attribute's value order.
fn scopes(n: usize, groups: &[Groups], base: &Scored, outcomes: Outcomes<'_>) -> Vec<Scope> {
    let all: Vec<u32> = (0..n as u32).collect();
    let mut sets = vec![(None, all)];
    for g in groups {
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); g.values.len()];
        for (i, &c) in g.codes.iter().enumerate() {
            rows[c as usize].push(i as u32);
        }
        for (value, r) in g.values.iter().zip(rows) {
            if !r.is_empty() {
                sets.push((Some((g.attribute.clone(), value.clone())), r));
            }
        }
    }
    sets.into_iter()
        .map(|(group, rows)| Scope {
            recorded: Metrics::of(&base.decision, base.score.as_deref(), outcomes.recorded, &rows),
            truth: outcomes
                .truth
                .map(|t| Metrics::of(&base.decision, base.score.as_deref(), t, &rows)),
            group,
            rows,
        })
        .collect()
}

/// The seed of a column's permutation in one repeat: FNV-1a over the name, mixed with the seed
/// and the repeat.
fn permutation_seed(seed: u64, column: &str, repeat: usize) -> u64 {
    let h = column.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    h ^ seed.rotate_left(17) ^ (repeat as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

fn push_drops(into: &mut [Vec<f64>; 3], base: &Metrics, now: &Metrics) {
    let pairs = [
        (base.roc_auc, now.roc_auc, 1.0),
        (base.accuracy, now.accuracy, 1.0),
        (base.log_loss, now.log_loss, -1.0),
    ];
    for (v, (b, m, sign)) in into.iter_mut().zip(pairs) {
        if let (Some(b), Some(m)) = (b, m) {
            v.push(sign * (b - m));
        }
    }
}

fn metric_drops(samples: &[Vec<f64>; 3], confidence: f64) -> MetricDrops {
    let effect = |v: &Vec<f64>| (!v.is_empty()).then(|| Effect::of(v, confidence));
    MetricDrops {
        roc_auc: effect(&samples[0]),
        accuracy: effect(&samples[1]),
        log_loss: effect(&samples[2]),
    }
}
