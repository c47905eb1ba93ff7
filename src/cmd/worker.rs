//! `sandkasse worker`: the isolated process that runs one model. Started by the parent (never
//! by hand) with a cleared environment; it talks frames over stdin and stdout.

use inference::{SandboxConfig, WorkerArgs};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ONNX Runtime library to load before locking down.
    #[arg(long)]
    onnxruntime: PathBuf,
    /// Address-space limit (RLIMIT_AS), MiB.
    #[arg(long, default_value_t = 4096)]
    address_space_mb: u64,
    /// CPU-time limit (RLIMIT_CPU), seconds.
    #[arg(long, default_value_t = 3600)]
    cpu_seconds: u64,
    /// Intra-op threads of the model's session.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Answer sandbox probes (tests only).
    #[arg(long, hide = true)]
    allow_probes: bool,
    /// The parent's process id: the worker ends when its parent is gone.
    #[arg(long)]
    parent_pid: Option<u32>,
    /// Skip this isolation layer and report it inactive (tests of the parent's refusal only).
    #[arg(long = "test-disable-layer", value_name = "LAYER", hide = true, value_parser = inference::known_isolation_layer)]
    test_disable_layer: Vec<String>,
}

pub fn run(args: Args) -> std::process::ExitCode {
    let code = inference::worker_main(WorkerArgs {
        onnxruntime: args.onnxruntime,
        sandbox: SandboxConfig {
            address_space_bytes: args.address_space_mb << 20,
            cpu_seconds: args.cpu_seconds,
            ..SandboxConfig::default()
        },
        threads: args.threads,
        allow_probes: args.allow_probes,
        parent_pid: args.parent_pid,
        disable_layers: args.test_disable_layer.into_iter().collect(),
    });
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
