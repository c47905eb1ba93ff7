//! One evaluation run: dataset -> feature columns -> isolated scoring -> metrics -> record.
//!
//! The CLI (`sandkasse evaluate`) and, later, the server's job runner call [`run`]. It composes
//! the three independent crates: `synth` makes the citizens, `inference` inspects the model
//! and scores in worker processes, `fairness` accumulates per-thread statistics that merge
//! exactly into one report.

mod age;
mod record;
mod source;

pub use record::{Provenance, RecordError, RunRecord, SCHEMA_VERSION, Throughput};
pub use source::{Dataset, MAX_DATASET_FILE_BYTES};

use arrow::array::{ArrayRef, AsArray, BooleanArray, Float64Array, RecordBatch, UInt8Array};
use arrow::datatypes::Float32Type;
use fairness::arrow_input::{Columns, add_record_batch};
use fairness::{Accumulator, Config, MissingGroups, Report};
use inference::client::{Pool, WorkerConfig, WorkerError};
use inference::inspect::{Limits, inspect};
use inference::manifest::Manifest;
use sha2::{Digest, Sha256};
use source::{Source, batch_digest};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

/// What to evaluate and how.
#[derive(Debug, Clone)]
pub struct Request {
    pub model: PathBuf,
    pub manifest: PathBuf,
    /// What the record and error messages call the model file: its path for the CLI (the user
    /// chose it), its content hash for the service (whose blob paths are its own business and
    /// must not reach a report or a run's failure cause).
    pub model_name: String,
    /// The same for the manifest.
    pub manifest_name: String,
    /// The rows: generated from a spec, or read from a file `sandkasse generate` wrote.
    pub dataset: Dataset,
    /// Group attributes of the report; an `age_band` column is derived from `age`.
    pub groups: Vec<String>,
    pub criteria: Vec<fairness::criteria::Criterion>,
    pub fairness: Config,
    /// Seed of the bootstrap, replacing `fairness.seed`; by default the dataset's seed, so a
    /// run on a generated split and on the same split read from a file report alike.
    pub bootstrap_seed: Option<u64>,
    pub limits: Limits,
    pub worker: WorkerConfig,
    /// Worker processes.
    pub workers: usize,
    /// Rows per request to a worker.
    pub batch_rows: usize,
    /// Longest the whole run may take; past it the workers are killed and the run fails with
    /// [`EvaluateError::Deadline`]. `None`: no limit but the batch deadline.
    pub deadline: Option<Duration>,
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
            groups: DEFAULT_GROUPS.iter().map(|g| (*g).to_owned()).collect(),
            criteria: Vec::new(),
            fairness: Config::default(),
            bootstrap_seed: None,
            limits: Limits::default(),
            worker,
            workers: 1,
            batch_rows: DEFAULT_BATCH_ROWS,
            deadline: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error("reading {file}: {error}")]
    Read { file: String, error: String },
    #[error("the model {file} is {bytes} bytes, over the limit of {limit}")]
    TooLarge { file: String, bytes: u64, limit: u64 },
    #[error("the manifest {file}: {error}")]
    Manifest { file: String, error: String },
    #[error("the model was rejected at inspection:\n{}", .0.join("\n"))]
    Rejected(Vec<String>),
    #[error("the manifest is for scenario {manifest:?}, the dataset is {dataset:?}")]
    Scenario { manifest: String, dataset: String },
    #[error("the dataset: {0}")]
    Dataset(String),
    #[error("scoring")]
    Worker(#[from] WorkerError),
    #[error("metrics: {0}")]
    Metrics(String),
    /// What the run was set up from could not be read: its stored parameters, or its model,
    /// which is gone.
    #[error("setting up the run: {0}")]
    Setup(String),
    /// The metadata store or the blob store failed.
    #[error("the store: {0}")]
    Store(String),
    #[error("cancelled")]
    Cancelled,
    #[error("the run went over its deadline of {} and was stopped", seconds(.limit))]
    Deadline { limit: Duration },
}

fn seconds(d: &Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 120.0 && d.as_secs().is_multiple_of(60) {
        format!("{} minutes", d.as_secs() / 60)
    } else {
        format!("{s} s")
    }
}

