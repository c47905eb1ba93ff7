//! Runs of regression and multi-class models: a number per citizen (weekly hours of home care) or one
//! of several classes (visitation levels), judged per group against the outcome as recorded and against
//! the truth, with `fairness::tasks`' mergeable statistics.
//!
//! The same guarantees as a yes/no run: the model is inspected and its manifest checked against the
//! model and the scenario before any worker starts; only the model's input columns reach a worker; its
//! answers are checked twice (in the worker and in the parent); source batches are accumulated whole and
//! merged in the data's order, so one worker and two give the same report; the dataset's hash is over
//! exactly the rows scored; cancel and the deadline kill the workers at once.
//!
//! What a yes/no run adds and these do not carry yet — criteria, counterfactual twins, intervals,
//! explanations, causal paths, the robustness checks, the shift grid — is refused when asked for, and
//! named in the report's `not_computed` when it would have run by default.

use crate::prepare::Checked;
use crate::record::{self, RunRecord, RunReport, TaskReports};
use crate::source::{Source, batch_digest};
use crate::{Clock, EvaluateError, Progress, Request};
use arrow::array::{ArrayRef, AsArray, RecordBatch};
use fairness::{MissingGroups, MulticlassAccumulator, RegressionAccumulator, TaskConfig};
use inference::{Output, Pool, Task};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

/// The column the model's prediction is added under, beside the dataset's.
const PREDICTION: &str = "prediction";

/// The outcome columns a task is judged against: (as recorded, true).
pub(crate) fn outcome_columns(task: Task) -> [&'static str; 2] {
    match task {
        Task::Multiclass => ["level_recorded", "level_true"],
        Task::Binary | Task::Regression => ["outcome_recorded", "outcome_true"],
    }
}

/// The two accumulators of a source batch (against the recorded outcome, against the truth).
enum Acc {
    Regression([RegressionAccumulator; 2]),
    Multiclass([MulticlassAccumulator; 2]),
}

impl Acc {
    /// `levels`: the scenario's classes in their order, which the report follows.
    fn new(output: &Output, levels: &[String], groups: &[&str]) -> Result<Acc, EvaluateError> {
        Ok(match output {
            Output::Multiclass(_) => {
                let classes: Vec<&str> = levels.iter().map(String::as_str).collect();
                let one = || {
                    MulticlassAccumulator::new(&classes, groups, MissingGroups::Error)
                        .map_err(|e| EvaluateError::Metrics(e.to_string()))
                };
                Acc::Multiclass([one()?, one()?])
            }
            _ => Acc::Regression([
                RegressionAccumulator::new(groups, MissingGroups::Error),
                RegressionAccumulator::new(groups, MissingGroups::Error),
            ]),
        })
    }

    fn add(&mut self, batch: &RecordBatch, columns: [&str; 2], groups: &[String]) -> Result<(), EvaluateError> {
        let err = |e: fairness::InputError| EvaluateError::Metrics(e.to_string());
        match self {
            Acc::Regression(accs) => {
                for (acc, outcome) in accs.iter_mut().zip(columns) {
                    fairness::add_regression_batch(acc, batch, outcome, PREDICTION, groups, 0).map_err(err)?;
                }
            }
            Acc::Multiclass(accs) => {
                for (acc, outcome) in accs.iter_mut().zip(columns) {
                    fairness::add_multiclass_batch(acc, batch, outcome, PREDICTION, groups, 0).map_err(err)?;
                }
            }
        }
        Ok(())
    }

    fn merge(&mut self, other: &Acc) -> Result<(), EvaluateError> {
        let err = |e: fairness::InputError| EvaluateError::Metrics(e.to_string());
        match (self, other) {
            (Acc::Regression(a), Acc::Regression(b)) => {
                for (a, b) in a.iter_mut().zip(b) {
                    a.merge(b).map_err(err)?;
                }
            }
            (Acc::Multiclass(a), Acc::Multiclass(b)) => {
                for (a, b) in a.iter_mut().zip(b) {
                    a.merge(b).map_err(err)?;
                }
            }
            _ => return Err(EvaluateError::Metrics("batches of two tasks cannot merge".into())),
        }
        Ok(())
    }
}

