//! Why the model decides as it does: the permutation importance of each input column, as a
//! chart of the decisions that change and a table of what the model loses without the column.

use super::Doc;
use crate::Lang;
use crate::fmt::{DASH, E, name};
use crate::svg::{Axis, DotChart, DotRow, LineChart, Series, dot_chart, line_chart, nice_max};
use explain::{Effect, GridValue, PartialDependence};
use std::fmt::Write;

impl Doc<'_> {
    pub(super) fn explanations(&mut self) {
        let l = self.l;
        let Some(e) = &self.rec.explanations else {
            return;
        };
        let imp = &e.importance;
        let _ = write!(
            self.out,
            "<section id=\"explanations\"><h2>{}</h2><p>{}</p>",
            self.t(
                "Hvorfor modellen beslutter, som den gør",
                "Why the model decides as it does"
            ),
            E(&match l {
                Lang::Da => format!(
                    "Permutationsvigtighed: hver inputkolonnes værdier blev flyttet mellem datasættets første {} rækker \
                     (kontrafaktiske tvillinger udeladt) med en seedet permutation, {} gange (seed {}), og rækkerne blev \
                     scoret igen af de isolerede arbejdsprocesser. Vist er andelen af afgørelser, der skifter, og hvor \
                     meget ROC AUC og nøjagtighed falder og log-tab stiger, målt mod det registrerede og det sande udfald: \
                     gennemsnit over gentagelserne med {}-interval. En kolonne, modellen ikke bruger, viser præcis 0. \
                     Derefter det samme pr. gruppe af hver gruppeattribut.",
                    l.count(e.rows.count as f64),
                    imp.config.repeats,
                    imp.config.seed,
                    l.pct(imp.config.confidence, 0)
                ),
                Lang::En => format!(
                    "Permutation importance: each input column's values were moved between the dataset's first {} rows \
                     (counterfactual twins left out) by a seeded permutation, {} times (seed {}), and the rows scored \
                     again by the isolated workers. Shown: the share of decisions that change, and how much ROC AUC and \
                     accuracy drop and log loss rises, against the recorded and the true outcome; the mean over the \
                     repeats with its {} interval. A column the model does not use shows exactly 0. The same per group of \
                     each group attribute follows.",
                    l.count(e.rows.count as f64),
                    imp.config.repeats,
                    imp.config.seed,
                    l.pct(imp.config.confidence, 0)
                ),
            })
        );
        let point = |e: &Effect| (e.mean, e.interval.map(|[lo, hi]| (lo, hi)));
        let rows: Vec<DotRow> = imp
            .columns
            .iter()
            .map(|c| DotRow {
                label: c.column.clone(),
                note: String::new(),
                values: vec![Some(point(&c.overall.decisions_changed))],
            })
            .collect();
        let max = imp
            .columns
            .iter()
            .map(|c| {
                let d = &c.overall.decisions_changed;
                d.interval.map_or(d.mean, |[_, hi]| hi)
            })
            .fold(0.0f64, f64::max);
        let desc = imp
            .columns
            .iter()
            .map(|c| format!("{}: {}", c.column, l.pct(c.overall.decisions_changed.mean, 2)))
            .collect::<Vec<_>>()
            .join("; ");
        let chart = DotChart {
            id: self.next_id(),
            title: self
                .t(
                    "Andel afgørelser, der skifter, når én kolonne permuteres",
                    "Share of decisions that change when one column is permuted",
                )
                .to_owned(),
            desc,
            x: Axis {
                label: self.t("Andel af rækkerne", "Share of the rows").to_owned(),
                min: 0.0,
                max: nice_max(max.max(0.01)),
                pct: true,
            },
            metrics: vec![self.t("Skiftede afgørelser", "Decisions changed").to_owned()],
            rows,
            bars: true,
            interval_key: format!("{} {}", self.confidence(), self.t("interval (t)", "interval (t)")),
            missing: self.t("ingen værdi", "no value").to_owned(),
        };
        self.w(&dot_chart(&chart, l));
        self.importance_by_group(imp);
        let _ = write!(
            self.out,
            "<table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            self.t(
                "Hvad modellen mister uden kolonnen",
                "What the model loses without the column"
            ),
            self.t("Kolonne", "Column"),
            self.t("Skiftede afgørelser", "Decisions changed"),
            self.t("Fald i ROC AUC (registreret)", "ROC AUC drop (recorded)"),
            self.t("Fald i nøjagtighed (registreret)", "Accuracy drop (recorded)"),
            self.t("Stigning i log-tab (registreret)", "Log-loss rise (recorded)"),
            self.t("Fald i ROC AUC (sandt)", "ROC AUC drop (true)"),
        );
        let dec = |e: Option<&Effect>| match e {
            None => DASH.to_owned(),
            Some(e) => match e.interval {
                Some([lo, hi]) => format!("{} {}", l.dec(e.mean, 4), l.ci((lo, hi), 4)),
                None => l.dec(e.mean, 4),
            },
        };
        for c in &imp.columns {
            let o = &c.overall;
            let changed = &o.decisions_changed;
            let changed = match changed.interval {
                Some([lo, hi]) => format!("{} ({})", l.pct(changed.mean, 2), l.pct_ci((lo, hi), 2)),
                None => l.pct(changed.mean, 2),
            };
            let _ = write!(
                self.out,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                name(&c.column),
                E(&changed),
                E(&dec(o.recorded.roc_auc.as_ref())),
                E(&dec(o.recorded.accuracy.as_ref())),
                E(&dec(o.recorded.log_loss.as_ref())),
                E(&dec(o.truth.as_ref().and_then(|t| t.roc_auc.as_ref()))),
            );
        }
        self.w("</tbody></table>");
        if let Some(f) = &e.flip_contributions {
            self.flips(f);
        }
        if let Some(sl) = &self.rec.slices {
            self.slices(sl);
        }
        for pd in &e.partial_dependence {
            self.partial_dependence(pd, e.rows.count);
        }
        self.w("</section>");
    }

    /// One column's partial dependence: for a numeric column a line chart of the mean score over
    /// the grid, for all rows and for each origin group (or the first attribute's groups); for a
    /// categorical column a table. Either way a table of the numbers follows.
    fn partial_dependence(&mut self, pd: &PartialDependence, rows: usize) {
        let l = self.l;
        let _ = write!(
            self.out,
            "<h3>{} {}</h3><p>{}</p>",
            self.t("Delvis afhængighed af", "Partial dependence on"),
            name(&pd.column),
            E(&match l {
                Lang::Da => format!(
                    "Kolonnen sat til hver værdi i alle {} rækker; gennemsnitlig score (sandsynlighed for det positive \
                     udfald) og andel positive afgørelser. Kurver pr. række (ICE) for de første {} rækker står i \
                     kørselsposten.",
                    l.count(rows as f64),
                    pd.ice.len()
                ),
                Lang::En => format!(
                    "The column set to each value in all {} rows; the mean score (probability of the positive outcome) \
                     and the share of positive decisions. Curves per row (ICE) for the first {} rows are in the run \
                     record.",
                    l.count(rows as f64),
                    pd.ice.len()
                ),
            })
        );
        let numbers: Vec<f64> = pd
            .grid
            .iter()
            .filter_map(|g| match g {
                GridValue::Number(v) => Some(*v),
                GridValue::Category(_) => None,
            })
            .collect();
        if numbers.len() == pd.grid.len() && numbers.len() >= 2 {
            let attr = pd
                .groups
                .iter()
                .find(|g| g.attribute == "origin")
                .or(pd.groups.first())
                .map(|g| g.attribute.clone());
            let mut series = vec![Series {
                name: self.t("Alle rækker", "All rows").to_owned(),
                points: numbers.iter().copied().zip(pd.mean_score.iter().copied()).collect(),
                every_point: true,
            }];
            for g in pd.groups.iter().filter(|g| Some(&g.attribute) == attr.as_ref()) {
                series.push(Series {
                    name: format!(
                        "{} ({})",
                        self.group_label(&g.attribute, &g.value),
                        l.count(g.rows as f64)
                    ),
                    points: numbers.iter().copied().zip(g.mean_score.iter().copied()).collect(),
                    every_point: false,
                });
            }
            let (lo, hi) = (numbers[0], numbers[numbers.len() - 1]);
            let chart = LineChart {
                id: self.next_id(),
                title: format!("{} {}", self.t("Gennemsnitlig score efter", "Mean score by"), pd.column),
                desc: pd
                    .grid
                    .iter()
                    .zip(&pd.mean_score)
                    .map(|(g, m)| format!("{}: {}", grid_text(g, l), l.dec(*m, 3)))
                    .collect::<Vec<_>>()
                    .join("; "),
                x: Axis {
                    label: pd.column.clone(),
                    min: lo,
                    max: if hi > lo { hi } else { lo + 1.0 },
                    pct: false,
                },
                y: Axis::unit(self.t("Gennemsnitlig score", "Mean score"), false),
                series,
                diagonal: None,
                vline: None,
            };
            self.w(&line_chart(&chart, l));
        }
        let _ = write!(
            self.out,
            "<table class=\"keep\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            self.t("Værdi", "Value"),
            self.t("Gennemsnitlig score", "Mean score"),
            self.t("Positive afgørelser", "Positive decisions"),
        );
        for (k, g) in pd.grid.iter().enumerate() {
            let _ = write!(
                self.out,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td></tr>",
                match g {
                    GridValue::Number(_) => E(&grid_text(g, l)).to_string(),
                    GridValue::Category(c) => name(c),
                },
                E(&l.dec(pd.mean_score[k], 4)),
                E(&l.pct(pd.decision_rate[k], 1)),
            );
        }
        self.w("</tbody></table>");
    }
}