/// Why the watcher stopped a run's workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Cancelled,
    Deadline,
}

/// How often the watcher looks at the cancel flag and the clock.
const WATCH_EVERY: Duration = Duration::from_millis(50);

/// Reports progress in rows scored.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// Runs one evaluation.
pub fn run(req: &Request, progress: Progress, cancel: &AtomicBool) -> Result<RunRecord, EvaluateError> {
    let started = std::time::SystemTime::now();
    let t0 = Instant::now();
    let read_err = |file: &str, e: std::io::Error| EvaluateError::Read {
        file: file.to_owned(),
        error: e.to_string(),
    };
    let size = std::fs::metadata(&req.model)
        .map_err(|e| read_err(&req.model_name, e))?
        .len();
    if size > req.limits.max_file_bytes {
        return Err(EvaluateError::TooLarge {
            file: req.model_name.clone(),
            bytes: size,
            limit: req.limits.max_file_bytes,
        });
    }
    let model_bytes = std::fs::read(&req.model).map_err(|e| read_err(&req.model_name, e))?;
    let manifest_text = read_bounded(&req.manifest, inference::manifest::MAX_MANIFEST_BYTES as u64)
        .map_err(|e| read_err(&req.manifest_name, e))?;
    let manifest = Manifest::parse(&manifest_text).map_err(|e| EvaluateError::Manifest {
        file: req.manifest_name.clone(),
        error: e.to_string(),
    })?;
    let inspection = inspect(&model_bytes, &req.limits);
    let mut findings = inspection.findings.clone();
    if findings.is_empty() {
        findings = manifest.check_against(&inspection.summary);
    }
    if !findings.is_empty() {
        return Err(EvaluateError::Rejected(
            findings.iter().map(ToString::to_string).collect(),
        ));
    }
    let source = Source::open(&req.dataset)?;
    if manifest.scenario != source.spec.scenario {
        return Err(EvaluateError::Scenario {
            manifest: manifest.scenario.clone(),
            dataset: source.spec.scenario.clone(),
        });
    }
    let schema = source.schema.clone();
    for c in manifest.columns() {
        if schema.field_with_name(c).is_err() {
            return Err(EvaluateError::Manifest {
                file: req.manifest_name.clone(),
                error: format!("column {c:?} is not in scenario {}", manifest.scenario),
            });
        }
    }
    let threshold = manifest.output.threshold;
    let manifest_sha = hex(&Sha256::digest(manifest_text.as_bytes()));
    let feature_columns: Vec<usize> = manifest
        .columns()
        .iter()
        .filter_map(|c| schema.index_of(c).ok())
        .collect();
    let stop_now = || -> Result<(), EvaluateError> {
        if cancel.load(Ordering::Relaxed) {
            return Err(EvaluateError::Cancelled);
        }
        match req.deadline {
            Some(limit) if t0.elapsed() >= limit => Err(EvaluateError::Deadline { limit }),
            _ => Ok(()),
        }
    };
    stop_now()?;
    let t_load = Instant::now();
    let pool = Pool::new(&req.worker, req.workers, model_bytes, manifest.clone())?;
    let load_seconds = t_load.elapsed().as_secs_f64();
    let ready = pool.ready();

    let names: Vec<&str> = req.groups.iter().map(String::as_str).collect();
    let counterfactual = source.spec.counterfactual.is_some();
    let columns = Columns {
        label: "outcome_recorded".into(),
        label_true: Some("outcome_true".into()),
        prediction: Some("decision".into()),
        score: Some("probability".into()),
        weight: None,
        groups: req.groups.clone(),
        threshold,
        twin_id: counterfactual.then(|| "person_id".into()),
        is_twin: "is_twin".into(),
    };
    let scored_rows = AtomicU64::new(0);
    let total_rows = source.expected_rows;
    let latencies = Mutex::new(Vec::<f64>::new());
    let (hash_tx, hash_rx) = mpsc::sync_channel::<(u64, [u8; 32])>(64);
    let t_score = Instant::now();
    let scoring_done = AtomicBool::new(false);
    let stopped: Mutex<Option<Stop>> = Mutex::new(None);
    let (accs, dataset_sha) = std::thread::scope(|s| {
        // Cancel and deadline: kill the workers at once, even mid-batch, instead of waiting for
        // the batch (up to its own deadline) to end.
        let (watched, scoring_done, stopped) = (&pool, &scoring_done, &stopped);
        s.spawn(move || {
            while !scoring_done.load(Ordering::SeqCst) {
                let why = if cancel.load(Ordering::Relaxed) {
                    Some(Stop::Cancelled)
                } else if req.deadline.is_some_and(|limit| t0.elapsed() >= limit) {
                    Some(Stop::Deadline)
                } else {
                    None
                };
                if let Some(why) = why {
                    if let Ok(mut s) = stopped.lock() {
                        *s = Some(why);
                    }
                    watched.abort();
                    return;
                }
                std::thread::sleep(WATCH_EVERY);
            }
        });
        // A generated dataset's hash: SHA-256 over its batches' digests in order.
        let hasher = s.spawn(move || {
            let mut pending = std::collections::BTreeMap::new();
            let (mut want, mut h) = (0u64, Sha256::new());
            for (b, digest) in hash_rx {
                pending.insert(b, digest);
                while let Some(digest) = pending.remove(&want) {
                    h.update(digest);
                    want += 1;
                }
            }
            hex(&h.finalize())
        });
        let handles: Vec<_> = (0..pool.size())
            .map(|slot| {
                let (pool, source, columns, names) = (&pool, &source, &columns, &names);
                let (scored_rows, latencies, hash_tx) = (&scored_rows, &latencies, hash_tx.clone());
                let feature_columns = &feature_columns;
                s.spawn(move || -> Result<Accumulator, EvaluateError> {
                    let mut acc = Accumulator::new(names, true, true, MissingGroups::Error);
                    let mut lat = Vec::new();
                    loop {
                        if cancel.load(Ordering::Relaxed) {
                            return Err(EvaluateError::Cancelled);
                        }
                        let Some(next) = source.next() else { break };
                        let (b, batch) = next?;
                        if source.file_sha256().is_none() {
                            let _ = hash_tx.send((b, batch_digest(&batch)));
                        }
                        let features = batch
                            .project(feature_columns)
                            .map_err(|e| EvaluateError::Dataset(e.to_string()))?;
                        let mut probs: Vec<f32> = Vec::with_capacity(batch.num_rows());
                        let mut offset = 0;
                        while offset < features.num_rows() {
                            let len = req.batch_rows.min(features.num_rows() - offset);
                            let t = Instant::now();
                            let out = pool.score_on(slot, &features.slice(offset, len))?;
                            lat.push(t.elapsed().as_secs_f64());
                            let p = out
                                .column_by_name("probability")
                                .map(|c| c.as_primitive::<Float32Type>().values().to_vec())
                                .unwrap_or_default();
                            probs.extend(p);
                            offset += len;
                            let done = scored_rows.fetch_add(len as u64, Ordering::Relaxed) + len as u64;
                            progress(done, total_rows);
                        }
                        let with = with_predictions(&batch, &probs, threshold)?;
                        add_record_batch(&mut acc, &with, columns, 0)
                            .map_err(|e| EvaluateError::Metrics(e.to_string()))?;
                    }
                    if let Ok(mut l) = latencies.lock() {
                        l.extend(lat);
                    }
                    Ok(acc)
                })
            })
            .collect();
        drop(hash_tx);
        let accs: Vec<Result<Accumulator, EvaluateError>> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(EvaluateError::Metrics("a scoring thread panicked".into())))
            })
            .collect();
        scoring_done.store(true, Ordering::SeqCst);
        (accs, hasher.join().unwrap_or_default())
    });
    // A stop by the watcher explains whatever the scoring threads returned.
    match stopped.into_inner().unwrap_or(None) {
        Some(Stop::Cancelled) => return Err(EvaluateError::Cancelled),
        Some(Stop::Deadline) => {
            return Err(EvaluateError::Deadline {
                limit: req.deadline.unwrap_or_default(),
            });
        }
        None => {}
    }
    let score_seconds = t_score.elapsed().as_secs_f64();
    let mut acc = Accumulator::new(&names, true, true, MissingGroups::Error);
    for a in accs {
        acc.merge(&a?).map_err(|e| EvaluateError::Metrics(e.to_string()))?;
    }
    let t_metrics = Instant::now();
    let config = Config {
        seed: req.bootstrap_seed.unwrap_or(source.spec.seed),
        ..req.fairness.clone()
    };
    let report: Report = Report::build(&acc, &config);
    let verdicts = fairness::criteria::evaluate(&req.criteria, &report);
    let metrics_seconds = t_metrics.elapsed().as_secs_f64();
    stop_now()?;
    let mut lat = latencies.into_inner().unwrap_or_default();
    lat.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        if lat.is_empty() {
            0.0
        } else {
            lat[((lat.len() - 1) as f64 * q).round() as usize] * 1000.0
        }
    };
    let scored = scored_rows.load(Ordering::Relaxed);
    if scored != total_rows {
        return Err(source.error(format!("{scored} rows, but its spec promises {total_rows}")));
    }
    let dataset_sha = source.file_sha256().map_or(dataset_sha, str::to_owned);
    let ready = ready.unwrap_or_else(|| inference::protocol::Ready {
        onnxruntime_version: String::new(),
        onnxruntime_path: String::new(),
        layers: Vec::new(),
    });
    Ok(RunRecord {
        schema_version: record::SCHEMA_VERSION,
        verdicts,
        provenance: Provenance {
            started: humantime(started),
            model_file: req.model_name.clone(),
            model_sha256: inspection.summary.sha256.clone(),
            manifest_sha256: manifest_sha,
            manifest: manifest.clone(),
            dataset: source.spec.clone(),
            dataset_file: source.file.as_ref().map(|p| p.display().to_string()),
            dataset_sha256: dataset_sha,
            dataset_rows: total_rows,
            generator_version: source.spec.generator_version.clone(),
            sandbox_version: env!("CARGO_PKG_VERSION").to_owned(),
            onnxruntime_version: ready.onnxruntime_version.clone(),
            isolation: ready.layers.clone(),
            isolation_allowed_missing: Some(req.worker.allow_missing.iter().cloned().collect()),
        },
        inspection: inspection.summary,
        throughput: Throughput {
            rows: scored,
            workers: pool.size(),
            batch_rows: req.batch_rows,
            load_seconds,
            score_seconds,
            metrics_seconds,
            total_seconds: t0.elapsed().as_secs_f64(),
            rows_per_second: if score_seconds > 0.0 {
                scored as f64 / score_seconds
            } else {
                0.0
            },
            batch_latency_ms_p50: pct(0.5),
            batch_latency_ms_p95: pct(0.95),
            batch_latency_ms_p99: pct(0.99),
            worker_peak_memory_bytes: pool.peak_memory_bytes(),
        },
        worker_events: pool.events(),
        report,
    })
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
    if probs.len() != batch.num_rows() {
        return Err(EvaluateError::Metrics(format!(
            "{} predictions for {} rows",
            probs.len(),
            batch.num_rows()
        )));
    }
    let p: Float64Array = probs.iter().map(|&x| Some(f64::from(x))).collect();
    let d: BooleanArray = probs.iter().map(|&x| Some(f64::from(x) >= threshold)).collect();
    let mut cols: Vec<(&str, ArrayRef)> = vec![("probability", Arc::new(p)), ("decision", Arc::new(d))];
    if let Some(age) = batch
        .column_by_name("age")
        .and_then(|a| a.as_any().downcast_ref::<UInt8Array>())
    {
        cols.push(("age_band", Arc::new(age::bands(age))));
    }
    let mut fields: Vec<arrow::datatypes::FieldRef> = batch.schema().fields().iter().cloned().collect();
    let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
    for (name, a) in cols {
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

fn hex(bytes: &[u8]) -> String {
    inference::inspect::hex(bytes)
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
