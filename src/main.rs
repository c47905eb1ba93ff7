//! `sandkasse`: the one binary of the regulatory sandbox. Argument parsing and wiring only;
//! the work is done by the library crates.

mod cmd;

/// mimalloc rather than glibc's malloc: under live inference the service allocates and frees small
/// buffers on many threads, and glibc's arena locks and fastbin consolidation took about a quarter
/// of the server's CPU (BENCHMARKS.md, the gRPC load). ONNX Runtime's own C++ allocations are not
/// affected. The isolated workers run this binary too; their spawn turns mimalloc's 1 GiB arena
/// reservation off (`inference::client`), since it would count against their address-space limit.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

/// A regulatory sandbox for testing AI models on synthetic Danish citizens.
#[derive(Debug, Parser)]
#[command(name = "sandkasse", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the scenarios with their data dictionaries.
    Scenarios(cmd::scenarios::Args),
    /// Generate a synthetic dataset.
    Generate(cmd::generate::Args),
    /// Accuracy and fairness of decisions in a dataset, per group, with criteria verdicts.
    Metrics(Box<cmd::metrics::Args>),
    /// Inspect an ONNX model (and its manifest) without loading it.
    Inspect(cmd::inspect::Args),
    /// Draft a model's manifest from its declared inputs and outputs.
    Manifest(cmd::manifest::Args),
    /// Evaluate a model end to end: generate, score in isolated workers, report.
    Evaluate(Box<cmd::evaluate::Args>),
    /// Report the ONNX Runtime found and the isolation layers this kernel supports.
    Doctor(cmd::doctor::Args),
    /// Serve the sandbox: HTTP API, runs, audit trail, metrics.
    Serve(Box<cmd::serve::Args>),
    /// Manage the service's users.
    Users(cmd::users::Args),
    /// Verify the service's audit log, sign checkpoints of it, print its public key.
    Audit(cmd::audit::Args),
    /// Export a case's evidence as one bundle, or verify a bundle offline.
    Evidence(cmd::evidence::Args),
    /// Re-execute a finished run from its record and say whether its findings are byte-identical.
    Replay(Box<cmd::replay::Args>),
    /// The isolated model worker (started by Sandkasse itself).
    #[command(hide = true)]
    Worker(cmd::worker::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Logging to stderr starts no thread, so the worker is still single-threaded when it
    // locks itself down.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SANDKASSE_LOG").unwrap_or_else(|_| "warn,server=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Scenarios(args) => cmd::scenarios::run(args),
        Command::Generate(args) => cmd::generate::run(args),
        Command::Metrics(args) => cmd::metrics::run(*args),
        Command::Inspect(args) => cmd::inspect::run(args),
        Command::Manifest(args) => cmd::manifest::run(args),
        Command::Evaluate(args) => cmd::evaluate::run(*args),
        Command::Doctor(args) => cmd::doctor::run(args),
        Command::Serve(args) => cmd::serve::run(*args),
        Command::Users(args) => cmd::users::run(args),
        Command::Audit(args) => cmd::audit::run(args),
        Command::Evidence(args) => cmd::evidence::run(args),
        Command::Replay(args) => cmd::replay::run(*args),
        Command::Worker(args) => return cmd::worker::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Errors quote models', manifests' and users' text: escaped for the terminal, line
            // by line so a parser's multi-line message (a TOML error's snippet) stays readable
            // while ESC, CR and the like are shown, not obeyed.
            let text = format!("{e:#}");
            let lines: Vec<String> = text.split('\n').map(escape::terminal).collect();
            eprintln!("error: {}", lines.join("\n"));
            std::process::ExitCode::FAILURE
        }
    }
}
