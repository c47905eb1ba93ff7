//! `sandkasse serve`: the sandbox service on the embedded default (SQLite and blobs under
//! `--data-dir`) or with its metadata in PostgreSQL.

use super::DataArgs;
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Address and port for the Open Inference Protocol's gRPC service (KServe V2,
    /// `inference.GRPCInferenceService`; h2c); off when not given.
    #[arg(long)]
    grpc_bind: Option<SocketAddr>,
    /// Seed demo organisations, users (tokens printed once), cases, criteria and the sample
    /// models, then serve.
    #[arg(long)]
    demo: bool,
    /// Where --demo finds the sample models.
    #[arg(long, default_value = "models")]
    models_dir: std::path::PathBuf,
    /// Runs executed at the same time by this process (0: serve the API only, and let other
    /// processes on the same PostgreSQL database execute the runs).
    #[arg(long, default_value_t = 1)]
    run_slots: usize,
    /// Worker processes per run [default: the number of cores].
    #[arg(long)]
    workers_per_run: Option<usize>,
    /// Bootstrap resamples of each run's report.
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Address-space limit of each worker, MiB.
    #[arg(long, default_value_t = 4096)]
    worker_memory_mb: u64,
    /// Largest model upload, MiB.
    #[arg(long, default_value_t = 64)]
    max_model_mb: u64,
    /// Worker processes per model served live (`/v2`).
    #[arg(long, default_value_t = 2)]
    serving_workers: usize,
    /// Requests that may wait per live model; more are answered 503 at once.
    #[arg(long, default_value_t = 1024)]
    serving_queue: usize,
    /// Most rows scored together by a live model.
    #[arg(long, default_value_t = 1024)]
    serving_batch_rows: usize,
    /// A live model no request used for this long is unloaded (its workers stopped), seconds.
    #[arg(long, default_value_t = 300)]
    serving_idle_secs: u64,
    /// Live inference requests one user may have in flight at once; more are answered 429.
    #[arg(long, default_value_t = 8)]
    serving_per_caller: usize,
    /// Memory all workers (runs and live models) may reserve together, MiB; each worker is
    /// charged its --worker-memory-mb. Worker starts that do not fit wait (runs) or are refused
    /// with 503 (live models) after idle live models are unloaded [default: 75 % of the host's
    /// memory, or the server's cgroup memory.max when lower].
    #[arg(long)]
    memory_budget_mb: Option<u64>,
    /// Token that adds per-model series to /metrics when sent as `Authorization: Bearer
    /// TOKEN`; without it, /metrics names no model.
    #[arg(long, env = "SANDKASSE_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Deadline for one batch, seconds.
    #[arg(long, default_value_t = 60)]
    batch_timeout: u64,
    /// Mark the browser session cookie `Secure` (behind a TLS proxy that does not send
    /// `X-Forwarded-Proto: https`; with it, the cookie is marked anyway).
    #[arg(long)]
    secure_cookies: bool,
    /// Seconds a client has to send a request's head (from connecting, or from the previous answer: an idle
    /// keep-alive connection is closed after this too).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout_secs: u64,
    /// Seconds a client has to send a request's body once its head has arrived.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    body_timeout_secs: u64,
    /// Seconds a connection may accept no bytes of an answer before it is closed.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    idle_timeout_secs: u64,
    /// Seconds a gRPC connection may have no call in flight before it is closed (gracefully; clients
    /// reconnect on their next call).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    grpc_idle_timeout_secs: u64,
    /// Connections open at once; more are closed as soon as they are accepted.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// Connections one client address (IPv6: its /64) may hold at once; behind a reverse proxy every client
    /// shares the proxy's address, so raise it there.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections_per_address: u64,
    /// Runs one organisation may have waiting; more are refused (429).
    #[arg(long, default_value_t = 20)]
    org_queued_runs: u64,
    /// Citizens one organisation may have in waiting runs, together; more are refused (429).
    #[arg(long, default_value_t = 20_000_000)]
    org_queued_rows: u64,
    /// Runs of one organisation executed at the same time (by all processes on the database).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    org_running_runs: u64,
    /// Minutes a run may take from its start before it is stopped and failed.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=10080))]
    run_deadline_mins: u64,
    /// Seconds a training-data download may wait for its client to take bytes before it is dropped.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    download_idle_secs: u64,
    /// Minutes between signed checkpoints of the audit log (taken only when it has grown); 0 signs them only
    /// on demand (`POST /api/v1/audit/checkpoint`, `sandkasse audit checkpoint`).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=10080))]
    checkpoint_every_mins: u64,
    /// Seconds requests in flight and running runs get to finish on SIGTERM or Ctrl-C.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=3600))]
    shutdown_grace_secs: u64,
    /// Requests per second an address may make without valid credentials (sustained); more are
    /// answered 429 and counted, not each written to the audit log.
    #[arg(long, default_value_t = server::config::AnonymousLimit::default().rate)]
    anonymous_rate: f64,
    /// Requests an address may make at once without valid credentials.
    #[arg(long, default_value_t = server::config::AnonymousLimit::default().burst)]
    anonymous_burst: f64,
    #[command(flatten)]
    isolation: super::IsolationArgs,
}

