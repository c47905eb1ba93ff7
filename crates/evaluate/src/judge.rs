//! The last stage: the report from the merged statistics, the verdicts of the criteria fixed
//! before the run, and the record that says what was done, with which hashes and seeds.

use crate::prepare::Prepared;
use crate::record::{self, Provenance, RunRecord, Throughput};
use crate::score::Scored;
use crate::{Clock, EvaluateError, Request, humantime};
use fairness::{Config, Report};
use inference::Pool;
use std::time::Instant;

/// What the analysis stages between scoring and judging found: each lands in the record under its
/// own name, and the criteria may read it.
pub(crate) struct Analyses {
    pub(crate) explanations: Option<crate::Explanations>,
    pub(crate) slices: Option<explain::Slices>,
    pub(crate) paths: Option<crate::Paths>,
    pub(crate) robustness: Option<crate::Robustness>,
}

pub(crate) fn judge(
    req: &Request,
    prepared: Prepared,
    scored: Scored,
    analyses: Analyses,
    pool: &Pool,
    clock: &Clock,
    load_seconds: f64,
) -> Result<RunRecord, EvaluateError> {
    let t_metrics = Instant::now();
    let source = &prepared.source;
    let config = Config {
        seed: req.bootstrap_seed.unwrap_or(source.spec.seed),
        ..req.fairness.clone()
    };
    let report: Report = Report::build(&scored.acc, &config);
    let analysed = |metric: fairness::CriterionMetric,
                    attribute: &str,
                    path: Option<&str>|
     -> Option<(f64, Option<[f64; 2]>, Option<String>)> {
        use fairness::CriterionMetric as M;
        match (metric, path) {
            (M::FlipRate, Some(path)) => {
                let e = &analyses.paths.as_ref()?.effects;
                let path = synth::Path::parse(path).ok()?.name();
                let p = e
                    .paths
                    .iter()
                    .find(|p| p.path == path)
                    .filter(|_| e.attribute == attribute)?;
                Some((p.overall.flip_rate.value, p.overall.flip_rate.interval, None))
            }
            (M::PerturbationFlipRate, _) => {
                // The worst group of the attribute, with every input moved at once.
                let all = analyses.robustness.as_ref()?.perturbation.as_ref()?.all.as_ref()?;
                all.groups
                    .iter()
                    .filter(|g| g.attribute == attribute && g.sensitivity.flip_rate.value.is_finite())
                    .max_by(|a, b| a.sensitivity.flip_rate.value.total_cmp(&b.sensitivity.flip_rate.value))
                    .map(|g| {
                        let f = &g.sensitivity.flip_rate;
                        (f.value, f.interval, Some(g.value.clone()))
                    })
            }
            (M::RecourseGap, _) => {
                let r = analyses.robustness.as_ref()?.recourse.as_ref()?;
                r.result.gaps.iter().find(|g| g.attribute == attribute).map(|g| {
                    (
                        g.gap.value,
                        g.gap.interval,
                        Some(format!("{} vs {}", g.highest, g.lowest)),
                    )
                })
            }
            _ => None,
        }
    };
    let verdicts = fairness::evaluate_criteria_with_analyses(&req.criteria, &report, &analysed);
    let metrics_seconds = t_metrics.elapsed().as_secs_f64();
    clock.check()?;
    let mut lat = scored.latencies;
    lat.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        if lat.is_empty() {
            0.0
        } else {
            lat[((lat.len() - 1) as f64 * q).round() as usize] * 1000.0
        }
    };
    let ready = pool.ready().unwrap_or_else(|| inference::Ready {
        onnxruntime_version: String::new(),
        onnxruntime_path: String::new(),
        layers: Vec::new(),
    });
    let score_seconds = scored.seconds;
    Ok(RunRecord {
        schema_version: record::SCHEMA_VERSION,
        verdicts,
        provenance: Provenance {
            started: humantime(clock.started),
            model_file: req.model_name.clone(),
            model_sha256: prepared.inspection.sha256.clone(),
            manifest_sha256: prepared.manifest_sha256,
            manifest: prepared.manifest.clone(),
            dataset: source.spec.clone(),
            dataset_file: source.file.as_ref().map(|p| p.display().to_string()),
            dataset_sha256: scored.dataset_sha256,
            dataset_rows: source.expected_rows,
            generator_version: source.spec.generator_version.clone(),
            sandbox_version: env!("CARGO_PKG_VERSION").to_owned(),
            onnxruntime_version: ready.onnxruntime_version.clone(),
            isolation: ready.layers.clone(),
            isolation_allowed_missing: Some(req.worker.allow_missing.iter().cloned().collect()),
        },
        inspection: prepared.inspection,
        throughput: Throughput {
            rows: scored.rows,
            workers: pool.size(),
            batch_rows: req.batch_rows,
            load_seconds,
            score_seconds,
            metrics_seconds,
            total_seconds: clock.t0.elapsed().as_secs_f64(),
            rows_per_second: if score_seconds > 0.0 {
                scored.rows as f64 / score_seconds
            } else {
                0.0
            },
            batch_latency_ms_p50: pct(0.5),
            batch_latency_ms_p95: pct(0.95),
            batch_latency_ms_p99: pct(0.99),
            worker_peak_memory_bytes: pool.peak_memory_bytes(),
        },
        worker_events: pool.events(),
        report,
        explanations: analyses.explanations,
        slices: analyses.slices,
        paths: analyses.paths,
        robustness: analyses.robustness,
    })
}
