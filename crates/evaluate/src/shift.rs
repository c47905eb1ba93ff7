//! The shift stage (issue 16): the run's model evaluated on populations the generator makes on a
//! stated grid, one setting changed at a time from the run's own dataset spec: proxy strength
//! (how strongly municipality encodes origin), label bias rate, representation factor, and one
//! region's citizens only. Each point's population is a pure function of its spec (a region's
//! point: the citizens of that region among its spec's), scored by the run's own isolated
//! workers; each gets a report of its own, from which the record keeps accuracy against the
//! recorded and the true outcome, the lowest disparate impact per group attribute, and every
//! criterion of the run measured there. A criterion with a `shift` bound is judged on the drop
//! between two points.

use crate::prepare::Prepared;
use crate::{Clock, EvaluateError, Request, with_predictions};
use arrow::array::{Array, AsArray, RecordBatch};
use explain::Estimate;
use fairness::{Against, Columns, Criterion, CriterionMetric, GridValue, MissingGroups, Op, Report, ShiftAxis};
use inference::Pool;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use synth::{DatasetSpec, Generator};

/// Citizens per population unless told otherwise: the accuracy of a point then has a Wilson
/// interval about ±0.6 points wide, and the whole grid scores eight populations of them.
pub const DEFAULT_SHIFT_ROWS: usize = 20_000;

/// The most citizens per population. Every population the grid needs (at most eleven: each
/// knob's grid values and the run's own setting) is held at once, in only the columns the stage
/// reads.
pub const MAX_SHIFT_ROWS: usize = 200_000;

/// Proxy strengths of the grid: municipality independent of origin, Denmark as it is, segregation
/// exaggerated.
pub const PROXY_STRENGTHS: [f64; 3] = [0.0, 1.0, 2.0];

/// Label bias rates of the grid: the share of the biased group's recorded outcomes flipped.
pub const LABEL_RATES: [f64; 4] = [0.0, 0.1, 0.2, 0.3];

/// Representation factors of the grid: the biased group sampled at half, once and twice its
/// real share.
pub const REPRESENTATION_FACTORS: [f64; 3] = [0.5, 1.0, 2.0];

/// The region axis's point of the whole population, the one every region is compared with.
pub const ALL_REGIONS: &str = "all";

/// Resamples of each point's report: each point's intervals come from its own bootstrap.
pub const SHIFT_BOOTSTRAP: usize = 500;

/// How a run evaluates its model under shift ([`Request::shift`]; `None` there skips the stage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftOptions {
    /// Citizens generated for each population of the grid.
    pub rows: usize,
    /// The axes evaluated, in this order (default: all four).
    #[serde(default = "all_axes")]
    pub axes: Vec<ShiftAxis>,
}

impl Default for ShiftOptions {
    fn default() -> Self {
        Self {
            rows: DEFAULT_SHIFT_ROWS,
            axes: all_axes(),
        }
    }
}

/// Every axis, in the order the record lists them.
pub fn all_axes() -> Vec<ShiftAxis> {
    AXES.to_vec()
}

/// What the record says of the model under shift, under `robustness.shift`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Shift {
    /// Citizens generated per population.
    pub rows: usize,
    /// Resamples of each point's bootstrap.
    pub bootstrap: usize,
    /// Every point of every axis, axis by axis in grid order.
    pub points: Vec<ShiftPoint>,
    /// Wall time of the stage.
    pub seconds: f64,
}

/// One point of the grid and what the model did there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShiftPoint {
    /// The axis the point lies on.
    pub axis: ShiftAxis,
    /// Its value on the axis: the knob's value, or the region's name (`all`: every region).
    pub value: GridValue,
    /// Whether this is the run's own setting on this axis.
    pub baseline: bool,
    /// The spec the population was generated from; for a region, its citizens in that region.
    pub spec: DatasetSpec,
    /// Citizens evaluated.
    pub rows: u64,
    /// Share of decisions equal to the recorded outcome, with its Wilson interval.
    pub accuracy: Option<Estimate>,
    /// Share of decisions equal to the true outcome, with its Wilson interval.
    pub accuracy_true: Option<Estimate>,
    /// Share with the positive decision, with its Wilson interval.
    pub selection_rate: Option<Estimate>,
    /// Per group attribute of the run, the lowest selection-rate ratio of a group to the
    /// reference group, with its bootstrap interval.
    pub disparate_impact: Vec<PointMeasure>,
    /// Each criterion of the run that a report measures, measured on this population (a
    /// criterion's shift bound left out).
    pub criteria: Vec<PointMeasure>,
    /// On the axes whose populations are the same citizens (proxy strength, label bias rate),
    /// the change from the axis's own setting, citizen by citizen; `None` at the own setting and
    /// on the other axes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<PointChange>,
}

