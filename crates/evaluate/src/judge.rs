//! The last stage: the report from the merged statistics, the verdicts of the criteria fixed
//! before the run, and the record that says what was done, with which hashes and seeds.

use crate::prepare::Prepared;
use crate::record::{self, Provenance, RunRecord, Throughput};
use crate::score::Scored;
use crate::source::Source;
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
    let analysed = |c: &fairness::Criterion| -> Option<Result<fairness::Measurement, String>> {
        use fairness::CriterionMetric as M;
        let plain = |value: f64, interval: Option<[f64; 2]>, group: Option<String>| fairness::Measurement {
            value,
            interval,
            group,
            excluded: Vec::new(),
        };
        if c.shift.is_some() {
            return crate::shift::drop(analyses.robustness.as_ref()?.shift.as_ref()?, c);
        }
        match (c.metric, c.path.as_deref()) {
            (M::FlipRate, Some(path)) => {
                let e = &analyses.paths.as_ref()?.effects;
                let path = synth::Path::parse(path).ok()?.name();
                let p = e
                    .paths
                    .iter()
                    .find(|p| p.path == path)
                    .filter(|_| e.attribute == c.attribute)?;
                Some(Ok(plain(p.overall.flip_rate.value, p.overall.flip_rate.interval, None)))
            }
            (M::PerturbationFlipRate, _) => {
                let p = analyses.robustness.as_ref()?.perturbation.as_ref()?;
                Some(worst_group_flips(p, c))
            }
            (M::RecourseGap, _) => {
                let r = analyses.robustness.as_ref()?.recourse.as_ref()?;
                if !r.result.check.holds() {
                    return Some(Err(
                        "the model answered the recourse search otherwise than ordinary rows, so its recourse cannot \
                         be judged"
                            .into(),
                    ));
                }
                r.result.gaps.iter().find(|g| g.attribute == c.attribute).map(|g| {
                    Ok(fairness::Measurement {
                        excluded: g.excluded.clone(),
                        ..plain(
                            g.gap.value,
                            g.gap.interval,
                            Some(format!("{} vs {}", g.highest, g.lowest)),
                        )
                    })
                })
            }
            _ => None,
        }
    };
    let verdicts = fairness::evaluate_criteria_with_analyses(&req.criteria, &report, &analysed);
    let metrics_seconds = t_metrics.elapsed().as_secs_f64();
    clock.check()?;
    Ok(RunRecord {
        schema_version: record::SCHEMA_VERSION,
        verdicts,
        provenance: provenance(
            req,
            clock,
            (
                &prepared.inspection.sha256,
                &prepared.manifest_sha256,
                &prepared.manifest,
            ),
            source,
            pool,
            scored.dataset_sha256,
        ),
        throughput: throughput(
            req,
            pool,
            scored.rows,
            scored.latencies,
            [load_seconds, scored.seconds, metrics_seconds],
            clock,
        ),
        inspection: prepared.inspection,
        worker_events: pool.events(),
        report: record::RunReport::Binary(Box::new(report)),
        explanations: analyses.explanations,
        slices: analyses.slices,
        paths: analyses.paths,
        robustness: analyses.robustness,
    })
}

/// What the run ran on: the model, manifest and dataset by hash, the versions and the isolation.
pub(crate) fn provenance(
    req: &Request,
    clock: &Clock,
    (model_sha256, manifest_sha256, manifest): (&str, &str, &inference::Manifest),
    source: &Source,
    pool: &Pool,
    dataset_sha256: String,
) -> Provenance {
    let ready = pool.ready().unwrap_or_else(|| inference::Ready {
        onnxruntime_version: String::new(),
        onnxruntime_path: String::new(),
        layers: Vec::new(),
    });
    Provenance {
        started: humantime(clock.started),
        model_file: req.model_name.clone(),
        model_sha256: model_sha256.to_owned(),
        manifest_sha256: manifest_sha256.to_owned(),
        manifest: manifest.clone(),
        dataset: source.spec.clone(),
        dataset_file: source.file.as_ref().map(|p| p.display().to_string()),
        dataset_sha256,
        dataset_rows: source.expected_rows,
        generator_version: source.spec.generator_version.clone(),
        sandbox_version: env!("CARGO_PKG_VERSION").to_owned(),
        onnxruntime_version: ready.onnxruntime_version,
        isolation: ready.layers,
        isolation_allowed_missing: Some(req.worker.allow_missing.iter().cloned().collect()),
    }
}

/// How fast the run went; `seconds` are loading, scoring and the report.
pub(crate) fn throughput(
    req: &Request,
    pool: &Pool,
    rows: u64,
    mut latencies: Vec<f64>,
    seconds: [f64; 3],
    clock: &Clock,
) -> Throughput {
    let [load_seconds, score_seconds, metrics_seconds] = seconds;
    latencies.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        if latencies.is_empty() {
            0.0
        } else {
            latencies[((latencies.len() - 1) as f64 * q).round() as usize] * 1000.0
        }
    };
    Throughput {
        rows,
        workers: pool.size(),
        batch_rows: req.batch_rows,
        load_seconds,
        score_seconds,
        metrics_seconds,
        total_seconds: clock.t0.elapsed().as_secs_f64(),
        rows_per_second: if score_seconds > 0.0 {
            rows as f64 / score_seconds
        } else {
            0.0
        },
        batch_latency_ms_p50: pct(0.5),
        batch_latency_ms_p95: pct(0.95),
        batch_latency_ms_p99: pct(0.99),
        worker_peak_memory_bytes: pool.peak_memory_bytes(),
    }
}

