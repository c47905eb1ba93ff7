//! One evaluation run: dataset -> feature columns -> isolated scoring -> metrics -> record.
//!
//! The CLI (`sandkasse evaluate`) and the server's run executor call [`run`]. It composes the
//! three independent crates: `synth` makes the citizens, `inference` inspects the model and
//! scores in worker processes, `fairness` accumulates per-thread statistics that merge exactly
//! into one report. A run is three stages in sibling files: `prepare` (read, inspect, check),
//! `score` (the workers and the accumulators), `judge` (report, verdicts, record).

#![deny(missing_docs)]

mod age;
mod compare;
mod compressed;
mod csv;
mod draft;
mod explanations;
mod fit;
pub mod input;
mod judge;
mod paths;
mod perturbation;
mod prepare;
mod record;
mod recourse;
mod replay;
mod score;
mod shift;
mod source;
mod stability;
mod task_markdown;
mod task_stability;
mod tasks;

pub use compare::{
    COMPARE_RESAMPLES, Change, CompareError, Compared, ComparedOutcome, ComparedRate, ComparedRunInfo, CriterionRow,
    DisparityChange, DisparityKind, MAX_COMPARED_RUNS, PairComparison, RateChange, RunComparison, compare_runs,
    decode_scores, encode_scores,
};
pub use csv::{CsvOptions, parse_delimiter};
pub use draft::{DraftRequest, MAX_FEATURE_NAMES, draft_manifest, manifest_toml, parse_feature_names};
pub use explanations::{DEFAULT_EXPLAIN_ROWS, ExplainOptions, ExplainedRows, Explanations};
pub use fit::{ManifestProblem, check_manifest_fits_scenario};
pub use paths::{DEFAULT_PATH_ROWS, MAX_PATH_ROWS, MAX_PATHS, PathOptions, Paths, check_paths};
pub use perturbation::{
    DEFAULT_ROBUSTNESS_ROWS, MAX_ROBUSTNESS_ROWS, Perturbation, RobustnessOptions, check_robustness,
};
pub use record::{Provenance, RecordError, RunRecord, RunReport, SCHEMA_VERSION, TaskReports, Throughput};
pub use recourse::{RECOURSE_CITIZENS, Recourse, check_recourse};
pub use replay::{Changed, Comparison, Difference, MAX_QUOTED_CHARS, compare, findings_bytes};
pub use shift::{
    ALL_REGIONS, DEFAULT_SHIFT_ROWS, GroupChange, LABEL_RATES, MAX_SHIFT_ROWS, PROXY_STRENGTHS, PointChange,
    PointMeasure, REPRESENTATION_FACTORS, SHIFT_BOOTSTRAP, Shift, ShiftOptions, ShiftPoint, all_axes, check_shift,
};
pub use source::{Dataset, MAX_DATASET_FILE_BYTES};
pub use stability::{
    CheckResult, MAX_EXAMPLES, MAX_SAMPLED, Robustness, SAMPLED_PER_REQUEST, SINGLE_ROWS, Stability, StabilityCheck,
    TOLERANCE, UnstableRow,
};
pub use task_stability::{TaskCheck, TaskStability};

