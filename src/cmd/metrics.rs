//! `sandkasse metrics`: accuracy and fairness of decisions (yes/no, a number, or one of several classes) in a
//! Parquet, Arrow IPC (Feather) or CSV file, each possibly gzip- or zstd-compressed.

use anyhow::{Context, Result, bail};
use arrow::array::RecordBatch;
use evaluate::CsvOptions;
use fairness::{Accumulator, Columns, Config, MissingGroups, Report, add_record_batch};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Input file: Parquet, Arrow IPC (Feather) or CSV, optionally gzip- or zstd-compressed
    /// (.gz, .zst); the format is told from the file's first bytes.
    #[arg(long)]
    input: PathBuf,
    #[command(flatten)]
    csv: CsvArgs,
    /// What the model outputs: a yes/no decision (binary), a number (regression) or one of several classes
    /// (multiclass, with --classes).
    #[arg(long, value_enum, default_value_t = Task::Binary)]
    task: Task,
    /// The classes of a multi-class outcome, in order, comma-separated (e.g. none,light,medium,heavy); the
    /// label and prediction columns hold these names, or their indices from 0.
    #[arg(long, value_delimiter = ',')]
    classes: Vec<String>,
    /// The label the decisions are judged against (0/1; the number for regression; the class for multiclass).
    #[arg(long)]
    label: String,
    /// A second label, e.g. the true outcome where --label is the recorded one.
    #[arg(long)]
    label_true: Option<String>,
    /// The decision (0/1); without it the decision is score >= --threshold.
    #[arg(long)]
    prediction: Option<String>,
    /// Probability of the positive class, in [0, 1].
    #[arg(long)]
    score: Option<String>,
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// Row weights.
    #[arg(long)]
    weight: Option<String>,
    /// Group attribute (repeatable; every intersection is reported too).
    #[arg(long = "group", required = true)]
    groups: Vec<String>,
    /// Twin id column: pairs each citizen with a counterfactual twin (see `generate
    /// --counterfactual`) and reports decision flips; twins are left out of group metrics.
    #[arg(long)]
    twin_id: Option<String>,
    /// The 0/1 column marking the twin of each pair.
    #[arg(long, default_value = "is_twin")]
    is_twin: String,
    /// Reference group, ATTRIBUTE=VALUE (repeatable) [default: the largest group].
    #[arg(long = "reference", value_name = "ATTRIBUTE=VALUE")]
    references: Vec<String>,
    /// Criteria fixed before the run (TOML or JSON).
    #[arg(long)]
    criteria: Option<PathBuf>,
    /// Bootstrap resamples (0 for none).
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Resample rows within each intersection cell (group sizes fixed), or all rows at once.
    #[arg(long, value_parser = ["stratified", "rows"], default_value = "stratified")]
    bootstrap_scheme: String,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = 0.95)]
    confidence: f64,
    /// Correction of the significance tests against the reference group.
    #[arg(long, value_parser = ["holm", "bh"], default_value = "holm")]
    correction: String,
    /// Smaller groups are shown but flagged and kept out of comparisons.
    #[arg(long, default_value_t = 30.0)]
    min_group_size: f64,
    /// Rows with a missing group value: an error, or a group of their own.
    #[arg(long, value_parser = ["error", "group"], default_value = "error")]
    missing_groups: String,
    /// Write the report here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, value_parser = ["json", "md"], default_value = "json")]
    format: String,
}

/// What kind of output a model gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Task {
    Binary,
    Regression,
    Multiclass,
}

/// How a CSV input is read; shared by `metrics` and `evaluate --dataset`.
#[derive(Debug, Clone, clap::Args)]
pub struct CsvArgs {
    /// Field delimiter of a CSV input: , ; \t or | [default: detected from the header and the
    /// lines after it].
    #[arg(long, value_name = "C", value_parser = evaluate::parse_delimiter)]
    csv_delimiter: Option<u8>,
    /// A CSV input writes numbers with a decimal comma (0,731), as pandas' `to_csv(sep=';',
    /// decimal=',')` and Excel in Danish do; needs a delimiter other than `,`.
    #[arg(long)]
    decimal_comma: bool,
}

