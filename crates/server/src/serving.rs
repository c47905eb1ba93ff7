//! Live inference: one pool of isolated workers per served model, fed by a dynamic batcher.
//!
//! Requests become jobs on a bounded queue (full: the caller gets 503 at once, never an
//! unbounded wait). The batcher takes a free worker slot, then every job already waiting (up
//! to `max_batch_rows`, and for at most `max_delay` more), scores them as one batch and
//! splits the answer. So an idle model answers a single row without waiting, and under load
//! the rows that queue while all workers are busy go out together. A job that waited longer
//! than `queue_timeout` is answered 503 instead of being computed late.
//!
//! At most `max_models` models are held; the least recently used is dropped (its queue
//! closes, the batcher ends, its workers are killed). Every model's workers reserve their
//! memory in the server's [`MemoryBudget`] before they start: when it is short, idle models
//! are unloaded (least recently used first) to make room, and when none is idle the start is
//! refused (503) rather than overcommitting. A model unused for `idle` is unloaded by a
//! background task, so idle models do not keep memory that runs and other models need.

use crate::budget::{MemoryBudget, Reservation};
use arrow::array::{Array, ArrayRef, Float32Array, RecordBatch};
use inference::{DType, Manifest};
use inference::{Pool, WorkerConfig, WorkerError};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use store::BlobStore;
use store::Model;
use store::ModelId;
use tokio::sync::{OnceCell, mpsc, oneshot};

#[derive(Debug, Clone)]
pub struct ServingConfig {
    /// Worker processes per served model.
    pub workers: usize,
    pub max_batch_rows: usize,
    /// How long a batch may wait for more rows once it has one.
    pub max_delay: Duration,
    /// Requests waiting per model.
    pub queue_requests: usize,
    /// Longest a request may wait in the queue.
    pub queue_timeout: Duration,
    /// Rows in one request.
    pub max_request_rows: usize,
    /// Models held at once.
    pub max_models: usize,
    /// A model no request used for this long is unloaded (its workers stopped).
    pub idle: Duration,
    /// Inference requests one user may have in flight at once; more are answered 429.
    pub per_caller: usize,
}

impl Default for ServingConfig {
    fn default() -> Self {
        Self {
            workers: 2,
            max_batch_rows: 1024,
            max_delay: Duration::ZERO,
            queue_requests: 1024,
            queue_timeout: Duration::from_secs(2),
            max_request_rows: 4096,
            max_models: 8,
            idle: Duration::from_secs(300),
            per_caller: 8,
        }
    }
}

/// One input of a served model: a scenario column.
#[derive(Debug, Clone)]
pub struct ColumnInput {
    pub name: String,
    /// Categories as text (`BYTES`); otherwise a number.
    pub text: bool,
    /// The column's type in the scenario, which a request's values take before the model's
    /// manifest builds its tensors: an integer column takes whole numbers only, a yes/no column
    /// 0 and 1 only, so `/v2` feeds a model exactly what a run feeds it.
    pub data_type: arrow::datatypes::DataType,
}

impl ColumnInput {
    /// The Open Inference Protocol datatype the metadata advertises for it (any numeric
    /// datatype is accepted for a number).
    pub fn protocol_datatype(&self) -> &'static str {
        use arrow::datatypes::DataType as D;
        match &self.data_type {
            D::Utf8 => "BYTES",
            D::Boolean => "BOOL",
            D::Int64 => "INT64",
            _ => "FP32",
        }
    }
}

/// Why a request was not answered with predictions.
#[derive(Debug, Clone)]
pub enum ServeFailure {
    /// The queue is full or the request waited too long: 503.
    Overloaded(String),
    /// The model or its worker failed: 500.
    Model(String),
}

/// The predictions for one request, and where its time went.
pub struct Scored {
    pub label: ArrayRef,
    pub probability: Float32Array,
    pub queue: Duration,
    pub compute: Duration,
}

struct Job {
    batch: RecordBatch,
    enqueued: Instant,
    reply: oneshot::Sender<Result<Scored, ServeFailure>>,
}

/// A model being served.
pub struct Served {
    pub version: String,
    pub inputs: Vec<ColumnInput>,
    /// Labels are strings (`BYTES`) rather than integers.
    pub text_labels: bool,
    pub schema: arrow::datatypes::SchemaRef,
    tx: mpsc::Sender<Job>,
}

impl Served {
    /// Queues `batch` (with [`Served::schema`]) and waits for its predictions.
    pub async fn score(&self, batch: RecordBatch) -> Result<Scored, ServeFailure> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            batch,
            enqueued: Instant::now(),
            reply,
        };
        self.tx.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                ServeFailure::Overloaded("the model's queue is full; try again shortly".into())
            }
            mpsc::error::TrySendError::Closed(_) => ServeFailure::Model("the model is being unloaded".into()),
        })?;
        answer
            .await
            .unwrap_or_else(|_| Err(ServeFailure::Model("the batcher stopped".into())))
    }
}

