//! A metric, a value or a verdict as one table cell, and a key-value row.

use super::Doc;
use crate::fmt::{DASH, E};
use fairness::{GroupReport, MetricName, NullReason, Outcome};
use std::collections::BTreeMap;
use std::fmt::Write;

/// A metric as one cell shows it: a value (or none, with the reason) and one interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Shown {
    pub(super) value: Option<f64>,
    pub(super) null_reason: Option<NullReason>,
    pub(super) ci: Option<(f64, f64)>,
}

impl Shown {
    /// A group's metric, with the bootstrap interval where the run computed one (the method
    /// it was configured with), else the analytic interval (Wilson for proportions), which is
    /// there even when the bootstrap is off.
    fn of(m: &fairness::Metric) -> Self {
        Self {
            value: m.value.value,
            null_reason: m.value.null_reason,
            ci: m.bootstrap_interval.or(m.interval).map(pair),
        }
    }

    /// A summary (a disparity, a ratio to the reference) whose interval the report keeps
    /// beside it rather than in it.
    pub(super) fn with_interval(v: &fairness::Value, ci: Option<[f64; 2]>) -> Self {
        Self {
            value: v.value,
            null_reason: v.null_reason,
            ci: ci.map(pair),
        }
    }
}

/// An interval as the formatting functions take it.
pub(super) fn pair([lo, hi]: [f64; 2]) -> (f64, f64) {
    (lo, hi)
}

/// Metric `name` of a group's metrics, if the run measured it (score metrics need scores).
pub(super) fn metric(metrics: &BTreeMap<MetricName, fairness::Metric>, name: MetricName) -> Option<Shown> {
    metrics.get(&name).map(Shown::of)
}

/// Metric `name` against the true outcome, if the run had one.
pub(super) fn metric_vs_true(g: &GroupReport, name: MetricName) -> Option<Shown> {
    g.metrics_vs_label_true.as_ref().and_then(|m| metric(m, name))
}

impl Doc<'_> {
    /// A metric's value and interval as text.
    pub(super) fn value_text(&self, m: &Shown, rate: bool) -> (String, String) {
        match m.value {
            Some(v) => {
                let value = if rate { self.l.pct(v, 1) } else { self.l.dec(v, 3) };
                let ci =
                    m.ci.map(|c| if rate { self.l.pct_ci(c, 1) } else { self.l.ci(c, 3) })
                        .unwrap_or_default();
                (value, ci)
            }
            None => (
                self.t("ikke defineret", "undefined").to_owned(),
                m.null_reason.map_or_else(String::new, |r| r.as_str().to_owned()),
            ),
        }
    }

    pub(super) fn metric_cell(&self, m: Option<Shown>, rate: bool) -> String {
        let Some(m) = m else {
            return format!("<td class=\"n\">{DASH}</td>");
        };
        let (v, ci) = self.value_text(&m, rate);
        let class = if m.value.is_some() { "n" } else { "n undef" };
        if ci.is_empty() {
            format!("<td class=\"{class}\">{}</td>", E(&v))
        } else {
            format!(
                "<td class=\"{class}\">{}<span class=\"ci\">{}</span></td>",
                E(&v),
                E(&ci)
            )
        }
    }

    /// A report `Value` (value or null with a reason) with its interval, as one cell.
    pub(super) fn value_cell(&self, v: &fairness::Value, ci: Option<[f64; 2]>) -> String {
        self.metric_cell(Some(Shown::with_interval(v, ci)), false)
    }

    pub(super) fn kv(&mut self, key: &str, value_html: &str) {
        let _ = write!(
            self.out,
            "<tr><th scope=\"row\">{}</th><td>{value_html}</td></tr>",
            E(key)
        );
    }

    pub(super) fn verdict_badge(&self, verdict: Outcome) -> String {
        let (class, sym, label) = match verdict {
            Outcome::Pass => ("v-pass", "✓", self.t("Bestået", "Pass")),
            Outcome::Fail => ("v-fail", "✗", self.t("Ikke bestået", "Fail")),
            Outcome::Inconclusive => ("v-inconclusive", "?", self.t("Uafklaret", "Inconclusive")),
        };
        format!("<span class=\"verdict {class}\">{sym} {}</span>", E(label))
    }
}