use arrow::array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, UInt8Array};
use fairness::Config;
use inference::{Limits, Pool, WorkerConfig, WorkerError};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What to evaluate and how.
#[derive(Debug, Clone)]
pub struct Request {
    /// The ONNX file to inspect and score.
    pub model: PathBuf,
    /// The manifest that maps the dataset's columns to the model's inputs and names its output.
    pub manifest: PathBuf,
    /// What the record and error messages call the model file: its path for the CLI (the user
    /// chose it), its content hash for the service (whose blob paths are its own business and
    /// must not reach a report or a run's failure cause).
    pub model_name: String,
    /// The same for the manifest.
    pub manifest_name: String,
    /// The rows: generated from a spec, or read from a file `sandkasse generate` wrote.
    pub dataset: Dataset,
    /// How a CSV dataset file is read (delimiter, decimal mark); unused for other datasets.
    pub csv: CsvOptions,
    /// Group attributes of the report; an `age_band` column is derived from `age`.
    pub groups: Vec<String>,
    /// Acceptance criteria fixed before the run and judged against its report; empty: none.
    pub criteria: Vec<fairness::Criterion>,
    /// How the report is built: thresholds, bootstrap, significance tests.
    pub fairness: Config,
    /// Seed of the bootstrap, replacing `fairness.seed`; by default the dataset's seed, so a
    /// run on a generated split and on the same split read from a file report alike.
    pub bootstrap_seed: Option<u64>,
    /// Bounds on the model file that inspection enforces before any worker loads it.
    pub limits: Limits,
    /// How each worker process is started and isolated.
    pub worker: WorkerConfig,
    /// Worker processes.
    pub workers: usize,
    /// Rows per request to a worker.
    pub batch_rows: usize,
    /// Longest the whole run may take; past it the workers are killed and the run fails with
    /// [`EvaluateError::Deadline`]. `None`: no limit but the batch deadline.
    pub deadline: Option<Duration>,
    /// The explanation stage (permutation importance on the first rows); `None` skips it.
    pub explain: Option<ExplainOptions>,
    /// The path stage (path-specific twins of the first rows); `None` skips it.
    pub paths: Option<PathOptions>,
    /// The perturbation stage (measurement error in the inputs, on the first rows); `None` skips
    /// it. Stability is checked in every run regardless.
    pub robustness: Option<RobustnessOptions>,
    /// The shift grid (the model on populations with one setting changed); `None` skips it, as
    /// it is unless asked for (`--shift`).
    pub shift: Option<ShiftOptions>,
    /// Keep every row's probability ([`run_keeping_scores`]), for comparing runs row by row:
    /// 4 bytes a row held until the run ends.
    pub keep_scores: bool,
}

/// The group attributes a run reports on unless told otherwise.
pub const DEFAULT_GROUPS: [&str; 3] = ["sex", "origin", "age_band"];

/// Rows per request to a worker unless told otherwise: large enough that the per-request cost
/// vanishes, small enough that a batch's deadline is meaningful.
pub const DEFAULT_BATCH_ROWS: usize = 8192;

impl Request {
    /// A run of the model at `model` (described by `manifest`) on `dataset`, with every other
    /// setting at its default: the default groups, no criteria, the default report settings,
    /// one worker, batches of [`DEFAULT_BATCH_ROWS`], no deadline but the batch deadline. The
    /// CLI and the service both start here, so a default lives in one place.
    pub fn new(model: PathBuf, manifest: PathBuf, dataset: Dataset, worker: WorkerConfig) -> Self {
        Self {
            model_name: model.display().to_string(),
            manifest_name: manifest.display().to_string(),
            model,
            manifest,
            dataset,
            csv: CsvOptions::default(),
            groups: DEFAULT_GROUPS.iter().map(|g| (*g).to_owned()).collect(),
            criteria: Vec::new(),
            fairness: Config::default(),
            bootstrap_seed: None,
            limits: Limits::default(),
            worker,
            workers: 1,
            batch_rows: DEFAULT_BATCH_ROWS,
            deadline: None,
            explain: Some(ExplainOptions::default()),
            paths: Some(PathOptions::default()),
            robustness: Some(RobustnessOptions::default()),
            shift: None,
            keep_scores: false,
        }
    }
}

