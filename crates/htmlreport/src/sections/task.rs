//! A regression or multi-class run: overall, per group of each attribute and per intersection, against
//! the outcome as recorded and against the truth, with the disparities and a chart per attribute. Group
//! and class names are data (the scenario's, the vendor's manifest): escaped where they land.

use super::Doc;
use crate::Lang;
use crate::fmt::{E, iso, name};
use crate::svg::{Axis, DotChart, DotRow, dot_chart, nice_upper};
use evaluate::{RunReport, TaskReports};
use fairness::tasks::multiclass::MulticlassMetrics;
use fairness::tasks::regression::RegressionMetrics;
use fairness::{AttributeOutcome, Gap, Value};
use std::fmt::Write;

type Column<M> = (&'static str, &'static str, fn(&M) -> &Value);

const REGRESSION: [Column<RegressionMetrics>; 7] = [
    ("Gns. udfald", "Mean outcome", |m| &m.mean_outcome),
    ("Gns. forudsigelse", "Mean prediction", |m| &m.mean_prediction),
    ("Gns. fejl (bias)", "Mean error (bias)", |m| &m.mean_error),
    ("MAE", "MAE", |m| &m.mean_absolute_error),
    ("RMSE", "RMSE", |m| &m.root_mean_squared_error),
    ("R²", "R²", |m| &m.r2),
    ("KS-afstand til reference", "KS distance to reference", |m| {
        &m.ks_to_reference
    }),
];

const MULTICLASS: [Column<MulticlassMetrics>; 4] = [
    ("Nøjagtighed", "Accuracy", |m| &m.accuracy),
    ("Makro-TPR", "Macro TPR", |m| &m.macro_true_positive_rate),
    ("Makro-FPR", "Macro FPR", |m| &m.macro_false_positive_rate),
    ("Makro-præcision", "Macro precision", |m| &m.macro_precision),
];

impl<'a> Doc<'a> {
    /// A value to three decimals, or a dash with why it is undefined.
    fn task_value(&self, v: &Value) -> String {
        match v.value {
            Some(x) => E(&self.l.dec(x, 3)).to_string(),
            None => format!(
                "<span class=\"na\" title=\"{}\">–</span>",
                E(v.null_reason.map_or("no value", |r| r.as_str()))
            ),
        }
    }

    /// The summary's sentences for a regression or multi-class run.
    pub(super) fn task_summary(&self) -> Vec<String> {
        let l = self.l;
        let scenario = iso(&self.rec.provenance.dataset.scenario);
        match &self.rec.report {
            RunReport::Regression(r) => {
                let (rec, tru) = (&r.recorded.overall, &r.truth.overall);
                let num = |v: &Value| v.value.map_or("–".to_owned(), |x| l.dec(x, 2));
                vec![match l {
                    Lang::Da => format!(
                        "Modellen forudsagde et tal for {} borgere i scenariet {scenario}. Mod det registrerede udfald: middel-absolut fejl {}, gennemsnitlig fejl {}; mod det sande udfald: {} og {}.",
                        l.count(r.recorded.rows as f64),
                        num(&rec.mean_absolute_error),
                        num(&rec.mean_error),
                        num(&tru.mean_absolute_error),
                        num(&tru.mean_error)
                    ),
                    Lang::En => format!(
                        "The model predicted a number for {} citizens of scenario {scenario}. Against the recorded outcome: mean absolute error {}, mean error {}; against the true outcome: {} and {}.",
                        l.count(r.recorded.rows as f64),
                        num(&rec.mean_absolute_error),
                        num(&rec.mean_error),
                        num(&tru.mean_absolute_error),
                        num(&tru.mean_error)
                    ),
                }]
            }
            RunReport::Multiclass(r) => {
                let pct = |v: &Value| v.value.map_or("–".to_owned(), |x| l.pct(x, 1));
                vec![match l {
                    Lang::Da => format!(
                        "Modellen placerede {} borgere i scenariet {scenario} i én af {} klasser. Nøjagtighed mod det registrerede niveau {}, mod det sande {}.",
                        l.count(r.recorded.rows as f64),
                        r.recorded.classes.len(),
                        pct(&r.recorded.overall.accuracy),
                        pct(&r.truth.overall.accuracy)
                    ),
                    Lang::En => format!(
                        "The model placed {} citizens of scenario {scenario} in one of {} classes. Accuracy against the recorded level {}, against the true level {}.",
                        l.count(r.recorded.rows as f64),
                        r.recorded.classes.len(),
                        pct(&r.recorded.overall.accuracy),
                        pct(&r.truth.overall.accuracy)
                    ),
                }]
            }
            RunReport::Binary(_) => Vec::new(),
        }
    }

