//! `sandkasse replay RUN`: re-execute a finished run of the service from its record — the model blob by hash,
//! the stored dataset spec, seeds and stages — and state whether the new findings are byte-identical to the
//! stored ones, naming the first difference if not, and the versions that differ. Works beside a running
//! service (on its database and blob directory) or without one; changes nothing.

use super::DataArgs;
use anyhow::{Context, Result, bail};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run's id (as the API and the pages show it).
    run: String,
    #[command(flatten)]
    data: DataArgs,
    /// Deadline for one batch, seconds; a worker that misses it is killed and replaced.
    #[arg(long, default_value_t = 60)]
    batch_timeout: u64,
    /// Address-space limit of each worker, MiB.
    #[arg(long, default_value_t = 4096)]
    worker_memory_mb: u64,
    /// Deadline for the whole replay, minutes.
    #[arg(long, default_value_t = 60)]
    deadline_mins: u64,
    /// Print the comparison as JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    isolation: super::IsolationArgs,
}

/// Exits 0 when the findings are identical, 1 when they differ (the comparison is printed either way), and
/// with an error when the run could not be replayed.
pub fn run(args: Args) -> Result<()> {
    let onnxruntime = inference::locate_runtime()?;
    let worker = super::worker_config(
        onnxruntime,
        args.worker_memory_mb,
        Duration::from_secs(args.batch_timeout),
        &args.isolation,
    )?;
    let config = server::replay::ReplayConfig {
        worker,
        workers: None,
        deadline: Some(Duration::from_secs(args.deadline_mins.max(1).saturating_mul(60))),
    };
    let id = store::RunId::parse(&args.run)
        .map_err(|e| anyhow::anyhow!("the run id {}: {e}", escape::terminal(&args.run)))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let replay = runtime.block_on(async {
        let blobs = store::BlobStore::open(args.data.data_dir.join("blobs"))?;
        let store = args.data.open().await?;
        let run = store.run(&id).await;
        let outcome = match run {
            Ok(Some(run)) => {
                let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                server::replay::replay(&store, &blobs, &config, &run, cancel)
                    .await
                    .with_context(|| format!("replaying run {id}"))
            }
            Ok(None) => Err(anyhow::anyhow!("there is no run {id} in this database")),
            Err(e) => Err(anyhow::Error::from(e).context(format!("reading run {id}"))),
        };
        store.close().await;
        outcome
    })?;
    if args.json {
        super::print(&format!("{}\n", serde_json::to_string_pretty(&replay)?))?;
    } else {
        super::print(&escape::terminal(&replay.summary()))?;
    }
    if !replay.comparison.identical {
        bail!("the replay's findings differ from the stored run's");
    }
    Ok(())
}
