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
//! closes, the batcher ends, its workers are killed).

use arrow::array::{Array, ArrayRef, Float32Array, RecordBatch};
use inference::client::{Pool, WorkerConfig};
use inference::manifest::{ClassValue, DType, Manifest};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use store::ModelId;
use store::blobs::BlobStore;
use store::meta::Model;
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
        }
    }
}

/// One input of a served model: a scenario column.
#[derive(Debug, Clone)]
pub struct ColumnInput {
    pub name: String,
    /// Categories as text (`BYTES`); otherwise a number.
    pub text: bool,
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

/// The inputs a manifest asks for, in order: text for one-hot or string columns.
pub fn column_inputs(manifest: &Manifest) -> Vec<ColumnInput> {
    let mut out: Vec<ColumnInput> = Vec::new();
    for input in &manifest.inputs {
        for c in &input.columns {
            let text = c.one_hot.is_some() || input.dtype == DType::String;
            match out.iter_mut().find(|o| o.name == c.column) {
                Some(o) => o.text |= text,
                None => out.push(ColumnInput {
                    name: c.column.clone(),
                    text,
                }),
            }
        }
    }
    out
}

type Slot = Arc<OnceCell<Result<Arc<Served>, String>>>;

/// The served models of this process.
pub struct Models {
    config: ServingConfig,
    entries: tokio::sync::Mutex<HashMap<ModelId, (Slot, Arc<AtomicU64>)>>,
    clock: AtomicU64,
}

impl Models {
    pub fn new(config: ServingConfig) -> Self {
        Self {
            config,
            entries: tokio::sync::Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
        }
    }

    pub fn config(&self) -> &ServingConfig {
        &self.config
    }

    /// The model, started on first use. A model that fails to start stays failed (so a bad
    /// model does not spawn workers on every request) until it is evicted.
    pub async fn get(&self, model: &Model, blobs: &BlobStore, worker: &WorkerConfig) -> Result<Arc<Served>, String> {
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        let slot = {
            let mut entries = self.entries.lock().await;
            if !entries.contains_key(&model.id) && entries.len() >= self.config.max_models {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, (_, used))| used.load(Ordering::Relaxed))
                    .map(|(id, _)| id.clone());
                if let Some(id) = oldest {
                    entries.remove(&id);
                }
            }
            let (slot, used) = entries
                .entry(model.id.clone())
                .or_insert_with(|| (Arc::new(OnceCell::new()), Arc::new(AtomicU64::new(now))));
            used.store(now, Ordering::Relaxed);
            slot.clone()
        };
        slot.get_or_init(|| start(model.clone(), blobs.clone(), worker.clone(), self.config.clone()))
            .await
            .clone()
    }
}

async fn start(
    model: Model,
    blobs: BlobStore,
    worker: WorkerConfig,
    config: ServingConfig,
) -> Result<Arc<Served>, String> {
    let (pool, manifest) = tokio::task::spawn_blocking(move || -> Result<(Pool, Manifest), String> {
        let bytes = blobs.get(&model.model_sha256).map_err(|e| e.to_string())?;
        let text = blobs.get(&model.manifest_sha256).map_err(|e| e.to_string())?;
        let manifest = Manifest::parse(&String::from_utf8_lossy(&text)).map_err(|e| e.to_string())?;
        let pool = Pool::new(&worker, config.workers, bytes, manifest.clone()).map_err(|e| e.to_string())?;
        Ok((pool, manifest))
    })
    .await
    .map_err(|e| e.to_string())??;
    let inputs = column_inputs(&manifest);
    let schema = Arc::new(arrow::datatypes::Schema::new(
        inputs
            .iter()
            .map(|c| {
                let t = if c.text {
                    arrow::datatypes::DataType::Utf8
                } else {
                    arrow::datatypes::DataType::Float64
                };
                arrow::datatypes::Field::new(&c.name, t, false)
            })
            .collect::<Vec<_>>(),
    ));
    let (tx, rx) = mpsc::channel(config.queue_requests.max(1));
    tokio::spawn(batcher(Arc::new(pool), rx, config));
    Ok(Arc::new(Served {
        version: manifest.version.clone(),
        inputs,
        text_labels: matches!(manifest.output.positive_class, ClassValue::Text(_)),
        schema,
        tx,
    }))
}

async fn batcher(pool: Arc<Pool>, mut rx: mpsc::Receiver<Job>, config: ServingConfig) {
    let (slot_tx, mut slot_rx) = mpsc::channel::<usize>(pool.size());
    for s in 0..pool.size() {
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
        let (pool, slot_tx) = (pool.clone(), slot_tx.clone());
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let result = arrow::compute::concat_batches(&jobs[0].batch.schema(), jobs.iter().map(|j| &j.batch))
                .map_err(|e| e.to_string())
                .and_then(|b| pool.score_on(slot, &b).map_err(|e| e.to_string()));
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
