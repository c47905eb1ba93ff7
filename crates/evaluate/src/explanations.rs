//! The explanation stage: why the model decides as it does, computed on a fixed subsample of the
//! run's rows and scored by the run's own isolated workers (the model never leaves isolation).
//!
//! Today: permutation importance of every dataset column the manifest feeds the model
//! ([`explain::permutation_importance`]), overall and per group of each of the run's group
//! attributes, against the recorded and the true outcome. The columns are split between the
//! workers; each column's numbers depend only on the seed, its name and the rows, so the record is
//! the same at any number of workers.

use crate::prepare::Prepared;
use crate::{Clock, EvaluateError, Request, age};
use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, UInt8Array};
use arrow::datatypes::{DataType, Float32Type};
use explain::{
    ColumnImportance, FlipContributions, Groups, Importance, ImportanceConfig, Outcomes, PartialDependence, Scored,
    SliceConfig, Slices,
};
use inference::Pool;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;

/// Rows a run explains unless told otherwise: enough that a column's importance interval is
/// narrow (the share of decisions changed is a mean over these rows), few enough that the
/// explanations cost a fraction of a large run.
pub const DEFAULT_EXPLAIN_ROWS: usize = 5000;

/// How a run explains its model ([`Request::explain`]; `None` there skips the stage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExplainOptions {
    /// How many of the dataset's first rows (counterfactual twins left out) are explained.
    pub rows: usize,
    /// Permutations per column and their confidence. The seed is the run's bootstrap seed
    /// unless set here.
    pub repeats: usize,
    /// Seed of the permutations; `None`: the run's bootstrap seed (by default the dataset's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The columns whose partial dependence is computed; `None`: the most important numeric
    /// column and the most important categorical one (by the share of decisions they change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependence: Option<Vec<String>>,
}

impl Default for ExplainOptions {
    fn default() -> Self {
        Self {
            rows: DEFAULT_EXPLAIN_ROWS,
            repeats: ImportanceConfig::default().repeats,
            seed: None,
            dependence: None,
        }
    }
}

/// What the record says of the model's reasons, under `explanations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Explanations {
    /// Which rows were explained, so anyone can recompute the numbers.
    pub rows: ExplainedRows,
    /// The seconds the stage took.
    pub seconds: f64,
    /// Permutation importance of each input column, in the manifest's column order.
    pub importance: Importance,
    /// Partial dependence (with group curves and ICE) of the chosen columns.
    #[serde(default)]
    pub partial_dependence: Vec<PartialDependence>,
    /// For a dataset with counterfactual twins: in the pairs of the explained rows whose decisions
    /// differ, what each differing input does alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flip_contributions: Option<FlipContributions>,
}

/// The rows an explanation used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExplainedRows {
    /// Always "first": the dataset's first rows in its order, counterfactual twins left out.
    pub taken: String,
    /// How many.
    pub count: usize,
}

/// Refuses explanation options that could only fail after the whole dataset was scored: checked
/// before any worker starts.
pub(crate) fn check_options(req: &Request, manifest: &inference::Manifest) -> Result<(), EvaluateError> {
    let Some(o) = &req.explain else { return Ok(()) };
    if !(2..=1000).contains(&o.repeats) {
        return Err(EvaluateError::Explain(format!(
            "repeats must be 2 to 1000 (an interval needs two), got {}",
            o.repeats
        )));
    }
    let columns = manifest.columns();
    for c in o.dependence.iter().flatten() {
        if !columns.contains(&c.as_str()) {
            return Err(EvaluateError::Explain(format!(
                "partial dependence of {c:?}: the model does not read it; its columns are {}",
                columns.join(", ")
            )));
        }
    }
    Ok(())
}