/// Why a run failed. The server stores the message as the run's failure cause, so each names
/// what was wrong in terms the requester can act on, never a server path.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    /// A model, manifest or dataset file could not be read.
    #[error("reading {file}: {error}")]
    Read {
        /// The file as the request names it ([`Request::model_name`] and the like).
        file: String,
        /// What the file system said.
        error: String,
    },
    /// The model file is larger than inspection accepts, refused before it is read whole.
    #[error("the model {file} is {bytes} bytes, over the limit of {limit}")]
    TooLarge {
        /// The model as the request names it.
        file: String,
        /// Its size.
        bytes: u64,
        /// The largest size accepted.
        limit: u64,
    },
    /// The manifest is not valid or does not fit the model.
    #[error("the manifest {file}: {error}")]
    Manifest {
        /// The manifest as the request names it.
        file: String,
        /// What was wrong with it.
        error: String,
    },
    /// Inspection found something that forbids running the model; one line per finding.
    #[error("the model was rejected at inspection:\n{}", .0.join("\n"))]
    Rejected(Vec<String>),
    /// The manifest was written for another scenario than the dataset's, so its columns would
    /// mean something else.
    #[error("the manifest is for scenario {manifest:?}, the dataset is {dataset:?}")]
    Scenario {
        /// The manifest's scenario.
        manifest: String,
        /// The dataset's scenario.
        dataset: String,
    },
    /// The dataset could not be generated or read, or lacks a column the run needs.
    #[error("the dataset: {0}")]
    Dataset(String),
    /// A worker failed in a way the pool could not recover from.
    #[error("scoring")]
    Worker(#[from] WorkerError),
    /// The report could not be built from the scores.
    #[error("metrics: {0}")]
    Metrics(String),
    /// The explanations could not be computed.
    #[error("explaining the model: {0}")]
    Explain(String),
    /// The path-specific twins could not be made or measured, or a path is not in the scenario's graph.
    #[error("causal paths: {0}")]
    Paths(String),
    /// The perturbation could not be set up or measured.
    #[error("robustness: {0}")]
    Robustness(String),
    /// The shift grid could not be set up or measured, or a criterion names a point it lacks.
    #[error("shift: {0}")]
    Shift(String),
    /// The rows could not be scored again for the stability check.
    #[error("stability check: {0}")]
    Stability(String),
    /// What the run was set up from could not be read: its stored parameters, or its model,
    /// which is gone.
    #[error("setting up the run: {0}")]
    Setup(String),
    /// The metadata store or the blob store failed.
    #[error("the store: {0}")]
    Store(String),
    /// The run asks for something its model's task does not support yet (criteria on a
    /// regression model); refused before anything runs rather than left out silently.
    #[error("{0}")]
    Unsupported(String),
    /// The caller asked the run to stop (the CLI's Ctrl-C, the server's cancel).
    #[error("cancelled")]
    Cancelled,
    /// The run took longer than [`Request::deadline`].
    #[error("the run went over its deadline of {} and was stopped", seconds(.limit))]
    Deadline {
        /// The deadline it went over.
        limit: Duration,
    },
}

fn seconds(d: &Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 120.0 && d.as_secs().is_multiple_of(60) {
        format!("{} minutes", d.as_secs() / 60)
    } else {
        format!("{s} s")
    }
}

/// The run's clock and stop signals: the cancel flag and the overall deadline.
pub(crate) struct Clock<'a> {
    pub(crate) started: std::time::SystemTime,
    pub(crate) t0: Instant,
    pub(crate) deadline: Option<Duration>,
    pub(crate) cancel: &'a AtomicBool,
}

impl Clock<'_> {
    /// Err if the run was cancelled or is over its deadline.
    pub(crate) fn check(&self) -> Result<(), EvaluateError> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(EvaluateError::Cancelled);
        }
        match self.deadline {
            Some(limit) if self.t0.elapsed() >= limit => Err(EvaluateError::Deadline { limit }),
            _ => Ok(()),
        }
    }
}

/// Reports progress in rows scored.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// Runs one evaluation, stage by stage: [`prepare`] (read, inspect and check everything before a
/// worker starts), start the workers, [`score`] (generate or read the rows, score them in the
/// workers, accumulate), [`judge`] (the report, the verdicts and the record). A later analysis
/// is a stage of its own between scoring and judging, fed by the same pool and source, as
/// [`explanations`] and [`paths`] are.
pub fn run(req: &Request, progress: Progress, cancel: &AtomicBool) -> Result<RunRecord, EvaluateError> {
    run_keeping_scores(req, progress, cancel).map(|(record, _)| record)
}

