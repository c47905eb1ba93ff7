//! The report as Markdown, for people.

use crate::cells::{RateMetric, Value};
use crate::criteria::{Outcome, Verdict};
use crate::metric::MetricName;
use crate::report::{GroupReport, Report};
use escape::{markdown_cell as cell, markdown_inline as text};
use std::fmt::Write;

fn num(v: Option<f64>) -> String {
    v.map_or("—".into(), |x| format!("{x:.3}"))
}

fn val(v: &Value) -> String {
    match (v.value, v.null_reason) {
        (Some(x), _) => format!("{x:.3}"),
        (None, Some(r)) => format!("null ({r})"),
        (None, None) => "null".into(),
    }
}

fn with_interval(g: &GroupReport, metric: impl Into<MetricName>) -> String {
    let Some(m) = g.metrics.get(&metric.into()) else {
        return "—".into();
    };
    match (m.value.value, m.bootstrap_interval.or(m.interval)) {
        (Some(v), Some([lo, hi])) => format!("{v:.3} [{lo:.3}, {hi:.3}]"),
        _ => val(&m.value),
    }
}

/// A p-value in scientific notation. One too small for a double (it underflowed to 0, or is
/// below the smallest normal number) is written as a bound, never as 0: a p-value is never 0.
pub fn p_text(p: f64) -> String {
    if p < P_FLOOR {
        "< 1e-300".to_owned()
    } else {
        format!("{p:.2e}")
    }
}

/// Below this a p-value is shown as `< 1e-300`.
pub const P_FLOOR: f64 = 1e-300;

fn interval(i: Option<[f64; 2]>) -> String {
    i.map_or(String::new(), |[lo, hi]| format!(" [{lo:.3}, {hi:.3}]"))
}