/// Explains the model on `first`, the dataset's first source batch (its rows in order), and
/// searches it for weak slices (the record's `slices`); `None`s when the request skips
/// explanations or there are no rows.
pub(crate) fn explain(
    req: &Request,
    prepared: &Prepared,
    first: Option<(RecordBatch, Vec<f32>)>,
    pool: &Pool,
    clock: &Clock,
    seed: u64,
) -> Result<(Option<Explanations>, Option<Slices>), EvaluateError> {
    let (Some(options), Some((first, first_probs))) = (&req.explain, first) else {
        return Ok((None, None));
    };
    let t0 = Instant::now();
    let slices = slices(req, prepared, &first, &first_probs)?;
    let rows = originals(&first)?;
    let rows = rows.slice(0, rows.num_rows().min(options.rows));
    if rows.num_rows() == 0 {
        return Ok((None, Some(slices)));
    }
    let recorded = bools(&rows, "outcome_recorded")?;
    let truth = rows
        .column_by_name("outcome_true")
        .map(|_| bools(&rows, "outcome_true"))
        .transpose()?;
    let on = OnRows::new(req, prepared, &rows, pool, clock)?;
    let groups = &on.groups;
    let config = ImportanceConfig {
        repeats: options.repeats,
        seed: options.seed.unwrap_or(seed),
        confidence: req.fairness.confidence,
    };
    let columns: Vec<&str> = prepared.manifest.columns();
    let outcomes = Outcomes {
        recorded: &recorded,
        truth: truth.as_deref(),
    };
    let importance = per_worker(pool, clock, &columns, |slot, mine| {
        let mut scorer = |b: &RecordBatch| on.score(slot, b);
        explain::permutation_importance(&rows, mine, outcomes, groups, &mut scorer, config).map(|i| i.columns)
    })?;
    let chosen: Vec<String> = match &options.dependence {
        Some(c) => c.clone(),
        None => most_important(&rows, &importance),
    };
    let chosen: Vec<&str> = chosen.iter().map(String::as_str).collect();
    for c in &chosen {
        if !columns.contains(c) {
            return Err(EvaluateError::Explain(format!(
                "partial dependence of {c:?}: the model does not read it; its columns are {}",
                columns.join(", ")
            )));
        }
    }
    let partial_dependence = per_worker(pool, clock, &chosen, |slot, mine| {
        let mut scorer = |b: &RecordBatch| on.score(slot, b);
        explain::partial_dependence(&rows, mine, groups, &mut scorer)
    })?;
    let importance = Importance {
        config,
        rows: rows.num_rows(),
        columns: importance,
    };
    let flip_contributions = match twin_pairs(&first, options.rows)? {
        Some((citizens, twins)) => {
            let mut scorer = |b: &RecordBatch| on.score(0, b);
            Some(
                explain::flip_contributions(&citizens, &twins, &columns, &mut scorer)
                    .map_err(|e| clock.check().err().unwrap_or(EvaluateError::Explain(e.to_string())))?,
            )
        }
        None => None,
    };
    let explanations = Explanations {
        rows: ExplainedRows {
            taken: "first".into(),
            count: rows.num_rows(),
        },
        seconds: t0.elapsed().as_secs_f64(),
        importance,
        partial_dependence,
        flip_contributions,
    };
    Ok((Some(explanations), Some(slices)))
}

/// Columns never sliced: identifiers, outcomes and what pairs twins.
pub(crate) const NOT_SLICED: [&str; 10] = [
    "person_id",
    "is_twin",
    "twin_id",
    "outcome_recorded",
    "outcome_true",
    "p_true",
    "cpr",
    "first_name",
    "last_name",
    "birth_date",
];

/// Weak slices over the whole first source batch (up to 65,536 rows; twins left out), with the
/// decisions the run itself made for those rows: no extra scoring.
fn slices(req: &Request, prepared: &Prepared, first: &RecordBatch, probs: &[f32]) -> Result<Slices, EvaluateError> {
    let err = |e: arrow::error::ArrowError| EvaluateError::Explain(e.to_string());
    let probs = arrow::array::Float32Array::from(probs.to_vec());
    let (rows, probs) = match first.column_by_name("is_twin").and_then(|c| c.as_boolean_opt()) {
        Some(twin) => {
            let keep = arrow::compute::not(twin).map_err(err)?;
            (
                arrow::compute::filter_record_batch(first, &keep).map_err(err)?,
                arrow::compute::filter(&probs, &keep).map_err(err)?,
            )
        }
        None => (first.clone(), std::sync::Arc::new(probs) as arrow::array::ArrayRef),
    };
    let threshold = prepared.threshold;
    let decision: Vec<bool> = probs
        .as_primitive::<Float32Type>()
        .values()
        .iter()
        .map(|&p| f64::from(p) >= threshold)
        .collect();
    let recorded = bools(&rows, "outcome_recorded")?;
    let truth = rows
        .column_by_name("outcome_true")
        .map(|_| bools(&rows, "outcome_true"))
        .transpose()?;
    let schema = rows.schema();
    let columns: Vec<&str> = schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .filter(|c| !NOT_SLICED.contains(c))
        .collect();
    let config = SliceConfig {
        confidence: req.fairness.confidence,
        ..SliceConfig::default()
    };
    explain::weak_slices(&rows, &columns, &decision, &recorded, truth.as_deref(), config)
        .map_err(|e| EvaluateError::Explain(e.to_string()))
}

