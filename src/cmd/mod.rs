pub mod audit;
pub mod doctor;
pub mod evaluate;
pub mod evidence;
pub mod generate;
pub mod inspect;
pub mod manifest;
pub mod metrics;
pub mod replay;
pub mod scenarios;
pub mod serve;
pub mod users;
pub mod worker;

use std::io::Write;

/// At most `cap + 1` bytes of `path`: enough for the caller to tell a file over `cap` (and
/// refuse it naming its limit) without reading a huge one whole.
pub fn read_capped(path: &std::path::Path, cap: u64) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context;
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .with_context(|| format!("opening {}", path.display()))?
        .take(cap + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(bytes)
}

/// Writes `text` to stdout. A closed pipe (`sandkasse scenarios | head`) is not an error.
pub fn print(text: &str) -> anyhow::Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Which isolation layers workers may run without, for `serve` and `evaluate`.
#[derive(Debug, Clone, clap::Args)]
pub struct IsolationArgs {
    /// Run workers even though these isolation layers are unavailable (comma-separated names
    /// from `sandkasse doctor`'s worker layers, e.g. `landlock,seccomp`). Without it, a worker
    /// missing any layer is refused. Every run record and report names the layers allowed.
    #[arg(
        long = "allow-missing-isolation",
        value_name = "LAYER[,LAYER...]",
        value_delimiter = ',',
        value_parser = inference::known_isolation_layer
    )]
    pub allow_missing_isolation: Vec<String>,
    /// Tests only: make every worker skip this layer and report it inactive.
    #[arg(
        long = "test-disable-layer",
        value_name = "LAYER",
        hide = true,
        value_parser = inference::known_isolation_layer
    )]
    pub test_disable_layer: Vec<String>,
}

/// How runs start isolated workers: this executable's `worker` subcommand, one intra-op
/// thread, the given address-space limit and batch deadline, and the layers the operator
/// allowed to be missing.
pub fn worker_config(
    onnxruntime: std::path::PathBuf,
    memory_mb: u64,
    batch_timeout: std::time::Duration,
    isolation: &IsolationArgs,
) -> anyhow::Result<inference::WorkerConfig> {
    use anyhow::Context;
    Ok(inference::WorkerConfig {
        program: std::env::current_exe().context("finding the sandkasse executable")?,
        args: inference::WorkerArgs {
            onnxruntime,
            sandbox: inference::SandboxConfig {
                address_space_bytes: memory_mb << 20,
                ..inference::SandboxConfig::default()
            },
            threads: 1,
            allow_probes: false,
            parent_pid: None,
            disable_layers: isolation.test_disable_layer.iter().cloned().collect(),
        },
        load_timeout: std::time::Duration::from_secs(60),
        batch_timeout,
        allow_missing: isolation.allow_missing_isolation.iter().cloned().collect(),
    })
}

/// Where the service keeps its data, shared by `serve`, `users` and `audit`.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Directory of the SQLite database and the blobs.
    #[arg(long, default_value = "sandkasse-data")]
    pub data_dir: std::path::PathBuf,
    /// Keep the metadata in PostgreSQL instead (`postgres://user:password@host/db`).
    #[arg(long, env = "SANDKASSE_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DataArgs {
    pub async fn open(&self) -> anyhow::Result<store::Store> {
        Ok(server::open_store(&self.data_dir, self.database_url.as_deref()).await?)
    }
}