    /// The method line of the provenance table for a regression or multi-class run.
    pub(super) fn task_method(&self) -> String {
        let l = self.l;
        let n = l.count(self.min_group_size());
        match l {
            Lang::Da => format!(
                "Mål pr. gruppe mod det registrerede og det sande udfald (sammenflettelige summer, kompenseret summering); grupper under {n} rækker markeres og sammenlignes ikke; uden intervaller i denne version"
            ),
            Lang::En => format!(
                "Metrics per group against the recorded and the true outcome (mergeable sums, compensated summation); groups under {n} rows are flagged and not compared; no intervals in this version"
            ),
        }
    }

    /// The sections of a regression or multi-class run.
    pub(super) fn task_sections(&mut self) {
        let _ = write!(
            self.out,
            "<section id=\"groups\"><h2>{}</h2>",
            self.t("Mål pr. gruppe", "Metrics by group")
        );
        match &self.rec.report {
            RunReport::Regression(r) => {
                self.task_report(r, &REGRESSION, |r| (&r.overall, &r.attributes, &r.intersection))
            }
            RunReport::Multiclass(r) => {
                self.task_report(r, &MULTICLASS, |r| (&r.overall, &r.attributes, &r.intersection));
                self.class_table(r);
            }
            RunReport::Binary(_) => {}
        }
        match &self.rec.report {
            RunReport::Regression(r) => {
                self.task_stability(r.stability.as_ref());
                self.not_computed(&r.not_computed);
            }
            RunReport::Multiclass(r) => {
                self.task_stability(r.stability.as_ref());
                self.not_computed(&r.not_computed);
            }
            RunReport::Binary(_) => {}
        }
        self.w("</section>");
        self.task_charts();
    }

    #[allow(clippy::type_complexity)]
    fn task_report<R, M>(
        &mut self,
        r: &TaskReports<R>,
        columns: &[Column<M>],
        parts: fn(&R) -> (&M, &Vec<AttributeOutcome<M>>, &Option<AttributeOutcome<M>>),
    ) {
        let (rec, tru) = (parts(&r.recorded), parts(&r.truth));
        let _ = write!(
            self.out,
            "<h3>{}</h3><table class=\"keep\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{} (<code>{}</code>)</th><th scope=\"col\">{} (<code>{}</code>)</th></tr></thead><tbody>",
            self.t("Alle borgere", "All citizens"),
            self.t("Mål", "Metric"),
            self.t("Mod det registrerede", "Against the recorded"),
            name(&r.recorded_column),
            self.t("Mod det sande", "Against the truth"),
            name(&r.true_column)
        );
        for (da, en, get) in columns {
            let row = format!(
                "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                E(self.t(da, en)),
                self.task_value(get(rec.0)),
                self.task_value(get(tru.0))
            );
            self.w(&row);
        }
        self.w("</tbody></table>");
        for (against, (_, attrs, inter)) in [
            (
                self.t("mod det registrerede udfald", "against the recorded outcome"),
                rec,
            ),
            (self.t("mod det sande udfald", "against the true outcome"), tru),
        ] {
            for a in attrs.iter().chain(inter.iter()) {
                self.attribute_table(a, against, columns);
            }
        }
    }

    fn attribute_table<M>(&mut self, a: &AttributeOutcome<M>, against: &str, columns: &[Column<M>]) {
        let _ = write!(
            self.out,
            "<h3>{}, {}</h3><p class=\"note\">{}: {}</p><div class=\"scroll\"><table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>",
            E(&self.attr_label(&a.attribute)),
            E(against),
            self.t("Referencegruppe", "Reference group"),
            a.reference
                .as_deref()
                .map_or("–".to_owned(), |g| name(&self.group_label(&a.attribute, g))),
            self.t("Gruppe", "Group"),
            self.t("Rækker", "Rows")
        );
        for (da, en, _) in columns {
            let _ = write!(self.out, "<th scope=\"col\">{}</th>", E(self.t(da, en)));
        }
        self.w("</tr></thead><tbody>");
        for g in &a.groups {
            let small = if g.small {
                format!(" <span class=\"note\">({})</span>", self.t("lille", "small"))
            } else {
                String::new()
            };
            let mut row = format!(
                "<tr><th scope=\"row\">{}{small}</th><td class=\"num\">{}</td>",
                name(&self.group_label(&a.attribute, &g.group)),
                E(&self.l.count(g.count as f64))
            );
            for (_, _, get) in columns {
                let _ = write!(row, "<td class=\"num\">{}</td>", self.task_value(get(&g.metrics)));
            }
            row.push_str("</tr>");
            self.w(&row);
        }
        self.w("</tbody></table></div>");
        self.gaps(&a.disparities);
    }