/// The first `n` citizens of `batch` that have a counterfactual twin in it, and their twins in
/// the same order (paired by `person_id`); `None` for a dataset without twins.
fn twin_pairs(batch: &RecordBatch, n: usize) -> Result<Option<(RecordBatch, RecordBatch)>, EvaluateError> {
    let Some(twin) = batch.column_by_name("is_twin") else {
        return Ok(None);
    };
    let twin = twin
        .as_boolean_opt()
        .ok_or_else(|| EvaluateError::Dataset("column is_twin is not boolean".into()))?;
    let id = batch
        .column_by_name("person_id")
        .and_then(|c| c.as_primitive_opt::<arrow::datatypes::UInt64Type>())
        .ok_or_else(|| EvaluateError::Dataset("twins need a uint64 column person_id".into()))?;
    let twin_of: std::collections::HashMap<u64, u32> = (0..batch.num_rows())
        .filter(|&i| twin.value(i))
        .map(|i| (id.value(i), i as u32))
        .collect();
    let (mut citizens, mut twins) = (Vec::new(), Vec::new());
    for i in (0..batch.num_rows()).filter(|&i| !twin.value(i)) {
        if citizens.len() == n {
            break;
        }
        if let Some(&t) = twin_of.get(&id.value(i)) {
            citizens.push(i as u32);
            twins.push(t);
        }
    }
    let take = |rows: Vec<u32>| {
        let rows = arrow::array::UInt32Array::from(rows);
        let columns = batch
            .columns()
            .iter()
            .map(|c| arrow::compute::take(c, &rows, None))
            .collect::<Result<Vec<_>, _>>()?;
        RecordBatch::try_new(batch.schema(), columns)
    };
    let err = |e: arrow::error::ArrowError| EvaluateError::Explain(e.to_string());
    Ok(Some((take(citizens).map_err(err)?, take(twins).map_err(err)?)))
}

/// Something computed per column, by column name.
pub(crate) trait Named {
    fn name(&self) -> &str;
}

impl Named for ColumnImportance {
    fn name(&self) -> &str {
        &self.column
    }
}

impl Named for PartialDependence {
    fn name(&self) -> &str {
        &self.column
    }
}

/// Runs `f` on each worker with every `size`-th of `columns`, and puts the answers back in the
/// order of `columns`. Each column's answer depends on the column only, not on which worker
/// scored it, so the result is the same at any number of workers.
pub(crate) fn per_worker<T, F>(pool: &Pool, clock: &Clock, columns: &[&str], f: F) -> Result<Vec<T>, EvaluateError>
where
    T: Named + Send,
    F: Fn(usize, &[&str]) -> Result<Vec<T>, explain::ExplainError> + Sync,
{
    let size = pool.size().max(1);
    let parts: Vec<Result<Vec<T>, EvaluateError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..size)
            .map(|slot| {
                let mine: Vec<&str> = columns.iter().skip(slot).step_by(size).copied().collect();
                let f = &f;
                s.spawn(move || {
                    if mine.is_empty() {
                        return Ok(Vec::new());
                    }
                    // A stop by the caller or the clock explains whatever failed.
                    f(slot, &mine).map_err(|e| clock.check().err().unwrap_or(EvaluateError::Explain(e.to_string())))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(EvaluateError::Explain("an explaining thread panicked".into())))
            })
            .collect()
    });
    let mut by_name: BTreeMap<String, T> = BTreeMap::new();
    for part in parts {
        for t in part? {
            by_name.insert(t.name().to_owned(), t);
        }
    }
    Ok(columns.iter().filter_map(|c| by_name.remove(*c)).collect())
}

