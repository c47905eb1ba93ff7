//! The recourse stage (issue 16): for the citizens among the run's first rows whose decision is
//! the unfavourable one, the smallest change of each actionable input their scenario declares
//! ([`synth::recourse_spec`]) that changes the decision, searched with the model in the run's own
//! isolated workers. Per group, the share with any recourse within bounds and the median change,
//! and the gap between groups with an interval.

use crate::explanations::OnRows;
use crate::perturbation::first_rows;
use crate::prepare::Prepared;
use crate::{Clock, EvaluateError, Request};
use arrow::array::RecordBatch;
use explain::{Action, Direction, RecourseConfig, RecourseResult, Scored};
use inference::Pool;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// The most citizens whose own changes the record lists (the summaries count every one).
pub const RECOURSE_CITIZENS: usize = 2000;

/// What the record says of recourse, under `robustness.recourse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Recourse {
    /// Rows considered: the dataset's first, counterfactual twins left out.
    pub rows: usize,
    /// Why the unfavourable decision is the one a citizen wants changed.
    pub why: String,
    /// The search, its summaries and the first [`RECOURSE_CITIZENS`] citizens' own changes
    /// (`row` counts among the rows considered).
    pub result: RecourseResult,
    /// Whether `result.citizens` lists every citizen searched.
    pub every_citizen_listed: bool,
    /// Wall time of the stage.
    pub seconds: f64,
}

/// Refuses a `recourse_gap` criterion that could only be inconclusive: its scenario declares no
/// recourse, or the model (which reads `inputs`) reads none of the scenario's actionable inputs.
/// A run checks it before any worker starts; the service before it queues the run.
pub fn check_recourse(criteria: &[fairness::Criterion], scenario: &str, inputs: &[&str]) -> Result<(), EvaluateError> {
    let Some(c) = criteria
        .iter()
        .find(|c| c.metric == fairness::CriterionMetric::RecourseGap)
    else {
        return Ok(());
    };
    let spec = synth::recourse_spec(scenario).map_err(|e| EvaluateError::Robustness(e.to_string()))?;
    let shown = crate::fit::shown(&c.attribute);
    match spec {
        None => Err(EvaluateError::Robustness(format!(
            "a criterion bounds the recourse gap for {shown}, but scenario {scenario} declares no input a citizen \
             could act on, so there is no recourse to measure"
        ))),
        Some(spec) if !spec.actions.iter().any(|a| inputs.contains(&a.column)) => {
            let actionable: Vec<&str> = spec.actions.iter().map(|a| a.column).collect();
            Err(EvaluateError::Robustness(format!(
                "a criterion bounds the recourse gap for {shown}, but the model reads none of the inputs scenario \
                 {scenario} declares actionable ({}), so no change of them can change its decisions",
                actionable.join(", ")
            )))
        }
        Some(_) => Ok(()),
    }
}