/// The inputs a manifest asks for, in order: text for one-hot or string columns; otherwise
/// the scenario's type of the column (integers as int64, yes/no as booleans, measurements
/// as float64).
pub fn column_inputs(manifest: &Manifest) -> Vec<ColumnInput> {
    use arrow::datatypes::DataType as D;
    let docs = synth::scenario_columns(&manifest.scenario).unwrap_or_default();
    let mut out: Vec<ColumnInput> = Vec::new();
    for input in &manifest.inputs {
        for c in &input.columns {
            let text = c.one_hot.is_some() || input.dtype == DType::String;
            match out.iter_mut().find(|o| o.name == c.column) {
                Some(o) => o.text |= text,
                None => out.push(ColumnInput {
                    name: c.column.clone(),
                    text,
                    data_type: D::Float64,
                }),
            }
        }
    }
    for o in &mut out {
        let scenario_type = docs.iter().find(|d| d.name == o.name).map(|d| &d.data_type);
        o.data_type = match scenario_type {
            _ if o.text => D::Utf8,
            Some(D::Boolean) => D::Boolean,
            Some(t) if t.is_integer() => D::Int64,
            _ => D::Float64,
        };
    }
    out
}

/// Why a model could not be started.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StartError {
    /// The memory budget cannot hold its workers now (503; not remembered, the next request
    /// tries again).
    #[error("{0}")]
    Budget(String),
    /// A worker could not be started or could not load the model.
    #[error("{0}")]
    Worker(Arc<WorkerError>),
    /// Its blobs or manifest could not be read.
    #[error("{0}")]
    Model(String),
}

type Slot = OnceCell<Result<Arc<Served>, StartError>>;

/// One served model's place in [`Models`].
struct Entry {
    slot: Slot,
    /// Logical clock of the last use, for least-recently-used eviction.
    used: AtomicU64,
    /// Wall time of the last use, for unloading idle models.
    last_used: std::sync::Mutex<Instant>,
    /// Requests holding the model now (from lookup to answer): a model with any is never
    /// evicted for memory or unloaded as idle.
    leases: AtomicUsize,
}

impl Entry {
    fn idle_for(&self) -> Duration {
        self.last_used.lock().map_or(Duration::ZERO, |t| t.elapsed())
    }

    fn loaded(&self) -> bool {
        matches!(self.slot.get(), Some(Ok(_)))
    }
}

/// A model held for one request; while any lease is alive, the model stays loaded.
pub struct Lease {
    served: Arc<Served>,
    _entry: LeaseGuard,
}

impl std::ops::Deref for Lease {
    type Target = Served;
    fn deref(&self) -> &Served {
        &self.served
    }
}

struct LeaseGuard(Arc<Entry>);

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        if let Ok(mut t) = self.0.last_used.lock() {
            *t = Instant::now();
        }
        self.0.leases.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The served models of this process, and the memory budget their workers share with runs.
/// Cheap to clone.
#[derive(Clone)]
pub struct Models(Arc<Shared>);

struct Shared {
    config: ServingConfig,
    budget: MemoryBudget,
    /// Address-space limit of one worker: what each worker reserves.
    worker_bytes: u64,
    entries: tokio::sync::Mutex<HashMap<ModelId, Arc<Entry>>>,
    clock: AtomicU64,
}

/// How long a start waits for an evicted model's workers to exit.
const EVICTION_WAIT: Duration = Duration::from_secs(10);