/// The most important numeric column and the most important other one, by the mean share of
/// decisions permuting them changed (the first in the manifest's order on a tie).
fn most_important(rows: &RecordBatch, importance: &[ColumnImportance]) -> Vec<String> {
    let schema = rows.schema();
    let is_numeric = |c: &str| {
        schema
            .field_with_name(c)
            .is_ok_and(|f| f.data_type().is_integer() || f.data_type().is_floating())
    };
    let best = |numeric: bool| {
        importance
            .iter()
            .filter(|c| is_numeric(&c.column) == numeric)
            .fold(None::<&ColumnImportance>, |best, c| match best {
                Some(b) if b.overall.decisions_changed.mean >= c.overall.decisions_changed.mean => Some(b),
                _ => Some(c),
            })
            .map(|c| c.column.clone())
    };
    [best(true), best(false)].into_iter().flatten().collect()
}

/// The rows of `batch` that are not counterfactual twins, with their probabilities among `probs`
/// (one per row of `batch`).
pub(crate) fn originals_with(batch: &RecordBatch, probs: &[f32]) -> Result<(RecordBatch, Vec<f32>), EvaluateError> {
    let twin = match batch.column_by_name("is_twin") {
        Some(twin) => twin
            .as_boolean_opt()
            .ok_or_else(|| EvaluateError::Dataset("column is_twin is not boolean".into()))?,
        None => return Ok((batch.clone(), probs.to_vec())),
    };
    let kept: Vec<f32> = probs
        .iter()
        .enumerate()
        .filter(|&(i, _)| !twin.value(i))
        .map(|(_, &p)| p)
        .collect();
    Ok((originals(batch)?, kept))
}

/// The rows that are not counterfactual twins.
fn originals(batch: &RecordBatch) -> Result<RecordBatch, EvaluateError> {
    match batch.column_by_name("is_twin") {
        Some(twin) => {
            let twin = twin
                .as_boolean_opt()
                .ok_or_else(|| EvaluateError::Dataset("column is_twin is not boolean".into()))?;
            let keep = arrow::compute::not(twin).map_err(|e| EvaluateError::Explain(e.to_string()))?;
            arrow::compute::filter_record_batch(batch, &keep).map_err(|e| EvaluateError::Explain(e.to_string()))
        }
        None => Ok(batch.clone()),
    }
}

pub(crate) fn bools(rows: &RecordBatch, name: &str) -> Result<Vec<bool>, EvaluateError> {
    let col = rows
        .column_by_name(name)
        .ok_or_else(|| EvaluateError::Dataset(format!("the dataset has no column {name}")))?;
    let b: &BooleanArray = col
        .as_boolean_opt()
        .ok_or_else(|| EvaluateError::Dataset(format!("column {name} is {}, not boolean", col.data_type())))?;
    if b.null_count() > 0 {
        return Err(EvaluateError::Dataset(format!("column {name} has missing values")));
    }
    Ok(b.values().iter().collect())
}