/// Searches recourse on `first` (the first source batch with the run's probabilities); `None`
/// when the request skips robustness, the scenario declares no actionable input the model reads,
/// or there are no rows.
pub(crate) fn search(
    req: &Request,
    prepared: &Prepared,
    first: Option<&(RecordBatch, Vec<f32>)>,
    pool: &Pool,
    clock: &Clock,
    seed: u64,
) -> Result<Option<Recourse>, EvaluateError> {
    let (Some(options), Some((first, probs))) = (&req.robustness, first) else {
        return Ok(None);
    };
    let spec =
        synth::recourse_spec(&prepared.source.spec.scenario).map_err(|e| EvaluateError::Robustness(e.to_string()))?;
    let Some(spec) = spec else { return Ok(None) };
    let t0 = Instant::now();
    let threshold = prepared.threshold;
    let Some((rows, base)) = first_rows(first, probs, options.rows, threshold)? else {
        return Ok(None);
    };
    let inputs = prepared.manifest.columns();
    let actions: Vec<Action> = spec
        .actions
        .iter()
        .filter(|a| inputs.contains(&a.column) && rows.column_by_name(a.column).is_some())
        .map(|a| Action {
            column: a.column.to_owned(),
            direction: match a.direction {
                synth::ActionDirection::Up => Direction::Up,
                synth::ActionDirection::Down => Direction::Down,
                synth::ActionDirection::Either => Direction::Either,
            },
            min: a.min,
            max: a.max,
            unit: a.unit,
            why: a.why.to_owned(),
        })
        .collect();
    // Nothing to search (no actionable input the model reads, or no citizen with the
    // unfavourable decision): no recourse section, rather than shares of nobody.
    if actions.is_empty() || !base.decision.contains(&spec.unfavourable) {
        return Ok(None);
    }
    let on = OnRows::new(req, prepared, &rows, pool, clock)?;
    let mut scorer = |batch: &RecordBatch| -> Result<Scored, String> { on.score(0, batch) };
    let config = RecourseConfig {
        unfavourable: spec.unfavourable,
        confidence: req.fairness.confidence,
        seed,
        ..RecourseConfig::default()
    };
    let mut result = explain::recourse(&rows, &base, &actions, &on.groups, &mut scorer, config)
        .map_err(|e| clock.check().err().unwrap_or(EvaluateError::Robustness(e.to_string())))?;
    let every_citizen_listed = result.citizens.len() <= RECOURSE_CITIZENS;
    result.citizens.truncate(RECOURSE_CITIZENS);
    Ok(Some(Recourse {
        rows: rows.num_rows(),
        why: spec.why.to_owned(),
        result,
        every_citizen_listed,
        seconds: t0.elapsed().as_secs_f64(),
    }))
}

/// Citizens whose own changes the Markdown lists.
const MARKDOWN_EXAMPLES: usize = 5;

fn percent(e: &explain::Estimate) -> String {
    match e.interval {
        Some([lo, hi]) => format!("{:.1} % [{:.1}, {:.1}]", 100.0 * e.value, 100.0 * lo, 100.0 * hi),
        None => format!("{:.1} %", 100.0 * e.value),
    }
}

fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Up => "up",
        Direction::Down => "down",
        Direction::Either => "either way",
    }
}

