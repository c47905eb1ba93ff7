//! The charts: rates, calibration, ROC and threshold sweep per attribute, counterfactual flips.

use super::cells::{metric, pair};
use super::{Doc, is_single};
use crate::Lang;
use crate::fmt::{DASH, name};
use crate::svg::{Axis, DotChart, DotRow, LineChart, Series, dot_chart, line_chart, nice_max};
use fairness::{ChangeReport, GroupReport, MetricName};
use std::fmt::Write;

impl Doc<'_> {
    pub(super) fn charts(&mut self) {
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

    /// A per-attribute chart's title: `da` or `en`, then "efter"/"by" and the attribute's label in
    /// lower case.
    pub(super) fn title_by(&self, da: &str, en: &str, attr: &str) -> String {
        let by = self.attr_label(attr).to_lowercase();
        match self.l {
            Lang::Da => format!("{da} efter {by}"),
            Lang::En => format!("{en} by {by}"),
        }
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
                label: self.group_label(name, &g.group),
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
                format!("{}: {}", self.group_label(name, &g.group), parts.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ");
        let id = self.next_id();
        let chart = DotChart {
            id,
            title: self.title_by("Udvælgelsesrate og fejlrater", "Selection rate and error rates", name),
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
                name: self.series_name(name, g),
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
        let desc = self.per_group(name, gs, "ECE", MetricName::ExpectedCalibrationError);
        let chart = LineChart {
            id: self.next_id(),
            title: self.title_by("Kalibrering", "Calibration", name),
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

    /// A chart's text alternative: each group's value of one metric, `group: AUC 0.812; ...`.
    fn per_group(&self, attr: &str, gs: &[&GroupReport], short: &str, metric: MetricName) -> String {
        gs.iter()
            .map(|g| {
                format!(
                    "{}: {short} {}",
                    self.group_label(attr, &g.group),
                    g.value(metric).map_or_else(|| DASH.to_owned(), |v| self.l.dec(v, 3))
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn series_name(&self, attr: &str, g: &GroupReport) -> String {
        let note = self.group_note(g);
        let label = self.group_label(attr, &g.group);
        if note.is_empty() {
            label
        } else {
            format!("{label} ({note})")
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
                        self.series_name(name, g),
                        auc.map_or_else(|| DASH.to_owned(), |a| l.dec(a, 3))
                    ),
                    points: g.roc_curve.iter().map(|&(fpr, tpr, _)| (fpr, tpr)).collect(),
                    every_point: false,
                }
            })
            .collect();
        let desc = self.per_group(name, gs, "AUC", MetricName::RocAuc);
        let chart = LineChart {
            id: self.next_id(),
            title: self.title_by("ROC-kurver", "ROC curves", name),
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
        let Some(threshold) = self.rec.provenance.manifest.output.binary().map(|o| o.threshold) else {
            return;
        };
        let series: Vec<Series> = gs
            .iter()
            .map(|g| Series {
                name: self.series_name(name, g),
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
                format!(
                    "{}: {}",
                    self.group_label(name, &g.group),
                    v.map_or_else(|| DASH.to_owned(), |v| l.pct(v, 1))
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let chart = LineChart {
            id: self.next_id(),
            title: self.title_by(
                "Udvælgelsesrate ved andre tærskler,",
                "Selection rate at other thresholds,",
                name,
            ),
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
        let Some(cf) = self.rep.and_then(|r| r.counterfactual.as_ref()) else {
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
                    format!(
                        "{} → {}",
                        self.group_label(&c.attribute, &c.from),
                        self.group_label(&c.attribute, &c.to)
                    )
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
}
