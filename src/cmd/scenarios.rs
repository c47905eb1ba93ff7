//! `sandkasse scenarios`: what each scenario generates, column by column.

use anyhow::Result;
use std::fmt::Write as _;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let entries = synth::scenario::catalogue();
    if args.json {
        return super::print(&(serde_json::to_string_pretty(&entries)? + "\n"));
    }
    let mut out = String::new();
    for e in &entries {
        writeln!(out, "{}", e["name"].as_str().unwrap_or_default())?;
        writeln!(out, "  {}", e["summary"].as_str().unwrap_or_default())?;
        writeln!(
            out,
            "  ages {}-{}; exact age distribution up to {} rows; at most {} rows (distinct fictitious CPR numbers)",
            e["ages"][0], e["ages"][1], e["max_rows_exact_ages"], e["max_rows"]
        )?;
        writeln!(out, "  default bias: {}", e["default_bias"])?;
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
                c["name"].as_str().unwrap_or_default(),
                c["type"].as_str().unwrap_or_default(),
                c["meaning"].as_str().unwrap_or_default(),
                parents.join(", ")
            )?;
        }
        writeln!(out)?;
    }
    super::print(&out)
}
