//! Runs as jobs: a bounded pool claims queued runs from the database and executes each
//! through `evaluate::run`, the same code as `sandkasse evaluate`.
//!
//! Claiming is an atomic `queued → running` in the database, so several server processes on
//! one PostgreSQL never take the same run. Progress is written at most twice a second.
//! Cancelling sets the run's flag, which `evaluate::run` checks before each batch. At start-up
//! runs left `running` by a crash are marked failed with the cause; on shutdown running runs
//! are stopped and marked failed likewise, so nothing stays `running` forever.

use crate::state::AppState;
use evaluate::{Dataset, EvaluateError, Request};
use fairness::Criterion;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::Run;
use store::RunId;
use synth::DatasetSpec;
use tokio::sync::Notify;

/// What a run was asked to do, as stored with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunParams {
    /// The test split, fully resolved (scenario, rows, seed, bias, twins, generator version).
    pub dataset: DatasetSpec,
    /// The criteria in force when the run was created.
    pub criteria: Vec<Criterion>,
    pub bootstrap: usize,
    /// The explanation stage's options; `None` (stored as `null`) skips it. Parameters stored
    /// before the field existed ran it with its defaults, and still do.
    #[serde(default = "default_explain")]
    pub explain: Option<evaluate::ExplainOptions>,
    /// The causal-path stage's options; `None` (stored as `null`) skips it. Parameters stored
    /// before the field existed get `None`: those runs were queued without the stage, and a run
    /// page must not claim a stage their records do not have.
    #[serde(default)]
    pub paths: Option<evaluate::PathOptions>,
    /// The perturbation stage's options; `None` (stored as `null`) skips it. Parameters stored
    /// before the field existed get `None`, as for `paths`: those runs ran without it.
    #[serde(default)]
    pub robustness: Option<evaluate::RobustnessOptions>,
    /// The shift grid's options; `None` skips it (parameters stored before the field existed
    /// ran without it).
    #[serde(default)]
    pub shift: Option<evaluate::ShiftOptions>,
    /// The version of the case's sandbox plan in force when the run was started; `None` when the case had no
    /// plan then (and in runs stored before plans existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_version: Option<u64>,
}

fn default_explain() -> Option<evaluate::ExplainOptions> {
    Some(evaluate::ExplainOptions::default())
}

impl RunParams {
    /// The request these parameters describe, of the model at `model` described by `manifest`,
    /// every setting they do not decide at its default.
    pub fn request(self, model: PathBuf, manifest: PathBuf, worker: inference::WorkerConfig) -> Request {
        let mut req = Request::new(model, manifest, Dataset::Generate(Box::new(self.dataset)), worker);
        req.criteria = self.criteria;
        req.fairness.bootstrap = self.bootstrap;
        req.explain = self.explain;
        req.paths = self.paths;
        req.robustness = self.robustness;
        req.shift = self.shift;
        req
    }
}

/// The request of a stored run of `model`: its parameters, the model and manifest from the
/// blob store, named by content (never by the blob store's paths, which must not reach a report
/// or a failure cause). The executor and a replay both start here.
pub fn request(
    params: RunParams,
    model: &store::Model,
    blobs: &store::BlobStore,
    worker: inference::WorkerConfig,
) -> Request {
    let mut req = params.request(
        blobs.path(&model.model_sha256),
        blobs.path(&model.manifest_sha256),
        worker,
    );
    req.model_name = format!("model sha256 {}", model.model_sha256);
    req.manifest_name = format!("manifest sha256 {}", model.manifest_sha256);
    req
}

/// The stored report of a succeeded run: the run record and its Markdown rendering (as the
/// release that ran it wrote it, so a forwarded Markdown report never changes).
#[derive(Debug, Serialize)]
pub struct StoredReport {
    pub record: evaluate::RunRecord,
    pub markdown: String,
    /// The blob of every row's probability ([`evaluate::encode_scores`]), by SHA-256, kept so
    /// that runs on the same dataset compare as paired samples; absent in reports stored before
    /// they were kept (such runs cannot be compared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scores_sha256: Option<String>,
}

impl StoredReport {
    /// Reads a stored report of any record version this release knows (see
    /// [`evaluate::RunRecord::from_value`]), typed.
    pub fn from_slice(bytes: &[u8]) -> Result<StoredReport, evaluate::RecordError> {
        #[derive(Deserialize)]
        struct Raw {
            record: serde_json::Value,
            markdown: String,
            #[serde(default)]
            scores_sha256: Option<String>,
        }
        let raw: Raw = serde_json::from_slice(bytes).map_err(|e| evaluate::RecordError::Json(e.to_string()))?;
        Ok(StoredReport {
            record: evaluate::RunRecord::from_value(raw.record)?,
            markdown: raw.markdown,
            scores_sha256: raw.scores_sha256,
        })
    }
}