impl Models {
    /// Inside a Tokio runtime this also starts the task that unloads idle models; it ends
    /// when the last clone is dropped.
    pub fn new(config: ServingConfig, budget: MemoryBudget, worker_bytes: u64) -> Self {
        let shared = Arc::new(Shared {
            config,
            budget,
            worker_bytes,
            entries: tokio::sync::Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&shared);
            let tick = (shared.config.idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
            runtime.spawn(async move {
                loop {
                    tokio::time::sleep(tick).await;
                    let Some(shared) = weak.upgrade() else { break };
                    Models(shared).unload_idle().await;
                }
            });
        }
        Self(shared)
    }

    pub fn config(&self) -> &ServingConfig {
        &self.0.config
    }

    pub fn budget(&self) -> &MemoryBudget {
        &self.0.budget
    }

    /// Models loaded now (started, with their workers).
    pub async fn loaded(&self) -> usize {
        self.0.entries.lock().await.values().filter(|e| e.loaded()).count()
    }

    /// The model, started on first use, held until the lease is dropped. A model that fails
    /// to start stays failed (so a bad model does not spawn workers on every request) until it
    /// is evicted or unloaded; a start refused by the memory budget is not remembered.
    pub async fn get(&self, model: &Model, blobs: &BlobStore, worker: &WorkerConfig) -> Result<Lease, StartError> {
        let now = self.0.clock.fetch_add(1, Ordering::Relaxed);
        let entry = {
            let mut entries = self.0.entries.lock().await;
            if !entries.contains_key(&model.id) && entries.len() >= self.0.config.max_models {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, e)| e.used.load(Ordering::Relaxed))
                    .map(|(id, _)| id.clone());
                if let Some(id) = oldest {
                    entries.remove(&id);
                }
            }
            let entry = entries.entry(model.id.clone()).or_insert_with(|| {
                Arc::new(Entry {
                    slot: OnceCell::new(),
                    used: AtomicU64::new(now),
                    last_used: std::sync::Mutex::new(Instant::now()),
                    leases: AtomicUsize::new(0),
                })
            });
            entry.used.store(now, Ordering::Relaxed);
            // Taken under the lock that eviction holds, so a model is never evicted between
            // being found here and being used.
            entry.leases.fetch_add(1, Ordering::AcqRel);
            entry.clone()
        };
        let guard = LeaseGuard(entry);
        let result = guard
            .0
            .slot
            .get_or_try_init(|| async {
                match self.start(model.clone(), blobs.clone(), worker.clone()).await {
                    Ok(s) => Ok(Ok(s)),
                    Err(StartError::Budget(m)) => Err(m),
                    Err(e) => Ok(Err(e)),
                }
            })
            .await;
        match result {
            Err(m) => Err(StartError::Budget(m)),
            Ok(Ok(served)) => Ok(Lease {
                served: served.clone(),
                _entry: guard,
            }),
            Ok(Err(e)) => Err(e.clone()),
        }
    }

    /// Reserves `bytes` of the budget; when it is short, unloads idle live models (least
    /// recently used first, never `except` nor one with a request in flight) until they fit.
    /// Refuses, naming the budget, when nothing idle is left to unload.
    pub async fn reserve(&self, bytes: u64, except: Option<&ModelId>) -> Result<Reservation, StartError> {
        let budget = &self.0.budget;
        if !budget.could_fit(bytes) {
            return Err(StartError::Budget(format!(
                "{} MiB of worker memory are needed, more than the server's whole memory budget of {} MiB \
                 (--memory-budget-mb; each worker is charged its --worker-memory-mb)",
                bytes.div_ceil(1 << 20),
                budget.total() >> 20
            )));
        }
        loop {
            let short = match budget.try_reserve(bytes) {
                Ok(r) => return Ok(r),
                Err(short) => short,
            };
            if !self.evict_idle(except).await {
                return Err(StartError::Budget(format!(
                    "{short}; every live model holding it is in use and runs hold the rest, try again shortly"
                )));
            }
            // The evicted model's workers exit once its batcher sees the closed queue.
            let deadline = tokio::time::Instant::now() + EVICTION_WAIT;
            let before = budget.used();
            while budget.used() >= before && tokio::time::Instant::now() < deadline {
                let _ = tokio::time::timeout(Duration::from_millis(50), budget.released()).await;
            }
        }
    }

    /// Unloads the least recently used loaded model that no request holds; whether there was one.
    pub async fn evict_idle(&self, except: Option<&ModelId>) -> bool {
        let mut entries = self.0.entries.lock().await;
        let victim = entries
            .iter()
            .filter(|(id, e)| Some(*id) != except && e.loaded() && e.leases.load(Ordering::Acquire) == 0)
            .min_by_key(|(_, e)| e.used.load(Ordering::Relaxed))
            .map(|(id, _)| id.clone());
        match victim {
            Some(id) => {
                tracing::info!(model = %id, "unloading an idle live model to make room in the memory budget");
                entries.remove(&id);
                true
            }
            None => false,
        }
    }

    /// Unloads every model no request has used for the configured idle time.
    async fn unload_idle(&self) {
        let idle = self.0.config.idle;
        let mut entries = self.0.entries.lock().await;
        entries.retain(|id, e| {
            let keep = e.leases.load(Ordering::Acquire) > 0 || e.idle_for() < idle;
            if !keep {
                tracing::info!(model = %id, "unloading a live model idle for {idle:?}");
            }
            keep
        });
    }

    async fn start(&self, model: Model, blobs: BlobStore, worker: WorkerConfig) -> Result<Arc<Served>, StartError> {
        let config = self.0.config.clone();
        let workers = config.workers.max(1);
        let reservation = self
            .reserve(self.0.worker_bytes.saturating_mul(workers as u64), Some(&model.id))
            .await?;
        let (pool, manifest) = tokio::task::spawn_blocking(move || -> Result<(Pool, Manifest), StartError> {
            let bytes = blobs
                .get(&model.model_sha256)
                .map_err(|e| StartError::Model(e.to_string()))?;
            let text = blobs
                .get(&model.manifest_sha256)
                .map_err(|e| StartError::Model(e.to_string()))?;
            let manifest =
                Manifest::parse(&String::from_utf8_lossy(&text)).map_err(|e| StartError::Model(e.to_string()))?;
            // `/v2` answers with a label and a probability; a number or one of several classes is
            // refused rather than answered in a shape that would misstate it.
            if manifest.output.binary().is_none() {
                return Err(StartError::Model(format!(
                    "live serving takes yes/no models only so far; this is a {} model (evaluate it with a run)",
                    manifest.output.task()
                )));
            }
            let pool =
                Pool::new(&worker, workers, bytes, manifest.clone()).map_err(|e| StartError::Worker(Arc::new(e)))?;
            Ok((pool, manifest))
        })
        .await
        .map_err(|e| StartError::Model(e.to_string()))??;
        let inputs = column_inputs(&manifest);
        let schema = Arc::new(arrow::datatypes::Schema::new(
            inputs
                .iter()
                .map(|c| arrow::datatypes::Field::new(&c.name, c.data_type.clone(), false))
                .collect::<Vec<_>>(),
        ));
        let (tx, rx) = mpsc::channel(config.queue_requests.max(1));
        let held = Held {
            pool,
            _reservation: reservation,
        };
        tokio::spawn(batcher(Arc::new(held), rx, config));
        Ok(Arc::new(Served {
            version: manifest.version.clone(),
            inputs,
            text_labels: manifest.output.text_labels(),
            schema,
            tx,
        }))
    }
}