/// [`run`], also handing back every row's probability in the dataset's order when the request
/// keeps them ([`Request::keep_scores`]; `None` otherwise). The service stores them beside the
/// record so that runs on the same dataset can be compared as paired samples.
pub fn run_keeping_scores(
    req: &Request,
    progress: Progress,
    cancel: &AtomicBool,
) -> Result<(RunRecord, Option<Vec<f32>>), EvaluateError> {
    let clock = Clock {
        started: std::time::SystemTime::now(),
        t0: Instant::now(),
        deadline: req.deadline,
        cancel,
    };
    let mut checked = prepare::check_model(req)?;
    let Some(binary) = checked.manifest.output.binary() else {
        // A number or one of several classes: its own stages (`tasks`); no scores are kept, as
        // comparing runs row by row is for yes/no models.
        return tasks::run(req, checked, &clock, progress).map(|record| (record, None));
    };
    let threshold = binary.threshold;
    explanations::check_options(req, &checked.manifest)?;
    perturbation::check_options(req)?;
    recourse::check_recourse(&req.criteria, &checked.manifest.scenario, &checked.manifest.columns())?;
    let known_spec = match &req.dataset {
        source::Dataset::Generate(spec) => Some(&**spec),
        source::Dataset::File(_) => None,
    };
    paths::check_criteria(req.paths.as_ref(), &req.criteria, known_spec)?;
    shift::check_shift(req.shift.as_ref(), known_spec, &req.criteria)?;
    if let (Some(options), source::Dataset::Generate(spec)) = (&req.paths, &req.dataset) {
        paths::resolve(options, spec)?;
    }
    clock.check()?;
    let model_bytes = std::mem::take(&mut checked.model_bytes);
    let manifest = checked.manifest.clone();
    // The dataset is read and hashed on another thread while the workers start. Its refusals
    // come first, as when it was read before the workers started.
    let (prepared, pool, load_seconds) = std::thread::scope(|s| {
        let keep = read_columns(req, &manifest);
        let opening = s.spawn(move || {
            let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
            source::Source::open(&req.dataset, &req.csv, &keep)
        });
        let t_load = Instant::now();
        let pool = Pool::new(&req.worker, req.workers, model_bytes, manifest);
        let load_seconds = t_load.elapsed().as_secs_f64();
        let source = opening
            .join()
            .unwrap_or_else(|_| Err(EvaluateError::Dataset("reading the dataset panicked".into())))?;
        let prepared = prepare::check_dataset(req, checked, source, threshold)?;
        if let Some(options) = &req.paths {
            // A file's spec is known only now; still before any scoring.
            paths::resolve(options, &prepared.source.spec)?;
            paths::check_criteria(Some(options), &req.criteria, Some(&prepared.source.spec))?;
        }
        shift::check_shift(req.shift.as_ref(), Some(&prepared.source.spec), &req.criteria)?;
        Ok::<_, EvaluateError>((prepared, pool?, load_seconds))
    })?;
    clock.check()?;
    let seed = req.bootstrap_seed.unwrap_or(prepared.source.spec.seed);
    // The positions the stability check looks at depend on the model's own hash, so it cannot
    // know them.
    let mixed = prepared
        .inspection
        .sha256
        .bytes()
        .fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    let mut scored = score::score(req, &prepared, &pool, progress, &clock, mixed)?;
    clock.check()?;
    let robustness = match &scored.first {
        Some((first, probs)) => {
            let feature_names = prepared.feature_names(&first.schema());
            let threshold = prepared.threshold;
            stability::check(
                first,
                probs,
                scored.sampled.as_ref(),
                &feature_names,
                req.batch_rows,
                threshold,
                mixed,
                &pool,
                &clock,
            )?
            .map(|stability| Robustness {
                stability,
                perturbation: None,
                recourse: None,
                shift: None,
            })
        }
        None => None,
    };
    clock.check()?;
    let perturbed = perturbation::measure(req, &prepared, scored.first.as_ref(), &pool, &clock, seed)?;
    clock.check()?;
    let recourse = recourse::search(req, &prepared, scored.first.as_ref(), &pool, &clock, mixed)?;
    clock.check()?;
    // Only beside a stability verdict: a run without rows has no robustness section to carry it.
    let shifted = match robustness {
        Some(_) => shift::measure(req, &prepared, &pool, &clock, seed)?,
        None => None,
    };
    let robustness = robustness.map(|r| Robustness {
        perturbation: perturbed,
        recourse,
        shift: shifted,
        ..r
    });
    clock.check()?;
    let (explanations, slices) = explanations::explain(req, &prepared, scored.first.take(), &pool, &clock, seed)?;
    clock.check()?;
    let paths = paths::measure(req, &prepared, &pool, &clock, seed)?;
    let analyses = judge::Analyses {
        explanations,
        slices,
        paths,
        robustness,
    };
    let scores = scored.scores.take();
    let record = judge::judge(req, prepared, scored, analyses, &pool, &clock, load_seconds)?;
    Ok((record, scores))
}

