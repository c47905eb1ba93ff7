//! `sandkasse scenarios`: what each scenario generates, column by column.

use anyhow::Result;
use escape::terminal as t;
use std::fmt::Write as _;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let entries = synth::scenario_catalogue();
    if args.json {
        return super::print(&(serde_json::to_string_pretty(&entries)? + "\n"));
    }
    let mut out = String::new();
    for e in &entries {
        // Scenario modules are data files: their text is escaped like any other.
        writeln!(out, "{}", t(e["name"].as_str().unwrap_or_default()))?;
        writeln!(out, "  {}", t(e["summary"].as_str().unwrap_or_default()))?;
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
