//! `sandkasse generate`: write a synthetic dataset.

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use synth::{Counterfactual, DatasetSpec, Format, Generator, Split};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario name (see `sandkasse scenarios`).
    #[arg(long, required_unless_present = "scenario_file", conflicts_with = "scenario_file")]
    scenario: Option<String>,
    /// A scenario module file (TOML) to draw from instead of a shipped scenario; the dataset's
    /// spec records its SHA-256. Checked before anything is written.
    #[arg(long, value_name = "FILE")]
    scenario_file: Option<PathBuf>,
    /// Number of citizens (with --counterfactual, each also gets a twin row).
    #[arg(long)]
    rows: u64,
    /// Seed: the same arguments and seed always give byte-identical data.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output file; written atomically (nothing appears under this name unless complete).
    #[arg(long)]
    out: PathBuf,
    /// Output format [default: from the file extension, else parquet].
    #[arg(long, value_parser = ["parquet", "csv", "arrow"])]
    format: Option<String>,
    /// Disjoint, deterministic train/test split of the citizens [default: all].
    #[arg(long, value_parser = ["train", "test", "all"])]
    split: Option<String>,
    /// Write the types vendors' exporters take as they are (integers as int64, outcomes as 0/1,
    /// categories as text), as the API's training download does. Such a file is for training;
    /// `evaluate --dataset` and `metrics` read the generator's own types.
    #[arg(long)]
    for_training: bool,
    /// Bias knobs, KEY=VALUE (repeatable), or `none` for an unbiased dataset. Keys:
    /// label_rate, label_group, label_direction, representation_factor, representation_group,
    /// measurement_sd, measurement_group, measurement_feature, proxy_strength.
    #[arg(long = "bias", value_name = "KEY=VALUE|none")]
    bias: Vec<String>,
    /// Also emit a counterfactual twin per citizen with only this attribute (and its causal
    /// descendants) changed: sex or origin.
    #[arg(long, value_name = "ATTR")]
    counterfactual: Option<String>,
    /// Print a comparison of the generated citizens with the reference statistics.
    #[arg(long)]
    report: bool,
    /// Generator threads (0 = all cores). The output does not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// No progress bar or summary line.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: Args) -> Result<()> {
    let mut spec = match (&args.scenario, &args.scenario_file) {
        (_, Some(path)) => DatasetSpec::for_module(&super::scenarios::load_module(path)?, args.rows, args.seed)?,
        (Some(name), None) => DatasetSpec::new(name, args.rows, args.seed)?,
        (None, None) => bail!("pass --scenario NAME or --scenario-file FILE"),
    };
    spec.apply_bias_args(&args.bias)?;
    if let Some(s) = &args.split {
        spec.split = Split::parse(s).context("split")?;
    }
    if let Some(attr) = &args.counterfactual {
        spec.counterfactual = Some(Counterfactual::parse(attr)?);
    }
    let format = match args.format.as_deref() {
        Some(f) => Format::parse(f).context("format")?,
        None => match args.out.extension().and_then(|e| e.to_str()) {
            Some("csv") => Format::Csv,
            Some("arrow" | "ipc" | "feather") => Format::Arrow,
            Some("parquet") | None => Format::Parquet,
            Some(other) => bail!(
                "cannot tell the format from the extension .{other} of {}; pass --format parquet|csv|arrow",
                args.out.display()
            ),
        },
    };
    let generator = Generator::new(spec)?;
    let generator = if args.for_training {
        generator.for_training()
    } else {
        generator
    };
    let total = generator.output_rows();
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows ({per_sec}, {eta})",
            )
            .expect("static template"),
        );
        bar
    };
    // Ctrl-C stops at the next row group; the writer then removes its temporary file, so an
    // interrupted run leaves nothing behind.
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)).context("installing the Ctrl-C handler")?;
    let started = Instant::now();
    let summary = synth::write_dataset(
        &generator,
        &args.out,
        format,
        args.threads,
        &|n| bar.set_position(n),
        &cancel,
    )
    .with_context(|| format!("generating {} into {}", generator.spec().scenario, args.out.display()))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    if !args.quiet {
        eprintln!(
            "wrote {} rows of {} to {} ({:.1} MB) in {:.2} s: {:.0} rows/s",
            summary.rows,
            generator.spec().scenario,
            args.out.display(),
            summary.bytes as f64 / 1e6,
            secs,
            summary.rows as f64 / secs
        );
    }
    if args.report {
        let mut text = String::new();
        if generator.spec().scenario != "population" {
            text.push_str(&format!(
                "Note: {} selects a sub-population (its own ages and selection weights), so it is \
                 expected to differ from the whole population.\n\n",
                generator.spec().scenario
            ));
        }
        text.push_str(&summary.counts.report().to_string());
        super::print(&text)?;
    }
    Ok(())
}
