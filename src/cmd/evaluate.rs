//! `sandkasse evaluate`: one run end to end. The model is inspected, the test split is
//! generated, scored in isolated workers, and judged against both the recorded and the true
//! outcomes; the record says how to redo it and what isolation was in force.

use anyhow::{Context, Result, bail};
use evaluate::{Dataset, Request};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use synth::{Counterfactual, DatasetSpec, Split};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ONNX model.
    #[arg(long)]
    model: PathBuf,
    /// Its manifest (TOML or JSON).
    #[arg(long)]
    manifest: PathBuf,
    /// Scenario of the synthetic test data to generate (must be the manifest's).
    #[arg(long, required_unless_present = "dataset")]
    scenario: Option<String>,
    /// Evaluate on this test split (Parquet, Arrow or CSV with its .meta.json sidecar, as
    /// written by `sandkasse generate --split test`, optionally gzip- or zstd-compressed)
    /// instead of generating one; its scenario, bias and twins come from the file.
    #[arg(long, conflicts_with_all = ["scenario", "rows", "bias", "counterfactual"])]
    dataset: Option<PathBuf>,
    #[command(flatten)]
    csv: super::metrics::CsvArgs,
    /// Citizens in the test split.
    #[arg(long, default_value_t = 100_000)]
    rows: u64,
    /// Seed of the generated data and of the bootstrap (with --dataset, of the bootstrap only)
    /// [default: 0, or the file's seed].
    #[arg(long)]
    seed: Option<u64>,
    /// Bias knobs of the dataset, KEY=VALUE (repeatable), or `none` (see `generate --help`).
    #[arg(long = "bias", value_name = "KEY=VALUE|none")]
    bias: Vec<String>,
    /// Also score a counterfactual twin per citizen with this attribute changed (sex or origin).
    #[arg(long)]
    counterfactual: Option<String>,
    /// Criteria fixed before the run (TOML or JSON).
    #[arg(long)]
    criteria: Option<PathBuf>,
    /// Group attributes (repeatable) [default: sex, origin, age_band].
    #[arg(long = "group")]
    groups: Vec<String>,
    /// Bootstrap resamples for intervals.
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    #[arg(long, default_value_t = 30.0)]
    min_group_size: f64,
    /// Worker processes [default: the number of cores].
    #[arg(long)]
    workers: Option<usize>,
    /// Rows per request to a worker.
    #[arg(long, default_value_t = evaluate::DEFAULT_BATCH_ROWS)]
    batch_rows: usize,
    /// Deadline for one batch, seconds; a worker that misses it is killed and replaced.
    #[arg(long, default_value_t = 60)]
    batch_timeout: u64,
    /// Address-space limit of each worker, MiB.
    #[arg(long, default_value_t = 4096)]
    worker_memory_mb: u64,
    /// Deadline for the whole run, minutes; a run over it is stopped (its workers killed) and
    /// fails [default: none].
    #[arg(long)]
    deadline_mins: Option<u64>,
    #[command(flatten)]
    isolation: super::IsolationArgs,
    /// Skip the explanation stage (permutation importance of every input column on the first rows).
    #[arg(long)]
    no_explain: bool,
    /// Rows the explanation stage uses: the dataset's first, counterfactual twins left out.
    #[arg(long, default_value_t = evaluate::DEFAULT_EXPLAIN_ROWS)]
    explain_rows: usize,
    /// Permutations per column in the explanation stage (2 to 1000).
    #[arg(long, default_value_t = evaluate::ExplainOptions::default().repeats)]
    explain_repeats: usize,
    /// Columns whose partial dependence (with group curves and ICE) the explanation stage computes
    /// [default: the most important numeric and the most important categorical column].
    #[arg(long, value_delimiter = ',', value_name = "COLUMN,...")]
    explain_dependence: Vec<String>,
    /// Skip the path stage (path-specific counterfactual twins of the first citizens).
    #[arg(long)]
    no_paths: bool,
    /// The attribute the path stage changes: sex or origin [default: --counterfactual's, else origin].
    #[arg(long, value_parser = ["sex", "origin"])]
    path_attribute: Option<String>,
    /// The paths measured: total (every descendant of the attribute), proxy (only the proxies),
    /// mediated (every descendant but the proxies), through:COL+COL, hold:COL+COL.
    #[arg(long, value_delimiter = ',', value_name = "PATH,...", default_values_t = ["total".to_owned(), "proxy".to_owned(), "mediated".to_owned()])]
    paths: Vec<String>,
    /// Also measure the path that recomputes only these descendants of the attribute.
    #[arg(long, value_delimiter = ',', value_name = "COLUMN,...")]
    through: Vec<String>,
    /// Also measure the path that recomputes every descendant of the attribute but these.
    #[arg(long, value_delimiter = ',', value_name = "COLUMN,...")]
    hold: Vec<String>,
    /// The proxies of the proxy and mediated paths [default: the scenario's: country of origin,
    /// municipality, region, names].
    #[arg(long, value_delimiter = ',', value_name = "COLUMN,...")]
    proxies: Vec<String>,
    /// Citizens the path stage makes twins for: the first of the run's spec with counterfactual
    /// twins of the attribute (the run's own first citizens when it has those twins).
    #[arg(long, default_value_t = evaluate::DEFAULT_PATH_ROWS)]
    path_rows: usize,
    /// Skip the perturbation and recourse stages (each input the model reads moved by the
    /// measurement error its scenario states; the smallest change of an actionable input that
    /// changes an unfavourable decision). The stability check runs in every run regardless.
    #[arg(long)]
    no_robustness: bool,
    /// Rows the perturbation and recourse stages use: the dataset's first, counterfactual twins
    /// left out.
    #[arg(long, default_value_t = evaluate::DEFAULT_ROBUSTNESS_ROWS)]
    robustness_rows: usize,
    /// Multiplies every stated measurement error in the perturbation stage: 1 is the scenario's,
    /// 0 moves nothing (0 to 10).
    #[arg(long, default_value_t = 1.0)]
    noise_scale: f64,
    /// Also evaluate the model on the shift grid: populations the generator makes with one
    /// setting changed from the run's (proxy strength 0, 1, 2; label bias rate 0 to 0.3;
    /// representation factor 0.5, 1, 2; each region alone), with accuracy and disparities at
    /// each point. Criteria with a `shift` bound need it.
    #[arg(long)]
    shift: bool,
    /// Citizens generated for each population of the shift grid.
    #[arg(long, default_value_t = evaluate::DEFAULT_SHIFT_ROWS, requires = "shift")]
    shift_rows: usize,
    /// The shift grid's axes (default: all): proxy_strength, label_rate, representation_factor,
    /// region.
    #[arg(long, value_delimiter = ',', value_name = "AXIS,...", value_parser = parse_axis, requires = "shift")]
    shift_axes: Vec<fairness::ShiftAxis>,
    /// The run record with the report (JSON).
    #[arg(long)]
    out: PathBuf,
    /// Also the report as Markdown.
    #[arg(long)]
    md: Option<PathBuf>,
    /// Also the report as one self-contained HTML file to forward or print.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Language of the HTML report: da or en.
    #[arg(long, default_value = "en", value_parser = ["da", "en"])]
    lang: String,
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(args: Args) -> Result<()> {
    let dataset = match (&args.dataset, &args.scenario) {
        (Some(path), _) => Dataset::File(path.clone()),
        (None, Some(scenario)) => {
            let mut spec = DatasetSpec::new(scenario, args.rows, args.seed.unwrap_or(0))?;
            spec.apply_bias_args(&args.bias)?;
            spec.split = Split::Test;
            if let Some(attr) = &args.counterfactual {
                spec.counterfactual = Some(Counterfactual::parse(attr)?);
            }
            Dataset::Generate(Box::new(spec))
        }
        (None, None) => bail!("give --scenario to generate the test split, or --dataset to read one"),
    };
    let criteria = match &args.criteria {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading criteria {}", p.display()))?;
            fairness::parse_criteria(&text).with_context(|| format!("criteria {}", p.display()))?
        }
        None => Vec::new(),
    };
    if args.batch_rows == 0 || args.batch_rows > 1 << 20 {
        bail!("--batch-rows must be in 1..=1048576, got {}", args.batch_rows);
    }
    let onnxruntime = inference::locate_runtime()?;
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let worker = super::worker_config(
        onnxruntime,
        args.worker_memory_mb,
        Duration::from_secs(args.batch_timeout),
        &args.isolation,
    )?;
    let mut req = Request::new(args.model.clone(), args.manifest.clone(), dataset, worker);
    if !args.groups.is_empty() {
        req.groups = args.groups.clone();
    }
    req.criteria = criteria;
    req.csv = args.csv.options();
    req.fairness.bootstrap = args.bootstrap;
    req.fairness.min_group_size = args.min_group_size;
    req.bootstrap_seed = args.seed;
    req.workers = workers;
    req.batch_rows = args.batch_rows;
    req.deadline = args.deadline_mins.map(|m| Duration::from_secs(m.saturating_mul(60)));
    if !(2..=1000).contains(&args.explain_repeats) {
        bail!(
            "--explain-repeats must be in 2..=1000 (an interval needs two), got {}",
            args.explain_repeats
        );
    }
    req.explain = (!args.no_explain && args.explain_rows > 0).then_some(evaluate::ExplainOptions {
        rows: args.explain_rows,
        repeats: args.explain_repeats,
        seed: None,
        dependence: (!args.explain_dependence.is_empty()).then(|| args.explain_dependence.clone()),
    });
    req.robustness = (!args.no_robustness).then_some(evaluate::RobustnessOptions {
        rows: args.robustness_rows,
        scale: args.noise_scale,
        seed: None,
    });
    req.shift = args.shift.then(|| evaluate::ShiftOptions {
        rows: args.shift_rows,
        axes: if args.shift_axes.is_empty() {
            evaluate::all_axes()
        } else {
            args.shift_axes.clone()
        },
    });
    req.paths = if args.no_paths {
        None
    } else {
        let mut paths = args
            .paths
            .iter()
            .map(|p| synth::Path::parse(p))
            .collect::<Result<Vec<_>, _>>()
            .context("--paths")?;
        if !args.through.is_empty() {
            paths.push(synth::Path::Through(args.through.clone()));
        }
        if !args.hold.is_empty() {
            paths.push(synth::Path::Hold(args.hold.clone()));
        }
        Some(evaluate::PathOptions {
            attribute: args.path_attribute.as_deref().map(Counterfactual::parse).transpose()?,
            paths,
            proxies: (!args.proxies.is_empty()).then(|| args.proxies.clone()),
            rows: args.path_rows,
            seed: None,
        })
    };
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows scored ({per_sec}, {eta})",
            )
            .expect("static template"),
        );
        bar
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)).context("installing the Ctrl-C handler")?;
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let record = evaluate::run(&req, &progress, &cancel)?;
    bar.finish_and_clear();
    write_atomic(&args.out, (serde_json::to_string_pretty(&record)? + "\n").as_bytes())?;
    if let Some(md) = &args.md {
        write_atomic(md, record.to_markdown().as_bytes())?;
    }
    if let Some(html) = &args.html {
        let lang = htmlreport::Lang::parse(&args.lang).unwrap_or(htmlreport::Lang::En);
        write_atomic(
            html,
            htmlreport::render(&record, lang, &htmlreport::Meta::default()).as_bytes(),
        )?;
    }
    let t = &record.throughput;
    if !args.quiet {
        eprintln!(
            "{} rows scored by {} workers in {:.2} s ({:.0} rows/s; batch p50 {:.2} ms, p99 {:.2} ms); report in {:.2} s; total {:.2} s",
            t.rows,
            t.workers,
            t.score_seconds,
            t.rows_per_second,
            t.batch_latency_ms_p50,
            t.batch_latency_ms_p99,
            t.metrics_seconds,
            t.total_seconds
        );
        if let Some(e) = &record.explanations {
            eprintln!(
                "explained: permutation importance of {} columns on {} rows, {} repeats; partial dependence of {}; in {:.2} s",
                e.importance.columns.len(),
                e.rows.count,
                e.importance.config.repeats,
                e.partial_dependence
                    .iter()
                    .map(|p| escape::terminal(&p.column))
                    .collect::<Vec<_>>()
                    .join(", "),
                e.seconds
            );
        }
        let off: Vec<&str> = record
            .provenance
            .isolation
            .iter()
            .filter(|l| !l.active)
            .map(|l| l.layer.as_str())
            .collect();
        if !off.is_empty() {
            eprintln!(
                "warning: the workers ran without these isolation layers (allowed by --allow-missing-isolation): {}",
                off.join(", ")
            );
        }
        if let Some(r) = &record.robustness {
            let st = &r.stability;
            let differing: usize = st.checks.iter().map(|c| c.rows_differing).sum();
            if st.stable {
                eprintln!(
                    "Stable: the first request scored again three ways, and rows from across the run scored again together, gave the run's probabilities and decisions"
                );
            } else {
                eprintln!(
                    "Unstable: scored again, the model gave other probabilities in {differing} cases (robustness.stability)"
                );
            }
            if let Some(all) = r.perturbation.as_ref().and_then(|p| p.all.as_ref()) {
                let f = &all.overall.flip_rate;
                let [lo, hi] = f.interval.unwrap_or([f.value, f.value]);
                eprintln!(
                    "Measurement error in the inputs flips {:.2} % of decisions [{:.2}, {:.2}] (robustness.perturbation)",
                    100.0 * f.value,
                    100.0 * lo,
                    100.0 * hi
                );
            }
            if let Some(rc) = &r.recourse {
                let any = &rc.result.overall.any;
                eprintln!(
                    "Recourse: {:.1} % of the {} citizens with the unfavourable decision can change it by one actionable input (robustness.recourse)",
                    100.0 * any.value,
                    rc.result.overall.citizens
                );
            }
            if let Some(sh) = &r.shift {
                let at = |axis: fairness::ShiftAxis, v: f64| {
                    sh.points
                        .iter()
                        .find(|p| p.axis == axis && p.value == fairness::GridValue::Number(v))
                        .and_then(|p| p.accuracy_true.as_ref())
                        .map_or("–".to_owned(), |e| format!("{:.3}", e.value))
                };
                eprintln!(
                    "Shift: accuracy against the true outcome {} / {} / {} at proxy strength 0 / 1 / 2, over {} points of {} citizens (robustness.shift)",
                    at(fairness::ShiftAxis::ProxyStrength, 0.0),
                    at(fairness::ShiftAxis::ProxyStrength, 1.0),
                    at(fairness::ShiftAxis::ProxyStrength, 2.0),
                    sh.points.len(),
                    sh.rows
                );
            }
        }
        for v in &record.verdicts {
            eprintln!(
                "{:?}: {} {} on {}: {}",
                v.verdict,
                v.criterion.metric,
                v.criterion.threshold,
                escape::terminal(&v.criterion.attribute),
                escape::terminal(&v.explanation)
            );
        }
    }
    Ok(())
}

/// Writes through a temporary file in the same directory, then renames.
fn write_atomic(path: &PathBuf, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("out")
    ));
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// A shift axis by its name.
fn parse_axis(s: &str) -> Result<fairness::ShiftAxis, String> {
    evaluate::all_axes()
        .into_iter()
        .find(|a| a.as_str() == s)
        .ok_or_else(|| {
            let known: Vec<&str> = evaluate::all_axes().iter().map(|a| a.as_str()).collect();
            format!("unknown axis {:?}; known: {}", escape::terminal(s), known.join(", "))
        })
}