    fn gaps(&mut self, gaps: &[Gap]) {
        if gaps.is_empty() {
            return;
        }
        let _ = write!(
            self.out,
            "<div class=\"scroll\"><table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            self.t("Forskel i", "Disparity in"),
            self.t("Forskel mellem grupper", "Difference between groups"),
            self.t("Forhold mellem grupper", "Ratio between groups"),
            self.t("Største forskel til alle", "Largest difference to overall"),
            self.t("Mindste forhold til alle", "Smallest ratio to overall"),
            self.t("Udeladt", "Left out")
        );
        for g in gaps {
            let left: Vec<String> = g
                .excluded
                .iter()
                .map(|x| format!("{}: {}", name(&x.group), E(&x.reason)))
                .collect();
            let row = format!(
                "<tr><th scope=\"row\"><code>{}</code></th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                name(&g.metric),
                self.task_value(&g.difference_between_groups),
                self.task_value(&g.ratio_between_groups),
                self.task_value(&g.difference_to_overall),
                self.task_value(&g.ratio_to_overall),
                left.join("; ")
            );
            self.w(&row);
        }
        self.w("</tbody></table></div>");
    }

    /// Each class one-vs-rest over all citizens.
    fn class_table(&mut self, r: &TaskReports<fairness::MulticlassReport>) {
        let _ = write!(
            self.out,
            "<h3>{}</h3><div class=\"scroll\"><table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">TPR ({})</th><th scope=\"col\">FPR ({})</th><th scope=\"col\">{} ({})</th><th scope=\"col\">TPR ({})</th><th scope=\"col\">FPR ({})</th></tr></thead><tbody>",
            self.t("Hver klasse mod resten", "Each class against the rest"),
            self.t("Klasse", "Class"),
            self.t("Udvælgelsesrate", "Selection rate"),
            self.t("registreret", "recorded"),
            self.t("registreret", "recorded"),
            self.t("Præcision", "Precision"),
            self.t("registreret", "recorded"),
            self.t("sand", "true"),
            self.t("sand", "true")
        );
        for (c, t) in r.recorded.overall.classes.iter().zip(&r.truth.overall.classes) {
            let row = format!(
                "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                name(&c.class),
                self.task_value(&c.selection_rate),
                self.task_value(&c.true_positive_rate),
                self.task_value(&c.false_positive_rate),
                self.task_value(&c.precision),
                self.task_value(&t.true_positive_rate),
                self.task_value(&t.false_positive_rate)
            );
            self.w(&row);
        }
        self.w("</tbody></table></div>");
    }

    fn task_stability(&mut self, st: Option<&evaluate::TaskStability>) {
        let Some(st) = st else { return };
        let _ = write!(
            self.out,
            "<h3 id=\"stability\">{}</h3><p class=\"{}\">{}</p><table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            self.t("Stabilitet", "Stability"),
            if st.stable { "ok" } else { "bad" },
            if st.stable {
                self.t(
                    "Stabil: hver forudsigelse i første forespørgsel var den samme, scoret igen som den var, blandet og række for række.",
                    "Stable: every prediction of the first request was the same scored again as it was, shuffled and row by row.",
                )
            } else {
                self.t(
                    "Ustabil: en forudsigelse afhang af mere end borgerens egen række (batchen, placeringen eller tilfældighed).",
                    "Unstable: a prediction depended on more than the citizen's own row (its batch, its position or chance).",
                )
            },
            self.t("Kontrol", "Check"),
            self.t("Rækker", "Rows"),
            self.t("Rækker med forskel", "Rows differing"),
            self.t("Første rækker med forskel", "First rows differing")
        );
        for c in &st.checks {
            let rows: Vec<String> = c.examples.iter().map(u64::to_string).collect();
            let row = format!(
                "<tr><th scope=\"row\"><code>{}</code></th><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}{}</td></tr>",
                E(&c.check),
                E(&self.l.count(c.rows as f64)),
                E(&self.l.count(c.rows_differing as f64)),
                E(&rows.join(", ")),
                c.error
                    .as_deref()
                    .map_or(String::new(), |e| format!(" {}", crate::fmt::user(e, 300)))
            );
            self.w(&row);
        }
        self.w("</tbody></table>");
    }

