//! `sandkasse manifest draft`: a manifest proposed from the model's own inputs and outputs, so a
//! vendor whose names match the scenario's columns has none to write.

use anyhow::{Context, Result, bail};
use escape::terminal;
use inference::{Limits, Manifest, inspect};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Propose a manifest for a model: its inputs matched by name to the scenario's columns
    /// (or to `{column}_{category}` one-hot positions), its types kept, its outputs found by
    /// type. Prints the TOML; says exactly what it could not map.
    Draft(DraftArgs),
}

#[derive(Debug, clap::Args)]
struct DraftArgs {
    /// The ONNX model file.
    #[arg(long)]
    model: PathBuf,
    /// The scenario the model reads (see `sandkasse scenarios`).
    #[arg(long)]
    scenario: String,
    /// The model's name in the manifest; by default the file's name without `.onnx`.
    #[arg(long)]
    name: Option<String>,
    /// The model's version in the manifest.
    #[arg(long, default_value = "1")]
    version: String,
    /// The columns of a wide input, in order (the training frame's `X.columns`), separated by
    /// commas; or `@FILE` for a file with one per line.
    #[arg(long, value_name = "NAMES|@FILE")]
    feature_names: Option<String>,
    /// The class that counts as a positive decision (default 1 for integer classes).
    #[arg(long)]
    positive_class: Option<String>,
    /// Decide positive when P(positive class) >= this.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// Write the manifest here instead of to stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Draft(a) => draft(a),
    }
}

fn draft(args: DraftArgs) -> Result<()> {
    let limits = Limits::default();
    let bytes = super::read_capped(&args.model, limits.max_file_bytes)?;
    let inspection = inspect(&bytes, &limits);
    if !inspection.accepted() {
        for f in &inspection.findings {
            eprintln!("rejected: {}", terminal(&f.to_string()));
        }
        bail!(
            "{} is rejected at inspection; no manifest can make it run",
            terminal(&args.model.display().to_string())
        );
    }
    let feature_names = match args.feature_names.as_deref() {
        None => None,
        Some(list) => {
            let text = match list.strip_prefix('@') {
                Some(path) => {
                    // The upload's limit for the same part, so what works here works there.
                    const LIMIT: u64 = 1 << 20;
                    let bytes = super::read_capped(std::path::Path::new(path), LIMIT)?;
                    if bytes.len() as u64 > LIMIT {
                        bail!("--feature-names: {path} is over the limit of {LIMIT} bytes");
                    }
                    String::from_utf8(bytes)
                        .map_err(|_| anyhow::anyhow!("--feature-names: {path} is not UTF-8 text"))?
                }
                None => list.to_owned(),
            };
            Some(evaluate::parse_feature_names(&text).map_err(|e| anyhow::anyhow!("--feature-names: {e}"))?)
        }
    };
    let name = match args.name {
        Some(n) => n,
        None => args
            .model
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into()),
    };
    let request = evaluate::DraftRequest {
        name,
        version: args.version,
        scenario: args.scenario,
        feature_names,
        positive_class: args.positive_class,
        threshold: args.threshold,
    };
    let drafted = evaluate::draft_manifest(&inspection.summary, &request).map_err(|problems| {
        for p in &problems {
            eprintln!("not mapped: {}", terminal(&p.to_string()));
        }
        anyhow::anyhow!(
            "no manifest drafted for {}: {} thing{} could not be mapped (above); write those parts yourself (models/README.md)",
            terminal(&args.model.display().to_string()),
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        )
    })?;
    // What is printed is checked as an upload would check it: parsed back, against the model
    // and against the scenario's data.
    let text = evaluate::manifest_toml(&drafted);
    let parsed = Manifest::parse(&text).context("the drafted manifest does not parse back")?;
    let mut problems: Vec<String> = parsed
        .check_against(&inspection.summary)
        .iter()
        .map(ToString::to_string)
        .collect();
    let warnings = match evaluate::check_manifest_fits_scenario(&parsed) {
        Ok(w) => w,
        Err(p) => {
            problems.extend(p.iter().map(ToString::to_string));
            Vec::new()
        }
    };
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("not mapped: {}", terminal(p));
        }
        bail!("the drafted manifest does not fit; write those parts yourself");
    }
    for w in &warnings {
        eprintln!("warning: {}", terminal(w));
    }
    match &args.out {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("drafted: {}", terminal(&path.display().to_string()));
        }
        None => super::print(&text)?,
    }
    Ok(())
}
