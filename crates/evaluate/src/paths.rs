//! The path stage: what changing a protected attribute does to the model's decisions along each
//! causal path (every descendant, only the proxies, only the mediators, or a chosen set), and how
//! the selection gap between the groups splits by path.
//!
//! The generator makes the twins (it alone knows the causal graph and holds every random draw
//! fixed); the run's own isolated workers score them; [`explain::path_effects`] counts. The twins
//! are made from the run's dataset spec with counterfactual twins of the attribute, so the `total`
//! path's twins are exactly the twins a run with `--counterfactual` scores.

use crate::prepare::Prepared;
use crate::{Clock, EvaluateError, Request};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use explain::{Change, PathEffects, PathTwins, Scored};
use inference::Pool;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use synth::{Counterfactual, DatasetSpec, Generator, Path, ResolvedPath};

/// Citizens a run makes path twins for unless told otherwise: enough that a flip rate of 1 % has
/// an interval of about ±0.15 points, few enough that four scorings of them cost a fraction of a
/// large run.
pub const DEFAULT_PATH_ROWS: usize = 20_000;

/// The most citizens the stage takes (each gets one twin per path, all held in memory: at the
/// most, 100,000 × 9 rows of a few hundred bytes).
pub const MAX_PATH_ROWS: usize = 100_000;

/// The most paths one run measures.
pub const MAX_PATHS: usize = 8;

/// How a run measures path-specific effects ([`Request::paths`]; `None` there skips the stage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PathOptions {
    /// The attribute changed; `None`: the dataset's counterfactual attribute, else origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<Counterfactual>,
    /// The paths measured, in order (default `total`, `proxy`, `mediated`).
    pub paths: Vec<Path>,
    /// The proxies, replacing the scenario's list (`None`: the scenario's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxies: Option<Vec<String>>,
    /// Citizens, each with one twin per path: the first of the run's spec with counterfactual twins
    /// of the attribute (the run's own first citizens when it has those twins).
    pub rows: usize,
    /// Seed of the decomposition's bootstrap; `None`: the run's bootstrap seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Default for PathOptions {
    fn default() -> Self {
        Self {
            attribute: None,
            paths: vec![Path::Total, Path::Proxy, Path::Mediated],
            proxies: None,
            rows: DEFAULT_PATH_ROWS,
            seed: None,
        }
    }
}

/// What the record says of the paths, under `paths`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Paths {
    /// The spec the citizens and twins were generated from: the run's dataset spec with
    /// counterfactual twins of the attribute and `rows` citizens. `sandkasse generate` with it
    /// gives the citizens and the `total` twins; anyone can recompute the rest from it.
    pub spec: DatasetSpec,
    /// The proxies the `proxy` and `mediated` paths used.
    pub proxies: Vec<String>,
    /// The seconds the stage took.
    pub seconds: f64,
    /// Flip rates, score changes and the gap decomposition.
    pub effects: PathEffects,
}