/// The change at a point from its axis's own setting, over the same citizens: each one's two
/// answers are compared, so intervals are of the paired change (bootstrap over citizens).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PointChange {
    /// The own setting the change is measured from.
    pub from: GridValue,
    /// Citizens whose decision differs between the two settings.
    pub decisions_changed: u64,
    /// Change of the accuracy against the recorded outcome (here minus there).
    pub accuracy: Estimate,
    /// Change of the accuracy against the true outcome.
    pub accuracy_true: Estimate,
    /// Change of the selection rate.
    pub selection_rate: Estimate,
    /// Per group attribute and group, the change of its selection rate over the reference
    /// group's (disparate impact).
    pub disparate_impact: Vec<GroupChange>,
}

/// The change of one group's disparate impact between two settings of the same citizens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupChange {
    /// The attribute.
    pub attribute: String,
    /// The group.
    pub group: String,
    /// The reference group (the configured one, else the largest).
    pub reference: String,
    /// Its disparate impact at the own setting.
    pub from: f64,
    /// Its disparate impact here.
    pub to: f64,
    /// `to - from`, with its paired interval.
    pub change: Estimate,
}

/// Whether an axis's populations are the same citizens: the knob changes where they live or
/// what was recorded of them, every other draw held.
fn paired_axis(axis: ShiftAxis) -> bool {
    matches!(axis, ShiftAxis::ProxyStrength | ShiftAxis::LabelRate)
}

/// What the model answered for each citizen of a population, for paired changes.
struct Answers {
    decision: Vec<bool>,
    correct: Vec<bool>,
    correct_true: Vec<bool>,
    /// Who they are: age, sex and origin, compared before two populations are paired.
    who: Vec<(u8, bool, String)>,
    groups: Vec<explain::Groups>,
}

fn answers(req: &Request, batch: &RecordBatch, probs: &[f32], threshold: f64) -> Result<Answers, EvaluateError> {
    let decision: Vec<bool> = probs.iter().map(|&p| f64::from(p) >= threshold).collect();
    let recorded = crate::explanations::bools(batch, "outcome_recorded")?;
    let truth = crate::explanations::bools(batch, "outcome_true")?;
    let text = |name: &str| -> Result<Vec<String>, EvaluateError> {
        let c = batch
            .column_by_name(name)
            .ok_or_else(|| EvaluateError::Shift(format!("the population has no column {name}")))?;
        let t = arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8)
            .map_err(|e| EvaluateError::Shift(e.to_string()))?;
        let t = t.as_string::<i32>();
        Ok((0..t.len()).map(|i| t.value(i).to_owned()).collect())
    };
    let ages: Vec<u8> = text("age")?.iter().map(|a| a.parse().unwrap_or(0)).collect();
    let who = ages
        .into_iter()
        .zip(text("sex")?)
        .zip(text("origin")?)
        .map(|((a, s), o)| (a, s == "M", o))
        .collect();
    Ok(Answers {
        correct: decision.iter().zip(&recorded).map(|(d, y)| d == y).collect(),
        correct_true: decision.iter().zip(&truth).map(|(d, y)| d == y).collect(),
        decision,
        who,
        groups: req
            .groups
            .iter()
            .map(|g| crate::explanations::groups_of(batch, g))
            .collect::<Result<_, _>>()?,
    })
}

/// The change from `base` to `here`, the same citizens; `None` when they are not the same.
fn change(
    fairness: &fairness::Config,
    from: &GridValue,
    base: &Answers,
    here: &Answers,
    resamples: usize,
    seed: u64,
) -> Option<PointChange> {
    if base.who != here.who {
        return None;
    }
    let confidence = fairness.confidence;
    let counts = |a: &[bool], b: &[bool], rows: &dyn Fn(usize) -> bool| {
        let mut c = fairness::PairedCounts::default();
        for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
            if rows(i) {
                c.add(x, y);
            }
        }
        c
    };
    let all = |_: usize| true;
    let estimate = |c: fairness::PairedChange| Estimate {
        value: c.change,
        interval: c.interval,
    };
    let share = |a: &[bool], b: &[bool], k: u64| {
        fairness::paired_share_change(&counts(a, b, &all), resamples, confidence, seed.wrapping_add(k)).map(estimate)
    };
    let mut disparate_impact = Vec::new();
    for (gb, gh) in base.groups.iter().zip(&here.groups) {
        // An attribute the knob changes (a municipality under proxy strength) has no paired
        // groups; the others still do.
        if gb.codes != gh.codes || gb.values != gh.values {
            continue;
        }
        let sizes: Vec<usize> = (0..gb.values.len())
            .map(|v| gb.codes.iter().filter(|&&c| c as usize == v).count())
            .collect();
        // The reference as the report chooses it: the configured group (none if it is absent),
        // else the largest that is not small, the first by name among equals.
        let small = |v: usize| (sizes[v] as f64) < fairness.min_group_size;
        let reference = match fairness.reference.get(&gb.attribute) {
            Some(r) => gb.values.iter().position(|v| v == r),
            None => (0..sizes.len())
                .filter(|&v| !small(v))
                .max_by_key(|&v| (sizes[v], std::cmp::Reverse(v))),
        };
        let Some(reference) = reference else {
            continue;
        };
        let of = |v: usize| counts(&base.decision, &here.decision, &|i| gb.codes[i] as usize == v);
        let reference_counts = of(reference);
        for (v, value) in gb.values.iter().enumerate() {
            if v == reference || small(v) {
                continue;
            }
            let k = 16 + disparate_impact.len() as u64;
            if let Some(c) =
                fairness::paired_ratio_change(&of(v), &reference_counts, resamples, confidence, seed.wrapping_add(k))
            {
                disparate_impact.push(GroupChange {
                    attribute: gb.attribute.clone(),
                    group: value.clone(),
                    reference: gb.values[reference].clone(),
                    from: c.first,
                    to: c.second,
                    change: estimate(c),
                });
            }
        }
    }
    Some(PointChange {
        from: from.clone(),
        decisions_changed: base.decision.iter().zip(&here.decision).filter(|(a, b)| a != b).count() as u64,
        accuracy: share(&base.correct, &here.correct, 1)?,
        accuracy_true: share(&base.correct_true, &here.correct_true, 2)?,
        selection_rate: share(&base.decision, &here.decision, 3)?,
        disparate_impact,
    })
}