/// Renders the report (and verdicts, if any) as Markdown.
///
/// Every string that is not this function's own text (group values and attribute names from
/// the data, criteria as a user wrote them, counterfactual values, explanations that quote
/// them) goes through [`escape::markdown_cell`] or [`escape::markdown_inline`]: a group
/// value with a newline and `## Criteria` would otherwise forge a section, `<!--` hide the
/// verdicts after it, and `|` shift a table's columns.
pub fn render(report: &Report, verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    let o = &report.overall;
    let _ = writeln!(out, "# Fairness report\n");
    let _ = writeln!(
        out,
        "{} rows. Intervals: {:.0} % (bootstrap with {} resamples, {}, seed {}; Wilson where no bootstrap). Groups under {} rows are flagged and not compared.\n",
        o.count,
        report.config.confidence * 100.0,
        report.config.bootstrap,
        match report.config.bootstrap_scheme {
            crate::bootstrap::Scheme::Stratified => "within intersection cells",
            crate::bootstrap::Scheme::Rows => "over all rows",
        },
        report.config.seed,
        report.config.min_group_size
    );
    if !verdicts.is_empty() {
        let _ = writeln!(
            out,
            "## Criteria\n\n| criterion | verdict | value | interval | why |\n| --- | --- | --- | --- | --- |"
        );
        for v in verdicts {
            let c = &v.criterion;
            let verdict = match v.verdict {
                Outcome::Pass => "**pass**",
                Outcome::Fail => "**fail**",
                Outcome::Inconclusive => "inconclusive",
            };
            let _ = writeln!(
                out,
                "| {} ({} {}) | {verdict} | {} | {} | {} |",
                cell(&c.describe()),
                c.op.as_str(),
                c.threshold,
                num(v.value),
                interval(v.interval),
                cell(&v.explanation)
            );
        }
        out.push('\n');
    }
    if let Some(cf) = &report.counterfactual {
        let _ = writeln!(
            out,
            "## Counterfactual twins\n\n{} pairs; decisions flip in {} of them ({} unmatched rows).\n\n| attribute | from | to | pairs | flip rate | flips to positive | flips to negative | mean abs score change | max abs score change |\n| --- | --- | --- | ---: | --- | ---: | ---: | --- | --- |",
            cf.overall.pairs,
            num(cf.overall.flip_rate),
            cf.unmatched_rows
        );
        for c in &cf.by_change {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {}{} | {} | {} | {} | {} |",
                cell(&c.attribute),
                cell(&c.from),
                cell(&c.to),
                c.pairs,
                num(c.flip_rate),
                interval(c.flip_rate_interval),
                c.flips_to_positive,
                c.flips_to_negative,
                num(c.mean_abs_score_change),
                num(c.max_abs_score_change)
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "## Overall\n");
    for m in [
        MetricName::Accuracy,
        MetricName::BalancedAccuracy,
        MetricName::SelectionRate,
        MetricName::TruePositiveRate,
        MetricName::FalsePositiveRate,
        MetricName::Precision,
        MetricName::RocAuc,
        MetricName::Brier,
        MetricName::ExpectedCalibrationError,
    ] {
        if o.metrics.contains_key(&m) {
            let _ = writeln!(out, "- {m}: {}", with_interval(o, m));
        }
    }
    let _ = writeln!(
        out,
        "- generalized entropy (α = 2): {}; Theil: {}\n",
        num(report.generalized_entropy_alpha2),
        num(report.theil)
    );
    for a in &report.attributes {
        let _ = writeln!(out, "## {}\n", text(&a.attribute));
        if let Some(r) = &a.reference {
            let _ = writeln!(out, "Reference group: {}.\n", text(r));
        }
        let _ = writeln!(
            out,
            "| group | count | selection rate | TPR | FPR | precision | accuracy | flags |\n| --- | ---: | --- | --- | --- | --- | --- | --- |"
        );
        for g in &a.groups {
            let flags = if g.empty {
                "empty"
            } else if g.small {
                "small"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {flags} |",
                cell(&g.group),
                g.count,
                with_interval(g, MetricName::SelectionRate),
                with_interval(g, MetricName::TruePositiveRate),
                with_interval(g, MetricName::FalsePositiveRate),
                with_interval(g, MetricName::Precision),
                with_interval(g, MetricName::Accuracy),
            );
        }
        let _ = writeln!(
            out,
            "\n| disparity | difference (between groups) | ratio (between groups) | difference to overall | ratio to overall |\n| --- | --- | --- | --- | --- |"
        );
        for d in &a.disparities {
            let _ = writeln!(
                out,
                "| {} | {}{} | {}{} | {}{} | {}{} |",
                d.metric,
                val(&d.difference_between_groups),
                interval(d.intervals.difference_between_groups),
                val(&d.ratio_between_groups),
                interval(d.intervals.ratio_between_groups),
                val(&d.difference_to_overall),
                interval(d.intervals.difference_to_overall),
                val(&d.ratio_to_overall),
                interval(d.intervals.ratio_to_overall),
            );
        }
        if !a.disparities_vs_label_true.is_empty() {
            let _ = writeln!(
                out,
                "\nAgainst the recorded label and against the true label (a smaller gap against the records than against the truth means the decisions reproduce the records' bias):\n\n| disparity | difference between groups, vs label | vs true label |\n| --- | --- | --- |"
            );
            for (d, t) in a.disparities.iter().zip(&a.disparities_vs_label_true) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} |",
                    d.metric,
                    val(&d.difference_between_groups),
                    val(&t.difference_between_groups)
                );
            }
        }
        let tests: Vec<String> = a
            .disparities
            .iter()
            .flat_map(|d| {
                d.to_reference.iter().filter_map(move |c| {
                    c.p_adjusted.map(|p| {
                        format!(
                            "| {} | {} | {} | {} | {} | {} |",
                            d.metric,
                            cell(&c.group),
                            val(&c.difference),
                            c.p_value.map_or("—".to_owned(), p_text),
                            p_text(p),
                            c.test.map_or("", |t| match t {
                                crate::significance::Test::TwoProportionZ => "two-proportion z",
                                crate::significance::Test::FisherExact => "Fisher exact",
                            })
                        )
                    })
                })
            })
            .collect();
        if !tests.is_empty() {
            let _ = writeln!(
                out,
                "\nAgainst the reference group ({} correction):\n\n| metric | group | difference | p | p adjusted | test |\n| --- | --- | --- | --- | --- | --- |",
                match report.config.correction {
                    crate::significance::Correction::Holm => "Holm",
                    crate::significance::Correction::BenjaminiHochberg => "Benjamini-Hochberg",
                }
            );
            for t in tests {
                let _ = writeln!(out, "{t}");
            }
        }
        let c = &a.combined;
        let _ = writeln!(
            out,
            "\nEqualized odds: difference {}{}, ratio {}{}.",
            val(&c.equalized_odds_difference),
            interval(c.equalized_odds_intervals[0]),
            val(&c.equalized_odds_ratio),
            interval(c.equalized_odds_intervals[1])
        );
        for (di, (g, ok)) in c.disparate_impact.iter().zip(&c.four_fifths_rule) {
            let rule = match ok {
                Some(true) => "meets the four-fifths rule",
                Some(false) => "below four fifths",
                None => "undefined",
            };
            let _ = writeln!(
                out,
                "Disparate impact of {}: {}{} ({rule}).",
                text(g),
                val(&di.ratio),
                interval(di.ratio_interval)
            );
        }
        if a.columns.len() == 1 && !a.threshold_sweep.is_empty() {
            let _ = writeln!(
                out,
                "\nAt other thresholds (decide score ≥ t):\n\n| t | demographic parity difference | equal opportunity difference | equalized odds difference | lowest disparate impact | four-fifths rule |\n| ---: | --- | --- | --- | --- | --- |"
            );
            for p in &a.threshold_sweep {
                let diff = |m: RateMetric| {
                    num(p
                        .disparities
                        .iter()
                        .find(|d| d.metric == m)
                        .and_then(|d| d.difference_between_groups))
                };
                let _ = writeln!(
                    out,
                    "| {:.2} | {} | {} | {} | {} | {} |",
                    p.threshold,
                    diff(RateMetric::SelectionRate),
                    diff(RateMetric::TruePositiveRate),
                    num(p.equalized_odds_difference),
                    num(p.disparate_impact_min),
                    match p.four_fifths_rule {
                        Some(true) => "met",
                        Some(false) => "not met",
                        None => "—",
                    }
                );
            }
        }
        let excluded: Vec<String> = a
            .disparities
            .iter()
            .flat_map(|d| {
                d.excluded
                    .iter()
                    .map(move |e| format!("{} left out of {}: {}", text(&e.group), d.metric, text(&e.reason)))
            })
            .collect();
        for e in excluded {
            let _ = writeln!(out, "- {e}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::p_text;

    #[test]
    fn p_values_too_small_for_a_double_are_a_bound_not_zero() {
        assert_eq!(p_text(0.0), "< 1e-300");
        assert_eq!(p_text(1e-320), "< 1e-300");
        assert_eq!(p_text(0.0123), "1.23e-2");
        assert_eq!(p_text(1e-300), "1.00e-300");
    }
}
