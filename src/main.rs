//! `sandkasse`: the one binary of the regulatory sandbox. Argument parsing and wiring only;
//! the work is done by the library crates.

mod cmd;

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
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("SANDKASSE_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scenarios(args) => cmd::scenarios::run(args),
        Command::Generate(args) => cmd::generate::run(args),
        Command::Metrics(args) => cmd::metrics::run(*args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