/// The paths of `options` resolved against `spec`'s causal graph, with the generator that makes
/// their twins; a path the graph does not have is refused here, before any scoring.
pub(crate) fn resolve(
    options: &PathOptions,
    spec: &DatasetSpec,
) -> Result<(Counterfactual, Generator, Vec<ResolvedPath>, Vec<String>), EvaluateError> {
    let err = |m: String| EvaluateError::Paths(m);
    if options.paths.is_empty() {
        return Err(err(
            "no path to measure: name at least one (total, proxy, mediated, through:…, hold:…)".into(),
        ));
    }
    if options.paths.len() > MAX_PATHS {
        return Err(err(format!(
            "{} paths asked for; a run measures at most {MAX_PATHS}",
            options.paths.len()
        )));
    }
    if !(1..=MAX_PATH_ROWS).contains(&options.rows) {
        return Err(err(format!("rows must be 1 to {MAX_PATH_ROWS}, got {}", options.rows)));
    }
    let attribute = options
        .attribute
        .or(spec.counterfactual)
        .unwrap_or(Counterfactual::Origin);
    let mut twin_spec = spec.clone();
    twin_spec.counterfactual = Some(attribute);
    twin_spec.rows = spec.rows.min(options.rows as u64);
    let generator = Generator::new(twin_spec).map_err(|e| err(e.to_string()))?;
    let proxies: Option<Vec<&str>> = options.proxies.as_ref().map(|p| p.iter().map(String::as_str).collect());
    let resolved = options
        .paths
        .iter()
        .map(|p| generator.resolve_path(attribute, p, proxies.as_deref()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    let mut names: Vec<String> = resolved.iter().map(|r| r.path.name()).collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(err(format!("path {} is asked for twice", w[0])));
    }
    let proxy_columns = generator
        .resolve_path(attribute, &Path::Proxy, proxies.as_deref())
        .map_err(|e| err(e.to_string()))?
        .columns
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    Ok((attribute, generator, resolved, proxy_columns))
}

/// Checks a run's path options against the scenario of `spec` and its criteria, as [`run`](crate::run)
/// does before any scoring: every path must be in the causal graph, and every criterion that names a
/// path must name one the run measures. For callers (the service) that refuse a run before queueing it.
pub fn check_paths(
    paths: Option<&PathOptions>,
    spec: &DatasetSpec,
    criteria: &[fairness::Criterion],
) -> Result<(), EvaluateError> {
    check_criteria(paths, criteria, Some(spec))?;
    if let Some(options) = paths {
        resolve(options, spec)?;
    }
    Ok(())
}

/// Refuses criteria that name a path the run does not measure, or the attribute the stage does
/// not change: they could only be inconclusive. The stage's attribute is known once the
/// dataset's spec is (`spec`), unless the options name it; without either only the paths are
/// checked, and the run checks again when it has the spec.
pub(crate) fn check_criteria(
    paths: Option<&PathOptions>,
    criteria: &[fairness::Criterion],
    spec: Option<&DatasetSpec>,
) -> Result<(), EvaluateError> {
    let measured: Vec<String> = paths
        .map(|o| o.paths.iter().map(Path::name).collect())
        .unwrap_or_default();
    let attribute = paths.and_then(|o| {
        o.attribute
            .or_else(|| spec.map(|s| s.counterfactual.unwrap_or(Counterfactual::Origin)))
    });
    for c in criteria {
        let Some(path) = &c.path else { continue };
        let canonical = Path::parse(path).map_err(|e| EvaluateError::Paths(format!("a criterion's path: {e}")))?;
        if let Some(a) = attribute
            && c.attribute != a.as_str()
        {
            return Err(EvaluateError::Paths(format!(
                "a criterion bounds path {} of {}, but the path stage changes {}; set the stage's attribute to {} \
                 or bound {}",
                canonical.name(),
                crate::fit::shown(&c.attribute),
                a.as_str(),
                crate::fit::shown(&c.attribute),
                a.as_str()
            )));
        }
        if !measured.contains(&canonical.name()) {
            return Err(EvaluateError::Paths(format!(
                "a criterion names path {}, which this run does not measure ({}); add it to the run's paths",
                canonical.name(),
                if measured.is_empty() {
                    "the path stage is off".to_owned()
                } else {
                    format!("it measures {}", measured.join(", "))
                }
            )));
        }
    }
    Ok(())
}

/// Measures the paths, or returns `None` when the request skips them.
pub(crate) fn measure(
    req: &Request,
    prepared: &Prepared,
    pool: &Pool,
    clock: &Clock,
    seed: u64,
) -> Result<Option<Paths>, EvaluateError> {
    let Some(options) = &req.paths else { return Ok(None) };
    let t0 = Instant::now();
    let (attribute, generator, resolved, proxies) = resolve(options, &prepared.source.spec)?;
    let err = |m: String| EvaluateError::Paths(m);
    let rows = generator.spec().rows;
    let (citizens, twins) = generator
        .path_twins(attribute, &resolved, 0..rows)
        .map_err(|e| err(e.to_string()))?;
    clock.check()?;
    // Every batch scored on its own worker slot, round robin: the answers do not depend on which.
    let batches: Vec<&RecordBatch> = std::iter::once(&citizens).chain(twins.iter()).collect();
    let scored = score_all(req, prepared, pool, clock, &batches)?;
    let (citizen_scores, twin_scores) = scored.split_first().ok_or_else(|| err("nothing was scored".into()))?;
    let attr = attribute.as_str();
    let from = text(&citizens, attr)?;
    let to = text(&twins[0], attr)?;
    let mut values: Vec<String> = from.iter().chain(&to).cloned().collect();
    values.sort();
    values.dedup();
    let code = |v: &[String]| -> Vec<u32> {
        v.iter()
            .map(|x| values.binary_search(x).map_or(0, |i| i as u32))
            .collect()
    };
    let (from, to) = (code(&from), code(&to));
    let recomputed: Vec<Vec<String>> = resolved
        .iter()
        .map(|r| r.columns.iter().map(|c| (*c).to_owned()).collect())
        .collect();
    let names: Vec<String> = resolved.iter().map(|r| r.path.name()).collect();
    let path_twins: Vec<PathTwins> = names
        .iter()
        .zip(&recomputed)
        .zip(twin_scores)
        .map(|((name, recomputed), scored)| PathTwins {
            name,
            recomputed,
            scored,
        })
        .collect();
    let effects = explain::path_effects(
        citizen_scores,
        Change {
            attribute: attr,
            values: &values,
            from: &from,
            to: &to,
        },
        &path_twins,
        req.fairness.confidence,
        options.seed.unwrap_or(seed),
    )
    .map_err(|e| err(e.to_string()))?;
    Ok(Some(Paths {
        spec: generator.spec().clone(),
        proxies,
        seconds: t0.elapsed().as_secs_f64(),
        effects,
    }))
}

/// The model's answers for each batch, the batches spread over the worker slots.
pub(crate) fn score_all(
    req: &Request,
    prepared: &Prepared,
    pool: &Pool,
    clock: &Clock,
    batches: &[&RecordBatch],
) -> Result<Vec<Scored>, EvaluateError> {
    let schema = prepared.source.batch_schema.clone();
    let features: Vec<(String, DataType)> = prepared
        .feature_columns
        .iter()
        .map(|&i| (schema.field(i).name().clone(), schema.field(i).data_type().clone()))
        .collect();
    let threshold = prepared.threshold;
    let size = pool.size().max(1);
    let answers: Vec<Result<Scored, EvaluateError>> = std::thread::scope(|s| {
        let handles: Vec<_> = batches
            .iter()
            .enumerate()
            .map(|(k, batch)| {
                let features = &features;
                s.spawn(move || {
                    clock.check()?;
                    // The generator's types, cast to the run's dataset's (a file may store them otherwise).
                    let rows = as_dataset(batch, features)?;
                    let names: Vec<String> = features.iter().map(|(n, _)| n.clone()).collect();
                    crate::explanations::score(pool, k % size, &rows, &names, req.batch_rows, threshold).map_err(|e| {
                        clock
                            .check()
                            .err()
                            .unwrap_or(EvaluateError::Paths(format!("scoring twins: {e}")))
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(EvaluateError::Paths("a scoring thread panicked".into())))
            })
            .collect()
    });
    answers.into_iter().collect()
}

/// `batch`'s feature columns with the run's dataset's types.
fn as_dataset(batch: &RecordBatch, features: &[(String, DataType)]) -> Result<RecordBatch, EvaluateError> {
    let err = |e: arrow::error::ArrowError| EvaluateError::Paths(e.to_string());
    let mut fields = Vec::with_capacity(features.len());
    let mut columns = Vec::with_capacity(features.len());
    for (name, ty) in features {
        let c = batch
            .column_by_name(name)
            .ok_or_else(|| EvaluateError::Paths(format!("the generated twins have no column {name}")))?;
        let c = if c.data_type() == ty {
            c.clone()
        } else {
            arrow::compute::cast(c, ty).map_err(err)?
        };
        fields.push(arrow::datatypes::Field::new(name, ty.clone(), c.null_count() > 0));
        columns.push(c);
    }
    RecordBatch::try_new(std::sync::Arc::new(arrow::datatypes::Schema::new(fields)), columns).map_err(err)
}

/// A column as text, row by row.
fn text(batch: &RecordBatch, name: &str) -> Result<Vec<String>, EvaluateError> {
    let c = batch
        .column_by_name(name)
        .ok_or_else(|| EvaluateError::Paths(format!("the generated rows have no column {name}")))?;
    let t = arrow::compute::cast(c, &DataType::Utf8).map_err(|e| EvaluateError::Paths(e.to_string()))?;
    let t = t.as_string::<i32>();
    Ok((0..t.len()).map(|i| t.value(i).to_owned()).collect())
}

/// The paths as a Markdown section: each path's flip rates and score changes, then the gap
/// decomposition. Column and value names come from the generator's dictionary; escaped anyway.
pub(crate) fn markdown(p: &Paths) -> String {
    use std::fmt::Write;
    let e = &p.effects;
    let cell = escape::markdown_cell;
    let pct = |x: &explain::Estimate| match x.interval {
        Some([lo, hi]) => format!("{:.2} % [{:.2}, {:.2}]", x.value * 100.0, lo * 100.0, hi * 100.0),
        None => format!("{:.2} %", x.value * 100.0),
    };
    let num = |x: &Option<explain::Estimate>| match x {
        Some(explain::Estimate {
            value,
            interval: Some([lo, hi]),
        }) => format!("{value:+.4} [{lo:+.4}, {hi:+.4}]"),
        Some(x) => format!("{:+.4}", x.value),
        None => "–".into(),
    };
    let mut s = String::new();
    let _ = writeln!(s, "## Why groups are treated differently: causal paths\n");
    let _ = writeln!(
        s,
        "Each of the first {} citizens of `paths.spec`, a dataset like the run's but with counterfactual twins of {} \
         (the run's own first citizens when it has them; otherwise the same scenario, seed and bias but other \
         citizens, because twins take half of each birth date's CPR serials), got one twin per path with {} \
         changed, made by the generator with every random draw held fixed: `total` recomputes everything {} causes (the counterfactual twins), \
         `proxy` only the proxies ({}), `mediated` everything else. Decisions by the run's isolated workers; \
         intervals at {} % (Wilson for rates, Student t for score changes).\n",
        e.citizens,
        cell(&e.attribute),
        cell(&e.attribute),
        cell(&e.attribute),
        p.proxies.iter().map(|c| cell(c)).collect::<Vec<_>>().join(", "),
        e.confidence * 100.0
    );
    let _ = writeln!(
        s,
        "| path | change | pairs | flip rate | to positive | to negative | mean score change | mean absolute change |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for r in &e.paths {
        for x in std::iter::once(&r.overall).chain(&r.by_change) {
            let change = if x.from.is_empty() {
                "all".to_owned()
            } else {
                format!("{} → {}", cell(&x.from), cell(&x.to))
            };
            let _ = writeln!(
                s,
                "| {} | {change} | {} | {} | {} | {} | {} | {} |",
                cell(&r.path),
                x.pairs,
                pct(&x.flip_rate),
                pct(&x.flips_to_positive),
                pct(&x.flips_to_negative),
                num(&x.mean_score_change),
                num(&x.mean_abs_score_change),
            );
        }
    }
    if !e.decomposition.is_empty() {
        let _ = writeln!(
            s,
            "\n### The selection gap, split by path\n\nFor citizens of one value whose twins take the other: the \
             gap is the other group's selection rate minus theirs; `proxy` and `mediated` are how much their \
             selection moves when only the proxies, or only the mediators, change (the attribute's own column \
             stays theirs); the remainder is who the groups are (age, sex, everything the attribute does not \
             cause), the model's direct use of the attribute's column, and the paths' interaction. \
             Percentile intervals over {} bootstrap resamples (seed {}).\n",
            e.resamples, e.seed
        );
        let _ = writeln!(
            s,
            "| change | citizens | gap | through proxies | through mediators | remainder | total effect |\n\
             | --- | --- | --- | --- | --- | --- | --- |"
        );
        for d in &e.decomposition {
            let _ = writeln!(
                s,
                "| {} → {} | {} / {} | {} | {} | {} | {} | {} |",
                cell(&d.from),
                cell(&d.to),
                d.citizens[0],
                d.citizens[1],
                num(&Some(d.gap.clone())),
                num(&Some(d.proxy.clone())),
                num(&Some(d.mediated.clone())),
                num(&Some(d.remainder.clone())),
                num(&d.total),
            );
        }
    }
    s
}
