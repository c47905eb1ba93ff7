//! The record of a run: everything needed to redo it and to trust its numbers.

use fairness::Report;
use inference::client::PoolEvent;
use inference::inspect::Summary;
use inference::manifest::Manifest;
use inference::sandbox::LayerStatus;
use serde::Serialize;
use synth::DatasetSpec;

#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub provenance: Provenance,
    /// The model as inspection saw it.
    pub inspection: Summary,
    pub throughput: Throughput,
    /// Workers that crashed, hung or ran out of memory, and whether they were replaced.
    pub worker_events: Vec<PoolEvent>,
    /// Metrics against the recorded outcome (`outcome_recorded`), with the same metrics and
    /// disparities against the true outcome (`outcome_true`) beside them.
    pub report: Report,
}

#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    pub started: String,
    pub model_file: String,
    pub model_sha256: String,
    pub manifest_sha256: String,
    pub manifest: Manifest,
    pub dataset: DatasetSpec,
    /// SHA-256 over the dataset's record batches in order, each as an Arrow IPC stream.
    pub dataset_sha256: String,
    pub dataset_rows: u64,
    pub generator_version: String,
    pub sandbox_version: String,
    pub onnxruntime_version: String,
    /// Isolation layers of the workers, as they reported them: what was active and what this
    /// kernel could not provide.
    pub isolation: Vec<LayerStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub rows: u64,
    pub workers: usize,
    pub batch_rows: usize,
    /// Starting the workers and loading the model.
    pub load_seconds: f64,
    /// Generating, scoring and accumulating (overlapped).
    pub score_seconds: f64,
    /// Building the report (bootstrap included).
    pub metrics_seconds: f64,
    pub total_seconds: f64,
    pub rows_per_second: f64,
    pub batch_latency_ms_p50: f64,
    pub batch_latency_ms_p95: f64,
    pub batch_latency_ms_p99: f64,
    pub worker_peak_memory_bytes: Option<u64>,
}
