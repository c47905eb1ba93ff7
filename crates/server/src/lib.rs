//! The sandbox service: an axum HTTP API over the store, with a job runner that executes
//! evaluation runs through `evaluate`.
//!
//! Layering: three faces — `api` (JSON under `/api/v1`), `web` (pages under `/ui`) and `v2`
//! (the Open Inference Protocol) — read requests and write answers; `app` holds the operations
//! they share; `policy` says who may see and do what; `store` keeps metadata, blobs and the
//! audit log. `middleware` wraps each face's routes with its request id, caller, audit entry and
//! metrics, configured per face (`middleware::Face`). `runner` claims queued runs from the database.

pub mod api;
mod app;
pub mod budget;
mod cache;
pub mod config;
mod connections;
pub mod demo;
mod error;
pub mod evidence;
mod exit;
mod extract;
mod metrics;
mod middleware;
mod policy;
pub mod replay;
mod report_cache;
mod runner;
pub mod serving;
pub mod signer;
mod state;
mod v2;
/// The Open Inference Protocol's gRPC messages (package `inference`), for clients written in Rust
/// and for the tests that speak to the gRPC port.
pub use v2::grpc::pb as inference_grpc;
pub mod web;

pub use config::Config;
pub use error::ApiError;
pub use metrics::Metrics;
pub use runner::RunParams;