impl CsvArgs {
    pub fn options(&self) -> CsvOptions {
        CsvOptions {
            delimiter: self.csv_delimiter,
            decimal_comma: self.decimal_comma,
        }
    }
}

/// Rows per batch read, whatever chunks the file holds: the accumulator's floating-point sums
/// depend on how rows are grouped, so every format gives the same batches and the same report.
const BATCH_ROWS: usize = 64 * 1024;

/// Streams the input file's record batches to `f`, in batches of [`BATCH_ROWS`] whatever its
/// format (told by its magic bytes; gzip or zstd around it is inflated, a compressed Parquet or
/// Arrow file up to [`evaluate::input::MAX_INFLATED_BYTES`]).
/// Only the columns in `keep` are decoded (all of them if one is missing, so the error about it
/// can list the file's columns).
fn for_each_batch(
    path: &Path,
    csv: &CsvOptions,
    keep: &[&str],
    mut f: impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<()> {
    let table = evaluate::input::open_table(path, csv, BATCH_ROWS, keep)?;
    for b in table.batches {
        f(&b.with_context(|| format!("reading {}", path.display()))?)?;
    }
    Ok(())
}

pub fn run(args: Args) -> Result<()> {
    if args.task != Task::Binary {
        return run_task(args);
    }
    if !args.classes.is_empty() {
        bail!("--classes is for --task multiclass");
    }
    let mut config = Config {
        min_group_size: args.min_group_size,
        confidence: args.confidence,
        bootstrap: args.bootstrap,
        seed: args.seed,
        bootstrap_scheme: if args.bootstrap_scheme == "rows" {
            fairness::Scheme::Rows
        } else {
            fairness::Scheme::Stratified
        },
        correction: if args.correction == "bh" {
            fairness::Correction::BenjaminiHochberg
        } else {
            fairness::Correction::Holm
        },
        ..Config::default()
    };
    if !(0.5..1.0).contains(&args.confidence) {
        bail!("--confidence must be in [0.5, 1), got {}", args.confidence);
    }
    config.reference = references(&args)?;
    let criteria = match &args.criteria {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading criteria {}", p.display()))?;
            fairness::parse_criteria(&text).with_context(|| format!("criteria {}", p.display()))?
        }
        None => Vec::new(),
    };
    let cols = Columns {
        label: args.label.clone(),
        label_true: args.label_true.clone(),
        prediction: args.prediction.clone(),
        score: args.score.clone(),
        weight: args.weight.clone(),
        groups: args.groups.clone(),
        threshold: args.threshold,
        twin_id: args.twin_id.clone(),
        is_twin: args.is_twin.clone(),
    };
    let names: Vec<&str> = args.groups.iter().map(String::as_str).collect();
    let missing = missing_groups(&args);
    let mut acc = Accumulator::new(&names, args.score.is_some(), args.label_true.is_some(), missing);
    let mut rows = 0usize;
    // The columns the report reads; a file's others are not decoded.
    let mut keep: Vec<&str> = vec![cols.label.as_str()];
    keep.extend(names.iter().copied());
    keep.extend(
        [
            &cols.label_true,
            &cols.prediction,
            &cols.score,
            &cols.weight,
            &cols.twin_id,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str),
    );
    if cols.twin_id.is_some() {
        keep.push(&cols.is_twin);
    }
    for_each_batch(&args.input, &args.csv.options(), &keep, |batch| {
        add_record_batch(&mut acc, batch, &cols, rows).with_context(|| format!("in {}", args.input.display()))?;
        rows += batch.num_rows();
        Ok(())
    })?;
    if rows == 0 {
        bail!("{} has no rows", args.input.display());
    }
    let report = Report::build(&acc, &config);
    let verdicts = fairness::evaluate_criteria(&criteria, &report);
    let judged = fairness::Judged { report, verdicts };
    let text = match args.format.as_str() {
        "md" => fairness::render_markdown(&judged.report, &judged.verdicts),
        _ => serde_json::to_string_pretty(&judged)? + "\n",
    };
    match &args.out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => super::print(&text)?,
    }
    // The criteria are the user's text and the explanations quote the data's group values.
    for v in &judged.verdicts {
        eprintln!(
            "{:?}: {} {} on {}: {}",
            v.verdict,
            v.criterion.metric,
            v.criterion.threshold,
            escape::terminal(&v.criterion.attribute),
            escape::terminal(&v.explanation)
        );
    }
    Ok(())
}

