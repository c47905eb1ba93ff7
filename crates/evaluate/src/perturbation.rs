//! The perturbation stage (issue 16): each input the model reads moved by the measurement error
//! its scenario states ([`synth::measurement_errors`]), alone and all together, on the first rows
//! of the run; the rows scored again by the run's own isolated workers and compared with the
//! run's own answers for them. Per group, the share of decisions that flip and the mean absolute
//! change of the probability, with intervals. The noise model is written into the record.

use crate::explanations::{Named, OnRows, originals_with, per_worker};
use crate::prepare::Prepared;
use crate::{Clock, EvaluateError, Request};
use arrow::array::RecordBatch;
use explain::{ColumnNoise, Noise, PerturbConfig, PerturbedColumn, Scored};
use inference::Pool;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Rows the perturbation uses unless told otherwise: a flip rate of 1 % then has a Wilson
/// interval about ±0.3 points wide, and each column costs one scoring of these rows.
pub const DEFAULT_ROBUSTNESS_ROWS: usize = 5000;

/// The most rows the perturbation may use: every column scores them once more.
pub const MAX_ROBUSTNESS_ROWS: usize = 65_536;

/// How a run measures robustness beyond stability ([`Request::robustness`]; `None` there skips
/// it: `--no-robustness`). Stability is checked in every run regardless.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RobustnessOptions {
    /// How many of the dataset's first rows (counterfactual twins left out) are perturbed.
    pub rows: usize,
    /// Multiplies every stated measurement error: 1 is the error the scenario states, 0 moves
    /// nothing (and so flips nothing).
    pub scale: f64,
    /// Seed of the noise; `None`: the run's bootstrap seed (by default the dataset's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Default for RobustnessOptions {
    fn default() -> Self {
        Self {
            rows: DEFAULT_ROBUSTNESS_ROWS,
            scale: 1.0,
            seed: None,
        }
    }
}

/// What the record says of the model under measurement error, under `robustness.perturbation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Perturbation {
    /// Seed, scale and confidence.
    pub config: PerturbConfig,
    /// Rows perturbed: the dataset's first, counterfactual twins left out.
    pub rows: usize,
    /// The noise applied to each column the model reads (directly or through a linked column).
    pub noise: Vec<ColumnNoise>,
    /// The model's inputs the scenario records exactly, never perturbed.
    pub exact: Vec<String>,
    /// Each column of `noise` perturbed alone, in the noise model's order.
    pub columns: Vec<PerturbedColumn>,
    /// Every column of `noise` perturbed at once (named `all`); `None` without noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<PerturbedColumn>,
    /// Wall time of the stage.
    pub seconds: f64,
}

impl Named for PerturbedColumn {
    fn name(&self) -> &str {
        &self.column
    }
}

/// Refuses a criterion on robustness (`perturbation_flip_rate`, `recourse_gap`) in a run that
/// skips the robustness stages: it could only be inconclusive. The service checks this before it
/// queues a run; the run checks it again before any worker starts.
pub fn check_robustness(
    options: Option<&RobustnessOptions>,
    criteria: &[fairness::Criterion],
) -> Result<(), EvaluateError> {
    match criteria.iter().find(|c| c.metric.is_robustness()) {
        Some(c) if options.is_none() => Err(EvaluateError::Robustness(format!(
            "the criterion on {} for {:?} needs the robustness stage, which this run skips (--no-robustness)",
            c.metric,
            c.attribute.chars().take(60).collect::<String>()
        ))),
        _ => Ok(()),
    }
}

/// Refuses options that could only fail after the whole dataset was scored.
pub(crate) fn check_options(req: &Request) -> Result<(), EvaluateError> {
    check_robustness(req.robustness.as_ref(), &req.criteria)?;
    let Some(o) = &req.robustness else { return Ok(()) };
    if !(1..=MAX_ROBUSTNESS_ROWS).contains(&o.rows) {
        return Err(EvaluateError::Robustness(format!(
            "rows must be 1 to {MAX_ROBUSTNESS_ROWS}, got {}",
            o.rows
        )));
    }
    if !(o.scale.is_finite() && (0.0..=10.0).contains(&o.scale)) {
        return Err(EvaluateError::Robustness(format!(
            "the noise scale must be 0 to 10 (1 is the stated measurement error), got {}",
            o.scale
        )));
    }
    Ok(())
}