pub const INTERRUPTED: &str = "the server stopped while this run was running (crash or kill); start it again";
pub const SHUT_DOWN: &str = "the server was shut down during this run; start it again";

/// The pool's shared state.
#[derive(Default)]
pub struct Runner {
    wake: Notify,
    running: Mutex<HashMap<RunId, Arc<AtomicBool>>>,
    stopping: AtomicBool,
}

impl Runner {
    /// A run was queued: wake an idle slot.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stops the run if this process is executing it; returns whether it was.
    pub fn cancel(&self, id: &RunId) -> bool {
        match self.running.lock() {
            Ok(m) => m.get(id).map(|f| f.store(true, Ordering::Relaxed)).is_some(),
            Err(_) => false,
        }
    }

    /// No more claims; running runs are told to stop.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        if let Ok(m) = self.running.lock() {
            for f in m.values() {
                f.store(true, Ordering::Relaxed);
            }
        }
        self.wake.notify_waiters();
    }

    /// The runs this process is executing now.
    pub fn running_ids(&self) -> Vec<RunId> {
        match self.running.lock() {
            Ok(m) => m.keys().cloned().collect(),
            Err(_) => Vec::new(),
        }
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
}

/// Starts `slots` executors; they return when [`Runner::stop`] is called. With none, this
/// process only serves the API and other processes on the same database execute the runs.
pub fn spawn(state: &AppState, slots: usize) -> Vec<tokio::task::JoinHandle<()>> {
    (0..slots)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move {
                while !state.runner.stopping() {
                    // The run's workers must fit in the memory budget before it is claimed, so
                    // a run the budget cannot hold now stays queued; the reservation is held
                    // until the run has ended (its workers are gone).
                    let reservation = match reserve_run(&state).await {
                        Ok(r) => r,
                        Err(RunBudget::Never(reason)) => {
                            if let Ok(Some(run)) = state
                                .store
                                .claim_next_queued(state.config.org_limits.running_runs)
                                .await
                            {
                                let _ = state.store.fail_run(&run.id, &reason).await;
                            } else {
                                let _ =
                                    tokio::time::timeout(Duration::from_secs(1), state.runner.wake.notified()).await;
                            }
                            continue;
                        }
                        Err(RunBudget::NotNow) => {
                            let budget = state.models.budget();
                            let _ = tokio::time::timeout(Duration::from_secs(1), budget.released()).await;
                            continue;
                        }
                    };
                    match state
                        .store
                        .claim_next_queued(state.config.org_limits.running_runs)
                        .await
                    {
                        Ok(Some(run)) => {
                            execute(&state, run).await;
                            drop(reservation);
                        }
                        Ok(None) => {
                            // Nothing to run: an idle executor holds no memory while it waits.
                            drop(reservation);
                            let _ = tokio::time::timeout(Duration::from_secs(1), state.runner.wake.notified()).await;
                        }
                        Err(e) => {
                            drop(reservation);
                            tracing::error!(error = %e, "claiming a run");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            })
        })
        .collect()
}

pub(crate) enum RunBudget {
    /// The run's workers need more than the whole budget: it can never run here.
    Never(String),
    /// Not now: other runs or busy live models hold the memory.
    NotNow,
}

/// Reserves the memory of one run's workers (unloading idle live models if that makes room).
pub(crate) async fn reserve_run(state: &AppState) -> Result<crate::budget::Reservation, RunBudget> {
    let workers = state.config.workers_per_run.max(1) as u64;
    let need = state
        .config
        .worker
        .args
        .sandbox
        .address_space_bytes
        .saturating_mul(workers);
    if !state.models.budget().could_fit(need) {
        return Err(RunBudget::Never(format!(
            "the run's {workers} workers need {} MiB of memory, more than the server's whole memory budget of {} MiB; \
             the operator can raise --memory-budget-mb or lower --workers-per-run or --worker-memory-mb",
            need.div_ceil(1 << 20),
            state.models.budget().total() >> 20
        )));
    }
    if let Ok(r) = state.models.budget().try_reserve(need) {
        return Ok(r);
    }
    // Live models are unloaded for a run only when a run is waiting.
    let queued = state
        .store
        .count_runs_by_state()
        .await
        .is_ok_and(|counts| counts.iter().any(|(s, n)| *s == store::RunState::Queued && *n > 0));
    if !queued {
        return Err(RunBudget::NotNow);
    }
    state.models.reserve(need, None).await.map_err(|_| RunBudget::NotNow)
}

