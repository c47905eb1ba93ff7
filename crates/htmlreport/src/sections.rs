//! The document, section by section.

use crate::fmt::{DASH, E, Isolated, TEXT_CHARS, esc, iso, name, plain, user};
use crate::json::{Metric, flag, get, list, metric, num, pair, text};
use crate::svg::{Axis, DotChart, DotRow, LineChart, Series, dot_chart, line_chart, nice_max};
use crate::{Lang, Meta};
use serde_json::Value;
use std::fmt::Write;

static NULL: Value = Value::Null;

const CSS: &str = include_str!("report.css");

/// Rate metrics shown per group, in table order.
const GROUP_COLUMNS: [&str; 6] = [
    "base_rate",
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "precision",
    "accuracy",
];

/// Metrics of the overall table, recorded and true outcome side by side.
const OVERALL_ROWS: [&str; 15] = [
    "accuracy",
    "balanced_accuracy",
    "base_rate",
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "precision",
    "f1",
    "roc_auc",
    "average_precision",
    "brier",
    "log_loss",
    "expected_calibration_error",
    "negative_predictive_value",
];

fn is_rate(metric: &str) -> bool {
    matches!(
        metric,
        "accuracy"
            | "balanced_accuracy"
            | "base_rate"
            | "selection_rate"
            | "true_positive_rate"
            | "false_positive_rate"
            | "true_negative_rate"
            | "false_negative_rate"
            | "precision"
            | "negative_predictive_value"
            | "false_discovery_rate"
            | "false_omission_rate"
    )
}

pub(crate) struct Doc<'a> {
    l: Lang,
    rec: &'a Value,
    rep: &'a Value,
    meta: &'a Meta,
    out: String,
    figures: usize,
}

/// A group of an attribute, as far as the tables and charts need it.
struct Group<'a> {
    name: &'a str,
    count: Option<f64>,
    small: bool,
    empty: bool,
    v: &'a Value,
}

impl<'a> Group<'a> {
    fn of(v: &'a Value) -> Self {
        let count = num(v, &["count"]);
        Self {
            name: text(v, &["group"]).unwrap_or("?"),
            count,
            small: flag(v, &["small"]).unwrap_or(false),
            empty: flag(v, &["empty"]).unwrap_or(count == Some(0.0)),
            v,
        }
    }

    fn m(&self, name: &str) -> Option<Metric> {
        metric(self.v.get("metrics"), name)
    }

    fn compared(&self) -> bool {
        !self.small && !self.empty
    }
}

fn groups(attr: &Value) -> Vec<Group<'_>> {
    list(attr, &["groups"]).iter().map(Group::of).collect()
}

fn is_single(attr: &Value) -> bool {
    match get(attr, &["columns"]).and_then(Value::as_array) {
        Some(c) => c.len() == 1,
        None => !text(attr, &["attribute"]).unwrap_or("").contains('&'),
    }
}

impl<'a> Doc<'a> {
    pub(crate) fn new(rec: &'a Value, l: Lang, meta: &'a Meta) -> Self {
        Self {
            l,
            rec,
            rep: rec.get("report").unwrap_or(&NULL),
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
        let name = text(self.rec, &["provenance", "manifest", "name"]).unwrap_or("?");
        match text(self.rec, &["provenance", "manifest", "version"]) {
            Some(v) => format!("{name} {v}"),
            None => name.to_owned(),
        }
    }

    fn attributes(&self) -> &'a [Value] {
        list(self.rep, &["attributes"])
    }

    fn min_group_size(&self) -> f64 {
        num(self.rep, &["config", "min_group_size"]).unwrap_or(30.0)
    }