use state::{AppState, Inner};
use std::future::Future;
use std::sync::Arc;
use store::BlobStore;
use store::Store;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("opening the database: {0}")]
    Store(#[from] store::StoreError),
    #[error("opening the blob directory: {0}")]
    Blobs(#[from] store::BlobError),
    #[error("listening on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("creating the data directory {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
    #[error("seeding the demo: {0}")]
    Demo(String),
    #[error("the audit signing key: {0}")]
    AuditKey(#[from] store::CheckpointError),
}

/// Opens the metadata store: PostgreSQL if a URL is given, else SQLite (`sandkasse.db`) in
/// the data directory. The one place that decides where the metadata lives, for the server
/// and the `users` and `audit` commands alike.
pub async fn open_store(data_dir: &std::path::Path, database_url: Option<&str>) -> Result<Store, ServeError> {
    Ok(match database_url {
        Some(url) => Store::open_postgres(url).await?,
        None => {
            std::fs::create_dir_all(data_dir).map_err(|source| ServeError::DataDir {
                path: data_dir.to_owned(),
                source,
            })?;
            Store::open_sqlite(&data_dir.join("sandkasse.db")).await?
        }
    })
}

/// The file of the key that signs the audit log's checkpoints, in the data directory.
pub const AUDIT_KEY_FILE: &str = "audit-signing.key";

/// The sandbox's audit signing key: read from the data directory, or created there at first start (owner-only).
/// A key file that is malformed or readable by others stops the start: checkpoints signed with a key that may
/// be known to others prove nothing.
pub fn audit_key(data_dir: &std::path::Path) -> Result<store::AuditKey, ServeError> {
    std::fs::create_dir_all(data_dir).map_err(|source| ServeError::DataDir {
        path: data_dir.to_owned(),
        source,
    })?;
    Ok(store::AuditKey::load_or_create(&data_dir.join(AUDIT_KEY_FILE))?)
}

/// The service's shared state over an opened store, blobs and audit key.
fn state_of(
    config: Config,
    store: store::Store,
    blobs: BlobStore,
    audit_key: signer::Signer,
    memory_budget: u64,
) -> AppState {
    let serving_config = config.serving.clone();
    let worker_bytes = config.worker.args.sandbox.address_space_bytes;
    let anonymous_limit = config.anonymous;
    AppState(Arc::new(Inner {
        store,
        blobs,
        metrics: Metrics::new(),
        runner: runner::Runner::default(),
        config,
        downloads: tokio::sync::Semaphore::new(2),
        models: serving::Models::new(serving_config, budget::MemoryBudget::new(memory_budget), worker_bytes),
        in_flight: v2::PerCaller::default(),
        callers: middleware::CallerCache::default(),
        anonymous: middleware::anonymous::Anonymous::new(anonymous_limit),
        visible_models: v2::VisibleCache::default(),
        reports: report_cache::ReportCache::new(64 << 20),
        public_summaries: cache::Ttl::new(std::time::Duration::from_secs(30), 1024),
        last_check: app::audit::LastCheck::default(),
        audit_key,
    }))
}

/// Worker settings that are never used to start a worker: for state that serves and runs nothing.
pub(crate) fn placeholder_worker() -> inference::WorkerConfig {
    inference::WorkerConfig {
        program: std::path::PathBuf::from("sandkasse"),
        args: inference::WorkerArgs {
            onnxruntime: Default::default(),
            sandbox: inference::SandboxConfig::default(),
            threads: 1,
            allow_probes: false,
            parent_pid: None,
            disable_layers: Default::default(),
        },
        load_timeout: std::time::Duration::from_secs(1),
        batch_timeout: std::time::Duration::from_secs(1),
        allow_missing: Default::default(),
    }
}

/// The service's state for a command that reads and writes the data directory without serving or running
/// anything (`sandkasse evidence export`): no executor is started and no worker is ever spawned, so its worker
/// settings are placeholders.
pub(crate) async fn offline_state(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
) -> Result<AppState, ServeError> {
    let store = open_store(data_dir, database_url).await?;
    let blobs = BlobStore::open(data_dir.join("blobs"))?;
    let audit_key = signer::Signer::open(data_dir)?;
    let worker = placeholder_worker();
    let mut config = Config::new(data_dir.to_path_buf(), worker);
    config.database_url = database_url.map(str::to_owned);
    Ok(state_of(config, store, blobs, audit_key, 1 << 30))
}

/// A started server: where it listens, and the demo accounts if it seeded them.
pub struct Running {
    pub addr: std::net::SocketAddr,
    /// Where the gRPC service listens, when it was asked for.
    pub grpc_addr: Option<std::net::SocketAddr>,
    pub demo: Option<demo::DemoInfo>,
}

/// Serves until `shutdown` completes, then stops running runs (marking them failed with the cause), lets
/// requests in flight finish for at most the configured shutdown grace, and closes the database. A run in the
/// middle of a batch is not waited for past the grace: it is marked failed and left to the process's exit.
///
/// `ready` is called once the socket is bound, with the address (the port may have been 0).
pub async fn serve(
    config: Config,
    demo: bool,
    ready: impl FnOnce(&Running),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let store = open_store(&config.data_dir, config.database_url.as_deref()).await?;
    let blobs = BlobStore::open(config.data_dir.join("blobs"))?;
    let audit_key = signer::Signer::open(&config.data_dir)?;
    // Datasets being generated for download when a previous process died.
    let _ = std::fs::remove_dir_all(config.data_dir.join("tmp"));
    let interrupted = store.mark_interrupted_runs(runner::INTERRUPTED).await?;
    if !interrupted.is_empty() {
        tracing::warn!(
            runs = interrupted.len(),
            "runs left running by a previous process were marked failed"
        );
    }
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr()?;
    let grpc_listener = match config.grpc_bind {
        Some(grpc) => Some(
            tokio::net::TcpListener::bind(grpc)
                .await
                .map_err(|source| ServeError::Bind { addr: grpc, source })?,
        ),
        None => None,
    };
    let grpc_addr = grpc_listener.as_ref().map(|l| l.local_addr()).transpose()?;
    let budget = config
        .memory_budget_bytes
        .or_else(budget::default_total)
        .ok_or_else(|| {
            std::io::Error::other("the host's memory could not be read from /proc/meminfo; give --memory-budget-mb")
        })?;
    let state = state_of(config, store.clone(), blobs, audit_key, budget);
    let demo = if demo {
        Some(
            demo::seed(&state.store, &state.blobs, &state.config)
                .await
                .map_err(ServeError::Demo)?,
        )
    } else {
        None
    };
    let executors = runner::spawn(&state, state.config.run_slots);
    ready(&Running { addr, grpc_addr, demo });
    let app = api::router(state.clone());
    let runner_state = state.clone();
    let refusals = middleware::anonymous::spawn_flusher(&state);
    let checkpoints = state
        .config
        .checkpoint_every
        .map(|every| app::audit::spawn_checkpoints(&state, every));
    let grace = state.config.shutdown_grace;
    let signalled = Arc::new(std::sync::OnceLock::new());
    let signal_time = signalled.clone();
    let limits = state.config.connections;
    let gate = connections::Gate::new(&limits);
    // The gRPC port stops with the HTTP one: both stop accepting on the signal and give their requests in
    // flight the same grace.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let grpc = grpc_listener.map(|listener| {
        let service = v2::grpc::service(state.clone());
        let mut stopped = stopped.clone();
        tokio::spawn(connections::serve(
            listener,
            service,
            connections::Protocol::Http2,
            gate.clone(),
            limits,
            grace,
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        ))
    });
    connections::serve(
        listener,
        app,
        connections::Protocol::Http1,
        gate,
        limits,
        grace,
        async move {
            shutdown.await;
            let _ = stop.send(true);
            let _ = signal_time.set(std::time::Instant::now());
            tracing::info!("shutting down: stopping runs, finishing requests");
            runner_state.runner.stop();
        },
    )
    .await;
    if let Some(grpc) = grpc {
        let _ = grpc.await;
    }
    state.runner.stop();
    // Runs were told to stop when the signal came; one in the middle of a batch stops only when the batch
    // ends (or its worker is killed), so wait for the executors until the grace since the signal has passed
    // (at least a moment), then record the runs still running as stopped by the shutdown.
    let since = signalled.get().copied().unwrap_or_else(std::time::Instant::now);
    let wait = grace
        .saturating_sub(since.elapsed())
        .max(std::time::Duration::from_millis(500));
    let all = async {
        for e in executors {
            let _ = e.await;
        }
    };
    if tokio::time::timeout(wait, all).await.is_err() {
        for id in state.runner.running_ids() {
            tracing::warn!(run = %id, "still running after the shutdown grace: marked failed");
            if let Err(e) = store.fail_run(&id, runner::SHUT_DOWN).await {
                tracing::warn!(run = %id, error = %e, "marking a run stopped by the shutdown");
            }
        }
    }
    refusals.abort();
    if let Some(c) = checkpoints {
        c.abort();
    }
    middleware::anonymous::flush_all(&state).await;
    // A connection still held by an abandoned executor must not keep the process from exiting.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), store.close()).await;
    Ok(())
}