/// The columns a run must read for its perturbation: every column a noise entry for one of the
/// model's inputs changes (the education beside its ISCED level, the municipality beside its code).
pub(crate) fn columns_read(req: &Request, manifest: &inference::Manifest) -> Vec<&'static str> {
    if req.robustness.is_none() {
        return Vec::new();
    }
    let inputs = manifest.columns();
    synth::scenario_names()
        .into_iter()
        .flat_map(|s| synth::measurement_errors(s).unwrap_or_default())
        .map(|e| e.columns())
        .filter(|columns| columns.iter().any(|c| inputs.contains(c)))
        .flatten()
        .collect()
}

/// The noise model for a run: the scenario's measurement errors that change a column the model
/// reads and whose own column the rows hold, converted for the perturbation.
fn noise_model(scenario: &str, inputs: &[&str], rows: &RecordBatch) -> Result<Vec<ColumnNoise>, EvaluateError> {
    let errors = synth::measurement_errors(scenario).map_err(|e| EvaluateError::Robustness(e.to_string()))?;
    Ok(errors
        .into_iter()
        .filter(|e| e.columns().iter().any(|c| inputs.contains(c)))
        .filter(|e| rows.column_by_name(e.column).is_some())
        .map(|e| ColumnNoise {
            column: e.column.to_owned(),
            noise: match e.error {
                synth::MeasurementError::Normal { sd, min, max } => Noise::Normal { sd, min, max },
                synth::MeasurementError::Relative { sd, min, max } => Noise::Relative { sd, min, max },
                synth::MeasurementError::Neighbours {
                    rate,
                    neighbours,
                    linked,
                } => Noise::Neighbour {
                    rate,
                    neighbours: neighbours
                        .into_iter()
                        .map(|(value, neighbours)| explain::Neighbours { value, neighbours })
                        .collect(),
                    linked: linked
                        .into_iter()
                        .map(|(column, values)| explain::Linked {
                            column: column.to_owned(),
                            values: values.into_iter().collect(),
                        })
                        .collect(),
                },
            },
            why: e.why.to_owned(),
        })
        .collect())
}

/// The first `n` rows of `first` that are not counterfactual twins, with the run's own answer
/// for them (from `probs`, one per row of `first`); `None` when there are none.
pub(crate) fn first_rows(
    first: &RecordBatch,
    probs: &[f32],
    n: usize,
    threshold: f64,
) -> Result<Option<(RecordBatch, Scored)>, EvaluateError> {
    let (rows, probs) = originals_with(first, probs)?;
    let n = rows.num_rows().min(n);
    if n == 0 {
        return Ok(None);
    }
    let probs = &probs[..n];
    let base = Scored {
        decision: probs.iter().map(|&p| f64::from(p) >= threshold).collect(),
        score: Some(probs.iter().map(|&p| f64::from(p)).collect()),
    };
    Ok(Some((rows.slice(0, n), base)))
}

/// Measures the model under measurement error on `first` (the first source batch with the run's
/// probabilities for it); `None` when the request skips it or there are no rows.
pub(crate) fn measure(
    req: &Request,
    prepared: &Prepared,
    first: Option<&(RecordBatch, Vec<f32>)>,
    pool: &Pool,
    clock: &Clock,
    seed: u64,
) -> Result<Option<Perturbation>, EvaluateError> {
    let (Some(options), Some((first, probs))) = (&req.robustness, first) else {
        return Ok(None);
    };
    let t0 = Instant::now();
    let threshold = prepared.threshold;
    let Some((rows, base)) = first_rows(first, probs, options.rows, threshold)? else {
        return Ok(None);
    };
    let n = rows.num_rows();
    let inputs = prepared.manifest.columns();
    let noise = noise_model(&prepared.source.spec.scenario, &inputs, &rows)?;
    let changed: Vec<&str> = noise
        .iter()
        .flat_map(|n| {
            let mut c = vec![n.column.as_str()];
            if let Noise::Neighbour { linked, .. } = &n.noise {
                c.extend(linked.iter().map(|l| l.column.as_str()));
            }
            c
        })
        .collect();
    let exact: Vec<String> = inputs
        .iter()
        .filter(|c| !changed.contains(c))
        .map(|c| (*c).to_owned())
        .collect();
    let on = OnRows::new(req, prepared, &rows, pool, clock)?;
    let groups = &on.groups;
    let config = PerturbConfig {
        seed: options.seed.unwrap_or(seed),
        scale: options.scale,
        confidence: req.fairness.confidence,
    };
    let names: Vec<&str> = noise.iter().map(|n| n.column.as_str()).collect();
    let columns = per_worker(pool, clock, &names, |slot, mine| {
        let mut scorer = |b: &RecordBatch| on.score(slot, b);
        mine.iter()
            .map(|c| {
                let entry: Vec<&ColumnNoise> = noise.iter().filter(|n| n.column == *c).collect();
                explain::perturbation_effect(&rows, &base, &entry, c, groups, &mut scorer, config)
            })
            .collect()
    })?;
    let all = if noise.is_empty() {
        None
    } else {
        let every: Vec<&ColumnNoise> = noise.iter().collect();
        let mut scorer = |b: &RecordBatch| on.score(0, b);
        Some(
            explain::perturbation_effect(&rows, &base, &every, "all", groups, &mut scorer, config)
                .map_err(|e| clock.check().err().unwrap_or(EvaluateError::Robustness(e.to_string())))?,
        )
    };
    Ok(Some(Perturbation {
        config,
        rows: n,
        noise,
        exact,
        columns,
        all,
        seconds: t0.elapsed().as_secs_f64(),
    }))
}