/// A model's workers and the memory reserved for them: the pool is dropped first (its
/// workers killed and reaped), then the reservation is released.
struct Held {
    pool: Pool,
    _reservation: Reservation,
}

async fn batcher(held: Arc<Held>, mut rx: mpsc::Receiver<Job>, config: ServingConfig) {
    let size = held.pool.size();
    let (slot_tx, mut slot_rx) = mpsc::channel::<usize>(size);
    for s in 0..size {
        let _ = slot_tx.try_send(s);
    }
    loop {
        let Some(slot) = slot_rx.recv().await else { break };
        let Some(first) = rx.recv().await else { break };
        let mut jobs = Vec::new();
        let mut rows = 0;
        let take = |job: Job, jobs: &mut Vec<Job>, rows: &mut usize| {
            if job.enqueued.elapsed() > config.queue_timeout {
                let _ = job.reply.send(Err(ServeFailure::Overloaded(format!(
                    "waited over {:?} in the queue",
                    config.queue_timeout
                ))));
            } else {
                *rows += job.batch.num_rows();
                jobs.push(job);
            }
        };
        take(first, &mut jobs, &mut rows);
        // Requests whose tasks are ready to run (decoded, about to queue) join this batch: one yield
        // costs microseconds, and each batch saved is a round trip to a worker process.
        tokio::task::yield_now().await;
        let deadline = tokio::time::Instant::now() + config.max_delay;
        while rows < config.max_batch_rows {
            match rx.try_recv() {
                Ok(job) => take(job, &mut jobs, &mut rows),
                Err(_) if config.max_delay.is_zero() => break,
                Err(_) => match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(job)) => take(job, &mut jobs, &mut rows),
                    _ => break,
                },
            }
        }
        if jobs.is_empty() {
            let _ = slot_tx.try_send(slot);
            continue;
        }
        let (held, slot_tx) = (held.clone(), slot_tx.clone());
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let result = arrow::compute::concat_batches(&jobs[0].batch.schema(), jobs.iter().map(|j| &j.batch))
                .map_err(|e| e.to_string())
                .and_then(|b| held.pool.score_on(slot, &b).map_err(|e| e.to_string()));
            let compute = started.elapsed();
            let _ = slot_tx.try_send(slot);
            let out = result.and_then(|out| {
                let probability = out
                    .column_by_name("probability")
                    .and_then(|c| c.as_any().downcast_ref::<Float32Array>().cloned())
                    .ok_or("the worker sent no probabilities")?;
                let label = out
                    .column_by_name("label")
                    .cloned()
                    .ok_or("the worker sent no labels")?;
                Ok::<_, String>((label, probability))
            });
            let mut offset = 0;
            for job in jobs {
                let n = job.batch.num_rows();
                let answer = match &out {
                    Ok((label, probability)) => Ok(Scored {
                        label: label.slice(offset, n),
                        probability: probability.slice(offset, n),
                        queue: started.saturating_duration_since(job.enqueued),
                        compute,
                    }),
                    Err(e) => Err(ServeFailure::Model(e.clone())),
                };
                offset += n;
                let _ = job.reply.send(answer);
            }
        });
    }
}
