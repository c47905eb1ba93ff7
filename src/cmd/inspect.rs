//! `sandkasse inspect`: what a model is, and whether the sandbox will run it, before anything
//! loads it.

use anyhow::{Context, Result, bail};
use escape::terminal;
use inference::{Limits, Manifest, inspect};
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ONNX model file.
    #[arg(long)]
    model: PathBuf,
    /// The vendor's manifest (TOML or JSON): also check that it fits the model.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Print the inspection as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let limits = Limits::default();
    let bytes = super::read_capped(&args.model, limits.max_file_bytes)?;
    let mut inspection = inspect(&bytes, &limits);
    if let Some(p) = &args.manifest {
        let mut text = String::new();
        std::fs::File::open(p)
            .with_context(|| format!("opening {}", p.display()))?
            .take(inference::MAX_MANIFEST_BYTES as u64 + 1)
            .read_to_string(&mut text)
            .with_context(|| format!("reading {}", p.display()))?;
        let m = Manifest::parse(&text).with_context(|| format!("manifest {}", p.display()))?;
        if inspection.accepted() {
            inspection.findings = m.check_against(&inspection.summary);
        }
        // The manifest against its scenario's data: unknown columns, text used as numbers,
        // one-hot categories the data cannot hold.
        match evaluate::check_manifest_fits_scenario(&m) {
            Ok(warnings) => inspection.summary.warnings = warnings,
            Err(problems) => inspection
                .findings
                .extend(problems.into_iter().map(|p| inference::Finding {
                    rule: inference::Rule::Manifest,
                    location: p.field,
                    message: p.message,
                })),
        }
    }
    if args.json {
        super::print(&(serde_json::to_string_pretty(&inspection)? + "\n"))?;
    } else {
        // Every name in the summary is escaped for the terminal by `to_text`.
        super::print(&inspection.summary.to_text())?;
    }
    if !inspection.accepted() {
        // A finding quotes the model's own names (nodes, tensors, operators): escaped, so an
        // escape sequence in one cannot erase this line or fake an "accepted" one.
        for f in &inspection.findings {
            eprintln!("rejected: {}", terminal(&f.to_string()));
        }
        bail!(
            "{} is rejected ({} finding{})",
            terminal(&args.model.display().to_string()),
            inspection.findings.len(),
            if inspection.findings.len() == 1 { "" } else { "s" }
        );
    }
    eprintln!("accepted: {}", terminal(&args.model.display().to_string()));
    Ok(())
}