/// At most this many groups of one attribute get a colour in the per-group importance chart (the
/// palette's size); the rest are named in the chart's note and stay in the record.
const MAX_CHART_GROUPS: usize = 8;

/// The share of a group's decisions that change when the column is permuted.
fn group_effect<'a>(c: &'a explain::ColumnImportance, attribute: &str, value: &str) -> Option<&'a Effect> {
    c.groups
        .iter()
        .find(|g| g.attribute == attribute && g.value == value)
        .map(|g| &g.drops.decisions_changed)
}

impl Doc<'_> {
    /// Per group attribute, one chart of the share of decisions that change when each column is
    /// permuted, one colour per group with its interval: a column that matters for one group and
    /// not for another shows as a spread of dots on its row.
    fn importance_by_group(&mut self, imp: &explain::Importance) {
        let l = self.l;
        let mut attributes: Vec<&str> = Vec::new();
        for g in imp.columns.iter().flat_map(|c| &c.groups) {
            if !attributes.contains(&g.attribute.as_str()) {
                attributes.push(&g.attribute);
            }
        }
        for attr in attributes {
            let mut values: Vec<&str> = Vec::new();
            for g in imp
                .columns
                .iter()
                .flat_map(|c| &c.groups)
                .filter(|g| g.attribute == attr)
            {
                if !values.contains(&g.value.as_str()) {
                    values.push(&g.value);
                }
            }
            let left_out = values.len().saturating_sub(MAX_CHART_GROUPS);
            values.truncate(MAX_CHART_GROUPS);
            let effect = |c, v| group_effect(c, attr, v);
            let rows: Vec<DotRow> = imp
                .columns
                .iter()
                .map(|c| DotRow {
                    label: c.column.clone(),
                    note: String::new(),
                    values: values
                        .iter()
                        .map(|v| effect(c, v).map(|e| (e.mean, e.interval.map(|[lo, hi]| (lo, hi)))))
                        .collect(),
                })
                .collect();
            let max = imp
                .columns
                .iter()
                .flat_map(|c| values.iter().filter_map(move |v| effect(c, v)))
                .map(|e| e.interval.map_or(e.mean, |[_, hi]| hi))
                .fold(0.0f64, f64::max);
            let desc = imp
                .columns
                .iter()
                .map(|c| {
                    let parts: Vec<String> = values
                        .iter()
                        .map(|v| {
                            let value = effect(c, v).map_or_else(|| DASH.to_owned(), |e| l.pct(e.mean, 2));
                            format!("{} {value}", self.group_label(attr, v))
                        })
                        .collect();
                    format!("{}: {}", c.column, parts.join(", "))
                })
                .collect::<Vec<_>>()
                .join("; ");
            let chart = DotChart {
                id: self.next_id(),
                title: self.title_by(
                    "Skiftede afgørelser ved permutation",
                    "Decisions changed by permutation",
                    attr,
                ),
                desc,
                x: Axis {
                    label: self
                        .t("Andel af gruppens rækker", "Share of the group's rows")
                        .to_owned(),
                    min: 0.0,
                    max: nice_max(max.max(0.01)),
                    pct: true,
                },
                metrics: values.iter().map(|v| self.group_label(attr, v)).collect(),
                rows,
                bars: false,
                interval_key: format!("{} {}", self.confidence(), self.t("interval (t)", "interval (t)")),
                missing: self.t("ingen værdi", "no value").to_owned(),
            };
            self.w(&dot_chart(&chart, l));
            if left_out > 0 {
                let _ = write!(
                    self.out,
                    "<p class=\"note\">{}</p>",
                    E(&match l {
                        Lang::Da => format!("{left_out} grupper mere står i kørselsposten (explanations.importance)."),
                        Lang::En => format!("{left_out} more groups are in the run record (explanations.importance)."),
                    })
                );
            }
        }
    }

    /// The twins' flips: per differing input, what switching it alone does.
    fn flips(&mut self, f: &explain::FlipContributions) {
        let l = self.l;
        let _ = write!(
            self.out,
            "<h3>{}</h3><p>{}</p>",
            self.t(
                "Hvorfor tvillingernes afgørelser skifter",
                "Why the twins' decisions flip"
            ),
            E(&match l {
                Lang::Da => format!(
                    "Af {} par af borger og tvilling har {} forskellige afgørelser. For hvert input, der er forskelligt \
                     i de par: hvor mange par, den gennemsnitlige ændring af borgerens score, når kun det input tages \
                     fra tvillingen, og i hvor mange par det alene giver tvillingens afgørelse.",
                    l.count(f.pairs as f64),
                    l.count(f.flipped as f64)
                ),
                Lang::En => format!(
                    "Of {} citizen–twin pairs, {} have different decisions. For each input that differs within those \
                     pairs: how many pairs, the mean change of the citizen's score when only that input is taken from \
                     the twin, and in how many pairs that input alone gives the twin's decision.",
                    l.count(f.pairs as f64),
                    l.count(f.flipped as f64)
                ),
            })
        );
        let _ = write!(
            self.out,
            "<table class=\"keep\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            self.t("Kolonne", "Column"),
            self.t("Par med forskel", "Pairs differing"),
            self.t("Gennemsnitlig ændring af score", "Mean score change"),
            self.t("Gennemsnitlig absolut ændring", "Mean absolute change"),
            self.t("Giver alene tvillingens afgørelse", "Alone gives the twin's decision"),
        );
        for c in &f.columns {
            let _ = write!(
                self.out,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                name(&c.column),
                E(&l.count(c.pairs_differing as f64)),
                E(&l.dec(c.mean_score_change, 4)),
                E(&l.dec(c.mean_abs_score_change, 4)),
                E(&l.count(c.reverses as f64)),
            );
        }
        self.w("</tbody></table>");
    }
}