/// `--task regression` and `--task multiclass`: the per-group metrics and disparities of `fairness::tasks`.
fn run_task(args: Args) -> Result<()> {
    let task = if args.task == Task::Regression {
        "regression"
    } else {
        "multiclass"
    };
    for (given, flag) in [
        (args.label_true.is_some(), "--label-true"),
        (args.score.is_some(), "--score"),
        (args.weight.is_some(), "--weight"),
        (args.twin_id.is_some(), "--twin-id"),
        (args.criteria.is_some(), "--criteria"),
    ] {
        if given {
            bail!("{flag} applies to --task binary only, not to --task {task}");
        }
    }
    if args.format != "json" {
        bail!("--task {task} writes JSON only so far (--format json)");
    }
    let prediction = args
        .prediction
        .clone()
        .with_context(|| format!("--task {task} needs --prediction, the column of the model's output"))?;
    let mut config = fairness::TaskConfig {
        min_group_size: args.min_group_size.max(0.0).ceil() as u64,
        ..Default::default()
    };
    config.reference = references(&args)?;
    let names: Vec<&str> = args.groups.iter().map(String::as_str).collect();
    let missing = missing_groups(&args);
    let mut keep: Vec<&str> = vec![args.label.as_str(), prediction.as_str()];
    keep.extend(names.iter().copied());
    let mut rows = 0usize;
    let text = if args.task == Task::Regression {
        if !args.classes.is_empty() {
            bail!("--classes is for --task multiclass");
        }
        let mut acc = fairness::RegressionAccumulator::new(&names, missing);
        for_each_batch(&args.input, &args.csv.options(), &keep, |batch| {
            fairness::add_regression_batch(&mut acc, batch, &args.label, &prediction, &args.groups, rows)
                .with_context(|| format!("in {}", args.input.display()))?;
            rows += batch.num_rows();
            Ok(())
        })?;
        serde_json::to_string_pretty(&acc.report(&config))?
    } else {
        let classes: Vec<&str> = args.classes.iter().map(String::as_str).collect();
        let mut acc = fairness::MulticlassAccumulator::new(&classes, &names, missing)
            .context("--classes (give the classes in order, comma-separated: none,light,medium,heavy)")?;
        for_each_batch(&args.input, &args.csv.options(), &keep, |batch| {
            fairness::add_multiclass_batch(&mut acc, batch, &args.label, &prediction, &args.groups, rows)
                .with_context(|| format!("in {}", args.input.display()))?;
            rows += batch.num_rows();
            Ok(())
        })?;
        serde_json::to_string_pretty(&acc.report(&config))?
    };
    if rows == 0 {
        bail!("{} has no rows", args.input.display());
    }
    let text = text + "\n";
    match &args.out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => super::print(&text)?,
    }
    Ok(())
}

/// `--reference ATTRIBUTE=VALUE` options as a map, each attribute one of the `--group` columns.
fn references(args: &Args) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for r in &args.references {
        let (k, v) = r
            .split_once('=')
            .with_context(|| format!("--reference {r:?}: expected ATTRIBUTE=VALUE"))?;
        if !args.groups.iter().any(|g| g == k) {
            bail!("--reference {r:?}: {k:?} is not one of the --group columns");
        }
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

fn missing_groups(args: &Args) -> MissingGroups {
    if args.missing_groups == "group" {
        MissingGroups::Group
    } else {
        MissingGroups::Error
    }
}