/// Recourse as a Markdown section. Group values come from the data, so cells are escaped.
pub(crate) fn markdown(r: &Recourse) -> String {
    use std::fmt::Write;
    let res = &r.result;
    let c = &res.config;
    let mut out = format!(
        "\n## Recourse\n\nFor the {} citizens among the first {} rows with the unfavourable decision ({}: {}), the \
         smallest change of one actionable input that changes the decision, asked of the model in the isolated \
         workers: a grid of {} values towards the bound, then bisection (to one unit for whole numbers). For a model \
         monotone in the input this is the exact minimum; for others, the first crossing on the grid.\n\n\
         | input | may move | within | share with recourse | median change |\n| --- | --- | --- | ---: | ---: |\n",
        res.overall.citizens,
        r.rows,
        if c.unfavourable { "positive" } else { "negative" },
        escape::markdown_inline(&r.why),
        c.grid
    );
    for (a, s) in res.actions.iter().zip(&res.overall.actions) {
        let _ = writeln!(
            out,
            "| {} | {} | [{}, {}] | {} | {} |",
            escape::markdown_cell(&a.column),
            direction(a.direction),
            a.min,
            a.max,
            percent(&s.share),
            s.median_change.map_or("–".into(), |m| format!("{m:.3}"))
        );
    }
    let _ = writeln!(out, "\nAny of them: {}.", percent(&res.overall.any));
    let ch = &res.check;
    if ch.holds() {
        let _ = writeln!(
            out,
            "\nChecked among ordinary rows: the {} changed rows, scored again in a random order with the {} rows as \
             they are, gave the decisions the search found.",
            ch.changed_rows, ch.own_rows
        );
    } else {
        let _ = writeln!(
            out,
            "\n**Not to be believed**: scored again among ordinary rows, {} of the {} changed rows and {} of the {} rows \
             as they are got other decisions than in the search and the run. The model answers the search's requests \
             (citizens with the unfavourable decision only) differently.",
            ch.changed_disagreeing, ch.changed_rows, ch.own_disagreeing, ch.own_rows
        );
    }
    if !res.groups.is_empty() {
        out.push_str("\n| attribute | group | citizens | any recourse |");
        for a in &res.actions {
            let _ = write!(out, " median {} |", escape::markdown_cell(&a.column));
        }
        out.push_str("\n| --- | --- | ---: | ---: |");
        out.push_str(&" ---: |".repeat(res.actions.len()));
        out.push('\n');
        for g in &res.groups {
            let _ = write!(
                out,
                "| {} | {} | {} | {} |",
                escape::markdown_cell(&g.attribute),
                escape::markdown_cell(&g.value),
                g.summary.citizens,
                percent(&g.summary.any)
            );
            for s in &g.summary.actions {
                let _ = write!(out, " {} |", s.median_change.map_or("–".into(), |m| format!("{m:.3}")));
            }
            out.push('\n');
        }
    }
    for gap in &res.gaps {
        let interval = gap.gap.interval.map_or(String::new(), |[lo, hi]| {
            format!("interval {:.1} to {:.1}, ", 100.0 * lo, 100.0 * hi)
        });
        let left_out = if gap.excluded.is_empty() {
            String::new()
        } else {
            let e: Vec<String> = gap.excluded.iter().map(|e| escape::markdown_inline(e)).collect();
            format!(" Left out: {}.", e.join("; "))
        };
        let _ = writeln!(
            out,
            "\nBy {}: {} has recourse {:.1} points more often than {} ({interval}adjusted for {} pairs).{left_out}",
            escape::markdown_inline(&gap.attribute),
            escape::markdown_inline(&gap.highest),
            100.0 * gap.gap.value,
            escape::markdown_inline(&gap.lowest),
            gap.pairs,
        );
    }
    let examples: Vec<String> = res
        .citizens
        .iter()
        .take(MARKDOWN_EXAMPLES)
        .map(|citizen| {
            let options: Vec<String> = res
                .actions
                .iter()
                .zip(&citizen.changes)
                .map(|(a, ch)| match ch {
                    Some(d) => format!("{} {d:+}", escape::markdown_inline(&a.column)),
                    None => format!("no change of {} within bounds", escape::markdown_inline(&a.column)),
                })
                .collect();
            format!("- row {}: {}", citizen.row, options.join("; or "))
        })
        .collect();
    if !examples.is_empty() {
        out.push_str("\nWhat the first citizens could be told:\n\n");
        out.push_str(&examples.join("\n"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::check_recourse as check_criteria;

    fn gap_criterion() -> Vec<fairness::Criterion> {
        fairness::parse_criteria(
            "[[criterion]]\nattribute = \"origin\"\nmetric = \"recourse_gap\"\nop = \"<=\"\nthreshold = 0.1\n",
        )
        .unwrap()
    }

    /// A recourse gap is refused before any scoring where it could only be inconclusive: a
    /// scenario without actionable inputs, or a model that reads none of them.
    #[test]
    fn a_recourse_gap_without_anything_to_act_on_is_refused() {
        let c = gap_criterion();
        let e = check_criteria(&c, "population", &["age"]).unwrap_err().to_string();
        assert!(e.contains("declares no input a citizen could act on"), "{e}");
        let e = check_criteria(&c, "unemployment-risk", &["age", "income_dkk"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("reads none") && e.contains("months_employed_3y, jobcentre_contacts_3m"),
            "{e}"
        );
        check_criteria(&c, "unemployment-risk", &["age", "months_employed_3y"]).unwrap();
        check_criteria(&[], "population", &[]).unwrap();
    }
}