/// The scenario's level each of the manifest's classes is: by name, or by position (the fit check
/// matched both before the run).
fn level_names(output: &Output, levels: &[String]) -> Result<Vec<String>, EvaluateError> {
    let Output::Multiclass(m) = output else {
        return Ok(Vec::new());
    };
    m.classes
        .iter()
        .map(|c| match c {
            inference::ClassValue::Text(t) => levels.iter().find(|l| *l == t).cloned(),
            inference::ClassValue::Int(i) => usize::try_from(*i).ok().and_then(|i| levels.get(i)).cloned(),
        })
        .collect::<Option<Vec<String>>>()
        .ok_or_else(|| EvaluateError::Manifest {
            file: "output.classes".into(),
            error: format!("the classes are not the scenario's levels ({})", levels.join(", ")),
        })
}

/// The scenario's levels (the categories of `level_true`), in their order.
fn scenario_levels(scenario: &str) -> Vec<String> {
    synth::scenario_columns(scenario)
        .unwrap_or_default()
        .iter()
        .find(|c| c.name == "level_true")
        .map(|c| c.values.iter().map(|v| (*v).to_owned()).collect())
        .unwrap_or_default()
}

/// A worker's class positions (into the manifest's classes) as the levels' names.
fn as_levels(prediction: &ArrayRef, names: &[String]) -> Result<ArrayRef, EvaluateError> {
    let positions = prediction
        .as_primitive_opt::<arrow::datatypes::UInt32Type>()
        .ok_or_else(|| EvaluateError::Metrics("a multi-class prediction is not a class position".into()))?;
    let names: Vec<&str> = positions
        .values()
        .iter()
        .map(|&i| names.get(i as usize).map(String::as_str))
        .collect::<Option<_>>()
        .ok_or_else(|| EvaluateError::Metrics("a class position past the manifest's classes".into()))?;
    Ok(Arc::new(arrow::array::StringArray::from(names)))
}

/// Refuses what a regression or multi-class run cannot do yet, before anything starts.
fn refuse_unsupported(req: &Request, task: Task) -> Result<(), EvaluateError> {
    let refuse = |what: &str, plural: bool| {
        Err(EvaluateError::Unsupported(format!(
            "{what} {} not available for {task} models yet; run without {}",
            if plural { "are" } else { "is" },
            if plural { "them" } else { "it" }
        )))
    };
    if !req.criteria.is_empty() {
        return refuse("acceptance criteria", true);
    }
    if req.shift.is_some() {
        return refuse("the shift grid", false);
    }
    if let crate::source::Dataset::Generate(spec) = &req.dataset
        && spec.counterfactual.is_some()
    {
        return refuse("counterfactual twins", true);
    }
    Ok(())
}

/// The analyses a yes/no run makes by default that this one does not, for the report.
fn not_computed(req: &Request) -> Vec<String> {
    let mut out = vec![
        "intervals (bootstrap) and significance tests".to_owned(),
        "the stability check's rows sampled across the whole run (the first request is checked)".to_owned(),
    ];
    if req.explain.is_some() {
        out.push("explanations (permutation importance) and weak slices".into());
    }
    if req.paths.is_some() {
        out.push("causal paths (path-specific twins)".into());
    }
    if req.robustness.is_some() {
        out.push("perturbation of the inputs by their measurement error".into());
    }
    out
}

