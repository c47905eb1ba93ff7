//! `sandkasse scenarios`: what each scenario generates, column by column; a module file's
//! checks; the shipped modules' text and the module format's JSON Schema.

use anyhow::{Context, Result};
use escape::terminal as t;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Check a scenario module file and describe it (instead of the shipped scenarios); a
    /// malformed module is refused with the file, line and column of each problem.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["source", "schema"])]
    file: Option<PathBuf>,
    /// Print the module file a shipped scenario is defined by (a start for a new one).
    #[arg(long, value_name = "NAME", conflicts_with = "schema")]
    source: Option<String>,
    /// Print the JSON Schema of scenario module files.
    #[arg(long)]
    schema: bool,
}

/// Reads and checks a module file, bounded in size before it is read whole.
pub fn load_module(path: &std::path::Path) -> Result<synth::module::ModuleScenario> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.len() > synth::module::MAX_MODULE_BYTES as u64 {
        anyhow::bail!(
            "{}: the module is {} bytes; at most {}",
            path.display(),
            meta.len(),
            synth::module::MAX_MODULE_BYTES
        );
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {} as UTF-8 text", path.display()))?;
    Ok(synth::module::load(&path.display().to_string(), &text)?)
}

pub fn run(args: Args) -> Result<()> {
    if args.schema {
        return super::print(&(serde_json::to_string_pretty(&synth::module::json_schema())? + "\n"));
    }
    if let Some(name) = &args.source {
        let text = synth::scenario_module_source(name).with_context(|| {
            format!(
                "no shipped scenario {name:?}; shipped: {}",
                synth::scenario_names().join(", ")
            )
        })?;
        return super::print(text);
    }
    let entries = match &args.file {
        Some(path) => vec![synth::describe_module(&load_module(path)?)],
        None => synth::scenario_catalogue(),
    };
    if args.json {
        return super::print(&(serde_json::to_string_pretty(&entries)? + "\n"));
    }
    let mut out = String::new();
    for e in &entries {
        // Scenario modules are data files: their text is escaped like any other.
        writeln!(out, "{}", t(e["name"].as_str().unwrap_or_default()))?;
        writeln!(out, "  {}", t(e["summary"].as_str().unwrap_or_default()))?;
        writeln!(out, "  {}", t(e["summary_da"].as_str().unwrap_or_default()))?;
        writeln!(
            out,
            "  module sha256 {}",
            t(e["module_sha256"].as_str().unwrap_or_default())
        )?;
        writeln!(
            out,
            "  ages {}-{}; exact age distribution up to {} rows; at most {} rows (distinct fictitious CPR numbers)",
            e["ages"][0], e["ages"][1], e["max_rows_exact_ages"], e["max_rows"]
        )?;
        writeln!(out, "  default bias: {}", t(&e["default_bias"].to_string()))?;
        writeln!(out, "  {:<24} {:<12} {:<60} parents", "column", "type", "meaning")?;
        for c in e["columns"].as_array().into_iter().flatten() {
            let parents: Vec<&str> = c["parents"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str())
                .collect();
            writeln!(
                out,
                "  {:<24} {:<12} {:<60} {}",
                t(c["name"].as_str().unwrap_or_default()),
                t(c["type"].as_str().unwrap_or_default()),
                t(c["meaning"].as_str().unwrap_or_default()),
                t(&parents.join(", "))
            )?;
        }
        writeln!(out)?;
    }
    super::print(&out)
}