    fn not_computed(&mut self, items: &[String]) {
        if items.is_empty() {
            return;
        }
        let _ = write!(
            self.out,
            "<h3>{}</h3><ul>",
            self.t(
                "Ikke beregnet for denne opgavetype endnu",
                "Not computed for this task yet"
            )
        );
        for i in items {
            let _ = write!(self.out, "<li>{}</li>", E(i));
        }
        self.w("</ul>");
    }

    /// Per single attribute: a regression's mean outcome (recorded, true) and mean prediction per group;
    /// a multi-class model's selection rate of each class per group.
    fn task_charts(&mut self) {
        let l = self.l;
        let _ = write!(
            self.out,
            "<section id=\"charts\"><h2>{}</h2>",
            self.t("Figurer", "Charts")
        );
        match &self.rec.report {
            RunReport::Regression(r) => {
                for (a, t) in r.recorded.attributes.iter().zip(&r.truth.attributes) {
                    let rows: Vec<DotRow> = a
                        .groups
                        .iter()
                        .zip(&t.groups)
                        .map(|(g, tg)| DotRow {
                            label: self.group_label(&a.attribute, &g.group),
                            note: if g.small {
                                self.t("lille", "small").into()
                            } else {
                                String::new()
                            },
                            values: [
                                g.metrics.mean_outcome.value,
                                tg.metrics.mean_outcome.value,
                                g.metrics.mean_prediction.value,
                            ]
                            .into_iter()
                            .map(|v| v.map(|x| (x, None)))
                            .collect(),
                        })
                        .collect();
                    let values = || rows.iter().flat_map(|r| r.values.iter().flatten().map(|p| p.0));
                    let max = values().fold(0.0f64, f64::max);
                    let min = values().fold(0.0f64, f64::min);
                    let chart = DotChart {
                        id: self.next_id(),
                        title: self.title_by("Udfald og forudsigelse", "Outcome and prediction", &a.attribute),
                        desc: self
                            .t(
                                "Gennemsnitligt registreret og sandt udfald og gennemsnitlig forudsigelse pr. gruppe.",
                                "Mean recorded and true outcome and mean prediction per group.",
                            )
                            .to_owned(),
                        x: Axis {
                            label: self.t("Gennemsnit", "Mean").to_owned(),
                            // Means of hours are not rates: the axis reaches the largest (and a
                            // negative mean, which a numeric outcome may have).
                            min: if min < 0.0 { -nice_upper(-min) } else { 0.0 },
                            max: nice_upper(max),
                            pct: false,
                        },
                        metrics: vec![
                            self.t("Registreret udfald", "Recorded outcome").to_owned(),
                            self.t("Sandt udfald", "True outcome").to_owned(),
                            self.t("Forudsigelse", "Prediction").to_owned(),
                        ],
                        rows,
                        bars: false,
                        interval_key: String::new(),
                        missing: self.t("ingen værdi", "no value").to_owned(),
                    };
                    self.w(&dot_chart(&chart, l));
                }
            }
            RunReport::Multiclass(r) => {
                for a in &r.recorded.attributes {
                    let rows: Vec<DotRow> = a
                        .groups
                        .iter()
                        .map(|g| DotRow {
                            label: self.group_label(&a.attribute, &g.group),
                            note: if g.small {
                                self.t("lille", "small").into()
                            } else {
                                String::new()
                            },
                            values: g
                                .metrics
                                .classes
                                .iter()
                                .map(|c| c.selection_rate.value.map(|x| (x, None)))
                                .collect(),
                        })
                        .collect();
                    let chart = DotChart {
                        id: self.next_id(),
                        title: self.title_by("Andel i hver klasse", "Share placed in each class", &a.attribute),
                        desc: self
                            .t(
                                "Andelen af gruppen, som modellen placerer i hver klasse.",
                                "The share of the group the model places in each class.",
                            )
                            .to_owned(),
                        x: Axis::unit(self.t("Andel af gruppen", "Share of the group"), true),
                        metrics: r.recorded.classes.clone(),
                        rows,
                        bars: false,
                        interval_key: String::new(),
                        missing: self.t("ingen værdi", "no value").to_owned(),
                    };
                    self.w(&dot_chart(&chart, l));
                }
            }
            RunReport::Binary(_) => {}
        }
        self.w("</section>");
    }
}