/// One measurement on one point's population.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PointMeasure {
    /// The metric.
    pub metric: CriterionMetric,
    /// The attribute (empty for the whole population's accuracy).
    pub attribute: String,
    /// What the groups are compared against.
    pub against: Against,
    /// The value; `None` when undefined here (say, a group too small).
    pub value: Option<f64>,
    /// Its interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<[f64; 2]>,
    /// The worst group, when groups are compared one by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

impl PointMeasure {
    fn is(&self, c: &Criterion) -> bool {
        self.metric == c.metric && self.attribute == c.attribute && self.against == c.against
    }
}

/// The points of an axis around `spec`: the grid's values and the spec's own, in order.
fn axis_values(axis: ShiftAxis, spec: &DatasetSpec) -> Vec<GridValue> {
    let numbers = |grid: &[f64], own: f64| {
        let mut v: Vec<f64> = grid.to_vec();
        if !v.contains(&own) {
            v.push(own);
        }
        v.sort_by(f64::total_cmp);
        v.into_iter().map(GridValue::Number).collect()
    };
    match axis {
        ShiftAxis::ProxyStrength => numbers(&PROXY_STRENGTHS, spec.bias.proxy_strength),
        ShiftAxis::LabelRate => numbers(&LABEL_RATES, spec.bias.label_rate),
        ShiftAxis::RepresentationFactor => numbers(&REPRESENTATION_FACTORS, spec.bias.representation_factor),
        ShiftAxis::Region => region_values(),
    }
}

/// The region axis: the whole population, then each region.
fn region_values() -> Vec<GridValue> {
    std::iter::once(ALL_REGIONS)
        .chain(synth::regions())
        .map(|r| GridValue::Name(r.to_owned()))
        .collect()
}

const AXES: [ShiftAxis; 4] = [
    ShiftAxis::ProxyStrength,
    ShiftAxis::LabelRate,
    ShiftAxis::RepresentationFactor,
    ShiftAxis::Region,
];

/// The spec of a point's population, whether it is the run's own setting, and the region its
/// citizens are taken from.
fn point_spec(base: &DatasetSpec, axis: ShiftAxis, value: &GridValue) -> (DatasetSpec, bool, Option<String>) {
    let mut spec = base.clone();
    let own = match (axis, value) {
        (ShiftAxis::ProxyStrength, GridValue::Number(x)) => {
            spec.bias.proxy_strength = *x;
            *x == base.bias.proxy_strength
        }
        (ShiftAxis::LabelRate, GridValue::Number(x)) => {
            spec.bias.label_rate = *x;
            *x == base.bias.label_rate
        }
        (ShiftAxis::RepresentationFactor, GridValue::Number(x)) => {
            spec.bias.representation_factor = *x;
            *x == base.bias.representation_factor
        }
        (ShiftAxis::Region, GridValue::Name(r)) if r == ALL_REGIONS => true,
        (ShiftAxis::Region, GridValue::Name(r)) => return (spec, false, Some(r.clone())),
        // Not made by `axis_values`.
        _ => true,
    };
    (spec, own, None)
}

/// The base spec of the grid: the run's dataset spec without twins, with `rows` citizens.
fn base_spec(spec: &DatasetSpec, rows: usize) -> DatasetSpec {
    DatasetSpec {
        rows: rows as u64,
        counterfactual: None,
        ..spec.clone()
    }
}