/// A `perturbation_flip_rate` criterion's measurement: every group of the attribute (of at least
/// [`explain::MIN_GAP_GROUP`] rows) with every input moved at once. The value is the worst group's
/// for the criterion's bound (the highest for `<=`, `<`; the lowest for `>=`, `>`), and the
/// interval spans the worst lower and the worst upper bound over the groups, so the criterion
/// passes only when every group's interval passes and fails when any group's interval fails.
/// Judged at the scenario's stated error only: a run at another noise scale cannot decide it.
fn worst_group_flips(p: &crate::Perturbation, c: &fairness::Criterion) -> Result<fairness::Measurement, String> {
    if p.config.scale != 1.0 {
        return Err(format!(
            "the perturbation ran at noise scale {}; a criterion is judged at the scenario's stated measurement \
             error (scale 1)",
            p.config.scale
        ));
    }
    let all = p
        .all
        .as_ref()
        .ok_or("the model reads no input its scenario records with error, so nothing was perturbed")?;
    let (big, small): (Vec<_>, Vec<_>) = all
        .groups
        .iter()
        .filter(|g| g.attribute == c.attribute)
        .partition(|g| g.sensitivity.rows >= explain::MIN_GAP_GROUP);
    let excluded = small
        .iter()
        .map(|g| {
            format!(
                "{}: {} rows, fewer than {}",
                g.value,
                g.sensitivity.rows,
                explain::MIN_GAP_GROUP
            )
        })
        .collect();
    let upper = matches!(c.op, fairness::Op::Le | fairness::Op::Lt);
    let pick = |a: f64, b: f64| if upper { a.max(b) } else { a.min(b) };
    let worst = big
        .iter()
        .filter(|g| g.sensitivity.flip_rate.value.is_finite())
        .reduce(|a, b| {
            let (x, y) = (a.sensitivity.flip_rate.value, b.sensitivity.flip_rate.value);
            if pick(x, y) == x { a } else { b }
        })
        .ok_or_else(|| {
            format!(
                "no group of {} has {} rows in the perturbation",
                c.attribute,
                explain::MIN_GAP_GROUP
            )
        })?;
    let interval = big
        .iter()
        .map(|g| g.sensitivity.flip_rate.interval)
        .try_fold(None::<[f64; 2]>, |acc, i| {
            let [lo, hi] = i?;
            Some(Some(acc.map_or([lo, hi], |[a, b]| [pick(a, lo), pick(b, hi)])))
        })
        .flatten();
    Ok(fairness::Measurement {
        value: worst.sensitivity.flip_rate.value,
        interval,
        group: Some(worst.value.clone()),
        excluded,
    })
}

#[cfg(test)]
mod tests {
    use super::worst_group_flips;

    fn perturbation(groups: &[(&str, u64, f64, [f64; 2])], scale: f64) -> crate::Perturbation {
        let est = |value: f64, interval: [f64; 2]| explain::Estimate {
            value,
            interval: Some(interval),
        };
        let sens = |rows: u64, flips: f64, i: [f64; 2]| explain::Sensitivity {
            rows,
            changed: rows,
            flip_rate: est(flips, i),
            flips_to_positive: est(flips, i),
            flips_to_negative: est(0.0, [0.0, 0.0]),
            mean_abs_score_change: None,
        };
        crate::Perturbation {
            config: explain::PerturbConfig {
                seed: 1,
                scale,
                confidence: 0.95,
            },
            rows: 1000,
            noise: Vec::new(),
            exact: Vec::new(),
            columns: Vec::new(),
            all: Some(explain::PerturbedColumn {
                column: "all".into(),
                overall: sens(1000, 0.08, [0.06, 0.1]),
                groups: groups
                    .iter()
                    .map(|&(v, rows, flips, i)| explain::GroupSensitivity {
                        attribute: "origin".into(),
                        value: v.into(),
                        sensitivity: sens(rows, flips, i),
                    })
                    .collect(),
            }),
            seconds: 0.0,
        }
    }

    fn criterion(op: &str, threshold: f64) -> fairness::Criterion {
        fairness::parse_criteria(&format!(
            "[[criterion]]\nattribute = \"origin\"\nmetric = \"perturbation_flip_rate\"\nop = \"{op}\"\nthreshold = {threshold}\n"
        ))
        .unwrap()
        .remove(0)
    }

    /// The worst group's value, with an interval spanning every group's: a small group whose
    /// interval reaches past the bound keeps the verdict from passing although the worst value's
    /// own interval is clear of it; groups under 20 rows are named, not compared; at another noise
    /// scale nothing is judged.
    #[test]
    fn the_flip_rate_criterion_takes_the_worst_group_and_every_groups_interval() {
        let p = perturbation(
            &[
                ("a", 400, 0.05, [0.01, 0.20]),
                ("b", 500, 0.10, [0.08, 0.12]),
                ("tiny", 10, 0.9, [0.5, 1.0]),
            ],
            1.0,
        );
        let m = worst_group_flips(&p, &criterion("<=", 0.15)).unwrap();
        assert_eq!((m.value, m.group.as_deref()), (0.10, Some("b")));
        assert_eq!(m.interval, Some([0.08, 0.20]));
        assert_eq!(m.excluded, ["tiny: 10 rows, fewer than 20"]);
        // For a lower bound the worst is the lowest, and the interval the lowest of each end.
        let m = worst_group_flips(&p, &criterion(">=", 0.0)).unwrap();
        assert_eq!((m.value, m.interval), (0.05, Some([0.01, 0.12])));
        let e = worst_group_flips(
            &perturbation(&[("a", 400, 0.0, [0.0, 0.01])], 0.5),
            &criterion("<=", 0.1),
        )
        .unwrap_err();
        assert!(e.contains("noise scale 0.5"), "{e}");
    }
}