/// Runs a regression or multi-class model: the counterpart of the yes/no stages `score` and `judge`.
pub(crate) fn run(
    req: &Request,
    mut checked: Checked,
    clock: &Clock,
    progress: Progress,
) -> Result<RunRecord, EvaluateError> {
    let task = checked.manifest.output.task();
    refuse_unsupported(req, task)?;
    let columns = outcome_columns(task);
    let model_bytes = std::mem::take(&mut checked.model_bytes);
    let manifest = checked.manifest.clone();
    let mut keep: Vec<String> = checked.manifest.columns().into_iter().map(str::to_owned).collect();
    keep.extend(columns.iter().map(|c| (*c).to_owned()));
    keep.push("age".into());
    keep.extend(req.groups.iter().cloned());
    let (source, feature_columns, pool, load_seconds) = std::thread::scope(|s| {
        let opening = s.spawn(move || source_with(req, keep));
        let t_load = Instant::now();
        let pool = Pool::new(&req.worker, req.workers, model_bytes, manifest);
        let load_seconds = t_load.elapsed().as_secs_f64();
        let source = opening
            .join()
            .unwrap_or_else(|_| Err(EvaluateError::Dataset("reading the dataset panicked".into())))?;
        let features = crate::prepare::check_columns(req, &checked.manifest, &source)?;
        if source.spec.counterfactual.is_some() {
            return Err(EvaluateError::Unsupported(format!(
                "counterfactual twins are not available for {task} models yet; use a dataset without them"
            )));
        }
        for c in columns {
            if source.batch_schema.field_with_name(c).is_err() {
                return Err(source.error(format!(
                    "no {c:?} column: scenario {} has no outcome a {task} model can be judged against",
                    source.spec.scenario
                )));
            }
        }
        Ok::<_, EvaluateError>((source, features, pool?, load_seconds))
    })?;
    clock.check()?;
    let groups = req.groups.clone();
    let names: Vec<&str> = groups.iter().map(String::as_str).collect();
    let output = &checked.manifest.output;
    let levels = scenario_levels(&checked.manifest.scenario);
    let names_of_classes = level_names(output, &levels)?;
    let total_rows = source.expected_rows;
    let scored_rows = AtomicU64::new(0);
    let latencies = Mutex::new(Vec::<f64>::new());
    let (hash_tx, hash_rx) = mpsc::sync_channel::<(u64, [u8; 32])>(64);
    let t_score = Instant::now();
    let done = AtomicBool::new(false);
    let batch_rows = req.batch_rows.max(1);
    // The run's first request and its answer, for the stability check.
    let first: std::sync::OnceLock<(RecordBatch, ArrayRef)> = std::sync::OnceLock::new();
    let (results, dataset_sha, stopped) = std::thread::scope(|s| {
        let (watched, done_ref) = (&pool, &done);
        let watcher = s.spawn(move || crate::score::watch(watched, clock, done_ref));
        let hasher = s.spawn(move || crate::score::hash_in_order(hash_rx));
        let handles: Vec<_> = (0..pool.size())
            .map(|slot| {
                let (source, pool, names, groups) = (&source, &pool, &names, &groups);
                let (levels, names_of_classes, first) = (&levels, &names_of_classes, &first);
                let (scored_rows, latencies, hash_tx, features) =
                    (&scored_rows, &latencies, hash_tx.clone(), &feature_columns);
                s.spawn(move || -> Result<Vec<(u64, Acc)>, EvaluateError> {
                    let mut out = Vec::new();
                    let mut lat = Vec::new();
                    while let Some(next) = source.next() {
                        let (index, batch) = next?;
                        if source.file_sha256().is_none() {
                            let _ = hash_tx.send((index, batch_digest(&batch)));
                        }
                        let inputs = batch
                            .project(features)
                            .map_err(|e| EvaluateError::Dataset(e.to_string()))?;
                        let mut parts: Vec<ArrayRef> = Vec::new();
                        let mut offset = 0;
                        while offset < batch.num_rows() {
                            if clock.cancel.load(Ordering::Relaxed) {
                                return Err(EvaluateError::Cancelled);
                            }
                            let len = batch_rows.min(batch.num_rows() - offset);
                            let t = Instant::now();
                            let unit = inputs.slice(offset, len);
                            let reply = pool.score_on(slot, &unit)?;
                            lat.push(t.elapsed().as_secs_f64());
                            if index == 0 && offset == 0 {
                                let _ = first.set((unit, reply.column(0).clone()));
                            }
                            parts.push(reply.column(0).clone());
                            offset += len;
                            let n = len as u64;
                            progress(scored_rows.fetch_add(n, Ordering::Relaxed) + n, total_rows);
                        }
                        let parts: Vec<&dyn arrow::array::Array> = parts.iter().map(|a| a.as_ref()).collect();
                        let mut prediction =
                            arrow::compute::concat(&parts).map_err(|e| EvaluateError::Metrics(e.to_string()))?;
                        if task == Task::Multiclass {
                            prediction = as_levels(&prediction, names_of_classes)?;
                        }
                        let with = crate::with_answers(&batch, vec![(PREDICTION, prediction)])?;
                        let mut acc = Acc::new(output, levels, names)?;
                        acc.add(&with, columns, groups)?;
                        out.push((index, acc));
                    }
                    if let Ok(mut l) = latencies.lock() {
                        l.extend(lat);
                    }
                    Ok(out)
                })
            })
            .collect();
        drop(hash_tx);
        let results: Vec<Result<Vec<(u64, Acc)>, EvaluateError>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(EvaluateError::Metrics("a scoring thread panicked".into())))
            })
            .collect();
        done.store(true, Ordering::SeqCst);
        (
            results,
            hasher.join().unwrap_or_default(),
            watcher.join().unwrap_or(None),
        )
    });
    if let Some(e) = stopped {
        return Err(e);
    }
    let score_seconds = t_score.elapsed().as_secs_f64();
    let mut batches = Vec::new();
    for r in results {
        batches.extend(r?);
    }
    batches.sort_by_key(|(index, _)| *index);
    let scored = scored_rows.load(Ordering::Relaxed);
    if scored != total_rows {
        return Err(source.error(format!("{scored} rows, but its spec promises {total_rows}")));
    }
    // The positions checked depend on the model's own hash, so it cannot know them.
    let seed = checked
        .inspection
        .sha256
        .bytes()
        .fold(source.spec.seed ^ 0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    let stability = match first.into_inner() {
        Some((inputs, scored)) => Some(crate::task_stability::check(
            &inputs,
            &scored,
            task == Task::Multiclass,
            seed,
            &pool,
            clock,
        )?),
        None => None,
    };
    let t_metrics = Instant::now();
    let mut acc = Acc::new(output, &levels, &names)?;
    for (_, a) in &batches {
        acc.merge(a)?;
    }
    let config = TaskConfig {
        min_group_size: req.fairness.min_group_size.max(0.0).ceil() as u64,
        reference: req.fairness.reference.clone(),
        skip_empty_groups: true,
    };
    struct Common<'a> {
        columns: [&'a str; 2],
        min_group_size: u64,
        stability: Option<crate::TaskStability>,
        not_computed: Vec<String>,
    }
    fn reports<R>(c: Common<'_>, [recorded, truth]: [R; 2]) -> TaskReports<R> {
        TaskReports {
            recorded_column: c.columns[0].to_owned(),
            recorded,
            true_column: c.columns[1].to_owned(),
            truth,
            min_group_size: c.min_group_size,
            stability: c.stability,
            not_computed: c.not_computed,
        }
    }
    let common = Common {
        columns,
        min_group_size: config.min_group_size,
        stability,
        not_computed: not_computed(req),
    };
    let report = match &acc {
        Acc::Regression(a) => RunReport::Regression(reports(common, a.each_ref().map(|a| a.report(&config)))),
        Acc::Multiclass(a) => RunReport::Multiclass(reports(common, a.each_ref().map(|a| a.report(&config)))),
    };
    let metrics_seconds = t_metrics.elapsed().as_secs_f64();
    clock.check()?;
    let dataset_sha256 = source.file_sha256().map_or(dataset_sha, str::to_owned);
    let latencies = latencies.into_inner().unwrap_or_default();
    let provenance = crate::judge::provenance(
        req,
        clock,
        (&checked.inspection.sha256, &checked.manifest_sha256, &checked.manifest),
        &source,
        &pool,
        dataset_sha256,
    );
    let throughput = crate::judge::throughput(
        req,
        &pool,
        scored,
        latencies,
        [load_seconds, score_seconds, metrics_seconds],
        clock,
    );
    Ok(RunRecord {
        schema_version: record::SCHEMA_VERSION,
        provenance,
        inspection: checked.inspection,
        throughput,
        worker_events: pool.events(),
        report,
        verdicts: Vec::new(),
        explanations: None,
        slices: None,
        paths: None,
        robustness: None,
    })
}

fn source_with(req: &Request, keep: Vec<String>) -> Result<Source, EvaluateError> {
    let mut keep: Vec<&str> = keep.iter().map(String::as_str).collect();
    keep.sort_unstable();
    keep.dedup();
    Source::open(&req.dataset, &req.csv, &keep)
}
