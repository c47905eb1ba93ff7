//! The document, section by section.
//!
//! Every part is read from the typed run record: a field renamed or retyped in the record is a
//! compile error here, not a section that silently goes missing from an authority's report.
//! Names that are data (attributes, groups, models, files) are shown as they are; names that
//! are the report's own (metrics, verdicts, operators) are matched exhaustively, so a new one
//! must be given its words in both languages before the crate builds.

mod accuracy;
mod cells;
mod charts;
mod counterfactual;
mod criteria;
mod explanations;
mod footer;
mod groups;
mod header;
mod labels;
mod paths;
mod perturbation;
mod provenance;
mod recourse;
mod robustness;
mod shift;
mod summary;
mod task;
mod throughput;

use crate::fmt::{iso, plain};
use crate::{Lang, Meta};
use evaluate::{RunRecord, RunReport};
use fairness::{AttributeReport, CounterfactualReport, GroupReport, Report};
use labels::counterfactual_name;
use std::fmt::Write;

pub(crate) const CSS: &str = include_str!("report.css");

/// Whether a group takes part in comparisons: small and empty groups are shown, not compared.
fn compared(g: &GroupReport) -> bool {
    !g.small && !g.empty
}

/// A single attribute rather than an intersection: only these get charts and summary lines.
fn is_single(a: &AttributeReport) -> bool {
    a.columns.len() == 1
}

pub(crate) struct Doc<'a> {
    l: Lang,
    rec: &'a RunRecord,
    /// The yes/no report; `None` for a regression or multi-class run, whose sections are in `task`.
    rep: Option<&'a Report>,
    meta: &'a Meta,
    out: String,
    figures: usize,
}

impl<'a> Doc<'a> {
    pub(crate) fn new(rec: &'a RunRecord, l: Lang, meta: &'a Meta) -> Self {
        Self {
            l,
            rec,
            rep: rec.report.binary(),
            meta,
            out: String::with_capacity(256 * 1024),
            figures: 0,
        }
    }

    fn t(&self, da: &'static str, en: &'static str) -> &'static str {
        self.l.t(da, en)
    }

    fn w(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn next_id(&mut self) -> String {
        self.figures += 1;
        format!("fig{}", self.figures)
    }

    fn model_name(&self) -> String {
        let m = &self.rec.provenance.manifest;
        format!("{} {}", m.name, m.version)
    }

    fn attributes(&self) -> &'a [AttributeReport] {
        self.rep.map_or(&[], |r| &r.attributes)
    }

    fn min_group_size(&self) -> f64 {
        match (self.rep, &self.rec.report) {
            (Some(r), _) => r.config.min_group_size,
            (None, RunReport::Regression(t)) => t.min_group_size as f64,
            (None, RunReport::Multiclass(t)) => t.min_group_size as f64,
            (None, RunReport::Binary(r)) => r.config.min_group_size,
        }
    }

    fn confidence(&self) -> String {
        self.l.pct(self.rep.map_or(0.95, |r| r.config.confidence), 0)
    }

    /// The attribute the counterfactual twins change: as the dataset was asked for, else as
    /// the first change names it.
    fn counterfactual_attr(&self, cf: &'a CounterfactualReport) -> &'a str {
        self.rec
            .provenance
            .dataset
            .counterfactual
            .map(counterfactual_name)
            .or_else(|| cf.by_change.first().map(|c| c.attribute.as_str()))
            .unwrap_or("?")
    }

    pub(crate) fn render(mut self) -> String {
        let title = format!(
            "{}: {}",
            self.t("Evalueringsrapport", "Evaluation report"),
            iso(&self.model_name())
        );
        let _ = write!(
            self.out,
            "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"/><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/><meta name=\"generator\" content=\"sandkasse htmlreport\"/><title>{}</title><style>{CSS}</style></head><body><main>",
            self.l.code(),
            plain(&title)
        );
        self.header(&title);
        self.provenance();
        if self.rep.is_none() {
            self.task_sections();
            self.throughput();
            self.footer();
            self.w("</main></body></html>\n");
            return self.out;
        }
        self.criteria();
        self.accuracy();
        self.groups_section();
        self.charts();
        self.explanations();
        self.paths();
        self.robustness();
        self.throughput();
        self.footer();
        self.w("</main></body></html>\n");
        self.out
    }
}
