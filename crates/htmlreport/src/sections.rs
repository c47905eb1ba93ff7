//! The document, section by section.
//!
//! Every part is read from the typed run record: a field renamed or retyped in the record is a
//! compile error here, not a section that silently goes missing from an authority's report.
//! Names that are data (attributes, groups, models, files) are shown as they are; names that
//! are the report's own (metrics, verdicts, operators) are matched exhaustively, so a new one
//! must be given its words in both languages before the crate builds.

use crate::fmt::{DASH, E, Isolated, TEXT_CHARS, esc, iso, name, plain, user};
use crate::svg::{Axis, DotChart, DotRow, LineChart, Series, dot_chart, line_chart, nice_max};
use crate::{Lang, Meta};
use evaluate::RunRecord;
use fairness::bootstrap::Scheme;
use fairness::counterfactual::{ChangeReport, CounterfactualReport};
use fairness::criteria::{Against, CriterionMetric, Op, Outcome, Verdict};
use fairness::report::{AttributeReport, GroupReport};
use fairness::significance::Correction;
use fairness::{MetricName, NullReason, RateMetric, Report};
use inference::manifest::ClassValue;
use std::collections::BTreeMap;
use std::fmt::Write;
use synth::bias::{BiasConfig, Direction};
use synth::{Counterfactual, Split};

const CSS: &str = include_str!("report.css");

/// Rate metrics shown per group, in table order.
const GROUP_COLUMNS: [MetricName; 6] = [
    MetricName::BaseRate,
    MetricName::SelectionRate,
    MetricName::TruePositiveRate,
    MetricName::FalsePositiveRate,
    MetricName::Precision,
    MetricName::Accuracy,
];

/// Metrics of the overall table, recorded and true outcome side by side.
const OVERALL_ROWS: [MetricName; 15] = [
    MetricName::Accuracy,
    MetricName::BalancedAccuracy,
    MetricName::BaseRate,
    MetricName::SelectionRate,
    MetricName::TruePositiveRate,
    MetricName::FalsePositiveRate,
    MetricName::FalseNegativeRate,
    MetricName::Precision,
    MetricName::F1,
    MetricName::RocAuc,
    MetricName::AveragePrecision,
    MetricName::Brier,
    MetricName::LogLoss,
    MetricName::ExpectedCalibrationError,
    MetricName::NegativePredictiveValue,
];

/// A metric as one cell shows it: a value (or none, with the reason) and one interval.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Shown {
    value: Option<f64>,
    null_reason: Option<NullReason>,
    ci: Option<(f64, f64)>,
}

impl Shown {
    /// A group's metric, with the bootstrap interval where the run computed one (the method
    /// it was configured with), else the analytic interval (Wilson for proportions), which is
    /// there even when the bootstrap is off.
    fn of(m: &fairness::report::Metric) -> Self {
        Self {
            value: m.value.value,
            null_reason: m.value.null_reason,
            ci: m.bootstrap_interval.or(m.interval).map(pair),
        }
    }

    /// A summary (a disparity, a ratio to the reference) whose interval the report keeps
    /// beside it rather than in it.
    fn with_interval(v: &fairness::Value, ci: Option<[f64; 2]>) -> Self {
        Self {
            value: v.value,
            null_reason: v.null_reason,
            ci: ci.map(pair),
        }
    }
}

/// An interval as the formatting functions take it.
fn pair([lo, hi]: [f64; 2]) -> (f64, f64) {
    (lo, hi)
}

/// Metric `name` of a group's metrics, if the run measured it (score metrics need scores).
fn metric(metrics: &BTreeMap<MetricName, fairness::report::Metric>, name: MetricName) -> Option<Shown> {
    metrics.get(&name).map(Shown::of)
}

/// Metric `name` against the true outcome, if the run had one.
fn metric_vs_true(g: &GroupReport, name: MetricName) -> Option<Shown> {
    g.metrics_vs_label_true.as_ref().and_then(|m| metric(m, name))
}

/// Whether a group takes part in comparisons: small and empty groups are shown, not compared.
fn compared(g: &GroupReport) -> bool {
    !g.small && !g.empty
}

/// A single attribute rather than an intersection: only these get charts and summary lines.
fn is_single(a: &AttributeReport) -> bool {
    a.columns.len() == 1
}

/// The attribute a counterfactual twin changes, as the dataset names it.
fn counterfactual_name(c: Counterfactual) -> &'static str {
    match c {
        Counterfactual::Sex => "sex",
        Counterfactual::Origin => "origin",
    }
}

/// The split's name, as the dataset and the command line write it.
fn split_name(s: Split) -> &'static str {
    match s {
        Split::All => "all",
        Split::Train => "train",
        Split::Test => "test",
    }
}

/// A verdict's name, as the record writes it; also its CSS class.
fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::Inconclusive => "inconclusive",
    }
}

pub(crate) struct Doc<'a> {
    l: Lang,
    rec: &'a RunRecord,
    rep: &'a Report,
    meta: &'a Meta,
    out: String,
    figures: usize,
}

impl<'a> Doc<'a> {
    pub(crate) fn new(rec: &'a RunRecord, l: Lang, meta: &'a Meta) -> Self {
        Self {
            l,
            rec,
            rep: &rec.report,
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
        &self.rep.attributes
    }

    fn min_group_size(&self) -> f64 {
        self.rep.config.min_group_size
    }

    fn confidence(&self) -> String {
        self.l.pct(self.rep.config.confidence, 0)
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
        self.criteria();
        self.accuracy();
        self.groups_section();
        self.charts();
        self.throughput();
        self.footer();
        self.w("</main></body></html>\n");
        self.out
    }

    // ---- labels -------------------------------------------------------------------------

    fn metric_label(&self, m: MetricName) -> &'static str {
        let (da, en) = m.label();
        self.t(da, en)
    }

