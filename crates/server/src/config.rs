//! What a server is started with.

use inference::WorkerConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of one server process. Limits bound what a caller can make the server hold or do.
#[derive(Debug, Clone)]
pub struct Config {
    /// SQLite database (`sandkasse.db`) and blobs (`blobs/`) live here.
    pub data_dir: PathBuf,
    /// `postgres://…` to keep the metadata in PostgreSQL instead of SQLite.
    pub database_url: Option<String>,
    pub bind: SocketAddr,
    /// The Open Inference Protocol's gRPC service (`inference.GRPCInferenceService`) listens here; off
    /// when `None`.
    pub grpc_bind: Option<SocketAddr>,
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
    /// Connections: timeouts and the cap on how many are open at once.
    pub connections: ConnectionLimits,
    /// Requests without valid credentials per address.
    pub anonymous: AnonymousLimit,
    /// Runs per organisation: what one organisation may queue and run.
    pub org_limits: OrgLimits,
    /// Longest a run may take from its start, after which it is stopped and failed.
    pub run_deadline: Duration,
    /// A training-data download whose client accepts no bytes for this long is dropped, freeing its slot and
    /// its temporary file.
    pub download_idle_timeout: Duration,
    /// How often the audit log's tree head is signed and stored when the log has grown; `None`: only on demand.
    pub checkpoint_every: Option<Duration>,
    /// On shutdown, how long requests in flight and running runs get to finish before the process stops
    /// waiting for them (runs still running are then marked failed).
    pub shutdown_grace: Duration,
}

/// What keeps slow or idle clients from holding the server's connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// A request's head (request line and headers) must arrive within this, counted from when the connection
    /// opened or the previous answer was sent; so an idle keep-alive connection is closed after it too.
    pub header_timeout: Duration,
    /// A request's body must arrive within this, counted from when its head was read.
    pub body_timeout: Duration,
    /// A connection whose client accepts no bytes of an answer for this long is closed.
    pub idle_timeout: Duration,
    /// An HTTP/2 connection (the gRPC port) with no request in flight for this long is closed gracefully;
    /// gRPC clients reconnect on their next call. Without it an idle channel would hold its slot for ever.
    pub h2_idle_timeout: Duration,
    /// Connections open at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Connections one client address (IPv6: its /64) may hold at once, so one client cannot take every slot.
    pub max_connections_per_address: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            h2_idle_timeout: Duration::from_secs(300),
            max_connections: 1024,
            max_connections_per_address: 128,
        }
    }
}

/// Per-organisation bounds on runs, so that one organisation can neither fill the queue nor hold every slot.
#[derive(Debug, Clone, Copy)]
pub struct OrgLimits {
    /// Runs waiting to start.
    pub queued_runs: u64,
    /// Citizens of the runs waiting to start, together.
    pub queued_rows: u64,
    /// Runs executing at the same time (in every process on the same database).
    pub running_runs: u64,
}

impl Default for OrgLimits {
    fn default() -> Self {
        Self {
            queued_runs: 20,
            queued_rows: 20_000_000,
            running_runs: 1,
        }
    }
}

impl Config {
    /// Defaults for everything but where the data and the worker program are.
    pub fn new(data_dir: PathBuf, worker: WorkerConfig) -> Self {
        Self {
            data_dir,
            database_url: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            grpc_bind: None,
            run_slots: 1,
            workers_per_run: 2,
            worker,
            bootstrap: 1000,
            max_model_bytes: 64 << 20,
            max_manifest_bytes: inference::MAX_MANIFEST_BYTES as u64,
            max_body_bytes: 1 << 20,
            max_run_rows: 2_000_000,
            max_dataset_rows: 1_000_000,
            demo_models: PathBuf::from("models"),
            serving: crate::serving::ServingConfig::default(),
            secure_cookies: false,
            memory_budget_bytes: None,
            metrics_token: None,
            connections: ConnectionLimits::default(),
            anonymous: AnonymousLimit::default(),
            org_limits: OrgLimits::default(),
            run_deadline: Duration::from_secs(60 * 60),
            download_idle_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
            checkpoint_every: Some(Duration::from_secs(10 * 60)),
        }
    }
}

/// How many requests without valid credentials one address may make (`--anonymous-rate`,
/// `--anonymous-burst`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnonymousLimit {
    /// Sustained requests per second.
    pub rate: f64,
    /// Requests at once.
    pub burst: f64,
}

impl Default for AnonymousLimit {
    fn default() -> Self {
        Self {
            rate: crate::middleware::anonymous::RATE,
            burst: crate::middleware::anonymous::BURST,
        }
    }
}
