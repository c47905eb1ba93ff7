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
    /// Deadline for one batch, seconds.
    #[arg(long, default_value_t = 60)]
    batch_timeout: u64,
    /// Mark the browser session cookie `Secure` (behind a TLS proxy that does not send
    /// `X-Forwarded-Proto: https`; with it, the cookie is marked anyway).
    #[arg(long)]
    secure_cookies: bool,
    #[command(flatten)]
    isolation: super::IsolationArgs,
}

pub fn run(args: Args) -> Result<()> {
    let onnxruntime = inference::runtime::locate()?;
    let worker = super::worker_config(
        onnxruntime,
        args.worker_memory_mb,
        Duration::from_secs(args.batch_timeout),
        &args.isolation,
    )?;
    let mut config = server::Config::new(args.data.data_dir.clone(), worker);
    config.database_url = args.data.database_url.clone();
    config.bind = args.bind;
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
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
    })
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