    fn confidence(&self) -> String {
        self.l.pct(num(self.rep, &["config", "confidence"]).unwrap_or(0.95), 0)
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

    fn metric_label(&self, key: &str) -> String {
        let (da, en) = match key {
            "accuracy" => ("Nøjagtighed", "Accuracy"),
            "balanced_accuracy" => ("Balanceret nøjagtighed", "Balanced accuracy"),
            "base_rate" => ("Basisrate (andel positive)", "Base rate (share positive)"),
            "selection_rate" => ("Udvælgelsesrate", "Selection rate"),
            "true_positive_rate" => ("Sand positiv-rate (TPR)", "True positive rate (TPR)"),
            "false_positive_rate" => ("Falsk positiv-rate (FPR)", "False positive rate (FPR)"),
            "true_negative_rate" => ("Sand negativ-rate (TNR)", "True negative rate (TNR)"),
            "false_negative_rate" => ("Falsk negativ-rate (FNR)", "False negative rate (FNR)"),
            "precision" => ("Præcision (PPV)", "Precision (PPV)"),
            "negative_predictive_value" => ("Negativ prædiktiv værdi (NPV)", "Negative predictive value (NPV)"),
            "false_discovery_rate" => ("Falsk opdagelsesrate", "False discovery rate"),
            "false_omission_rate" => ("Falsk udeladelsesrate", "False omission rate"),
            "f1" => ("F1-score", "F1 score"),
            "roc_auc" => ("ROC AUC (areal under ROC-kurven)", "ROC AUC (area under the ROC curve)"),
            "average_precision" => ("Gennemsnitlig præcision (AP)", "Average precision (AP)"),
            "brier" => ("Brier-score (lavere er bedre)", "Brier score (lower is better)"),
            "log_loss" => ("Log-tab (lavere er bedre)", "Log loss (lower is better)"),
            "expected_calibration_error" => (
                "Forventet kalibreringsfejl (ECE, lavere er bedre)",
                "Expected calibration error (ECE, lower is better)",
            ),
            "count" => ("Antal", "Count"),
            _ => return key.to_owned(),
        };
        self.t(da, en).to_owned()
    }

    /// A disparity's name: the fairness notion measured by the rate.
    fn disparity_label(&self, key: &str) -> String {
        let (da, en) = match key {
            "selection_rate" => (
                "Demografisk paritet (udvælgelsesrate)",
                "Demographic parity (selection rate)",
            ),
            "true_positive_rate" => ("Lige muligheder (TPR)", "Equal opportunity (TPR)"),
            "false_positive_rate" => ("Paritet i falsk positiv-rate (FPR)", "False positive rate parity (FPR)"),
            "precision" => ("Prædiktiv paritet (præcision)", "Predictive parity (precision)"),
            "accuracy" => ("Paritet i nøjagtighed", "Accuracy parity"),
            _ => return self.metric_label(key),
        };
        self.t(da, en).to_owned()
    }

    /// A criterion's metric, e.g. `disparate_impact` or `equal_opportunity_difference`.
    fn criterion_metric_label(&self, key: &str) -> String {
        let (base, kind) = if let Some(b) = key.strip_suffix("_difference") {
            (b, Some(self.t("forskel", "difference")))
        } else if let Some(b) = key.strip_suffix("_ratio") {
            (b, Some(self.t("forhold", "ratio")))
        } else {
            (key, None)
        };
        let (da, en) = match base {
            "demographic_parity" => ("Demografisk paritet", "Demographic parity"),
            "equal_opportunity" => ("Lige muligheder", "Equal opportunity"),
            "predictive_parity" => ("Prædiktiv paritet", "Predictive parity"),
            "false_positive_rate" => ("Falsk positiv-rate", "False positive rate"),
            "accuracy" => ("Nøjagtighed", "Accuracy"),
            "equalized_odds" => ("Udlignede odds", "Equalized odds"),
            "disparate_impact" => ("Disparat effekt", "Disparate impact"),
            "average_odds" => ("Gennemsnitlig odds", "Average odds"),
            _ => return key.to_owned(),
        };
        match kind {
            Some(k) => format!("{}, {k}", self.t(da, en)),
            None => self.t(da, en).to_owned(),
        }
    }

    fn against_label(&self, key: &str) -> String {
        match key {
            "between_groups" => self.t("mellem grupper", "between groups").into(),
            "overall" => self.t("i forhold til alle", "to overall").into(),
            "reference" => self
                .t("i forhold til referencegruppen", "against the reference group")
                .into(),
            other => other.to_owned(),
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

    fn op_symbol(op: &str) -> &str {
        match op {
            ">=" => "≥",
            "<=" => "≤",
            other => other,
        }
    }

    // ---- cells --------------------------------------------------------------------------

    /// A metric's value and interval as text.
    fn value_text(&self, m: &Metric, rate: bool) -> (String, String) {
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
                m.null_reason.clone().unwrap_or_default(),
            ),
        }
    }

    fn metric_cell(&self, m: Option<Metric>, rate: bool) -> String {
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

    /// A report `Value` (value or null with a reason) with an interval, as one cell.
    fn value_cell(&self, v: Option<&Value>, ci: Option<(f64, f64)>) -> String {
        let m = v.and_then(Metric::from_value).map(|mut m| {
            if m.ci.is_none() {
                m.ci = ci;
            }
            m
        });
        self.metric_cell(m, false)
    }

    fn kv(&mut self, key: &str, value_html: &str) {
        let _ = write!(
            self.out,
            "<tr><th scope=\"row\">{}</th><td>{value_html}</td></tr>",
            E(key)
        );
    }

    fn verdict_badge(&self, verdict: &str) -> String {
        let (class, sym, label) = match verdict {
            "pass" => ("v-pass", "✓", self.t("Bestået", "Pass")),
            "fail" => ("v-fail", "✗", self.t("Ikke bestået", "Fail")),
            "inconclusive" => ("v-inconclusive", "?", self.t("Uafklaret", "Inconclusive")),
            _ => ("v-inconclusive", "?", verdict),
        };
        format!("<span class=\"verdict {class}\">{sym} {}</span>", E(label))
    }

    // ---- 1. title and summary -----------------------------------------------------------

    fn header(&mut self, title: &str) {
        let _ = write!(self.out, "<header><h1>{}</h1><p class=\"sub\">", Isolated(title));
        let mut facts: Vec<String> = Vec::new();
        if let Some(s) = text(self.rec, &["provenance", "dataset", "scenario"]) {
            facts.push(format!("{}: {}", self.t("Scenarie", "Scenario"), name(s)));
        }
        if let Some(s) = text(self.rec, &["provenance", "started"]) {
            facts.push(format!("{}: {}", self.t("Startet", "Started"), E(s)));
        }
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
        let overall = get(self.rep, &["overall"]).unwrap_or(&NULL);
        let rows = num(overall, &["count"]).or_else(|| num(self.rec, &["provenance", "dataset", "rows"]));
        let scenario = iso(text(self.rec, &["provenance", "dataset", "scenario"]).unwrap_or("?"));
        let rows = rows.map_or_else(|| "?".to_owned(), |r| l.count(r));
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

        let acc_rec = metric(overall.get("metrics"), "accuracy").and_then(|m| m.value);
        let acc_true = metric(overall.get("metrics_vs_label_true"), "accuracy").and_then(|m| m.value);
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

        let verdicts = list(self.rec, &["verdicts"]);
        if verdicts.is_empty() {
            s.push(
                self.t(
                    "Der var ingen kriterier fastlagt før kørslen.",
                    "No criteria were fixed before the run.",
                )
                .into(),
            );
        } else {
            let count = |v: &str| verdicts.iter().filter(|x| text(x, &["verdict"]) == Some(v)).count();
            let failed: Vec<String> = verdicts
                .iter()
                .filter(|x| text(x, &["verdict"]) == Some("fail"))
                .map(|x| iso(&self.criterion_name(x)))
                .collect();
            let mut line = match l {
                Lang::Da => format!(
                    "Af {} kriterier fastlagt før kørslen er {} bestået, {} ikke bestået og {} uafklarede",
                    verdicts.len(),
                    count("pass"),
                    count("fail"),
                    count("inconclusive")
                ),
                Lang::En => format!(
                    "Of {} criteria fixed before the run, {} pass, {} fail and {} are inconclusive",
                    verdicts.len(),
                    count("pass"),
                    count("fail"),
                    count("inconclusive")
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

        if let Some(cf) = self.rep.get("counterfactual").filter(|c| c.is_object()) {
            let attr = text(self.rec, &["provenance", "dataset", "counterfactual"])
                .or_else(|| list(cf, &["by_change"]).first().and_then(|c| text(c, &["attribute"])))
                .unwrap_or("?");
            let pairs = num(cf, &["overall", "pairs"]).unwrap_or(0.0);
            if let Some(flip) = num(cf, &["overall", "flip_rate"]) {
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
            for g in groups(a).iter().filter(|g| !g.compared()) {
                if is_single(a) {
                    flagged.push(format!(
                        "{} {}",
                        iso(&self.attr_label(text(a, &["attribute"]).unwrap_or("?"))),
                        iso(g.name)
                    ));
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
            let rates: Vec<(&str, f64)> = groups(a)
                .into_iter()
                .filter(Group::compared)
                .filter_map(|g| Some((g.name, g.m("selection_rate")?.value?)))
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
                best = Some((text(a, &["attribute"]).unwrap_or("?"), hi, lo));
            }
        }
        best
    }

    fn criterion_name(&self, v: &Value) -> String {
        if let Some(n) = text(v, &["criterion", "name"]) {
            return n.to_owned();
        }
        format!(
            "{} ({})",
            self.criterion_metric_label(text(v, &["criterion", "metric"]).unwrap_or("?")),
            self.attr_label(text(v, &["criterion", "attribute"]).unwrap_or("?"))
                .to_lowercase()
        )
    }

    // ---- 2. provenance ------------------------------------------------------------------

    fn provenance(&mut self) {
        let l = self.l;
        let p = get(self.rec, &["provenance"]).unwrap_or(&NULL);
        let _ = write!(
            self.out,
            "<section id=\"provenance\"><h2>{}</h2><table class=\"kv keep\"><tbody>",
            self.t("Oprindelse", "Provenance")
        );
        let meta = self.meta.clone();
        if let Some(s) = &meta.run_id {
            self.kv(self.t("Kørsels-id", "Run id"), &name(s));
        }
        if let Some(s) = &meta.requested_by {
            self.kv(self.t("Udført af / bestilt af", "Run by / requested by"), &name(s));
        }
        if let Some(s) = &meta.case_name {
            self.kv(self.t("Sag", "Case"), &name(s));
        }
        if let Some(s) = text(p, &["started"]) {
            self.kv(self.t("Startet", "Started"), &esc(s));
        }
        let mut model = format!("<strong>{}</strong>", name(&self.model_name()));
        if let Some(f) = text(p, &["model_file"]) {
            let _ = write!(model, " <code>{}</code>", name(f));
        }
        if let Some(h) = text(p, &["model_sha256"]) {
            let _ = write!(model, "<br/>SHA-256 <code class=\"hash\">{}</code>", E(h));
        }
        self.kv(self.t("Model", "Model"), &model);
        if let Some(d) = text(p, &["manifest", "description"]) {
            self.kv(
                self.t("Leverandørens beskrivelse", "Vendor's description"),
                &user(d, TEXT_CHARS),
            );
        }
        if let Some(h) = text(p, &["manifest_sha256"]) {
            self.kv(
                self.t("Manifest", "Manifest"),
                &format!("SHA-256 <code class=\"hash\">{}</code>", E(h)),
            );
        }
        if let Some(o) = get(p, &["manifest", "output"]).filter(|o| o.is_object()) {
            let mut parts = Vec::new();
            if let Some(t) = num(o, &["threshold"]) {
                parts.push(format!(
                    "{} {}",
                    self.t("beslutningstærskel", "decision threshold"),
                    E(&l.plain(t))
                ));
            }
            if let Some(c) = get(o, &["positive_class"]) {
                parts.push(format!(
                    "{} {}",
                    self.t("positiv klasse", "positive class"),
                    E(&scalar(c, l))
                ));
            }
            for k in ["label", "probability", "score"] {
                if let Some(s) = text(o, &[k]) {
                    parts.push(format!("{k} <code>{}</code>", name(s)));
                }
            }
            if !parts.is_empty() {
                self.kv(self.t("Modellens output", "Model output"), &parts.join("; "));
            }
        }
        if let Some(i) = get(self.rec, &["inspection"]).filter(|i| i.is_object()) {
            let mut parts = Vec::new();
            if let Some(s) = text(i, &["producer"]) {
                parts.push(format!("{} {}", self.t("lavet med", "produced by"), name(s)));
            }
            if let Some(b) = num(i, &["file_bytes"]) {
                parts.push(format!("{} {}", l.count(b), self.t("byte", "bytes")));
            }
            if let Some(n) = num(i, &["parameters"]) {
                parts.push(format!("{} {}", l.count(n), self.t("parametre", "parameters")));
            }
            if let Some(n) = num(i, &["nodes"]) {
                parts.push(format!("{} {}", l.count(n), self.t("knuder", "nodes")));
            }
            if let Some(o) = get(i, &["opsets"]).and_then(Value::as_object) {
                let ops: Vec<String> = o
                    .iter()
                    .map(|(k, v)| format!("{} {}", E(k), E(&scalar(v, l))))
                    .collect();
                parts.push(format!("opsets: {}", ops.join(", ")));
            }
            if let Some(o) = get(i, &["operators"]).and_then(Value::as_object) {
                let ops: Vec<String> = o
                    .iter()
                    .map(|(k, v)| format!("{} ×{}", E(k), E(&scalar(v, l))))
                    .collect();
                parts.push(format!("{}: {}", self.t("operatorer", "operators"), ops.join(", ")));
            }
            if !parts.is_empty() {
                self.kv(self.t("Inspektion af modellen", "Model inspection"), &parts.join("; "));
            }
        }
        let d = get(p, &["dataset"]).unwrap_or(&NULL);
        let mut ds = Vec::new();
        if let Some(f) = text(p, &["dataset_file"]) {
            ds.push(format!("{} <code>{}</code>", self.t("fil", "file"), name(f)));
        }
        if let Some(s) = text(d, &["scenario"]) {
            ds.push(format!(
                "{} <strong>{}</strong>",
                self.t("scenarie", "scenario"),
                name(s)
            ));
        }
        if let Some(r) = num(d, &["rows"]) {
            ds.push(format!("{} {}", l.count(r), self.t("borgere", "citizens")));
        }
        if let Some(r) = num(p, &["dataset_rows"]) {
            ds.push(format!(
                "{} {}",
                l.count(r),
                self.t("rækker scoret (med tvillinger)", "rows scored (twins included)")
            ));
        }
        if let Some(s) = get(d, &["seed"]) {
            ds.push(format!("{} {}", self.t("frø", "seed"), E(&scalar(s, l))));
        }
        if let Some(s) = text(d, &["split"]) {
            ds.push(format!("{} {}", self.t("del", "split"), E(s)));
        }
        if let Some(s) = text(d, &["reference_date"]) {
            ds.push(format!("{} {}", self.t("referencedato", "reference date"), E(s)));
        }
        let cf = match get(d, &["counterfactual"]) {
            Some(Value::String(s)) => self.attr_label(s),
            _ => self.t("ingen", "none").to_owned(),
        };
        ds.push(format!(
            "{} {}",
            self.t("kontrafaktisk tvilling", "counterfactual twin"),
            E(&cf)
        ));
        self.kv(self.t("Datasæt", "Dataset"), &ds.join("; "));
        let bias = match get(d, &["bias"]) {
            Some(Value::Object(o)) if !o.is_empty() => o
                .iter()
                .map(|(k, v)| format!("<code>{}</code> = {}", E(k), E(&scalar(v, l))))
                .collect::<Vec<_>>()
                .join(", "),
            _ => self
                .t("ingen (upåvirket datasæt)", "none (unbiased dataset)")
                .to_owned(),
        };
        self.kv(self.t("Indbygget skævhed", "Bias knobs"), &bias);
        if let Some(h) = text(p, &["dataset_sha256"]) {
            self.kv(
                self.t("Datasæt, SHA-256", "Dataset SHA-256"),
                &format!("<code class=\"hash\">{}</code>", E(h)),
            );
        }
        let versions = [
            (self.t("generator", "generator"), text(p, &["generator_version"])),
            ("sandkasse", text(p, &["sandbox_version"])),
            ("ONNX Runtime", text(p, &["onnxruntime_version"])),
        ]
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{} {}", E(k), E(v))))
        .collect::<Vec<_>>()
        .join("; ");
        if !versions.is_empty() {
            self.kv(self.t("Versioner", "Versions"), &versions);
        }
        if let Some(c) = get(self.rep, &["config"]).filter(|c| c.is_object()) {
            let scheme = match text(c, &["bootstrap_scheme"]) {
                Some("stratified") => self.t("inden for krydsceller", "within intersection cells"),
                Some("rows") => self.t("over alle rækker", "over all rows"),
                _ => "",
            };
            let correction = match text(c, &["correction"]) {
                Some("holm") => "Holm",
                Some("benjamini_hochberg") => "Benjamini–Hochberg",
                Some(other) => other,
                None => DASH,
            };
            let b = num(c, &["bootstrap"]).unwrap_or(0.0);
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
                    E(&get(c, &["seed"]).map_or_else(String::new, |s| scalar(s, l))),
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
                    E(&get(c, &["seed"]).map_or_else(String::new, |s| scalar(s, l))),
                    l.count(self.min_group_size()),
                ),
            };
            self.kv(self.t("Metode", "Method"), &method);
        }
        self.w("</tbody></table>");

        let layers = list(p, &["isolation"]);
        if !layers.is_empty() {
            let active = layers.iter().filter(|x| flag(x, &["active"]) == Some(true)).count();
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
                let status = if flag(x, &["active"]) == Some(true) {
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
                    E(text(x, &["layer"]).unwrap_or("?")),
                    E(text(x, &["detail"]).unwrap_or(""))
                );
            }
            self.w("</tbody></table>");
        }
        self.isolation_allowance(p);
        self.w("</section>");
    }

    /// The operator's choice to run without some isolation layers (`--allow-missing-isolation`),
    /// from `provenance.isolation_allowed_missing`; shown whenever the record carries it.
    fn isolation_allowance(&mut self, p: &Value) {
        let Some(allowed) = get(p, &["isolation_allowed_missing"]).and_then(Value::as_array) else {
            return;
        };
        let names: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
        if names.is_empty() {
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
                E(&names.join(", "))
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
        let verdicts = list(self.rec, &["verdicts"]);
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
            let verdict = text(v, &["verdict"]).unwrap_or("?");
            let metric_key = text(v, &["criterion", "metric"]).unwrap_or("?");
            let against = text(v, &["criterion", "against"]).unwrap_or("between_groups");
            let op = text(v, &["criterion", "op"]).unwrap_or("?");
            let threshold = num(v, &["criterion", "threshold"]);
            let value = num(v, &["value"]);
            let ci = pair(v.get("interval"));
            let mut criterion = format!("<strong>{}</strong>", name(&self.criterion_name(v)));
            let _ = write!(
                criterion,
                "<span class=\"ci\">{}; <code>{}</code></span>",
                E(&self.against_label(against)),
                E(metric_key)
            );
            let requirement = format!(
                "{} {}",
                E(Self::op_symbol(op)),
                E(&threshold.map_or_else(|| DASH.to_owned(), |t| l.plain(t)))
            );
            let value_s = value.map_or_else(|| self.t("ikke defineret", "undefined").to_owned(), |x| l.dec(x, 3));
            let mut value_html = E(&value_s).to_string();
            if let Some(g) = text(v, &["group"]) {
                let _ = write!(
                    value_html,
                    "<span class=\"ci\">{} {}</span>",
                    self.t("værste gruppe:", "worst group:"),
                    name(g)
                );
            }
            let ci_s = ci.map_or_else(|| DASH.to_owned(), |c| l.ci(c, 3));
            let mut why = String::new();
            let record_why = text(v, &["explanation"]).unwrap_or("");
            match l {
                Lang::Da => {
                    let thr = threshold.map_or_else(|| DASH.to_owned(), |t| l.plain(t));
                    let op = Self::op_symbol(op);
                    let own = match (verdict, ci, value) {
                        (_, _, None) => {
                            "Målet er ikke defineret for disse data, så kriteriet kan ikke afgøres.".to_owned()
                        }
                        ("pass", Some(c), _) => format!("Hele intervallet {} opfylder {op} {thr}.", l.ci(c, 3)),
                        ("fail", Some(c), _) => format!("Intet af intervallet {} opfylder {op} {thr}.", l.ci(c, 3)),
                        ("inconclusive", Some(c), Some(x)) => format!(
                            "Intervallet {} omkring {} krydser tærsklen {thr}.",
                            l.ci(c, 3),
                            l.dec(x, 3)
                        ),
                        (_, None, Some(x)) => {
                            format!("Punktestimatet {} afgør (intet bootstrap-interval).", l.dec(x, 3))
                        }
                        _ => String::new(),
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
            let excluded: Vec<String> = list(v, &["excluded"])
                .iter()
                .map(|e| match e {
                    Value::String(s) => s.clone(),
                    other => match (text(other, &["group"]), text(other, &["reason"])) {
                        (Some(g), Some(r)) => format!("{g}: {r}"),
                        _ => other.to_string(),
                    },
                })
                .collect();
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
                E(verdict),
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
        let Some(overall) = get(self.rep, &["overall"]).filter(|o| o.is_object()) else {
            let _ = write!(
                self.out,
                "<p class=\"note\">{}</p></section>",
                self.t("Kørslen indeholder ingen rapport.", "The run contains no report.")
            );
            return;
        };
        let has_true = overall.get("metrics_vs_label_true").is_some_and(Value::is_object);
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
            E(&num(overall, &["count"]).map_or_else(|| DASH.to_owned(), |c| l.count(c))),
            if has_true { "<td></td>" } else { "" }
        );
        for key in OVERALL_ROWS {
            let rec = metric(overall.get("metrics"), key);
            let tru = metric(overall.get("metrics_vs_label_true"), key);
            if rec.is_none() && tru.is_none() {
                continue;
            }
            let rate = is_rate(key);
            let _ = write!(
                self.out,
                "<tr><th scope=\"row\">{}</th>{}",
                E(&self.metric_label(key)),
                self.metric_cell(rec, rate)
            );
            if has_true {
                self.w(&self.metric_cell(tru, rate));
            }
            self.w("</tr>");
        }
        self.w("</tbody></table>");
        let ge = num(self.rep, &["generalized_entropy_alpha2"]);
        let th = num(self.rep, &["theil"]);
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

    fn attribute(&mut self, a: &Value) {
        let l = self.l;
        let attr = text(a, &["attribute"]).unwrap_or("?");
        let gs = groups(a);
        let has_true = gs
            .iter()
            .any(|g| g.v.get("metrics_vs_label_true").is_some_and(Value::is_object));
        let _ = write!(
            self.out,
            "<h3 id=\"attr-{}\">{} <span class=\"muted\">(<code>{}</code>)</span></h3>",
            anchor(attr),
            name(&self.attr_label(attr)),
            name(attr)
        );
        if let Some(r) = text(a, &["reference"]) {
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
            let _ = write!(self.out, "<th scope=\"col\">{}</th>", E(&self.metric_label(c)));
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
        for g in &gs {
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
                if g.compared() { "" } else { " class=\"flagged\"" },
                name(g.name),
                E(&g.count.map_or_else(|| DASH.to_owned(), |c| l.count(c)))
            );
            for c in GROUP_COLUMNS {
                self.w(&self.metric_cell(g.m(c), true));
            }
            if has_true {
                self.w(&self.metric_cell(metric(g.v.get("metrics_vs_label_true"), "accuracy"), true));
            }
            let _ = write!(self.out, "<td>{flag_html}</td></tr>");
        }
        self.w("</tbody></table>");

        let disparities = list(a, &["disparities"]);
        if !disparities.is_empty() {
            let vs_true = list(a, &["disparities_vs_label_true"]);
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
                let m = text(d, &["metric"]).unwrap_or("?");
                let _ = write!(
                    self.out,
                    "<tr><th scope=\"row\">{}</th>{}{}{}",
                    E(&self.disparity_label(m)),
                    self.value_cell(
                        d.get("difference_between_groups"),
                        pair(get(d, &["intervals", "difference_between_groups"]))
                    ),
                    self.value_cell(
                        d.get("ratio_between_groups"),
                        pair(get(d, &["intervals", "ratio_between_groups"]))
                    ),
                    self.value_cell(
                        d.get("difference_to_overall"),
                        pair(get(d, &["intervals", "difference_to_overall"]))
                    ),
                );
                if !vs_true.is_empty() {
                    let t = vs_true.iter().find(|t| text(t, &["metric"]) == Some(m));
                    self.w(&self.value_cell(t.and_then(|t| t.get("difference_between_groups")), None));
                }
                self.w("</tr>");
            }
            self.w("</tbody></table>");
            let excluded: Vec<String> = disparities
                .iter()
                .flat_map(|d| {
                    let m = text(d, &["metric"]).unwrap_or("?");
                    list(d, &["excluded"]).iter().map(move |e| {
                        format!(
                            "{} ({}): {}",
                            text(e, &["group"]).unwrap_or("?"),
                            m,
                            text(e, &["reason"]).unwrap_or("")
                        )
                    })
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

        let c = get(a, &["combined"]).unwrap_or(&NULL);
        if let Some(eo) = c.get("equalized_odds_difference") {
            let ci = list(c, &["equalized_odds_intervals"])
                .first()
                .and_then(|v| pair(Some(v)));
            let m = Metric::from_value(eo);
            if let Some(m) = m {
                let (v, _) = self.value_text(&m, false);
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
            }
        }
        let di = list(c, &["disparate_impact"]);
        if !di.is_empty() {
            let rule = list(c, &["four_fifths_rule"]);
            let sel_ref = list(a, &["disparities"])
                .iter()
                .find(|d| text(d, &["metric"]) == Some("selection_rate"))
                .map_or(&[][..], |d| list(d, &["to_reference"]));
            let _ = write!(
                self.out,
                "<table class=\"keep\"><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
                E(&match l {
                    Lang::Da => format!(
                        "Disparat effekt: gruppens udvælgelsesrate i forhold til referencegruppens ({})",
                        text(a, &["reference"]).unwrap_or("?")
                    ),
                    Lang::En => format!(
                        "Disparate impact: the group's selection rate relative to the reference group's ({})",
                        text(a, &["reference"]).unwrap_or("?")
                    ),
                }),
                self.t("Gruppe", "Group"),
                self.t("Forhold", "Ratio"),
                self.t("Firefemtedelsreglen (≥ 0,8)", "Four-fifths rule (≥ 0.8)"),
                self.t("p (korrigeret), udvælgelsesrate", "p (adjusted), selection rate")
            );
            for d in di {
                let g = text(d, &["group"]).unwrap_or("?");
                let ok = rule
                    .iter()
                    .find(|r| r.get(0).and_then(Value::as_str) == Some(g))
                    .and_then(|r| r.get(1))
                    .and_then(Value::as_bool);
                let ok_html = match ok {
                    Some(true) => format!("<span class=\"ok\">✓ {}</span>", self.t("opfyldt", "met")),
                    Some(false) => format!("<span class=\"bad\">✗ {}</span>", self.t("ikke opfyldt", "not met")),
                    None => format!("{DASH} {}", self.t("ikke defineret", "undefined")),
                };
                let p = sel_ref
                    .iter()
                    .find(|r| text(r, &["group"]) == Some(g))
                    .and_then(|r| num(r, &["p_adjusted"]));
                let _ = write!(
                    self.out,
                    "<tr><th scope=\"row\">{}</th>{}<td>{ok_html}</td><td class=\"n\">{}</td></tr>",
                    name(g),
                    self.value_cell(d.get("ratio"), pair(d.get("ratio_interval"))),
                    E(&p.map_or_else(|| DASH.to_owned(), |p| l.sci(p)))
                );
            }
            self.w("</tbody></table>");
        }
    }

    fn counterfactual_table(&mut self) {
        let l = self.l;
        let Some(cf) = self.rep.get("counterfactual").filter(|c| c.is_object()) else {
            return;
        };
        let _ = write!(
            self.out,
            "<h3 id=\"counterfactual\">{}</h3><p>{}</p>",
            self.t("Kontrafaktiske tvillinger", "Counterfactual twins"),
            E(&match l {
                Lang::Da => format!(
                    "Hver borger er scoret sammen med en tvilling, der kun adskiller sig i én egenskab (og i det, den årsagsmæssigt påvirker). {} par; afgørelsen skifter i {} af dem; {} rækker uden makker.",
                    l.count(num(cf, &["overall", "pairs"]).unwrap_or(0.0)),
                    num(cf, &["overall", "flip_rate"]).map_or_else(|| DASH.to_owned(), |x| l.pct(x, 1)),
                    l.count(num(cf, &["unmatched_rows"]).unwrap_or(0.0))
                ),
                Lang::En => format!(
                    "Each citizen was scored with a twin who differs in one attribute only (and in what it causes). {} pairs; the decision flips in {} of them; {} rows without a partner.",
                    l.count(num(cf, &["overall", "pairs"]).unwrap_or(0.0)),
                    num(cf, &["overall", "flip_rate"]).map_or_else(|| DASH.to_owned(), |x| l.pct(x, 1)),
                    l.count(num(cf, &["unmatched_rows"]).unwrap_or(0.0))
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
        let rows = list(cf, &["by_change"]).iter().chain(cf.get("overall"));
        for (k, c) in rows.enumerate() {
            let is_overall = k == list(cf, &["by_change"]).len();
            let (attr, change) = if is_overall {
                (self.t("I alt", "All").to_owned(), String::new())
            } else {
                (
                    self.attr_label(text(c, &["attribute"]).unwrap_or("?")),
                    format!(
                        "{} → {}",
                        text(c, &["from"]).unwrap_or("?"),
                        text(c, &["to"]).unwrap_or("?")
                    ),
                )
            };
            let flip = Metric {
                value: num(c, &["flip_rate"]),
                null_reason: None,
                ci: pair(c.get("flip_rate_interval")),
            };
            let cnt = |k: &str| E(&num(c, &[k]).map_or_else(|| DASH.to_owned(), |x| l.count(x))).to_string();
            let dec = |k: &str| E(&num(c, &[k]).map_or_else(|| DASH.to_owned(), |x| l.dec(x, 3))).to_string();
            let _ = write!(
                self.out,
                "<tr{}><th scope=\"row\">{}</th><td>{}</td><td class=\"n\">{}</td>{}<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                if is_overall { " class=\"total\"" } else { "" },
                name(&attr),
                name(&change),
                cnt("pairs"),
                self.metric_cell(Some(flip), true),
                cnt("flips_to_positive"),
                cnt("flips_to_negative"),
                dec("mean_abs_score_change"),
                dec("max_abs_score_change"),
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
            let attr = text(a, &["attribute"]).unwrap_or("?");
            let gs: Vec<Group<'_>> = groups(a);
            if gs.is_empty() {
                continue;
            }
            any = true;
            let _ = write!(self.out, "<h3>{}</h3>", name(&self.attr_label(attr)));
            self.rates_chart(attr, &gs);
            let with_data: Vec<&Group<'_>> = gs.iter().filter(|g| !g.empty).collect();
            if with_data.iter().any(|g| !list(g.v, &["calibration"]).is_empty()) {
                self.calibration_chart(attr, &with_data);
            }
            if with_data.iter().any(|g| !list(g.v, &["roc_curve"]).is_empty()) {
                self.roc_chart(attr, &with_data);
            }
            if with_data.iter().any(|g| !list(g.v, &["threshold_sweep"]).is_empty()) {
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

    fn group_note(&self, g: &Group<'_>) -> String {
        if g.empty {
            self.t("tom", "empty").into()
        } else if g.small {
            self.t("lille", "small").into()
        } else {
            String::new()
        }
    }

    fn rates_chart(&mut self, name: &str, gs: &[Group<'_>]) {
        let l = self.l;
        let metrics = ["selection_rate", "true_positive_rate", "false_positive_rate"];
        let short = [self.t("Udvælgelsesrate", "Selection rate"), "TPR", "FPR"];
        let rows: Vec<DotRow> = gs
            .iter()
            .map(|g| DotRow {
                label: g.name.to_owned(),
                note: self.group_note(g),
                values: metrics
                    .iter()
                    .map(|m| g.m(m).and_then(|m| Some((m.value?, m.ci))))
                    .collect(),
            })
            .collect();
        let desc = gs
            .iter()
            .map(|g| {
                let parts: Vec<String> = metrics
                    .iter()
                    .zip(short)
                    .map(|(m, s)| {
                        let v = g
                            .m(m)
                            .map(|m| {
                                let (v, ci) = self.value_text(&m, true);
                                if ci.is_empty() { v } else { format!("{v} ({ci})") }
                            })
                            .unwrap_or_else(|| DASH.to_owned());
                        format!("{s} {v}")
                    })
                    .collect();
                format!("{}: {}", g.name, parts.join(", "))
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

    fn calibration_chart(&mut self, name: &str, gs: &[&Group<'_>]) {
        let l = self.l;
        let series: Vec<Series> = gs
            .iter()
            .map(|g| Series {
                name: self.series_name(g),
                points: list(g.v, &["calibration"])
                    .iter()
                    .filter(|p| num(p, &["count"]).unwrap_or(0.0) > 0.0)
                    .filter_map(|p| Some((num(p, &["mean_score"])?, num(p, &["fraction_positive"])?)))
                    .collect(),
                every_point: true,
            })
            .collect();
        let desc = gs
            .iter()
            .map(|g| {
                let ece = g.m("expected_calibration_error").and_then(|m| m.value);
                format!(
                    "{}: ECE {}",
                    g.name,
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

    fn series_name(&self, g: &Group<'_>) -> String {
        let note = self.group_note(g);
        if note.is_empty() {
            g.name.to_owned()
        } else {
            format!("{} ({note})", g.name)
        }
    }

    fn roc_chart(&mut self, name: &str, gs: &[&Group<'_>]) {
        let l = self.l;
        let series: Vec<Series> = gs
            .iter()
            .map(|g| {
                let auc = g.m("roc_auc").and_then(|m| m.value);
                Series {
                    name: format!(
                        "{}, AUC {}",
                        self.series_name(g),
                        auc.map_or_else(|| DASH.to_owned(), |a| l.dec(a, 3))
                    ),
                    points: list(g.v, &["roc_curve"])
                        .iter()
                        .filter_map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
                        .collect(),
                    every_point: false,
                }
            })
            .collect();
        let desc = gs
            .iter()
            .map(|g| {
                let auc = g.m("roc_auc").and_then(|m| m.value);
                format!(
                    "{}: AUC {}",
                    g.name,
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

    fn sweep_chart(&mut self, name: &str, gs: &[&Group<'_>]) {
        let l = self.l;
        let threshold = num(self.rec, &["provenance", "manifest", "output", "threshold"]);
        let series: Vec<Series> = gs
            .iter()
            .map(|g| Series {
                name: self.series_name(g),
                points: list(g.v, &["threshold_sweep"])
                    .iter()
                    .filter_map(|p| Some((num(p, &["threshold"])?, num(p, &["selection_rate"])?)))
                    .collect(),
                every_point: true,
            })
            .collect();
        let at = threshold.unwrap_or(0.5);
        let desc = gs
            .iter()
            .map(|g| {
                let v = list(g.v, &["threshold_sweep"])
                    .iter()
                    .find(|p| num(p, &["threshold"]).is_some_and(|t| (t - at).abs() < 1e-9))
                    .and_then(|p| num(p, &["selection_rate"]));
                format!("{}: {}", g.name, v.map_or_else(|| DASH.to_owned(), |v| l.pct(v, 1)))
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
                    Lang::Da => format!("Ved tærskel {}", l.plain(at)),
                    Lang::En => format!("At threshold {}", l.plain(at)),
                }
            ),
            x: Axis::unit(self.t("Tærskel (score ≥ t)", "Threshold (score ≥ t)"), false),
            y: Axis::unit(self.t("Udvælgelsesrate", "Selection rate"), true),
            series,
            diagonal: None,
            vline: threshold.map(|t| {
                (
                    t,
                    match l {
                        Lang::Da => format!("Modellens tærskel {}", l.plain(t)),
                        Lang::En => format!("Model's threshold {}", l.plain(t)),
                    },
                )
            }),
        };
        self.w(&line_chart(&chart, l));
    }

    /// Returns whether there was a chart to draw.
    fn flip_chart(&mut self) -> bool {
        let l = self.l;
        let Some(cf) = self.rep.get("counterfactual").filter(|c| c.is_object()) else {
            return false;
        };
        let changes: Vec<&Value> = list(cf, &["by_change"]).iter().chain(cf.get("overall")).collect();
        if changes.is_empty() {
            return false;
        }
        let n_changes = list(cf, &["by_change"]).len();
        let rows: Vec<DotRow> = changes
            .iter()
            .enumerate()
            .map(|(k, c)| DotRow {
                label: if k == n_changes {
                    self.t("I alt", "All").to_owned()
                } else {
                    format!(
                        "{} → {}",
                        text(c, &["from"]).unwrap_or("?"),
                        text(c, &["to"]).unwrap_or("?")
                    )
                },
                note: format!("n = {}", l.count(num(c, &["pairs"]).unwrap_or(0.0))),
                values: vec![num(c, &["flip_rate"]).map(|v| (v, pair(c.get("flip_rate_interval"))))],
            })
            .collect();
        let max = changes
            .iter()
            .filter_map(|c| {
                pair(c.get("flip_rate_interval"))
                    .map(|p| p.1)
                    .or_else(|| num(c, &["flip_rate"]))
            })
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
        let attr = text(self.rec, &["provenance", "dataset", "counterfactual"])
            .or_else(|| list(cf, &["by_change"]).first().and_then(|c| text(c, &["attribute"])))
            .unwrap_or("?");
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
        let Some(t) = get(self.rec, &["throughput"]).filter(|t| t.is_object()) else {
            let _ = write!(
                self.out,
                "<p class=\"note\">{}</p></section>",
                self.t(
                    "Kørslen har ingen målinger af gennemløb.",
                    "The run has no throughput measurements."
                )
            );
            return;
        };
        self.w("<table class=\"kv keep\"><tbody>");
        let secs = |k: &str| num(t, &[k]).map(|x| format!("{} s", l.dec(x, 2)));
        let ms = |k: &str| num(t, &[k]).map(|x| format!("{} ms", l.dec(x, 1)));
        let rows: Vec<(&str, Option<String>)> = vec![
            (
                self.t("Rækker scoret", "Rows scored"),
                num(t, &["rows"]).map(|x| l.count(x)),
            ),
            (
                self.t("Arbejdsprocesser", "Workers"),
                num(t, &["workers"]).map(|x| l.count(x)),
            ),
            (
                self.t("Rækker pr. batch", "Rows per batch"),
                num(t, &["batch_rows"]).map(|x| l.count(x)),
            ),
            (
                self.t("Rækker pr. sekund", "Rows per second"),
                num(t, &["rows_per_second"]).map(|x| l.count(x.round())),
            ),
            (
                self.t("Batch-latens p50 / p95 / p99", "Batch latency p50 / p95 / p99"),
                match (
                    ms("batch_latency_ms_p50"),
                    ms("batch_latency_ms_p95"),
                    ms("batch_latency_ms_p99"),
                ) {
                    (Some(a), Some(b), Some(c)) => Some(format!("{a} / {b} / {c}")),
                    _ => None,
                },
            ),
            (
                self.t("Største hukommelsesforbrug i en arbejdsproces", "Worker peak memory"),
                Some(num(t, &["worker_peak_memory_bytes"]).map_or_else(
                    || self.t("ikke målt", "not measured").to_owned(),
                    |b| format!("{} MiB", l.dec(b / 1_048_576.0, 1)),
                )),
            ),
            (
                self.t("Opstart og indlæsning af model", "Start-up and model load"),
                secs("load_seconds"),
            ),
            (
                self.t("Generering og scoring", "Generating and scoring"),
                secs("score_seconds"),
            ),
            (
                self.t("Beregning af rapport", "Building the report"),
                secs("metrics_seconds"),
            ),
            (self.t("I alt", "Total"), secs("total_seconds")),
        ];
        for (k, v) in rows {
            if let Some(v) = v {
                self.kv(k, &esc(&v));
            }
        }
        self.w("</tbody></table>");
        let events = list(self.rec, &["worker_events"]);
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
                let replaced = match flag(e, &["respawned"]) {
                    Some(true) => self.t("ja", "yes"),
                    Some(false) => self.t("nej", "no"),
                    None => DASH,
                };
                let _ = write!(
                    self.out,
                    "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"detail\">{}</td><td>{}</td></tr>",
                    E(&e.get("worker").map_or_else(String::new, |w| scalar(w, l))),
                    E(&e.get("cause").map_or_else(String::new, |c| scalar(c, l))),
                    user(text(e, &["detail"]).unwrap_or(""), TEXT_CHARS),
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

/// A JSON scalar as text (strings as they are, numbers per language).
fn scalar(v: &Value, l: Lang) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => n.as_f64().map_or_else(|| n.to_string(), |x| l.plain(x)),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => l
            .t(if *b { "ja" } else { "nej" }, if *b { "yes" } else { "no" })
            .to_owned(),
        Value::Null => DASH.to_owned(),
        other => other.to_string(),
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
