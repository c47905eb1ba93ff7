//! `sandkasse scenarios`: what each scenario generates, column by column.

use anyhow::Result;
use serde_json::json;
use std::fmt::Write as _;
use synth::dictionary::population_columns;
use synth::population::PopulationModel;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let scenarios = synth::scenario::all();
    let entries: Vec<_> = scenarios
        .iter()
        .map(|s| {
            let bias = s.default_bias();
            let model = PopulationModel::new(s.as_ref(), &bias, 0, false, 1);
            let mut columns = population_columns();
            columns.extend(s.columns());
            json!({
                "name": s.name(),
                "summary": s.summary(),
                "ages": [s.ages().start(), s.ages().end()],
                "has_outcome": s.has_outcome(),
                "max_rows": model.max_capacity(),
                "max_rows_exact_ages": model.exact_capacity(),
                "default_bias": bias,
                "measurable_features": s.numeric_features(),
                "columns": columns,
            })
        })
        .collect();
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