async fn execute(state: &AppState, run: Run) {
    let started = Instant::now();
    let id = run.id.clone();
    let cancel = Arc::new(AtomicBool::new(false));
    if let Ok(mut m) = state.runner.running.lock() {
        m.insert(id.clone(), cancel.clone());
    }
    let outcome = evaluate_run(state, &run, cancel.clone()).await;
    if let Ok(mut m) = state.runner.running.lock() {
        m.remove(&id);
    }
    let seconds = started.elapsed().as_secs_f64();
    let result = match outcome {
        Ok((digest, rows, scenario)) => {
            state.metrics.rows_scored(&scenario, rows);
            state.store.finish_run(&id, &digest).await.map(|_| "succeeded")
        }
        Err(EvaluateError::Cancelled) if state.runner.stopping() => {
            state.store.fail_run(&id, SHUT_DOWN).await.map(|_| "failed")
        }
        // Cancelled through the API, which already recorded it.
        Err(EvaluateError::Cancelled) => Ok("cancelled"),
        Err(e) => {
            if let EvaluateError::Worker(inference::WorkerError::Died { cause, .. }) = &e {
                state.metrics.worker_event(&cause_word(cause), 1);
            }
            let mut cause = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                cause.push_str(": ");
                cause.push_str(&s.to_string());
                source = s.source();
            }
            state.store.fail_run(&id, &cause).await.map(|_| "failed")
        }
    };
    match result {
        Ok(s) => state.metrics.run_finished(s, seconds),
        // E.g. cancelled while the report was being stored: the cancel stands.
        Err(e) => tracing::warn!(run = %id, error = %e, "recording the end of a run"),
    }
}

/// Runs the evaluation on a blocking thread; returns the stored report's digest.
async fn evaluate_run(
    state: &AppState,
    run: &Run,
    cancel: Arc<AtomicBool>,
) -> Result<(store::Digest, u64, String), EvaluateError> {
    let params: RunParams = serde_json::from_value(run.params.clone())
        .map_err(|e| EvaluateError::Setup(format!("its stored parameters do not read: {e}")))?;
    let model = state
        .store
        .model(&run.model_id)
        .await
        .map_err(|e| EvaluateError::Store(e.to_string()))?
        .ok_or_else(|| EvaluateError::Setup(format!("its model {} is gone", run.model_id)))?;
    let scenario = params.dataset.scenario.clone();
    let mut req = request(params, &model, &state.blobs, state.config.worker.clone());
    req.workers = state.config.workers_per_run;
    req.deadline = Some(state.config.run_deadline);
    req.keep_scores = true;
    let done = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(Notify::new());
    // Progress goes to the database from here, not from the scoring threads.
    let reporter = {
        let (state, done, finished, id) = (state.clone(), done.clone(), finished.clone(), run.id.clone());
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                let stop = tokio::time::timeout(Duration::from_millis(500), finished.notified())
                    .await
                    .is_ok();
                let now = done.load(Ordering::Relaxed);
                if now != last {
                    let _ = state.store.update_progress(&id, now).await;
                    last = now;
                }
                if stop {
                    break;
                }
            }
        })
    };
    let blobs = state.blobs.clone();
    let result = tokio::task::spawn_blocking(move || {
        let progress = |rows: u64, _total: u64| done.store(rows, Ordering::Relaxed);
        let (record, scores) = evaluate::run_keeping_scores(&req, &progress, &cancel)?;
        // The probabilities first, so a stored report never names a blob that is not there.
        let scores_sha256 = match scores {
            Some(scores) => Some(
                blobs
                    .put(&evaluate::encode_scores(&scores))
                    .map_err(|e| EvaluateError::Store(format!("storing the probabilities: {e}")))?
                    .to_string(),
            ),
            None => None,
        };
        let stored = StoredReport {
            markdown: record.to_markdown(),
            record,
            scores_sha256,
        };
        let bytes = serde_json::to_vec(&stored).map_err(|e| EvaluateError::Store(format!("the report: {e}")))?;
        let digest = blobs
            .put(&bytes)
            .map_err(|e| EvaluateError::Store(format!("storing the report: {e}")))?;
        Ok::<_, EvaluateError>((digest, stored.record))
    })
    .await;
    finished.notify_one();
    let _ = reporter.await;
    let (digest, record) = result.map_err(|e| EvaluateError::Metrics(format!("the run's thread failed: {e}")))??;
    let starts = record.throughput.workers as u64 + record.worker_events.iter().filter(|e| e.respawned).count() as u64;
    state.metrics.worker_event("start", starts);
    for e in &record.worker_events {
        state.metrics.worker_event(&cause_word(&e.cause), 1);
    }
    Ok((digest, record.throughput.rows, scenario))
}

/// The cause as its snake-case word (`timeout`, `memory`, `crash`, ...), for metric labels.
fn cause_word(cause: &inference::Cause) -> String {
    cause.as_str().to_owned()
}
