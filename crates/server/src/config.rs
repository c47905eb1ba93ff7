//! What a server is started with.

use inference::client::WorkerConfig;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Settings of one server process. Limits bound what a caller can make the server hold or do.
#[derive(Debug, Clone)]
pub struct Config {
    /// SQLite database (`sandkasse.db`) and blobs (`blobs/`) live here.
    pub data_dir: PathBuf,
    /// `postgres://…` to keep the metadata in PostgreSQL instead of SQLite.
    pub database_url: Option<String>,
    pub bind: SocketAddr,
    /// Runs executed at the same time.
    pub run_slots: usize,
    /// Worker processes per run.
    pub workers_per_run: usize,
    /// How runs start isolated workers.
    pub worker: WorkerConfig,
    /// Bootstrap resamples of a run's report.
    pub bootstrap: usize,
    pub max_model_bytes: u64,
    pub max_manifest_bytes: u64,
    /// JSON bodies.
    pub max_body_bytes: usize,
    /// Citizens per run.
    pub max_run_rows: u64,
    /// Citizens per training-data download.
    pub max_dataset_rows: u64,
    /// Where `--demo` finds the sample models.
    pub demo_models: PathBuf,
    /// Live inference (`/v2`).
    pub serving: crate::serving::ServingConfig,
    /// Mark the pages' session cookie `Secure` even without `X-Forwarded-Proto: https`
    /// (for a TLS proxy that does not send it).
    pub secure_cookies: bool,
    /// Memory all workers (runs and live models) may reserve together, bytes; each worker
    /// is charged its address-space limit. `None`: [`crate::budget::default_total`].
    pub memory_budget_bytes: Option<u64>,
    /// Bearer token that adds per-model series to `/metrics`; without it (or without the
    /// right one) `/metrics` shows only series that name no model.
    pub metrics_token: Option<String>,
}

impl Config {
    /// Defaults for everything but where the data and the worker program are.
    pub fn new(data_dir: PathBuf, worker: WorkerConfig) -> Self {
        Self {
            data_dir,
            database_url: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            run_slots: 1,
            workers_per_run: 2,
            worker,
            bootstrap: 1000,
            max_model_bytes: 64 << 20,
            max_manifest_bytes: inference::manifest::MAX_MANIFEST_BYTES as u64,
            max_body_bytes: 1 << 20,
            max_run_rows: 2_000_000,
            max_dataset_rows: 1_000_000,
            demo_models: PathBuf::from("models"),
            serving: crate::serving::ServingConfig::default(),
            secure_cookies: false,
            memory_budget_bytes: None,
            metrics_token: None,
        }
    }
}