    /// A disparity's name: the fairness notion measured by the rate, where it has one.
    fn disparity_label(&self, m: RateMetric) -> &'static str {
        let (da, en) = match m {
            RateMetric::SelectionRate => (
                "Demografisk paritet (udvælgelsesrate)",
                "Demographic parity (selection rate)",
            ),
            RateMetric::TruePositiveRate => ("Lige muligheder (TPR)", "Equal opportunity (TPR)"),
            RateMetric::FalsePositiveRate => ("Paritet i falsk positiv-rate (FPR)", "False positive rate parity (FPR)"),
            RateMetric::Precision => ("Prædiktiv paritet (præcision)", "Predictive parity (precision)"),
            RateMetric::Accuracy => ("Paritet i nøjagtighed", "Accuracy parity"),
            RateMetric::BaseRate
            | RateMetric::TrueNegativeRate
            | RateMetric::FalseNegativeRate
            | RateMetric::NegativePredictiveValue
            | RateMetric::FalseDiscoveryRate
            | RateMetric::FalseOmissionRate
            | RateMetric::BalancedAccuracy
            | RateMetric::F1 => return self.metric_label(MetricName::from(m)),
        };
        self.t(da, en)
    }

    /// A criterion's metric, e.g. "Disparate impact" or "Equal opportunity, difference".
    fn criterion_metric_label(&self, m: CriterionMetric) -> &'static str {
        let (da, en) = m.label();
        self.t(da, en)
    }

    fn against_label(&self, a: Against) -> &'static str {
        match a {
            Against::BetweenGroups => self.t("mellem grupper", "between groups"),
            Against::Overall => self.t("i forhold til alle", "to overall"),
            Against::Reference => self.t("i forhold til referencegruppen", "against the reference group"),
        }
    }

    fn attr_label(&self, attr: &str) -> String {
        attr.split('&')
            .map(|a| {
                let (da, en) = match a {
                    "sex" => ("Køn", "Sex"),
                    "origin" => ("Herkomst", "Origin"),
                    "age_band" => ("Aldersgruppe", "Age band"),
                    "municipality" => ("Kommune", "Municipality"),
                    "region" => ("Region", "Region"),
                    "education" => ("Uddannelse", "Education"),
                    _ => return a.to_owned(),
                };
                self.t(da, en).to_owned()
            })
            .collect::<Vec<_>>()
            .join(" × ")
    }

    fn op_symbol(op: Op) -> &'static str {
        match op {
            Op::Ge => "≥",
            Op::Le => "≤",
            Op::Gt => ">",
            Op::Lt => "<",
        }
    }

    // ---- cells --------------------------------------------------------------------------

    /// A metric's value and interval as text.
    fn value_text(&self, m: &Shown, rate: bool) -> (String, String) {
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

    fn metric_cell(&self, m: Option<Shown>, rate: bool) -> String {
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
    fn value_cell(&self, v: &fairness::Value, ci: Option<[f64; 2]>) -> String {
        self.metric_cell(Some(Shown::with_interval(v, ci)), false)
    }

    fn kv(&mut self, key: &str, value_html: &str) {
        let _ = write!(
            self.out,
            "<tr><th scope=\"row\">{}</th><td>{value_html}</td></tr>",
            E(key)
        );
    }

    fn verdict_badge(&self, verdict: Outcome) -> String {
        let (class, sym, label) = match verdict {
            Outcome::Pass => ("v-pass", "✓", self.t("Bestået", "Pass")),
            Outcome::Fail => ("v-fail", "✗", self.t("Ikke bestået", "Fail")),
            Outcome::Inconclusive => ("v-inconclusive", "?", self.t("Uafklaret", "Inconclusive")),
        };
        format!("<span class=\"verdict {class}\">{sym} {}</span>", E(label))
    }

    // ---- 1. title and summary -----------------------------------------------------------

    fn header(&mut self, title: &str) {
        let _ = write!(self.out, "<header><h1>{}</h1><p class=\"sub\">", Isolated(title));
        let mut facts: Vec<String> = Vec::new();
        let p = &self.rec.provenance;
        facts.push(format!(
            "{}: {}",
            self.t("Scenarie", "Scenario"),
            name(&p.dataset.scenario)
        ));
        facts.push(format!("{}: {}", self.t("Startet", "Started"), E(&p.started)));
        if let Some(s) = &self.meta.run_id {
            facts.push(format!("{}: {}", self.t("Kørsel", "Run"), name(s)));
        }
        if let Some(s) = &self.meta.case_name {
            facts.push(format!("{}: {}", self.t("Sag", "Case"), name(s)));
        }
        let facts = facts.join(" · ");
        self.w(&facts);
        self.w("</p>");
        let summary = self.summary();
        let _ = write!(
            self.out,
            "<section id=\"summary\" class=\"summary\"><h2>{}</h2>",
            self.t("Sammenfatning", "Summary")
        );
        for s in summary {
            let _ = write!(self.out, "<p>{}</p>", Isolated(&s));
        }
        self.w("</section>");
        let items = [
            ("provenance", self.t("Oprindelse", "Provenance")),
            ("criteria", self.t("Kriterier og afgørelser", "Criteria and verdicts")),
            ("accuracy", self.t("Nøjagtighed", "Accuracy")),
            ("groups", self.t("Grupper", "Groups")),
            ("charts", self.t("Figurer", "Charts")),
            ("throughput", self.t("Gennemløb", "Throughput")),
        ];
        let _ = write!(
            self.out,
            "<nav class=\"toc\" aria-label=\"{}\"><ol>",
            self.t("Indhold", "Contents")
        );
        for (id, label) in items {
            let _ = write!(self.out, "<li><a href=\"#{id}\">{}</a></li>", E(label));
        }
        self.w("</ol></nav></header>");
    }

    /// Three to six sentences from the numbers.
    fn summary(&self) -> Vec<String> {
        let l = self.l;
        let mut s = Vec::new();
        let overall = &self.rep.overall;
        let scenario = iso(&self.rec.provenance.dataset.scenario);
        let rows = l.count(overall.count);
        s.push(match l {
            Lang::Da => format!(
                "Rapporten dokumenterer en evaluering af modellen {} på {rows} syntetiske borgere i scenariet {scenario}.",
                iso(&self.model_name())
            ),
            Lang::En => format!(
                "This report documents an evaluation of the model {} on {rows} synthetic citizens in the scenario {scenario}.",
                iso(&self.model_name())
            ),
        });

        let acc_rec = metric(&overall.metrics, MetricName::Accuracy).and_then(|m| m.value);
        let acc_true = metric_vs_true(overall, MetricName::Accuracy).and_then(|m| m.value);
        match (acc_true, acc_rec) {
            (Some(t), Some(r)) => s.push(match l {
                Lang::Da => format!(
                    "Modellen træffer den rigtige afgørelse for {} af borgerne målt mod det sande udfald og for {} målt mod det registrerede udfald.",
                    l.pct(t, 1),
                    l.pct(r, 1)
                ),
                Lang::En => format!(
                    "The model decides correctly for {} of citizens measured against the true outcome and for {} measured against the recorded outcome.",
                    l.pct(t, 1),
                    l.pct(r, 1)
                ),
            }),
            (None, Some(r)) => s.push(match l {
                Lang::Da => format!(
                    "Modellen træffer den rigtige afgørelse for {} af borgerne målt mod det registrerede udfald.",
                    l.pct(r, 1)
                ),
                Lang::En => format!(
                    "The model decides correctly for {} of citizens measured against the recorded outcome.",
                    l.pct(r, 1)
                ),
            }),
            _ => {}
        }

        let verdicts = &self.rec.verdicts;
        if verdicts.is_empty() {
            s.push(
                self.t(
                    "Der var ingen kriterier fastlagt før kørslen.",
                    "No criteria were fixed before the run.",
                )
                .into(),
            );
        } else {
            let count = |v: Outcome| verdicts.iter().filter(|x| x.verdict == v).count();
            let failed: Vec<String> = verdicts
                .iter()
                .filter(|x| x.verdict == Outcome::Fail)
                .map(|x| iso(&self.criterion_name(x)))
                .collect();
            let mut line = match l {
                Lang::Da => format!(
                    "Af {} kriterier fastlagt før kørslen er {} bestået, {} ikke bestået og {} uafklarede",
                    verdicts.len(),
                    count(Outcome::Pass),
                    count(Outcome::Fail),
                    count(Outcome::Inconclusive)
                ),
                Lang::En => format!(
                    "Of {} criteria fixed before the run, {} pass, {} fail and {} are inconclusive",
                    verdicts.len(),
                    count(Outcome::Pass),
                    count(Outcome::Fail),
                    count(Outcome::Inconclusive)
                ),
            };
            if !failed.is_empty() {
                let _ = write!(line, " ({}: {})", self.t("ikke bestået", "failed"), failed.join("; "));
            }
            line.push('.');
            s.push(line);
        }

        if let Some((attr, (hi_g, hi), (lo_g, lo))) = self.largest_selection_gap() {
            let (hi_g, lo_g) = (iso(hi_g), iso(lo_g));
            s.push(match l {
                Lang::Da => format!(
                    "Den største forskel i udvælgelsesrate er efter {}: {hi_g} udvælges i {} af tilfældene og {lo_g} i {}, en forskel på {} procentpoint.",
                    iso(&self.attr_label(attr).to_lowercase()),
                    l.pct(hi, 1),
                    l.pct(lo, 1),
                    l.dec((hi - lo) * 100.0, 1)
                ),
                Lang::En => format!(
                    "The largest gap in selection rate is by {}: {hi_g} is selected {} of the time and {lo_g} {}, a difference of {} percentage points.",
                    iso(&self.attr_label(attr).to_lowercase()),
                    l.pct(hi, 1),
                    l.pct(lo, 1),
                    l.dec((hi - lo) * 100.0, 1)
                ),
            });
        }

        if let Some(cf) = &self.rep.counterfactual {
            let attr = self.counterfactual_attr(cf);
            let pairs = cf.overall.pairs as f64;
            if let Some(flip) = cf.overall.flip_rate {
                s.push(match l {
                    Lang::Da => format!(
                        "Når kun {} ændres hos en kontrafaktisk tvilling, skifter afgørelsen for {} af {} par.",
                        iso(&self.attr_label(attr).to_lowercase()),
                        l.pct(flip, 1),
                        l.count(pairs)
                    ),
                    Lang::En => format!(
                        "When only {} is changed in a counterfactual twin, the decision flips for {} of {} pairs.",
                        iso(&self.attr_label(attr).to_lowercase()),
                        l.pct(flip, 1),
                        l.count(pairs)
                    ),
                });
            }
        }

        let min = self.min_group_size();
        let mut flagged = Vec::new();
        let mut flagged_intersections = 0;
        for a in self.attributes() {
            for g in a.groups.iter().filter(|g| !compared(g)) {
                if is_single(a) {
                    flagged.push(format!("{} {}", iso(&self.attr_label(&a.attribute)), iso(&g.group)));
                } else {
                    flagged_intersections += 1;
                }
            }
        }
        if !self.attributes().is_empty() {
            s.push(if flagged.is_empty() && flagged_intersections == 0 {
                match l {
                    Lang::Da => format!("Ingen grupper har færre end {} rækker.", l.count(min)),
                    Lang::En => format!("No group has fewer than {} rows.", l.count(min)),
                }
            } else {
                let mut line = match l {
                    Lang::Da => format!(
                        "{} grupper og {} krydsgrupper har færre end {} rækker (eller ingen) og vises, men sammenlignes ikke",
                        flagged.len(),
                        flagged_intersections,
                        l.count(min)
                    ),
                    Lang::En => format!(
                        "{} groups and {} intersections have fewer than {} rows (or none) and are shown but not compared",
                        flagged.len(),
                        flagged_intersections,
                        l.count(min)
                    ),
                };
                if !flagged.is_empty() {
                    let _ = write!(line, ": {}", flagged.join(", "));
                }
                line.push('.');
                line
            });
        }
        s
    }

    /// Over single attributes: the compared groups with the highest and lowest selection rate,
    /// for the attribute where they differ most.
    #[allow(clippy::type_complexity)]
    fn largest_selection_gap(&self) -> Option<(&'a str, (&'a str, f64), (&'a str, f64))> {
        let mut best: Option<(&str, (&str, f64), (&str, f64))> = None;
        for a in self.attributes().iter().filter(|a| is_single(a)) {
            let rates: Vec<(&str, f64)> = a
                .groups
                .iter()
                .filter(|g| compared(g))
                .filter_map(|g| Some((g.group.as_str(), g.value(MetricName::SelectionRate)?)))
                .collect();
            let hi = rates.iter().copied().fold(None, |b: Option<(&str, f64)>, x| match b {
                Some(b) if b.1 >= x.1 => Some(b),
                _ => Some(x),
            });
            let lo = rates.iter().copied().fold(None, |b: Option<(&str, f64)>, x| match b {
                Some(b) if b.1 <= x.1 => Some(b),
                _ => Some(x),
            });
            if let (Some(hi), Some(lo)) = (hi, lo)
                && rates.len() >= 2
                && best.is_none_or(|b| hi.1 - lo.1 > b.1.1 - b.2.1)
            {
                best = Some((a.attribute.as_str(), hi, lo));
            }
        }
        best
    }

    /// The criterion's own name, else what it measures and on which attribute.
    fn criterion_name(&self, v: &Verdict) -> String {
        if let Some(n) = &v.criterion.name {
            return n.clone();
        }
        format!(
            "{} ({})",
            self.criterion_metric_label(v.criterion.metric),
            self.attr_label(&v.criterion.attribute).to_lowercase()
        )
    }

    // ---- 2. provenance ------------------------------------------------------------------

    fn provenance(&mut self) {
        let l = self.l;
        let rec = self.rec;
        let p = &rec.provenance;
        let _ = write!(
            self.out,
            "<section id=\"provenance\"><h2>{}</h2><table class=\"kv keep\"><tbody>",
            self.t("Oprindelse", "Provenance")
        );
        let meta = self.meta;
        if let Some(s) = &meta.run_id {
            self.kv(self.t("Kørsels-id", "Run id"), &name(s));
        }
        if let Some(s) = &meta.requested_by {
            self.kv(self.t("Udført af / bestilt af", "Run by / requested by"), &name(s));
        }
        if let Some(s) = &meta.case_name {
            self.kv(self.t("Sag", "Case"), &name(s));
        }
        self.kv(self.t("Startet", "Started"), &esc(&p.started));
        let mut model = format!("<strong>{}</strong>", name(&self.model_name()));
        let _ = write!(model, " <code>{}</code>", name(&p.model_file));
        let _ = write!(model, "<br/>SHA-256 <code class=\"hash\">{}</code>", E(&p.model_sha256));
        self.kv(self.t("Model", "Model"), &model);
        self.kv(
            self.t("Leverandørens beskrivelse", "Vendor's description"),
            &user(&p.manifest.description, TEXT_CHARS),
        );
        self.kv(
            self.t("Manifest", "Manifest"),
            &format!("SHA-256 <code class=\"hash\">{}</code>", E(&p.manifest_sha256)),
        );
        let o = &p.manifest.output;
        let positive_class = match &o.positive_class {
            ClassValue::Int(i) => i.to_string(),
            ClassValue::Text(s) => s.clone(),
        };
        let output = [
            format!(
                "{} {}",
                self.t("beslutningstærskel", "decision threshold"),
                E(&l.plain(o.threshold))
            ),
            format!("{} {}", self.t("positiv klasse", "positive class"), E(&positive_class)),
            format!("label <code>{}</code>", name(&o.label)),
            format!("probability <code>{}</code>", name(&o.probability)),
        ];
        self.kv(self.t("Modellens output", "Model output"), &output.join("; "));
        let i = &rec.inspection;
        let opsets: Vec<String> = i.opsets.iter().map(|(k, v)| format!("{} {v}", E(k))).collect();
        let operators: Vec<String> = i.operators.iter().map(|(k, v)| format!("{} ×{v}", E(k))).collect();
        let inspection = [
            format!("{} {}", self.t("lavet med", "produced by"), name(&i.producer)),
            format!("{} {}", l.count(i.file_bytes as f64), self.t("byte", "bytes")),
            format!("{} {}", l.count(i.parameters as f64), self.t("parametre", "parameters")),
            format!("{} {}", l.count(i.nodes as f64), self.t("knuder", "nodes")),
            format!("opsets: {}", opsets.join(", ")),
            format!("{}: {}", self.t("operatorer", "operators"), operators.join(", ")),
        ];
        self.kv(
            self.t("Inspektion af modellen", "Model inspection"),
            &inspection.join("; "),
        );
        let d = &p.dataset;
        let mut ds = Vec::new();
        if let Some(f) = &p.dataset_file {
            ds.push(format!("{} <code>{}</code>", self.t("fil", "file"), name(f)));
        }
        ds.push(format!(
            "{} <strong>{}</strong>",
            self.t("scenarie", "scenario"),
            name(&d.scenario)
        ));
        ds.push(format!("{} {}", l.count(d.rows as f64), self.t("borgere", "citizens")));
        ds.push(format!(
            "{} {}",
            l.count(p.dataset_rows as f64),
            self.t("rækker scoret (med tvillinger)", "rows scored (twins included)")
        ));
        ds.push(format!("{} {}", self.t("frø", "seed"), d.seed));
        ds.push(format!("{} {}", self.t("del", "split"), split_name(d.split)));
        ds.push(format!(
            "{} {}",
            self.t("referencedato", "reference date"),
            E(&d.reference_date)
        ));
        let cf = match d.counterfactual {
            Some(c) => self.attr_label(counterfactual_name(c)),
            None => self.t("ingen", "none").to_owned(),
        };
        ds.push(format!(
            "{} {}",
            self.t("kontrafaktisk tvilling", "counterfactual twin"),
            E(&cf)
        ));
        self.kv(self.t("Datasæt", "Dataset"), &ds.join("; "));
        let bias = self.bias_knobs(&d.bias);
        self.kv(self.t("Indbygget skævhed", "Bias knobs"), &bias);
        self.kv(
            self.t("Datasæt, SHA-256", "Dataset SHA-256"),
            &format!("<code class=\"hash\">{}</code>", E(&p.dataset_sha256)),
        );
        let versions = [
            (self.t("generator", "generator"), &p.generator_version),
            ("sandkasse", &p.sandbox_version),
            ("ONNX Runtime", &p.onnxruntime_version),
        ]
        .iter()
        .map(|(k, v)| format!("{} {}", E(k), E(v)))
        .collect::<Vec<_>>()
        .join("; ");
        self.kv(self.t("Versioner", "Versions"), &versions);
        let c = &self.rep.config;
        let scheme = match c.bootstrap_scheme {
            Scheme::Stratified => self.t("inden for krydsceller", "within intersection cells"),
            Scheme::Rows => self.t("over alle rækker", "over all rows"),
        };
        let correction = match c.correction {
            Correction::Holm => "Holm",
            Correction::BenjaminiHochberg => "Benjamini–Hochberg",
        };
        let b = c.bootstrap as f64;
        let method = match l {
            Lang::Da => format!(
                "{} intervaller ({}; Wilson hvor der ikke er bootstrap); bootstrap med {} gentagelser {scheme}, frø {}; grupper under {} rækker markeres og sammenlignes ikke; korrektion for multipel testning: {correction}",
                self.confidence(),
                if b > 0.0 {
                    "percentil-bootstrap"
                } else {
                    "ingen bootstrap"
                },
                l.count(b),
                c.seed,
                l.count(self.min_group_size()),
            ),
            Lang::En => format!(
                "{} intervals ({}; Wilson where there is no bootstrap); bootstrap with {} resamples {scheme}, seed {}; groups under {} rows are flagged and not compared; multiple-testing correction: {correction}",
                self.confidence(),
                if b > 0.0 {
                    "percentile bootstrap"
                } else {
                    "no bootstrap"
                },
                l.count(b),
                c.seed,
                l.count(self.min_group_size()),
            ),
        };
        self.kv(self.t("Metode", "Method"), &method);
        self.w("</tbody></table>");

        let layers = &p.isolation;
        if !layers.is_empty() {
            let active = layers.iter().filter(|x| x.active).count();
            let _ = write!(
                self.out,
                "<h3>{}</h3><p>{}</p><table class=\"keep\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
                self.t("Isolation af modellen", "Isolation of the model"),
                E(&match l {
                    Lang::Da => format!(
                        "Modellen kørte i separate arbejdsprocesser. {active} af {} isolationslag var aktive.",
                        layers.len()
                    ),
                    Lang::En => format!(
                        "The model ran in separate worker processes. {active} of {} isolation layers were active.",
                        layers.len()
                    ),
                }),
                self.t("Lag", "Layer"),
                self.t("Status", "Status"),
                self.t("Detaljer", "Detail")
            );
            for x in layers {
                let status = if x.active {
                    format!("<span class=\"ok\">✓ {}</span>", self.t("aktivt", "active"))
                } else {
                    format!(
                        "<span class=\"bad\">✗ {}</span>",
                        self.t("ikke tilgængeligt", "unavailable")
                    )
                };
                let _ = write!(
                    self.out,
                    "<tr><td><code>{}</code></td><td class=\"status\">{status}</td><td class=\"detail\">{}</td></tr>",
                    E(&x.layer),
                    E(&x.detail)
                );
            }
            self.w("</tbody></table>");
        }
        if let Some(allowed) = &p.isolation_allowed_missing {
            // Absent in records from before the option: nothing is claimed for them.
            self.isolation_allowance(allowed);
        }
        self.w("</section>");
    }

    /// The dataset's bias knobs, each as `name = value`, in the order of their names (the
    /// order the record's JSON lists them in). Destructured, so a knob added to the generator
    /// does not build until it is shown here: a reader must see every knob that shaped the data.
    fn bias_knobs(&self, bias: &BiasConfig) -> String {
        let l = self.l;
        let BiasConfig {
            label_rate,
            label_group,
            label_direction,
            representation_factor,
            representation_group,
            measurement_sd,
            measurement_group,
            measurement_feature,
            proxy_strength,
        } = bias;
        let direction = match label_direction {
            Direction::Down => "down",
            Direction::Up => "up",
        };
        [
            ("label_direction", direction.to_owned()),
            ("label_group", label_group.spec().to_owned()),
            ("label_rate", l.plain(*label_rate)),
            (
                "measurement_feature",
                measurement_feature.clone().unwrap_or_else(|| DASH.to_owned()),
            ),
            ("measurement_group", measurement_group.spec().to_owned()),
            ("measurement_sd", l.plain(*measurement_sd)),
            ("proxy_strength", l.plain(*proxy_strength)),
            ("representation_factor", l.plain(*representation_factor)),
            ("representation_group", representation_group.spec().to_owned()),
        ]
        .iter()
        .map(|(k, v)| format!("<code>{}</code> = {}", E(k), E(v)))
        .collect::<Vec<_>>()
        .join(", ")
    }

    /// The operator's choice to run without some isolation layers (`--allow-missing-isolation`),
    /// from `provenance.isolation_allowed_missing`.
    fn isolation_allowance(&mut self, allowed: &[String]) {
        if allowed.is_empty() {
            let _ = write!(
                self.out,
                "<p class=\"note\" id=\"isolation-allowed\">{}</p>",
                self.t(
                    "Operatøren tillod ikke, at noget isolationslag manglede.",
                    "The operator allowed no isolation layer to be missing."
                )
            );
        } else {
            let _ = write!(
                self.out,
                "<p class=\"bad\" id=\"isolation-allowed\">{} <code>{}</code> (--allow-missing-isolation)</p>",
                self.t(
                    "Operatøren tillod arbejdsprocesserne at køre uden:",
                    "The operator allowed the workers to run without:"
                ),
                E(&allowed.join(", "))
            );
        }
    }

    // ---- 3. criteria --------------------------------------------------------------------

    fn criteria(&mut self) {
        let l = self.l;
        let _ = write!(
            self.out,
            "<section id=\"criteria\"><h2>{}</h2>",
            self.t("Kriterier og afgørelser", "Criteria and verdicts")
        );
        let verdicts = &self.rec.verdicts;
        if verdicts.is_empty() {
            let _ = write!(
                self.out,
                "<p class=\"note\">{}</p></section>",
                self.t(
                    "Der var ingen kriterier fastlagt før kørslen, så der er ingen afgørelser.",
                    "No criteria were fixed before the run, so there are no verdicts."
                )
            );
            return;
        }
        let _ = write!(
            self.out,
            "<p>{}</p><table class=\"keep criteria\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            E(&match l {
                Lang::Da => format!(
                    "Et kriterium er bestået, når hele {}-intervallet opfylder det, ikke bestået, når intet af intervallet gør, og ellers uafklaret (også når målet ikke er defineret).",
                    self.confidence()
                ),
                Lang::En => format!(
                    "A criterion passes when the whole {} interval meets it, fails when none of the interval does, and is inconclusive otherwise (also when the metric is undefined).",
                    self.confidence()
                ),
            }),
            self.t("Kriterium", "Criterion"),
            self.t("Krav", "Requirement"),
            self.t("Afgørelse", "Verdict"),
            self.t("Værdi", "Value"),
            self.t("Interval", "Interval"),
            self.t("Begrundelse", "Explanation"),
        );
        for v in verdicts {
            let verdict = v.verdict;
            let c = &v.criterion;
            let threshold = c.threshold;
            let value = v.value;
            let ci = v.interval.map(pair);
            let mut criterion = format!("<strong>{}</strong>", name(&self.criterion_name(v)));
            let _ = write!(
                criterion,
                "<span class=\"ci\">{}; <code>{}</code></span>",
                E(self.against_label(c.against)),
                E(c.metric.as_str())
            );
            let requirement = format!("{} {}", E(Self::op_symbol(c.op)), E(&l.plain(threshold)));
            let value_s = value.map_or_else(|| self.t("ikke defineret", "undefined").to_owned(), |x| l.dec(x, 3));
            let mut value_html = E(&value_s).to_string();
            if let Some(g) = &v.group {
                let _ = write!(
                    value_html,
                    "<span class=\"ci\">{} {}</span>",
                    self.t("værste gruppe:", "worst group:"),
                    name(g)
                );
            }
            let ci_s = ci.map_or_else(|| DASH.to_owned(), |c| l.ci(c, 3));
            let mut why = String::new();
            let record_why = v.explanation.as_str();
            match l {
                Lang::Da => {
                    let thr = l.plain(threshold);
                    let op = Self::op_symbol(c.op);
                    let own = match (verdict, ci, value) {
                        (_, _, None) => {
                            "Målet er ikke defineret for disse data, så kriteriet kan ikke afgøres.".to_owned()
                        }
                        (Outcome::Pass, Some(c), _) => format!("Hele intervallet {} opfylder {op} {thr}.", l.ci(c, 3)),
                        (Outcome::Fail, Some(c), _) => {
                            format!("Intet af intervallet {} opfylder {op} {thr}.", l.ci(c, 3))
                        }
                        (Outcome::Inconclusive, Some(c), Some(x)) => format!(
                            "Intervallet {} omkring {} krydser tærsklen {thr}.",
                            l.ci(c, 3),
                            l.dec(x, 3)
                        ),
                        (_, None, Some(x)) => {
                            format!("Punktestimatet {} afgør (intet bootstrap-interval).", l.dec(x, 3))
                        }
                    };
                    let _ = write!(why, "{}", E(&own));
                    if !record_why.is_empty() {
                        let _ = write!(
                            why,
                            "<span class=\"ci\" lang=\"en\">Kørslens ordlyd: {}</span>",
                            E(record_why)
                        );
                    }
                }
                Lang::En => {
                    let _ = write!(why, "{}", E(record_why));
                }
            }
            let excluded = &v.excluded;
            if !excluded.is_empty() {
                let _ = write!(
                    why,
                    "<span class=\"ci\">{} {}</span>",
                    self.t("Udeladt:", "Left out:"),
                    E(&excluded.join("; "))
                );
            }
            let _ = write!(
                self.out,
                "<tr class=\"row-{}\"><td>{criterion}</td><td class=\"n\">{requirement}</td><td>{}</td><td class=\"n\">{value_html}</td><td class=\"n\">{}</td><td>{why}</td></tr>",
                outcome_name(verdict),
                self.verdict_badge(verdict),
                E(&ci_s)
            );
        }
        self.w("</tbody></table></section>");
    }

    // ---- 4. accuracy --------------------------------------------------------------------

    fn accuracy(&mut self) {
        let l = self.l;
        let _ = write!(
            self.out,
            "<section id=\"accuracy\"><h2>{}</h2>",
            self.t("Nøjagtighed for alle borgere", "Accuracy over all citizens")
        );
        let overall = &self.rep.overall;
        let has_true = overall.metrics_vs_label_true.is_some();
        let _ = write!(
            self.out,
            "<p>{}</p>",
            self.t(
                "Det registrerede udfald er det, registrene viser, og kan selv være skævt; det sande udfald er den syntetiske befolknings faktiske udfald. En model, der passer bedre til registrene end til sandheden, gentager registrenes skævhed.",
                "The recorded outcome is what the registers show and may itself be biased; the true outcome is what actually happens to the synthetic population. A model that fits the records better than the truth reproduces their bias."
            )
        );
        let _ = write!(
            self.out,
            "<table class=\"keep\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>",
            self.t("Mål", "Metric"),
            self.t("Mod registreret udfald", "Against recorded outcome")
        );
        if has_true {
            let _ = write!(
                self.out,
                "<th scope=\"col\">{}</th>",
                self.t("Mod sandt udfald", "Against true outcome")
            );
        }
        self.w("</tr></thead><tbody>");
        let _ = write!(
            self.out,
            "<tr><th scope=\"row\">{}</th><td class=\"n\">{}</td>{}</tr>",
            self.t("Borgere", "Citizens"),
            E(&l.count(overall.count)),
            if has_true { "<td></td>" } else { "" }
        );
        for key in OVERALL_ROWS {
            let rec = metric(&overall.metrics, key);
            let tru = metric_vs_true(overall, key);
            if rec.is_none() && tru.is_none() {
                continue;
            }
            let rate = key.is_rate();
            let _ = write!(
                self.out,
                "<tr><th scope=\"row\">{}</th>{}",
                E(self.metric_label(key)),
                self.metric_cell(rec, rate)
            );
            if has_true {
                self.w(&self.metric_cell(tru, rate));
            }
            self.w("</tr>");
        }
        self.w("</tbody></table>");
        let ge = self.rep.generalized_entropy_alpha2;
        let th = self.rep.theil;
        if ge.is_some() || th.is_some() {
            let _ = write!(
                self.out,
                "<p>{}: {}; {}: {}.</p>",
                self.t(
                    "Ulighed i fordelen på individniveau: generaliseret entropi (α = 2)",
                    "Inequality of benefit between individuals: generalized entropy (α = 2)"
                ),
                E(&ge.map_or_else(|| DASH.to_owned(), |x| l.dec(x, 3))),
                self.t("Theil-indeks", "Theil index"),
                E(&th.map_or_else(|| DASH.to_owned(), |x| l.dec(x, 3))),
            );
        }
        self.w("</section>");
    }

    // ---- 5. groups ----------------------------------------------------------------------

    fn groups_section(&mut self) {
        let _ = write!(
            self.out,
            "<section id=\"groups\"><h2>{}</h2><p>{}</p>",
            self.t("Grupper og krydsgrupper", "Groups and intersections"),
            E(&match self.l {
                Lang::Da => format!(
                    "Værdier med {} interval nedenunder. Grupper under {} rækker er markeret »lille« eller »tom« og indgår ikke i sammenligningerne.",
                    self.confidence(),
                    self.l.count(self.min_group_size())
                ),
                Lang::En => format!(
                    "Values with their {} interval below. Groups under {} rows are marked “small” or “empty” and left out of the comparisons.",
                    self.confidence(),
                    self.l.count(self.min_group_size())
                ),
            })
        );
        let attrs = self.attributes();
        if attrs.is_empty() {
            let _ = write!(
                self.out,
                "<p class=\"note\">{}</p>",
                self.t("Rapporten har ingen grupper.", "The report has no groups.")
            );
        }
        for a in attrs {
            self.attribute(a);
        }
        self.counterfactual_table();
        self.w("</section>");
    }

    fn attribute(&mut self, a: &AttributeReport) {
        let l = self.l;
        let attr = a.attribute.as_str();
        let gs = &a.groups;
        let has_true = gs.iter().any(|g| g.metrics_vs_label_true.is_some());
        let _ = write!(
            self.out,
            "<h3 id=\"attr-{}\">{} <span class=\"muted\">(<code>{}</code>)</span></h3>",
            anchor(attr),
            name(&self.attr_label(attr)),
            name(attr)
        );
        if let Some(r) = &a.reference {
            let _ = write!(
                self.out,
                "<p>{} {}.</p>",
                self.t("Referencegruppe:", "Reference group:"),
                name(r)
            );
        }
        let keep = if gs.len() <= 12 { " keep" } else { "" };
        let _ = write!(
            self.out,
            "<table class=\"groups{keep}\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>",
            self.t("Gruppe", "Group"),
            self.t("Antal", "Count")
        );
        for c in GROUP_COLUMNS {
            let _ = write!(self.out, "<th scope=\"col\">{}</th>", E(self.metric_label(c)));
        }
        if has_true {
            let _ = write!(
                self.out,
                "<th scope=\"col\">{}</th>",
                self.t("Nøjagtighed mod sandt udfald", "Accuracy against true outcome")
            );
        }
        let _ = write!(
            self.out,
            "<th scope=\"col\">{}</th></tr></thead><tbody>",
            self.t("Markering", "Flag")
        );
        for g in gs {
            let flag_html = if g.empty {
                format!("<span class=\"flag\">⚑ {}</span>", self.t("tom", "empty"))
            } else if g.small {
                format!(
                    "<span class=\"flag\">⚑ {} (&lt; {})</span>",
                    self.t("lille", "small"),
                    E(&l.count(self.min_group_size()))
                )
            } else {
                String::new()
            };
            let _ = write!(
                self.out,
                "<tr{}><th scope=\"row\">{}</th><td class=\"n\">{}</td>",
                if compared(g) { "" } else { " class=\"flagged\"" },
                name(&g.group),
                E(&l.count(g.count))
            );
            for c in GROUP_COLUMNS {
                self.w(&self.metric_cell(metric(&g.metrics, c), true));
            }
            if has_true {
                self.w(&self.metric_cell(metric_vs_true(g, MetricName::Accuracy), true));
            }
            let _ = write!(self.out, "<td>{flag_html}</td></tr>");
        }
        self.w("</tbody></table>");

        let disparities = &a.disparities;
        if !disparities.is_empty() {
            let vs_true = &a.disparities_vs_label_true;
            let _ = write!(
                self.out,
                "<table class=\"keep\"><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>",
                self.t("Forskelle mellem grupperne", "Disparities between the groups"),
                self.t("Mål", "Metric"),
                self.t("Forskel (største − mindste)", "Difference (largest − smallest)"),
                self.t("Forhold (mindste / største)", "Ratio (smallest / largest)"),
                self.t("Største forskel til alle", "Largest difference to overall")
            );
            if !vs_true.is_empty() {
                let _ = write!(
                    self.out,
                    "<th scope=\"col\">{}</th>",
                    self.t("Forskel mod sandt udfald", "Difference against true outcome")
                );
            }
            self.w("</tr></thead><tbody>");
            for d in disparities {
                let _ = write!(
                    self.out,
                    "<tr><th scope=\"row\">{}</th>{}{}{}",
                    E(self.disparity_label(d.metric)),
                    self.value_cell(&d.difference_between_groups, d.intervals.difference_between_groups),
                    self.value_cell(&d.ratio_between_groups, d.intervals.ratio_between_groups),
                    self.value_cell(&d.difference_to_overall, d.intervals.difference_to_overall),
                );
                if !vs_true.is_empty() {
                    // No interval: the bootstrap resamples only the recorded outcome's
                    // disparities.
                    let t = vs_true.iter().find(|t| t.metric == d.metric);
                    self.w(&match t {
                        Some(t) => self.value_cell(&t.difference_between_groups, None),
                        None => self.metric_cell(None, false),
                    });
                }
                self.w("</tr>");
            }
            self.w("</tbody></table>");
            let excluded: Vec<String> = disparities
                .iter()
                .flat_map(|d| {
                    d.excluded
                        .iter()
                        .map(move |e| format!("{} ({}): {}", e.group, d.metric.name(), e.reason))
                })
                .collect();
            if !excluded.is_empty() {
                let _ = write!(
                    self.out,
                    "<p class=\"muted\">{} {}</p>",
                    self.t("Udeladt af sammenligningerne:", "Left out of the comparisons:"),
                    E(&excluded.join("; "))
                );
            }
        }

        let c = &a.combined;
        // The first of the equalized-odds intervals is the difference's.
        let ci = c.equalized_odds_intervals[0].map(pair);
        let (v, _) = self.value_text(&Shown::with_interval(&c.equalized_odds_difference, None), false);
        let _ = write!(
            self.out,
            "<p>{}: {}{}.</p>",
            self.t(
                "Udlignede odds (den største af forskellene i TPR og FPR)",
                "Equalized odds (the larger of the TPR and FPR differences)"
            ),
            E(&v),
            ci.map_or_else(String::new, |c| format!(" {}", E(&l.ci(c, 3))))
        );
        let di = &c.disparate_impact;
        if !di.is_empty() {
            let rule = &c.four_fifths_rule;
            let sel_ref = a
                .disparity(RateMetric::SelectionRate)
                .map_or(&[][..], |d| d.to_reference.as_slice());
            let reference = a.reference.as_deref().unwrap_or("?");
            let _ = write!(
                self.out,
                "<table class=\"keep\"><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
                E(&match l {
                    Lang::Da => format!(
                        "Disparat effekt: gruppens udvælgelsesrate i forhold til referencegruppens ({reference})"
                    ),
                    Lang::En => format!(
                        "Disparate impact: the group's selection rate relative to the reference group's ({reference})"
                    ),
                }),
                self.t("Gruppe", "Group"),
                self.t("Forhold", "Ratio"),
                self.t("Firefemtedelsreglen (≥ 0,8)", "Four-fifths rule (≥ 0.8)"),
                self.t("p (korrigeret), udvælgelsesrate", "p (adjusted), selection rate")
            );
            for d in di {
                let g = d.group.as_str();
                // `None`: the ratio is undefined (an empty group, or the reference selects
                // no one), so the rule can be neither met nor missed.
                let ok = rule.iter().find(|(rg, _)| rg == g).and_then(|(_, ok)| *ok);
                let ok_html = match ok {
                    Some(true) => format!("<span class=\"ok\">✓ {}</span>", self.t("opfyldt", "met")),
                    Some(false) => format!("<span class=\"bad\">✗ {}</span>", self.t("ikke opfyldt", "not met")),
                    None => format!("{DASH} {}", self.t("ikke defineret", "undefined")),
                };
                let p = sel_ref.iter().find(|r| r.group == g).and_then(|r| r.p_adjusted);
                let _ = write!(
                    self.out,
                    "<tr><th scope=\"row\">{}</th>{}<td>{ok_html}</td><td class=\"n\">{}</td></tr>",
                    name(g),
                    self.value_cell(&d.ratio, d.ratio_interval),
                    E(&p.map_or_else(|| DASH.to_owned(), |p| l.p_value(p)))
                );
            }
            self.w("</tbody></table>");
        }
    }

    fn counterfactual_table(&mut self) {
        let l = self.l;
        let Some(cf) = &self.rep.counterfactual else {
            return;
        };
        let _ = write!(
            self.out,
            "<h3 id=\"counterfactual\">{}</h3><p>{}</p>",
            self.t("Kontrafaktiske tvillinger", "Counterfactual twins"),
            E(&match l {
                Lang::Da => format!(
                    "Hver borger er scoret sammen med en tvilling, der kun adskiller sig i én egenskab (og i det, den årsagsmæssigt påvirker). {} par; afgørelsen skifter i {} af dem; {} rækker uden makker.",
                    l.count(cf.overall.pairs as f64),
                    cf.overall.flip_rate.map_or_else(|| DASH.to_owned(), |x| l.pct(x, 1)),
                    l.count(cf.unmatched_rows as f64)
                ),
                Lang::En => format!(
                    "Each citizen was scored with a twin who differs in one attribute only (and in what it causes). {} pairs; the decision flips in {} of them; {} rows without a partner.",
                    l.count(cf.overall.pairs as f64),
                    cf.overall.flip_rate.map_or_else(|| DASH.to_owned(), |x| l.pct(x, 1)),
                    l.count(cf.unmatched_rows as f64)
                ),
            })
        );
        let _ = write!(
            self.out,
            "<table class=\"keep\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            self.t("Egenskab", "Attribute"),
            self.t("Fra → til", "From → to"),
            self.t("Par", "Pairs"),
            self.t("Skifterate", "Flip rate"),
            self.t("Skift til positiv", "Flips to positive"),
            self.t("Skift til negativ", "Flips to negative"),
            self.t("Gns. |Δscore|", "Mean |Δscore|"),
            self.t("Maks. |Δscore|", "Max |Δscore|"),
        );
        let rows = cf.by_change.iter().chain(std::iter::once(&cf.overall));
        for (k, c) in rows.enumerate() {
            let is_overall = k == cf.by_change.len();
            let (attr, change) = if is_overall {
                (self.t("I alt", "All").to_owned(), String::new())
            } else {
                (self.attr_label(&c.attribute), format!("{} → {}", c.from, c.to))
            };
            let flip = Shown {
                value: c.flip_rate,
                null_reason: None,
                ci: c.flip_rate_interval.map(pair),
            };
            let cnt = |x: u64| E(&l.count(x as f64)).to_string();
            let dec = |x: Option<f64>| E(&x.map_or_else(|| DASH.to_owned(), |x| l.dec(x, 3))).to_string();
            let _ = write!(
                self.out,
                "<tr{}><th scope=\"row\">{}</th><td>{}</td><td class=\"n\">{}</td>{}<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                if is_overall { " class=\"total\"" } else { "" },
                name(&attr),
                name(&change),
                cnt(c.pairs),
                self.metric_cell(Some(flip), true),
                cnt(c.flips_to_positive),
                cnt(c.flips_to_negative),
                dec(c.mean_abs_score_change),
                dec(c.max_abs_score_change),
            );
        }
        self.w("</tbody></table>");
    }

    // ---- 6. charts ----------------------------------------------------------------------

    fn charts(&mut self) {
        let l = self.l;
        let _ = write!(
            self.out,
            "<section id=\"charts\"><h2>{}</h2>",
            self.t("Figurer", "Charts")
        );
        let mut any = false;
        for a in self.attributes().iter().filter(|a| is_single(a)) {
            let attr = a.attribute.as_str();
            let gs = &a.groups;
            if gs.is_empty() {
                continue;
            }
            any = true;
            let _ = write!(self.out, "<h3>{}</h3>", name(&self.attr_label(attr)));
            self.rates_chart(attr, gs);
            let with_data: Vec<&GroupReport> = gs.iter().filter(|g| !g.empty).collect();
            if with_data.iter().any(|g| !g.calibration.is_empty()) {
                self.calibration_chart(attr, &with_data);
            }
            if with_data.iter().any(|g| !g.roc_curve.is_empty()) {
                self.roc_chart(attr, &with_data);
            }
            if with_data.iter().any(|g| !g.threshold_sweep.is_empty()) {
                self.sweep_chart(attr, &with_data);
            }
        }
        if self.flip_chart() {
            any = true;
        }
        if !any {
            let _ = write!(
                self.out,
                "<p class=\"note\">{}</p>",
                l.t("Der er ingen data at vise i figurer.", "There is no data to chart.")
            );
        }
        self.w("</section>");
    }

    fn group_note(&self, g: &GroupReport) -> String {
        if g.empty {
            self.t("tom", "empty").into()
        } else if g.small {
            self.t("lille", "small").into()
        } else {
            String::new()
        }
    }

    fn rates_chart(&mut self, name: &str, gs: &[GroupReport]) {
        let l = self.l;
        let metrics = [
            MetricName::SelectionRate,
            MetricName::TruePositiveRate,
            MetricName::FalsePositiveRate,
        ];
        let short = [self.t("Udvælgelsesrate", "Selection rate"), "TPR", "FPR"];
        let rows: Vec<DotRow> = gs
            .iter()
            .map(|g| DotRow {
                label: g.group.clone(),
                note: self.group_note(g),
                values: metrics
                    .iter()
                    .map(|&m| metric(&g.metrics, m).and_then(|m| Some((m.value?, m.ci))))
                    .collect(),
            })
            .collect();
        let desc = gs
            .iter()
            .map(|g| {
                let parts: Vec<String> = metrics
                    .iter()
                    .zip(short)
                    .map(|(&m, s)| {
                        let v = metric(&g.metrics, m)
                            .map(|m| {
                                let (v, ci) = self.value_text(&m, true);
                                if ci.is_empty() { v } else { format!("{v} ({ci})") }
                            })
                            .unwrap_or_else(|| DASH.to_owned());
                        format!("{s} {v}")
                    })
                    .collect();
                format!("{}: {}", g.group, parts.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ");
        let id = self.next_id();
        let chart = DotChart {
            id,
            title: match l {
                Lang::Da => format!(
                    "Udvælgelsesrate og fejlrater efter {}",
                    self.attr_label(name).to_lowercase()
                ),
                Lang::En => format!(
                    "Selection rate and error rates by {}",
                    self.attr_label(name).to_lowercase()
                ),
            },
            desc,
            x: Axis::unit(self.t("Andel af gruppen", "Share of the group"), true),
            metrics: vec![
                short[0].to_owned(),
                self.t("Sand positiv-rate (TPR)", "True positive rate (TPR)").to_owned(),
                self.t("Falsk positiv-rate (FPR)", "False positive rate (FPR)")
                    .to_owned(),
            ],
            rows,
            bars: false,
            interval_key: format!("{} {}", self.confidence(), self.t("interval", "interval")),
            missing: self.t("ingen værdi", "no value").to_owned(),
        };
        self.w(&dot_chart(&chart, l));
    }

    fn calibration_chart(&mut self, name: &str, gs: &[&GroupReport]) {
        let l = self.l;
        let series: Vec<Series> = gs
            .iter()
            .map(|g| Series {
                name: self.series_name(g),
                // An empty bin has no mean score to plot.
                points: g
                    .calibration
                    .iter()
                    .filter(|p| p.count > 0.0)
                    .map(|p| (p.mean_score, p.fraction_positive))
                    .collect(),
                every_point: true,
            })
            .collect();
        let desc = gs
            .iter()
            .map(|g| {
                let ece = g.value(MetricName::ExpectedCalibrationError);
                format!(
                    "{}: ECE {}",
                    g.group,
                    ece.map_or_else(|| DASH.to_owned(), |e| l.dec(e, 3))
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let chart = LineChart {
            id: self.next_id(),
            title: match l {
                Lang::Da => format!("Kalibrering efter {}", self.attr_label(name).to_lowercase()),
                Lang::En => format!("Calibration by {}", self.attr_label(name).to_lowercase()),
            },
            desc: format!(
                "{} {desc}",
                self.t(
                    "Observeret andel positive mod gennemsnitlig score i ti lige brede intervaller; punkter på diagonalen er velkalibrerede.",
                    "Observed share positive against mean score in ten equal-width bins; points on the diagonal are well calibrated."
                )
            ),
            x: Axis::unit(self.t("Gennemsnitlig score", "Mean score"), false),
            y: Axis::unit(self.t("Observeret andel positive", "Observed share positive"), false),
            series,
            diagonal: Some(self.t("Perfekt kalibrering", "Perfect calibration").to_owned()),
            vline: None,
        };
        self.w(&line_chart(&chart, l));
    }

    fn series_name(&self, g: &GroupReport) -> String {
        let note = self.group_note(g);
        if note.is_empty() {
            g.group.clone()
        } else {
            format!("{} ({note})", g.group)
        }
    }

    fn roc_chart(&mut self, name: &str, gs: &[&GroupReport]) {
        let l = self.l;
        let series: Vec<Series> = gs
            .iter()
            .map(|g| {
                let auc = g.value(MetricName::RocAuc);
                Series {
                    name: format!(
                        "{}, AUC {}",
                        self.series_name(g),
                        auc.map_or_else(|| DASH.to_owned(), |a| l.dec(a, 3))
                    ),
                    points: g.roc_curve.iter().map(|&(fpr, tpr, _)| (fpr, tpr)).collect(),
                    every_point: false,
                }
            })
            .collect();
        let desc = gs
            .iter()
            .map(|g| {
                let auc = g.value(MetricName::RocAuc);
                format!(
                    "{}: AUC {}",
                    g.group,
                    auc.map_or_else(|| DASH.to_owned(), |a| l.dec(a, 3))
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let chart = LineChart {
            id: self.next_id(),
            title: match l {
                Lang::Da => format!("ROC-kurver efter {}", self.attr_label(name).to_lowercase()),
                Lang::En => format!("ROC curves by {}", self.attr_label(name).to_lowercase()),
            },
            desc: format!(
                "{} {desc}",
                self.t(
                    "Sand positiv-rate mod falsk positiv-rate ved alle tærskler.",
                    "True positive rate against false positive rate at every threshold."
                )
            ),
            x: Axis::unit(self.t("Falsk positiv-rate (FPR)", "False positive rate (FPR)"), false),
            y: Axis::unit(self.t("Sand positiv-rate (TPR)", "True positive rate (TPR)"), false),
            series,
            diagonal: Some(self.t("Tilfældig gætning", "Random guessing").to_owned()),
            vline: None,
        };
        self.w(&line_chart(&chart, l));
    }

    fn sweep_chart(&mut self, name: &str, gs: &[&GroupReport]) {
        let l = self.l;
        let threshold = self.rec.provenance.manifest.output.threshold;
        let series: Vec<Series> = gs
            .iter()
            .map(|g| Series {
                name: self.series_name(g),
                // A threshold where the group's selection rate is undefined leaves a gap.
                points: g
                    .threshold_sweep
                    .iter()
                    .filter_map(|p| Some((p.threshold, p.selection_rate?)))
                    .collect(),
                every_point: true,
            })
            .collect();
        let desc = gs
            .iter()
            .map(|g| {
                // The model's own threshold, when it is one of the sweep's.
                let v = g
                    .threshold_sweep
                    .iter()
                    .find(|p| (p.threshold - threshold).abs() < 1e-9)
                    .and_then(|p| p.selection_rate);
                format!("{}: {}", g.group, v.map_or_else(|| DASH.to_owned(), |v| l.pct(v, 1)))
            })
            .collect::<Vec<_>>()
            .join("; ");
        let chart = LineChart {
            id: self.next_id(),
            title: match l {
                Lang::Da => format!(
                    "Udvælgelsesrate ved andre tærskler, efter {}",
                    self.attr_label(name).to_lowercase()
                ),
                Lang::En => format!(
                    "Selection rate at other thresholds, by {}",
                    self.attr_label(name).to_lowercase()
                ),
            },
            desc: format!(
                "{} {}: {desc}",
                self.t(
                    "Andel udvalgt, når afgørelsen er score ≥ tærskel, for tærskler fra 0,05 til 0,95.",
                    "Share selected when deciding score ≥ threshold, for thresholds from 0.05 to 0.95."
                ),
                match l {
                    Lang::Da => format!("Ved tærskel {}", l.plain(threshold)),
                    Lang::En => format!("At threshold {}", l.plain(threshold)),
                }
            ),
            x: Axis::unit(self.t("Tærskel (score ≥ t)", "Threshold (score ≥ t)"), false),
            y: Axis::unit(self.t("Udvælgelsesrate", "Selection rate"), true),
            series,
            diagonal: None,
            vline: Some((
                threshold,
                match l {
                    Lang::Da => format!("Modellens tærskel {}", l.plain(threshold)),
                    Lang::En => format!("Model's threshold {}", l.plain(threshold)),
                },
            )),
        };
        self.w(&line_chart(&chart, l));
    }

    /// Returns whether there was a chart to draw.
    fn flip_chart(&mut self) -> bool {
        let l = self.l;
        let rep = self.rep;
        let Some(cf) = &rep.counterfactual else {
            return false;
        };
        // Every change, then all pairs together (always there, so never an empty chart).
        let changes: Vec<&ChangeReport> = cf.by_change.iter().chain(std::iter::once(&cf.overall)).collect();
        let n_changes = cf.by_change.len();
        let rows: Vec<DotRow> = changes
            .iter()
            .enumerate()
            .map(|(k, c)| DotRow {
                label: if k == n_changes {
                    self.t("I alt", "All").to_owned()
                } else {
                    format!("{} → {}", c.from, c.to)
                },
                note: format!("n = {}", l.count(c.pairs as f64)),
                values: vec![c.flip_rate.map(|v| (v, c.flip_rate_interval.map(pair)))],
            })
            .collect();
        let max = changes
            .iter()
            .filter_map(|c| c.flip_rate_interval.map(|[_, hi]| hi).or(c.flip_rate))
            .fold(0.0, f64::max);
        let desc = rows
            .iter()
            .map(|r| {
                let v = r.values[0].map_or_else(
                    || DASH.to_owned(),
                    |(v, ci)| match ci {
                        Some(ci) => format!("{} ({})", l.pct(v, 1), l.pct_ci(ci, 1)),
                        None => l.pct(v, 1),
                    },
                );
                format!("{} ({}): {v}", r.label, r.note)
            })
            .collect::<Vec<_>>()
            .join("; ");
        let attr = self.counterfactual_attr(cf);
        let _ = write!(
            self.out,
            "<h3>{}</h3>",
            self.t("Kontrafaktiske tvillinger", "Counterfactual twins")
        );
        let chart = DotChart {
            id: self.next_id(),
            title: match l {
                Lang::Da => format!(
                    "Andel afgørelser, der skifter, når kun {} ændres",
                    self.attr_label(attr).to_lowercase()
                ),
                Lang::En => format!(
                    "Share of decisions that flip when only {} is changed",
                    self.attr_label(attr).to_lowercase()
                ),
            },
            desc,
            x: Axis {
                label: self
                    .t("Skifterate (andel af parrene)", "Flip rate (share of pairs)")
                    .to_owned(),
                min: 0.0,
                max: nice_max(max),
                pct: true,
            },
            metrics: vec![self.t("Skifterate", "Flip rate").to_owned()],
            rows,
            bars: true,
            interval_key: format!(
                "{} {}",
                self.confidence(),
                self.t("interval (Wilson)", "interval (Wilson)")
            ),
            missing: self.t("ingen værdi", "no value").to_owned(),
        };
        self.w(&dot_chart(&chart, l));
        true
    }

    // ---- 7. throughput ------------------------------------------------------------------

    fn throughput(&mut self) {
        let l = self.l;
        let _ = write!(
            self.out,
            "<section id=\"throughput\"><h2>{}</h2>",
            self.t("Gennemløb", "Throughput")
        );
        let t = &self.rec.throughput;
        self.w("<table class=\"kv keep\"><tbody>");
        let secs = |x: f64| format!("{} s", l.dec(x, 2));
        let ms = |x: f64| format!("{} ms", l.dec(x, 1));
        let rows: Vec<(&str, String)> = vec![
            (self.t("Rækker scoret", "Rows scored"), l.count(t.rows as f64)),
            (self.t("Arbejdsprocesser", "Workers"), l.count(t.workers as f64)),
            (
                self.t("Rækker pr. batch", "Rows per batch"),
                l.count(t.batch_rows as f64),
            ),
            (
                self.t("Rækker pr. sekund", "Rows per second"),
                l.count(t.rows_per_second.round()),
            ),
            (
                self.t("Batch-latens p50 / p95 / p99", "Batch latency p50 / p95 / p99"),
                format!(
                    "{} / {} / {}",
                    ms(t.batch_latency_ms_p50),
                    ms(t.batch_latency_ms_p95),
                    ms(t.batch_latency_ms_p99)
                ),
            ),
            (
                self.t("Største hukommelsesforbrug i en arbejdsproces", "Worker peak memory"),
                t.worker_peak_memory_bytes.map_or_else(
                    || self.t("ikke målt", "not measured").to_owned(),
                    |b| format!("{} MiB", l.dec(b as f64 / 1_048_576.0, 1)),
                ),
            ),
            (
                self.t("Opstart og indlæsning af model", "Start-up and model load"),
                secs(t.load_seconds),
            ),
            (
                self.t("Generering og scoring", "Generating and scoring"),
                secs(t.score_seconds),
            ),
            (
                self.t("Beregning af rapport", "Building the report"),
                secs(t.metrics_seconds),
            ),
            (self.t("I alt", "Total"), secs(t.total_seconds)),
        ];
        for (k, v) in rows {
            self.kv(k, &esc(&v));
        }
        self.w("</tbody></table>");
        let events = &self.rec.worker_events;
        if events.is_empty() {
            let _ = write!(
                self.out,
                "<p>{}</p>",
                self.t(
                    "Ingen arbejdsprocesser gik ned, hang eller løb tør for hukommelse.",
                    "No worker crashed, hung or ran out of memory."
                )
            );
        } else {
            let _ = write!(
                self.out,
                "<table class=\"keep\"><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
                self.t("Hændelser i arbejdsprocesserne", "Worker events"),
                self.t("Arbejdsproces", "Worker"),
                self.t("Årsag", "Cause"),
                self.t("Detaljer", "Detail"),
                self.t("Erstattet", "Replaced")
            );
            for e in events {
                let replaced = if e.respawned {
                    self.t("ja", "yes")
                } else {
                    self.t("nej", "no")
                };
                let _ = write!(
                    self.out,
                    "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"detail\">{}</td><td>{}</td></tr>",
                    e.worker,
                    E(e.cause.as_str()),
                    user(&e.detail, TEXT_CHARS),
                    E(replaced)
                );
            }
            self.w("</tbody></table>");
        }
        self.w("</section>");
    }

    fn footer(&mut self) {
        let _ = write!(
            self.out,
            "<footer><p>{}</p></footer>",
            self.t(
                "Lavet af Sandkasse ud fra kørslens registrering. Filen er selvstændig: den indeholder ingen scripts og henter intet udefra, så den kan videresendes og udskrives, som den er.",
                "Made by Sandkasse from the run record. The file is self-contained: it holds no scripts and loads nothing from elsewhere, so it can be forwarded and printed as it is."
            )
        );
    }
}

/// An id fragment from an attribute name: ASCII letters, digits and dashes only.
fn anchor(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}