/// A group attribute as codes into its sorted values; `age_band` is derived from `age`.
pub(crate) fn groups_of(rows: &RecordBatch, name: &str) -> Result<Groups, EvaluateError> {
    let column = if name == "age_band" && rows.column_by_name(name).is_none() {
        let age = rows
            .column_by_name("age")
            .and_then(|a| a.as_any().downcast_ref::<UInt8Array>())
            .ok_or_else(|| EvaluateError::Dataset("age_band needs a uint8 column age".into()))?;
        std::sync::Arc::new(age::bands(age)) as arrow::array::ArrayRef
    } else {
        rows.column_by_name(name)
            .cloned()
            .ok_or_else(|| EvaluateError::Dataset(format!("the dataset has no group column {name}")))?
    };
    let text = arrow::compute::cast(&column, &DataType::Utf8).map_err(|e| EvaluateError::Explain(e.to_string()))?;
    let text = text.as_string::<i32>();
    let values: Vec<String> = {
        let mut v: Vec<String> = (0..text.len())
            .map(|i| {
                if text.is_null(i) {
                    fairness::MISSING.to_owned()
                } else {
                    text.value(i).to_owned()
                }
            })
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let codes = (0..text.len())
        .map(|i| {
            let v = if text.is_null(i) {
                fairness::MISSING
            } else {
                text.value(i)
            };
            values.binary_search_by(|x| x.as_str().cmp(v)).map_or(0, |c| c as u32)
        })
        .collect();
    Ok(Groups {
        attribute: name.to_owned(),
        values,
        codes,
    })
}

/// What every analysis of the run's first rows needs (the explanations, the perturbation, the
/// recourse): the rows' groups, and a scorer that sends a batch of these rows' columns to one
/// worker slot and stops when the run is cancelled or over its deadline.
pub(crate) struct OnRows<'a, 'c> {
    /// The run's group attributes over the rows.
    pub(crate) groups: Vec<Groups>,
    feature_names: Vec<String>,
    pool: &'a Pool,
    clock: &'a Clock<'c>,
    batch_rows: usize,
    threshold: f64,
}

impl<'a, 'c> OnRows<'a, 'c> {
    pub(crate) fn new(
        req: &Request,
        prepared: &Prepared,
        rows: &RecordBatch,
        pool: &'a Pool,
        clock: &'a Clock<'c>,
    ) -> Result<Self, EvaluateError> {
        Ok(Self {
            groups: req
                .groups
                .iter()
                .map(|g| groups_of(rows, g))
                .collect::<Result<Vec<_>, _>>()?,
            feature_names: prepared.feature_names(&rows.schema()),
            pool,
            clock,
            batch_rows: req.batch_rows,
            threshold: prepared.threshold,
        })
    }

    /// The model's answers for `batch` from worker `slot`.
    pub(crate) fn score(&self, slot: usize, batch: &RecordBatch) -> Result<Scored, String> {
        self.clock.check().map_err(|e| e.to_string())?;
        score(
            self.pool,
            slot,
            batch,
            &self.feature_names,
            self.batch_rows,
            self.threshold,
        )
    }
}

/// The model's probabilities for `batch` from worker `slot`, in requests of at most
/// `batch_rows` rows, and its decisions at `threshold`.
pub(crate) fn score(
    pool: &Pool,
    slot: usize,
    batch: &RecordBatch,
    feature_names: &[String],
    batch_rows: usize,
    threshold: f64,
) -> Result<Scored, String> {
    let schema = batch.schema();
    let indices: Vec<usize> = feature_names
        .iter()
        .map(|n| schema.index_of(n).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let features = batch.project(&indices).map_err(|e| e.to_string())?;
    let mut probs: Vec<f64> = Vec::with_capacity(batch.num_rows());
    let step = batch_rows.max(1);
    let mut offset = 0;
    while offset < features.num_rows() {
        let len = step.min(features.num_rows() - offset);
        let out = pool
            .score_on(slot, &features.slice(offset, len))
            .map_err(|e| e.to_string())?;
        let p = out
            .column_by_name("probability")
            .and_then(|c| c.as_primitive_opt::<Float32Type>())
            .ok_or("the worker answered without a float32 probability")?;
        if p.len() != len {
            return Err(format!("the worker answered {} probabilities for {len} rows", p.len()));
        }
        probs.extend(p.values().iter().map(|&x| f64::from(x)));
        offset += len;
    }
    Ok(Scored {
        decision: probs.iter().map(|&p| p >= threshold).collect(),
        score: Some(probs),
    })
}

/// The explanations as a Markdown section: one row per input column, over all explained rows.
/// Column names come from the manifest (the vendor's text), so each is escaped as a table cell.
pub(crate) fn markdown(e: &Explanations) -> String {
    use std::fmt::Write;
    let imp = &e.importance;
    let c = &imp.config;
    let mut s = String::new();
    let _ = writeln!(s, "## Why the model decides as it does: permutation importance\n");
    let _ = writeln!(
        s,
        "Each input column's values were moved between the first {} rows of the dataset (counterfactual twins \
         left out) by a seeded permutation, {} times (seed {}), and the rows scored again by the isolated \
         workers. Shown: the share of decisions that changed, and how much ROC AUC and accuracy dropped and \
         log loss rose, against the recorded and the true outcome; mean over the repeats with its {}% \
         interval. A column the model ignores shows exactly 0. Per group: see the run record \
         (`explanations.importance`).\n",
        e.rows.count,
        c.repeats,
        c.seed,
        c.confidence * 100.0
    );
    let _ = writeln!(
        s,
        "| column | decisions changed | AUC drop (recorded) | accuracy drop (recorded) | log-loss rise (recorded) | AUC drop (true) |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- |");
    let effect = |e: Option<&explain::Effect>| match e {
        None => "–".to_owned(),
        Some(e) => match e.interval {
            Some([lo, hi]) => format!("{:.4} [{:.4}, {:.4}]", e.mean, lo, hi),
            None => format!("{:.4}", e.mean),
        },
    };
    for col in &imp.columns {
        let o = &col.overall;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            escape::markdown_cell(&col.column),
            effect(Some(&o.decisions_changed)),
            effect(o.recorded.roc_auc.as_ref()),
            effect(o.recorded.accuracy.as_ref()),
            effect(o.recorded.log_loss.as_ref()),
            effect(o.truth.as_ref().and_then(|t| t.roc_auc.as_ref())),
        );
    }
    if let Some(f) = &e.flip_contributions {
        let _ = writeln!(
            s,
            "\n### Why twins' decisions flip\n\nOf {} citizen–twin pairs, {} have different decisions. For each input \
             that differs within those pairs: how many pairs, the mean change of the citizen's score when only that \
             input is taken from the twin (and its mean absolute change), and in how many pairs that input alone \
             gives the twin's decision.\n",
            f.pairs, f.flipped
        );
        let _ = writeln!(
            s,
            "| column | pairs differing | mean score change | mean absolute change | alone gives the twin's decision |\n| --- | --- | --- | --- | --- |"
        );
        for c in &f.columns {
            let _ = writeln!(
                s,
                "| {} | {} | {:+.4} | {:.4} | {} |",
                escape::markdown_cell(&c.column),
                c.pairs_differing,
                c.mean_score_change,
                c.mean_abs_score_change,
                c.reverses
            );
        }
    }
    for pd in &e.partial_dependence {
        let _ = writeln!(
            s,
            "\n### Partial dependence on {}\n\nThe column set to each value in every one of the {} rows; the mean \
             score and the share of positive decisions. Per group and per row (the first {} rows' ICE curves): see \
             the run record (`explanations.partial_dependence`).\n",
            escape::markdown_cell(&pd.column),
            e.rows.count,
            pd.ice.len()
        );
        let _ = writeln!(s, "| value | mean score | positive decisions |\n| --- | --- | --- |");
        for (k, g) in pd.grid.iter().enumerate() {
            let value = match g {
                explain::GridValue::Number(v) => format!("{v}"),
                explain::GridValue::Category(c) => escape::markdown_cell(c),
            };
            let _ = writeln!(s, "| {value} | {:.4} | {:.4} |", pd.mean_score[k], pd.decision_rate[k]);
        }
    }
    s
}

/// The weak slices as a Markdown section (the record's `slices`).
pub(crate) fn slices_markdown(sl: &Slices) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n### Weak slices\n\nSingle values and pairs of values of {} columns in {} rows (the dataset's first, twins left \
         out, with the run's own decisions): {} tests of the error rate against the recorded and the true outcome and \
         of the selection rate against the rest of the rows, {} significant after Benjamini–Hochberg at q = {}. Per \
         rate, the largest differences (a \"learned bias\" slice errs against the truth but not by the records):\n",
        sl.columns.len(),
        sl.rows,
        sl.tested,
        sl.significant,
        sl.config.q
    );
    if sl.top.is_empty() {
        let _ = writeln!(s, "No slice differs significantly.");
    } else {
        let _ = writeln!(
            s,
            "| slice | rows | rate | in the slice | in the rest | difference [interval] | p | learned bias |\n| --- | --- | --- | --- | --- | --- | --- | --- |"
        );
        for x in &sl.top {
            let slice = x
                .conditions
                .iter()
                .map(|c| {
                    format!(
                        "{} = {}",
                        escape::markdown_cell(&c.column),
                        escape::markdown_cell(&c.value)
                    )
                })
                .collect::<Vec<_>>()
                .join(" and ");
            let measure = match x.measure {
                explain::SliceMeasure::ErrorRecorded => "error vs recorded",
                explain::SliceMeasure::ErrorTrue => "error vs true",
                explain::SliceMeasure::SelectionRate => "selection rate",
            };
            let _ = writeln!(
                s,
                "| {slice} | {} | {measure} | {:.4} | {:.4} | {:+.4} [{:.4}, {:.4}] | {} | {} |",
                x.rows,
                x.rate,
                x.rate_rest,
                x.difference,
                x.interval[0],
                x.interval[1],
                if x.p_value < fairness::P_FLOOR {
                    "< 1e-300".to_owned()
                } else {
                    format!("{:.2e}", x.p_value)
                },
                if x.learned_bias { "yes" } else { "no" }
            );
        }
    }
    s
}