/// The dataset columns a run reads: the model's inputs, the outcomes, the groups (age bands
/// come from `age`) and what pairs counterfactual twins.
fn read_columns(req: &Request, manifest: &inference::Manifest) -> Vec<String> {
    let mut keep: Vec<&str> = manifest.columns();
    keep.extend(["outcome_recorded", "outcome_true", "age", "person_id", "is_twin"]);
    keep.extend(req.groups.iter().map(String::as_str));
    keep.extend(perturbation::columns_read(req, manifest));
    // Weak slices search every scenario column, so a file read for explanations keeps them all
    // but the ones nobody slices by (names, CPR numbers, birth dates: the costly strings), and
    // reports what the generated rows report. Which scenario the file holds is known only once
    // it is open; columns it lacks are simply not there.
    if req.explain.is_some() {
        for scenario in synth::scenario_names() {
            for column in synth::scenario_columns(scenario).unwrap_or_default() {
                if !explanations::NOT_SLICED.contains(&column.name) {
                    keep.push(column.name);
                }
            }
        }
    }
    keep.sort_unstable();
    keep.dedup();
    keep.into_iter().map(str::to_owned).collect()
}

fn read_bounded(path: &PathBuf, limit: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut s = String::new();
    std::fs::File::open(path)?.take(limit + 1).read_to_string(&mut s)?;
    if s.len() as u64 > limit {
        return Err(std::io::Error::other(format!("larger than {limit} bytes")));
    }
    Ok(s)
}

/// The batch with `probability`, `decision` (probability >= threshold) and `age_band` added.
fn with_predictions(batch: &RecordBatch, probs: &[f32], threshold: f64) -> Result<RecordBatch, EvaluateError> {
    let p: Float64Array = probs.iter().map(|&x| Some(f64::from(x))).collect();
    let d: BooleanArray = probs.iter().map(|&x| Some(f64::from(x) >= threshold)).collect();
    with_answers(batch, vec![("probability", Arc::new(p)), ("decision", Arc::new(d))])
}

/// The batch with the model's answers (`columns`, one value a row) and `age_band` (from `age`)
/// added: what the accumulators read, for every kind of run. A dataset column of the same name is
/// refused ([`refuse_own_columns`]).
pub(crate) fn with_answers(
    batch: &RecordBatch,
    mut columns: Vec<(&str, ArrayRef)>,
) -> Result<RecordBatch, EvaluateError> {
    if let Some((_, a)) = columns.iter().find(|(_, a)| a.len() != batch.num_rows()) {
        return Err(EvaluateError::Metrics(format!(
            "{} predictions for {} rows",
            a.len(),
            batch.num_rows()
        )));
    }
    let mut own: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    own.push("age_band");
    refuse_own_columns(batch, &own)?;
    if let Some(age) = batch
        .column_by_name("age")
        .and_then(|a| a.as_any().downcast_ref::<UInt8Array>())
    {
        columns.push(("age_band", Arc::new(age::bands(age))));
    }
    let mut fields: Vec<arrow::datatypes::FieldRef> = batch.schema().fields().iter().cloned().collect();
    let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
    for (name, a) in columns {
        fields.push(Arc::new(arrow::datatypes::Field::new(
            name,
            a.data_type().clone(),
            false,
        )));
        arrays.push(a);
    }
    RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), arrays)
        .map_err(|e| EvaluateError::Metrics(e.to_string()))
}

/// A dataset file may carry columns beyond the scenario's; one named as a column the run adds itself
/// (the model's prediction, its decision, the age band) would be read in its place — a file whose
/// `decision` column copies the outcome made any model look perfect. Refused, naming the column.
fn refuse_own_columns(batch: &RecordBatch, own: &[&str]) -> Result<(), EvaluateError> {
    match own.iter().find(|c| batch.column_by_name(c).is_some()) {
        Some(c) => Err(EvaluateError::Dataset(format!(
            "the dataset has a column {c:?}, which the run adds itself from the model's answers; rename or drop it"
        ))),
        None => Ok(()),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// RFC 3339 in UTC, without a date library.
fn humantime(t: std::time::SystemTime) -> String {
    let t = jiff::Timestamp::try_from(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_rfc3339() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        assert_eq!(super::humantime(t), "2026-11-18T11:06:40Z");
        assert_eq!(super::humantime(std::time::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