/// Refuses options and criteria that could only fail or be inconclusive after the whole dataset
/// was scored: rows out of bounds, a shift criterion in a run without the grid, or one whose
/// points the grid does not have. `spec` is the run's dataset spec when known (a file's is known
/// once it is open); without it the knobs' own values cannot be checked yet, and the run checks
/// again. For callers (the service) that refuse a run before queueing it.
pub fn check_shift(
    options: Option<&ShiftOptions>,
    spec: Option<&DatasetSpec>,
    criteria: &[Criterion],
) -> Result<(), EvaluateError> {
    let err = |m: String| EvaluateError::Shift(m);
    if let Some(o) = options {
        if !(1..=MAX_SHIFT_ROWS).contains(&o.rows) {
            return Err(err(format!("rows must be 1 to {MAX_SHIFT_ROWS}, got {}", o.rows)));
        }
        if o.axes.is_empty() {
            return Err(err(
                "no axis to evaluate: name at least one of proxy_strength, label_rate, representation_factor, region"
                    .into(),
            ));
        }
        if let Some(a) = o.axes.iter().enumerate().find(|(i, a)| o.axes[..*i].contains(a)) {
            return Err(err(format!("axis {} is asked for twice", a.1.as_str())));
        }
    }
    for c in criteria {
        let Some(bound) = &c.shift else { continue };
        if let Some(o) = options
            && !o.axes.contains(&bound.axis)
        {
            return Err(err(format!(
                "a criterion bounds the drop along {}, which this run's shift grid leaves out; add the axis",
                bound.axis.as_str()
            )));
        }
        if options.is_none() {
            return Err(err(format!(
                "a criterion bounds the drop of {} along {}, but this run does not evaluate the shift grid; ask \
                 for it (--shift)",
                c.metric,
                bound.axis.as_str()
            )));
        }
        let grid: Vec<GridValue> = match (bound.axis, spec) {
            (ShiftAxis::Region, _) => region_values(),
            (axis, Some(spec)) => axis_values(axis, spec),
            // The knob's own value is not known yet; the run checks again.
            (_, None) => continue,
        };
        for (which, v) in [("from", &bound.from), ("to", &bound.to)] {
            if !grid.contains(v) {
                let known: Vec<String> = grid.iter().map(ToString::to_string).collect();
                return Err(err(format!(
                    "a criterion's shift.{which} is {}, not a point of the {} axis; its points: {}",
                    crate::fit::shown(&v.to_string()),
                    bound.axis.as_str(),
                    known.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// A population generated whole, in the columns `keep` names only (the names, CPR numbers and
/// dates nobody reads here are dropped batch by batch), stopping when the run is.
fn generate(spec: &DatasetSpec, keep: &[String], clock: &Clock) -> Result<RecordBatch, EvaluateError> {
    let err = |e: arrow::error::ArrowError| EvaluateError::Shift(e.to_string());
    let g = Generator::new(spec.clone()).map_err(|e| EvaluateError::Shift(e.to_string()))?;
    let schema = g.schema();
    let indices: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| keep.contains(schema.field(i).name()))
        .collect();
    let projected = std::sync::Arc::new(schema.project(&indices).map_err(err)?);
    let mut batches = Vec::with_capacity(g.num_batches() as usize);
    for b in 0..g.num_batches() {
        clock.check()?;
        batches.push(g.batch(b).project(&indices).map_err(err)?);
    }
    arrow::compute::concat_batches(&projected, &batches).map_err(err)
}

/// The rows of `batch` (with `probs`) whose region is `region`.
fn in_region(batch: &RecordBatch, probs: &[f32], region: &str) -> Result<(RecordBatch, Vec<f32>), EvaluateError> {
    let column = batch
        .column_by_name("region")
        .ok_or_else(|| EvaluateError::Shift("the scenario's citizens have no region".into()))?;
    let text = arrow::compute::cast(column, &arrow::datatypes::DataType::Utf8)
        .map_err(|e| EvaluateError::Shift(e.to_string()))?;
    let text = text.as_string::<i32>();
    let mask: arrow::array::BooleanArray = (0..text.len()).map(|i| Some(text.value(i) == region)).collect();
    let rows = arrow::compute::filter_record_batch(batch, &mask).map_err(|e| EvaluateError::Shift(e.to_string()))?;
    let probs = probs
        .iter()
        .zip(mask.values().iter())
        .filter_map(|(&p, keep)| keep.then_some(p))
        .collect();
    Ok((rows, probs))
}

/// A share from the report's overall metric, with its Wilson interval.
fn share(report: &Report, truth: bool, metric: fairness::MetricName) -> Option<Estimate> {
    let metrics = if truth {
        report.overall.metrics_vs_label_true.as_ref()?
    } else {
        &report.overall.metrics
    };
    let m = metrics.get(&metric)?;
    Some(Estimate {
        value: m.value.value?,
        interval: m.interval,
    })
}

/// What one point's report says: the point's accuracy, disparate impact and criteria.
#[allow(clippy::too_many_arguments)]
fn measure_point(
    req: &Request,
    threshold: f64,
    batch: &RecordBatch,
    probs: &[f32],
    config: &fairness::Config,
    criteria: &[Criterion],
    (axis, value, baseline, spec): (ShiftAxis, GridValue, bool, DatasetSpec),
) -> Result<ShiftPoint, EvaluateError> {
    let err = |m: String| EvaluateError::Shift(m);
    let with = with_predictions(batch, probs, threshold)?;
    let names: Vec<&str> = req.groups.iter().map(String::as_str).collect();
    let columns = Columns {
        label: "outcome_recorded".into(),
        label_true: Some("outcome_true".into()),
        prediction: Some("decision".into()),
        score: None,
        weight: None,
        groups: req.groups.clone(),
        threshold,
        twin_id: None,
        is_twin: "is_twin".into(),
    };
    let mut acc = fairness::Accumulator::new(&names, false, true, MissingGroups::Error);
    fairness::add_record_batch(&mut acc, &with, &columns, 0).map_err(|e| err(e.to_string()))?;
    let report = Report::build(&acc, config);
    let measure = |c: &Criterion| {
        let v = fairness::evaluate_criteria(std::slice::from_ref(c), &report)
            .pop()
            .expect("one verdict per criterion");
        PointMeasure {
            metric: c.metric,
            attribute: c.attribute.clone(),
            against: c.against,
            value: v.value,
            interval: v.interval,
            group: v.group,
        }
    };
    let disparate_impact = req
        .groups
        .iter()
        .map(|g| {
            measure(&Criterion {
                name: None,
                attribute: g.clone(),
                metric: CriterionMetric::DisparateImpact,
                against: Against::Reference,
                op: Op::Ge,
                threshold: 0.8,
                path: None,
                shift: None,
            })
        })
        .collect();
    let mut measured: Vec<PointMeasure> = Vec::new();
    for c in criteria.iter().filter(|c| measured_by_report(c.metric)) {
        let c = c.at_one_point();
        if !measured.iter().any(|m| m.is(&c)) {
            measured.push(measure(&c));
        }
    }
    Ok(ShiftPoint {
        axis,
        value,
        baseline,
        spec,
        rows: batch.num_rows() as u64,
        accuracy: share(&report, false, fairness::MetricName::Accuracy),
        accuracy_true: share(&report, true, fairness::MetricName::Accuracy),
        selection_rate: share(&report, false, fairness::MetricName::SelectionRate),
        disparate_impact,
        criteria: measured,
        change: None,
    })
}

/// Whether a report measures the metric on one population (not the twins' flips, not a
/// robustness stage).
fn measured_by_report(metric: CriterionMetric) -> bool {
    !metric.is_robustness() && metric != CriterionMetric::FlipRate
}

/// Evaluates the model on the grid, or returns `None` when the request skips it.
pub(crate) fn measure(
    req: &Request,
    prepared: &Prepared,
    pool: &Pool,
    clock: &Clock,
    seed: u64,
) -> Result<Option<Shift>, EvaluateError> {
    let Some(options) = &req.shift else { return Ok(None) };
    let t0 = Instant::now();
    let base = base_spec(&prepared.source.spec, options.rows);
    check_shift(Some(options), Some(&prepared.source.spec), &req.criteria)?;
    // Every point, and the distinct populations they need (the run's own setting recurs on
    // every axis; every region is a part of the base population).
    let mut points: Vec<(ShiftAxis, GridValue, bool, DatasetSpec, Option<String>)> = Vec::new();
    let mut specs: Vec<DatasetSpec> = Vec::new();
    for &axis in &options.axes {
        for value in axis_values(axis, &base) {
            let (spec, own, region) = point_spec(&base, axis, &value);
            if !specs.contains(&spec) {
                specs.push(spec.clone());
            }
            points.push((axis, value, own, spec, region));
        }
    }
    // The columns the stage reads: the model's inputs (as the run's dataset names them), the
    // outcomes, the groups and age (age bands), who a citizen is (sex, origin) and the region.
    let mut keep: Vec<String> = prepared
        .feature_columns
        .iter()
        .map(|&i| prepared.source.batch_schema.field(i).name().clone())
        .collect();
    keep.extend(req.groups.iter().cloned());
    keep.extend(
        ["outcome_recorded", "outcome_true", "age", "sex", "origin", "region"]
            .iter()
            .map(|c| (*c).to_owned()),
    );
    let populations: Vec<RecordBatch> = on_cores(specs.len(), "a population of the grid", clock, |k| {
        generate(&specs[k], &keep, clock)
    })?;
    clock.check()?;
    let refs: Vec<&RecordBatch> = populations.iter().collect();
    let scored = crate::paths::score_all(req, prepared, pool, clock, &refs).map_err(|e| match e {
        EvaluateError::Paths(m) => EvaluateError::Shift(m),
        other => other,
    })?;
    clock.check()?;
    let probs: Vec<Vec<f32>> = scored
        .iter()
        .map(|s| {
            s.score
                .as_ref()
                .map(|p| p.iter().map(|&x| x as f32).collect())
                .ok_or_else(|| EvaluateError::Shift("the worker answered without probabilities".into()))
        })
        .collect::<Result<_, _>>()?;
    let config = fairness::Config {
        seed,
        bootstrap: req.fairness.bootstrap.min(SHIFT_BOOTSTRAP),
        ..req.fairness.clone()
    };
    let threshold = prepared.threshold;
    let mut measured = on_cores(points.len(), "a point of the grid", clock, |k| {
        let (axis, value, own, spec, region) = &points[k];
        let i = specs
            .iter()
            .position(|s| s == spec)
            .expect("every point's spec is listed");
        let point = (*axis, value.clone(), *own, spec.clone());
        match region {
            None => measure_point(
                req,
                threshold,
                &populations[i],
                &probs[i],
                &config,
                &req.criteria,
                point,
            ),
            Some(r) => in_region(&populations[i], &probs[i], r)
                .and_then(|(rows, p)| measure_point(req, threshold, &rows, &p, &config, &req.criteria, point)),
        }
    })?;
    clock.check()?;
    // Paired changes from each paired axis's own setting.
    let mut answered: Vec<Option<Answers>> = (0..specs.len()).map(|_| None).collect();
    for (k, (axis, value, own, spec, region)) in points.iter().enumerate() {
        if *own || region.is_some() || !paired_axis(*axis) {
            continue;
        }
        let Some((base_value, base_spec)) = points
            .iter()
            .find(|p| p.0 == *axis && p.2)
            .map(|p| (p.1.clone(), p.3.clone()))
        else {
            continue;
        };
        let i = specs.iter().position(|s| s == spec).expect("listed");
        let b = specs.iter().position(|s| *s == base_spec).expect("listed");
        for j in [i, b] {
            if answered[j].is_none() {
                answered[j] = Some(answers(req, &populations[j], &probs[j], threshold)?);
            }
        }
        if let (Some(base_answers), Some(here)) = (&answered[b], &answered[i]) {
            measured[k].change = change(
                &req.fairness,
                &base_value,
                base_answers,
                here,
                config.bootstrap,
                seed ^ (k as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            );
        }
        let _ = value;
    }
    let points = measured;
    Ok(Some(Shift {
        rows: options.rows,
        bootstrap: config.bootstrap,
        points,
        seconds: t0.elapsed().as_secs_f64(),
    }))
}

/// `work(0)`, …, `work(n - 1)` on at most as many threads as there are cores, each taking the
/// next index, in index order; the first error (the run's stop signals first) is the answer.
/// `what` names an item in the error when a thread panicked.
fn on_cores<T: Send>(
    n: usize,
    what: &str,
    clock: &Clock,
    work: impl Fn(usize) -> Result<T, EvaluateError> + Sync,
) -> Result<Vec<T>, EvaluateError> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(2, |c| c.get()).min(n);
    let done: Vec<Vec<(usize, Result<T, EvaluateError>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if k >= n {
                            break;
                        }
                        if let Err(e) = clock.check() {
                            out.push((k, Err(e)));
                            break;
                        }
                        out.push((k, work(k)));
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    let mut done: Vec<(usize, Result<T, EvaluateError>)> = done.into_iter().flatten().collect();
    done.sort_by_key(|(k, _)| *k);
    if done.len() != n {
        clock.check()?;
        return Err(EvaluateError::Shift(format!("{what} was not made (a thread panicked)")));
    }
    done.into_iter().map(|(_, r)| r).collect()
}

/// The drop of a shift criterion's metric between its two points, `from - to`, with an
/// interval from the two points' own (MOVER: Zou & Donner 2008; the populations are generated
/// separately, so their estimates are treated as independent); `None` when the grid did not
/// measure it.
pub(crate) fn drop(shift: &Shift, c: &Criterion) -> Option<Result<fairness::Measurement, String>> {
    let bound = c.shift.as_ref()?;
    if let Some(paired) = paired_drop(shift, c) {
        return Some(Ok(paired));
    }
    let one = c.at_one_point();
    let at = |v: &GridValue| {
        shift
            .points
            .iter()
            .find(|p| p.axis == bound.axis && &p.value == v)
            .and_then(|p| p.criteria.iter().find(|m| m.is(&one)))
    };
    let (Some(a), Some(b)) = (at(&bound.from), at(&bound.to)) else {
        return Some(Err(format!(
            "the shift grid has no measurement of {} at {} = {} and {}",
            c.metric,
            bound.axis.as_str(),
            bound.from,
            bound.to
        )));
    };
    let (Some(va), Some(vb)) = (a.value, b.value) else {
        return Some(Err(format!(
            "{} is undefined at {} = {}",
            c.metric,
            bound.axis.as_str(),
            if a.value.is_none() { &bound.from } else { &bound.to }
        )));
    };
    let d = va - vb;
    let interval = match (a.interval, b.interval) {
        // A percentile interval need not contain its point (the lowest disparate impact over
        // groups): a side that lies beyond the point counts as zero width, not as its square.
        (Some([la, ua]), Some([lb, ub])) => Some([
            d - ((va - la).max(0.0).powi(2) + (ub - vb).max(0.0).powi(2)).sqrt(),
            d + ((ua - va).max(0.0).powi(2) + (vb - lb).max(0.0).powi(2)).sqrt(),
        ]),
        _ => None,
    };
    Some(Ok(fairness::Measurement {
        value: d,
        interval,
        group: Some(format!("{} → {}", bound.from, bound.to)),
        excluded: Vec::new(),
    }))
}

/// An accuracy drop between an axis's own setting and another point of a paired axis, from the
/// point's paired change; `None` when the criterion is not of that kind.
fn paired_drop(shift: &Shift, c: &Criterion) -> Option<fairness::Measurement> {
    let bound = c.shift.as_ref()?;
    let point = |v: &GridValue| shift.points.iter().find(|p| p.axis == bound.axis && &p.value == v);
    let (from, to) = (point(&bound.from)?, point(&bound.to)?);
    let of = |ch: &PointChange| match c.metric {
        CriterionMetric::Accuracy => Some(ch.accuracy.clone()),
        CriterionMetric::AccuracyTrue => Some(ch.accuracy_true.clone()),
        _ => None,
    };
    // The drop is from minus to; a point's change is it minus the own setting.
    let (value, interval) = if from.baseline {
        let e = of(to.change.as_ref()?)?;
        // `0.0 - x`, not `-x`: no drop is 0, not -0.
        (0.0 - e.value, e.interval.map(|[lo, hi]| [0.0 - hi, 0.0 - lo]))
    } else if to.baseline {
        let e = of(from.change.as_ref()?)?;
        (e.value, e.interval)
    } else {
        return None;
    };
    Some(fairness::Measurement {
        value,
        interval,
        group: Some(format!("{} → {}, the same citizens", bound.from, bound.to)),
        excluded: Vec::new(),
    })
}

/// An estimate with its interval, as a Markdown cell.
fn estimate(e: Option<&Estimate>) -> String {
    match e {
        Some(Estimate {
            value,
            interval: Some([lo, hi]),
        }) => format!("{value:.4} [{lo:.4}, {hi:.4}]"),
        Some(e) => format!("{:.4}", e.value),
        None => "–".into(),
    }
}

/// A measurement with its interval, as a Markdown cell.
fn measured(m: &PointMeasure) -> String {
    match (m.value, m.interval) {
        (Some(v), Some([lo, hi])) => format!("{v:.4} [{lo:.4}, {hi:.4}]"),
        (Some(v), None) => format!("{v:.4}"),
        (None, _) => "–".into(),
    }
}

/// The shift grid as a Markdown section: one table per axis. Region names come from the
/// generator's reference data; escaped anyway.
pub(crate) fn markdown(s: &Shift) -> String {
    use std::fmt::Write;
    let cell = escape::markdown_cell;
    let mut out = format!(
        "\n## Shift\n\nThe model evaluated on populations of {} citizens the generator made with one setting changed \
         from the run's own (marked *): how strongly municipality encodes origin, how often the biased group's \
         recorded outcome is flipped, how the biased group is sampled, and one region's citizens only. Each point's \
         spec is in the record. Accuracy with Wilson intervals; disparate impact (the lowest selection-rate ratio \
         of a group to the reference) with percentile intervals over {} bootstrap resamples of each point.\n",
        s.rows, s.bootstrap
    );
    let attributes: Vec<&str> = s
        .points
        .first()
        .map(|p| p.disparate_impact.iter().map(|d| d.attribute.as_str()).collect())
        .unwrap_or_default();
    for axis in AXES {
        let points: Vec<&ShiftPoint> = s.points.iter().filter(|p| p.axis == axis).collect();
        if points.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "\n### {}\n\n| {} | citizens | accuracy (recorded) | accuracy (true) | selection rate |",
            axis.label().1,
            axis.as_str()
        );
        for a in &attributes {
            let _ = write!(out, " disparate impact, {} |", cell(a));
        }
        out.push_str("\n| --- | ---: | ---: | ---: | ---: |");
        out.push_str(&" ---: |".repeat(attributes.len()));
        out.push('\n');
        for p in points {
            let _ = write!(
                out,
                "| {}{} | {} | {} | {} | {} |",
                cell(&p.value.to_string()),
                if p.baseline { " *" } else { "" },
                p.rows,
                estimate(p.accuracy.as_ref()),
                estimate(p.accuracy_true.as_ref()),
                estimate(p.selection_rate.as_ref()),
            );
            for d in &p.disparate_impact {
                let _ = write!(out, " {} |", measured(d));
            }
            out.push('\n');
        }
        let changed: Vec<(&ShiftPoint, &PointChange)> = s
            .points
            .iter()
            .filter(|p| p.axis == axis)
            .filter_map(|p| p.change.as_ref().map(|c| (p, c)))
            .collect();
        if changed.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "\nThe same citizens at each point, compared one by one with the run's own setting (intervals from a paired \
             bootstrap over citizens):\n\n| {} | from | decisions changed | accuracy (recorded) | accuracy (true) | \
             selection rate |\n| --- | --- | ---: | ---: | ---: | ---: |",
            axis.as_str()
        );
        for (p, c) in &changed {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                cell(&p.value.to_string()),
                cell(&c.from.to_string()),
                c.decisions_changed,
                signed(&c.accuracy),
                signed(&c.accuracy_true),
                signed(&c.selection_rate)
            );
        }
        let _ = writeln!(
            out,
            "\n| {} | attribute | group | reference | disparate impact | change |\n| --- | --- | --- | --- | ---: | ---: |",
            axis.as_str()
        );
        for (p, c) in &changed {
            for g in &c.disparate_impact {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {:.4} → {:.4} | {} |",
                    cell(&p.value.to_string()),
                    cell(&g.attribute),
                    cell(&g.group),
                    cell(&g.reference),
                    g.from,
                    g.to,
                    signed(&g.change)
                );
            }
        }
    }
    out
}

/// A change with its interval, signed, as a Markdown cell.
fn signed(e: &Estimate) -> String {
    match e.interval {
        Some([lo, hi]) => format!("{:+.4} [{lo:+.4}, {hi:+.4}]", e.value),
        None => format!("{:+.4}", e.value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(attribute: &str, codes: &[u32], values: &[&str]) -> explain::Groups {
        explain::Groups {
            attribute: attribute.into(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
            codes: codes.to_vec(),
        }
    }

    fn answers(decision: &[bool], town: &[u32]) -> Answers {
        let n = decision.len();
        Answers {
            decision: decision.to_vec(),
            correct: decision.to_vec(),
            correct_true: decision.to_vec(),
            who: (0..n).map(|i| (30, i % 2 == 0, "danish".to_owned())).collect(),
            groups: vec![
                groups("sex", &(0..n).map(|i| (i % 2) as u32).collect::<Vec<_>>(), &["F", "M"]),
                groups("municipality", town, &["A", "B"]),
            ],
        }
    }

    /// A group attribute the knob changes (the municipality, under proxy strength) has no paired
    /// groups, and is left out; the point keeps its paired change and the other attributes'.
    #[test]
    fn an_attribute_the_knob_changes_is_left_out_not_the_whole_point() {
        let n = 200;
        let base = answers(&(0..n).map(|i| i % 4 == 0).collect::<Vec<_>>(), &vec![0; n]);
        let here = answers(
            &(0..n).map(|i| i % 4 == 0 || i % 10 == 1).collect::<Vec<_>>(),
            &vec![1; n],
        );
        let config = fairness::Config {
            min_group_size: 10.0,
            ..fairness::Config::default()
        };
        let c = change(&config, &GridValue::Number(1.0), &base, &here, 100, 1).expect("paired");
        assert_eq!(c.decisions_changed, 20);
        assert!(c.disparate_impact.iter().all(|g| g.attribute == "sex"), "{c:?}");
        assert_eq!(c.disparate_impact.len(), 1);
        // Other citizens are not paired at all.
        let mut other = answers(&vec![false; n], &vec![0; n]);
        other.who[0].0 = 31;
        assert!(change(&config, &GridValue::Number(1.0), &base, &other, 100, 1).is_none());
    }

    /// The drop's interval from two points' intervals (MOVER) never narrows because a point
    /// lies outside its own percentile interval: that side counts as zero width.
    #[test]
    fn a_drop_between_independent_points_has_the_mover_interval() {
        let bound = |from: f64, to: f64| fairness::ShiftBound {
            axis: ShiftAxis::RepresentationFactor,
            from: GridValue::Number(from),
            to: GridValue::Number(to),
        };
        let criterion = Criterion {
            shift: Some(bound(0.5, 2.0)),
            ..fairness::parse_criteria(
                "[[criterion]]\nattribute = \"origin\"\nmetric = \"disparate_impact\"\nagainst = \"reference\"\nop = \"<=\"\nthreshold = 0.1\n",
            )
            .unwrap()
            .remove(0)
        };
        let spec = DatasetSpec::new("unemployment-risk", 10, 1).unwrap();
        let point = |value: f64, v: f64, interval: [f64; 2]| ShiftPoint {
            axis: ShiftAxis::RepresentationFactor,
            value: GridValue::Number(value),
            baseline: false,
            spec: spec.clone(),
            rows: 10,
            accuracy: None,
            accuracy_true: None,
            selection_rate: None,
            disparate_impact: Vec::new(),
            criteria: vec![PointMeasure {
                metric: CriterionMetric::DisparateImpact,
                attribute: "origin".into(),
                against: Against::Reference,
                value: Some(v),
                interval: Some(interval),
                group: None,
            }],
            change: None,
        };
        let shift = Shift {
            rows: 10,
            bootstrap: 10,
            points: vec![point(0.5, 0.9, [0.8, 0.95]), point(2.0, 0.7, [0.72, 0.9])],
            seconds: 0.0,
        };
        let m = drop(&shift, &criterion).unwrap().unwrap();
        assert!((m.value - 0.2).abs() < 1e-12);
        let [lo, hi] = m.interval.unwrap();
        // Low: 0.2 - sqrt(0.1² + 0.2²); high: 0.2 + sqrt(0.05² + 0²) (0.7 lies below [0.72, 0.9]).
        assert!((lo - (0.2 - (0.01f64 + 0.04).sqrt())).abs() < 1e-12, "{lo}");
        assert!((hi - (0.2 + 0.05)).abs() < 1e-12, "{hi}");
        // A point the grid lacks is said, not guessed.
        let lacking = Criterion {
            shift: Some(bound(0.5, 1.0)),
            ..criterion.clone()
        };
        assert!(drop(&shift, &lacking).unwrap().is_err());
    }
}