impl Doc<'_> {
    /// The weak slices: where the model errs or selects more or less than in the rest.
    fn slices(&mut self, sl: &explain::Slices) {
        let l = self.l;
        let _ = write!(
            self.out,
            "<h3>{}</h3><p>{}</p>",
            self.t("Svage udsnit", "Weak slices"),
            E(&match l {
                Lang::Da => format!(
                    "Enkeltværdier og par af værdier af {} kolonner i {} rækker (datasættets første, uden tvillinger, med \
                     kørslens egne afgørelser): {} test af fejlraten mod det registrerede og det sande udfald og af \
                     udvælgelsesraten mod resten af rækkerne; {} signifikante efter Benjamini–Hochberg med q = {}. \
                     \"Lært skævhed\": udsnittet fejler mod sandheden, men ikke efter registreringerne.",
                    sl.columns.len(),
                    l.count(sl.rows as f64),
                    l.count(sl.tested as f64),
                    l.count(sl.significant as f64),
                    l.dec(sl.config.q, 2)
                ),
                Lang::En => format!(
                    "Single values and pairs of values of {} columns in {} rows (the dataset's first, twins left out, \
                     with the run's own decisions): {} tests of the error rate against the recorded and the true outcome \
                     and of the selection rate against the rest of the rows; {} significant after Benjamini–Hochberg at \
                     q = {}. \"Learned bias\": the slice errs against the truth but not by the records.",
                    sl.columns.len(),
                    l.count(sl.rows as f64),
                    l.count(sl.tested as f64),
                    l.count(sl.significant as f64),
                    l.dec(sl.config.q, 2)
                ),
            })
        );
        if sl.top.is_empty() {
            let _ = write!(
                self.out,
                "<p>{}</p>",
                self.t("Intet udsnit afviger signifikant.", "No slice differs significantly.")
            );
            return;
        }
        let _ = write!(
            self.out,
            "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            self.t("Udsnit", "Slice"),
            self.t("Rækker", "Rows"),
            self.t("Rate", "Rate"),
            self.t("I udsnittet", "In the slice"),
            self.t("I resten", "In the rest"),
            self.t("Forskel (interval)", "Difference (interval)"),
            self.t("Lært skævhed", "Learned bias"),
        );
        for x in &sl.top {
            let slice = x
                .conditions
                .iter()
                .map(|c| format!("{} = {}", name(&c.column), name(&c.value)))
                .collect::<Vec<_>>()
                .join(self.t(" og ", " and "));
            let measure = match x.measure {
                explain::SliceMeasure::ErrorRecorded => {
                    self.t("Fejl mod registreret udfald", "Error vs recorded outcome")
                }
                explain::SliceMeasure::ErrorTrue => self.t("Fejl mod sandt udfald", "Error vs true outcome"),
                explain::SliceMeasure::SelectionRate => self.t("Udvælgelsesrate", "Selection rate"),
            };
            let _ = write!(
                self.out,
                "<tr><th scope=\"row\">{slice}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                E(&l.count(x.rows as f64)),
                E(measure),
                E(&l.pct(x.rate, 1)),
                E(&l.pct(x.rate_rest, 1)),
                E(&format!(
                    "{} {}",
                    l.dec(x.difference, 3),
                    l.ci((x.interval[0], x.interval[1]), 3)
                )),
                E(if x.learned_bias {
                    self.t("ja", "yes")
                } else {
                    self.t("nej", "no")
                }),
            );
        }
        self.w("</tbody></table>");
    }
}

/// A grid value as text: numbers in the report's language, categories as they are.
fn grid_text(g: &GridValue, l: Lang) -> String {
    match g {
        GridValue::Number(v) if v.fract() == 0.0 && v.abs() < 1e15 => l.count(*v),
        GridValue::Number(v) => l.dec(*v, 3),
        GridValue::Category(c) => c.clone(),
    }
}