pub fn run(args: Args) -> Result<()> {
    let onnxruntime = inference::locate_runtime()?;
    let worker = super::worker_config(
        onnxruntime,
        args.worker_memory_mb,
        Duration::from_secs(args.batch_timeout),
        &args.isolation,
    )?;
    let mut config = server::Config::new(args.data.data_dir.clone(), worker);
    config.database_url = args.data.database_url.clone();
    config.bind = args.bind;
    config.grpc_bind = args.grpc_bind;
    config.run_slots = args.run_slots;
    config.workers_per_run = args
        .workers_per_run
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    config.bootstrap = args.bootstrap;
    config.demo_models = args.models_dir.clone();
    config.max_model_bytes = args.max_model_mb << 20;
    config.serving.workers = args.serving_workers.max(1);
    config.serving.queue_requests = args.serving_queue.max(1);
    config.serving.max_batch_rows = args.serving_batch_rows.max(1);
    config.secure_cookies = args.secure_cookies;
    config.serving.idle = Duration::from_secs(args.serving_idle_secs);
    config.serving.per_caller = args.serving_per_caller.max(1);
    config.memory_budget_bytes = args.memory_budget_mb.map(|mb| mb.saturating_mul(1 << 20));
    config.metrics_token = args.metrics_token.clone().filter(|t| !t.is_empty());
    config.connections = server::config::ConnectionLimits {
        header_timeout: Duration::from_secs(args.header_timeout_secs),
        body_timeout: Duration::from_secs(args.body_timeout_secs),
        idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        h2_idle_timeout: Duration::from_secs(args.grpc_idle_timeout_secs),
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        max_connections_per_address: usize::try_from(args.max_connections_per_address).unwrap_or(usize::MAX),
    };
    config.org_limits = server::config::OrgLimits {
        queued_runs: args.org_queued_runs,
        queued_rows: args.org_queued_rows,
        running_runs: args.org_running_runs,
    };
    config.run_deadline = Duration::from_secs(args.run_deadline_mins * 60);
    config.download_idle_timeout = Duration::from_secs(args.download_idle_secs);
    config.shutdown_grace = Duration::from_secs(args.shutdown_grace_secs);
    config.checkpoint_every =
        (args.checkpoint_every_mins > 0).then(|| Duration::from_secs(60 * args.checkpoint_every_mins));
    anyhow::ensure!(
        args.anonymous_rate.is_finite() && args.anonymous_rate > 0.0 && args.anonymous_burst >= 1.0,
        "--anonymous-rate must be a positive number and --anonymous-burst at least 1"
    );
    config.anonymous = server::config::AnonymousLimit {
        rate: args.anonymous_rate,
        burst: args.anonymous_burst.min(1e9),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(async move {
        let backend = if config.database_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        let data_dir = config.data_dir.clone();
        server::serve(
            config,
            args.demo,
            |running| {
                println!(
                    "Sandkasse listening on http://{}/ ({backend}; data in {})",
                    running.addr,
                    data_dir.display()
                );
                println!(
                    "  pages: http://{}/ui/login   API: http://{}/api/v1/openapi.json   metrics: http://{}/metrics",
                    running.addr, running.addr, running.addr
                );
                if let Some(grpc) = running.grpc_addr {
                    println!("Sandkasse gRPC listening on {grpc} (inference.GRPCInferenceService)");
                }
                if let Some(demo) = &running.demo {
                    for u in &demo.users {
                        println!("  demo {:<9} {:<20} ({}): {}", u.role.as_str(), u.name, u.org, u.token);
                    }
                    for n in &demo.notes {
                        println!("  demo: {n}");
                    }
                    if let Some(u) = demo.users.first() {
                        println!(
                            "  try: open http://{}/ui/login and log in with a token above, or\n       curl -H 'Authorization: Bearer {}' http://{}/api/v1/cases",
                            running.addr, u.token, running.addr
                        );
                    }
                }
                use std::io::Write;
                let _ = std::io::stdout().flush();
            },
            shutdown_signal(),
        )
        .await
        .context("the server failed")
    });
    // Dropping the runtime would wait for every blocking thread, e.g. a run's scoring in the middle of a
    // batch: give them a moment, then leave them to the process's exit (the run is already marked failed).
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