/// A share with its interval, in percent.
fn percent(e: &explain::Estimate) -> String {
    match e.interval {
        Some([lo, hi]) => format!("{:.2} % [{:.2}, {:.2}]", 100.0 * e.value, 100.0 * lo, 100.0 * hi),
        None => format!("{:.2} %", 100.0 * e.value),
    }
}

/// A mean with its interval.
fn mean(e: Option<&explain::Estimate>) -> String {
    match e {
        Some(explain::Estimate {
            value,
            interval: Some([lo, hi]),
        }) => format!("{value:.4} [{lo:.4}, {hi:.4}]"),
        Some(e) => format!("{:.4}", e.value),
        None => "–".into(),
    }
}

/// The perturbation as a Markdown section: the noise model, each column alone and all together,
/// and all together per group. Group values come from the data, so every cell is escaped.
pub(crate) fn markdown(p: &Perturbation) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "\n## Perturbation\n\nEach input the model reads moved by the measurement error its scenario states \
         (scale {}, seed {}), on the first {} rows; the rows scored again by the same isolated workers and \
         compared with the run's own decisions. Intervals: Wilson for shares, Student-t for means, at {}.\n\n\
         | column | noise | why |\n| --- | --- | --- |\n",
        p.config.scale, p.config.seed, p.rows, p.config.confidence
    );
    for n in &p.noise {
        let noise = match &n.noise {
            Noise::Normal { sd, min, max } => format!("+ N(0, {sd}²) within [{min}, {max}]"),
            Noise::Relative { sd, min, max } => format!("× (1 + N(0, {sd}²)) within [{min}, {max}]"),
            Noise::Neighbour { rate, linked, .. } => {
                let linked: Vec<&str> = linked.iter().map(|l| l.column.as_str()).collect();
                if linked.is_empty() {
                    format!("a neighbouring value for {} % of rows", 100.0 * rate)
                } else {
                    format!(
                        "a neighbouring value for {} % of rows ({} follows)",
                        100.0 * rate,
                        linked.join(", ")
                    )
                }
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            escape::markdown_cell(&n.column),
            escape::markdown_cell(&noise),
            escape::markdown_cell(&n.why)
        );
    }
    if !p.exact.is_empty() {
        let exact: Vec<String> = p.exact.iter().map(|c| escape::markdown_inline(c)).collect();
        let _ = writeln!(out, "\nRecorded exactly, not perturbed: {}.", exact.join(", "));
    }
    out.push_str(
        "\n| perturbed | rows changed | decisions flipped | to positive | to negative | mean abs. probability change |\n\
         | --- | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for c in p.columns.iter().chain(&p.all) {
        let s = &c.overall;
        let _ = writeln!(
            out,
            "| {} | {} of {} | {} | {} | {} | {} |",
            escape::markdown_cell(&c.column),
            s.changed,
            s.rows,
            percent(&s.flip_rate),
            percent(&s.flips_to_positive),
            percent(&s.flips_to_negative),
            mean(s.mean_abs_score_change.as_ref())
        );
    }
    if let Some(all) = &p.all
        && !all.groups.is_empty()
    {
        out.push_str(
            "\nEvery column at once, per group:\n\n| attribute | group | rows | decisions flipped | mean abs. probability change |\n\
             | --- | --- | ---: | ---: | ---: |\n",
        );
        for g in &all.groups {
            let s = &g.sensitivity;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                escape::markdown_cell(&g.attribute),
                escape::markdown_cell(&g.value),
                s.rows,
                percent(&s.flip_rate),
                mean(s.mean_abs_score_change.as_ref())
            );
        }
    }
    out
}
