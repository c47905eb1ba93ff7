//! Robustness to measurement error: each input moved by the error its scenario states, alone and
//! all at once; the share of decisions that flip (a bar per column with its Wilson interval), and
//! all at once per group.

use super::Doc;
use crate::Lang;
use crate::fmt::{DASH, E, name};
use crate::svg::{Axis, DotChart, DotRow, dot_chart, nice_max};
use evaluate::Perturbation;
use explain::{Estimate, Noise, Sensitivity};
use std::fmt::Write;

impl Doc<'_> {
    /// The perturbation's part of the robustness section (inside it, under its own heading).
    pub(super) fn perturbation(&mut self, p: &Perturbation) {
        let l = self.l;
        let _ = write!(
            self.out,
            "<h3>{}</h3><p>{}</p>",
            self.t("Målefejl i input", "Measurement error in the inputs"),
            E(&match l {
                Lang::Da => format!(
                    "Hvert input, modellen læser, er flyttet med den målefejl, scenariet angiver for det (skala {}, seed {}), \
                     på de første {} rækker; rækkerne er scoret igen af de samme isolerede arbejdsprocesser og sammenlignet \
                     med kørslens egne afgørelser. Et tal får normalfordelt støj, en kategori skiftes til en nabo (en \
                     kommune i samme region, det tilstødende uddannelsesniveau). Intervaller: Wilson for andele, \
                     Student-t for gennemsnit, {}.",
                    l.plain(p.config.scale),
                    p.config.seed,
                    l.count(p.rows as f64),
                    l.pct(p.config.confidence, 0)
                ),
                Lang::En => format!(
                    "Each input the model reads was moved by the measurement error its scenario states (scale {}, seed \
                     {}), on the first {} rows; the rows were scored again by the same isolated workers and compared with \
                     the run's own decisions. A number gets normal noise, a category is switched to a neighbour (a \
                     municipality in the same region, the adjacent education level). Intervals: Wilson for shares, \
                     Student-t for means, {}.",
                    l.plain(p.config.scale),
                    p.config.seed,
                    l.count(p.rows as f64),
                    l.pct(p.config.confidence, 0)
                ),
            })
        );
        let all_label = self.t("alle på én gang", "all at once").to_owned();
        let label = |c: &str| if c == "all" { all_label.clone() } else { c.to_owned() };
        let rows: Vec<DotRow> = p
            .columns
            .iter()
            .chain(&p.all)
            .map(|c| DotRow {
                label: label(&c.column),
                note: String::new(),
                values: vec![Some(point(&c.overall.flip_rate))],
            })
            .collect();
        if !rows.is_empty() {
            let reach = p
                .columns
                .iter()
                .chain(&p.all)
                .map(|c| {
                    c.overall
                        .flip_rate
                        .interval
                        .map_or(c.overall.flip_rate.value, |[_, hi]| hi)
                })
                .filter(|v| v.is_finite())
                .fold(0.0f64, f64::max);
            let desc = p
                .columns
                .iter()
                .chain(&p.all)
                .map(|c| format!("{}: {}", label(&c.column), share(l, &c.overall.flip_rate)))
                .collect::<Vec<_>>()
                .join("; ");
            let chart = DotChart {
                id: self.next_id(),
                title: self
                    .t(
                        "Andel afgørelser, der skifter, når input har målefejl",
                        "Share of decisions that flip under measurement error",
                    )
                    .to_owned(),
                desc,
                x: Axis {
                    label: self.t("Skiftede afgørelser", "Decisions flipped").to_owned(),
                    min: 0.0,
                    max: nice_max(reach.max(0.01)).min(1.0),
                    pct: true,
                },
                metrics: vec![self.t("Skiftede afgørelser", "Decisions flipped").to_owned()],
                rows,
                bars: true,
                interval_key: format!(
                    "{} {}",
                    l.pct(p.config.confidence, 0),
                    self.t("interval (Wilson)", "interval (Wilson)")
                ),
                missing: self.t("ingen værdi", "no value").to_owned(),
            };
            self.w(&dot_chart(&chart, l));
        }
        let _ = write!(
            self.out,
            "<table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            self.t("Målefejl pr. input", "Measurement error per input"),
            self.t("Input", "Input"),
            self.t("Målefejl", "Error"),
            self.t("Rækker ændret", "Rows changed"),
            self.t("Skiftede afgørelser", "Decisions flipped"),
            self.t("Til positiv / negativ", "To positive / negative"),
            self.t(
                "Gns. absolut ændring i sandsynlighed",
                "Mean absolute probability change"
            ),
        );
        for c in p.columns.iter().chain(&p.all) {
            let noise = p.noise.iter().find(|n| n.column == c.column);
            let error = match noise {
                Some(n) => format!("<span title=\"{}\">{}</span>", E(&n.why), E(&describe(l, &n.noise))),
                None => DASH.to_owned(),
            };
            let s = &c.overall;
            let _ = write!(
                self.out,
                "<tr><th scope=\"row\">{}</th><td>{error}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{}</td></tr>",
                name(&label(&c.column)),
                E(&format!("{} / {}", l.count(s.changed as f64), l.count(s.rows as f64))),
                E(&share(l, &s.flip_rate)),
                E(&share(l, &s.flips_to_positive)),
                E(&share(l, &s.flips_to_negative)),
                E(&mean(l, s.mean_abs_score_change.as_ref())),
            );
        }
        self.w("</tbody></table>");
        if !p.exact.is_empty() {
            let exact: Vec<String> = p.exact.iter().map(|c| name(c)).collect();
            let _ = write!(
                self.out,
                "<p>{} {}.</p>",
                self.t("Registreret præcist, ikke flyttet:", "Recorded exactly, not moved:"),
                exact.join(", ")
            );
        }
        if let Some(all) = &p.all
            && !all.groups.is_empty()
        {
            let _ = write!(
                self.out,
                "<table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
                self.t(
                    "Alle input med målefejl på én gang, pr. gruppe",
                    "Every input with measurement error at once, per group"
                ),
                self.t("Gruppe", "Group"),
                self.t("Rækker", "Rows"),
                self.t("Skiftede afgørelser", "Decisions flipped"),
                self.t(
                    "Gns. absolut ændring i sandsynlighed",
                    "Mean absolute probability change"
                ),
            );
            for g in &all.groups {
                let s: &Sensitivity = &g.sensitivity;
                let _ = write!(
                    self.out,
                    "<tr><th scope=\"row\">{}: {}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
                    E(&self.attr_label(&g.attribute)),
                    name(&self.group_label(&g.attribute, &g.value)),
                    E(&l.count(s.rows as f64)),
                    E(&share(l, &s.flip_rate)),
                    E(&mean(l, s.mean_abs_score_change.as_ref())),
                );
            }
            self.w("</tbody></table>");
        }
    }
}

fn point(e: &Estimate) -> (f64, Option<(f64, f64)>) {
    (e.value, e.interval.map(|[lo, hi]| (lo, hi)))
}

/// A share with its interval: 1,85 % (1,48–2,32 %).
fn share(l: Lang, e: &Estimate) -> String {
    match e.interval {
        Some([lo, hi]) => format!("{} ({})", l.pct(e.value, 2), l.pct_ci((lo, hi), 2)),
        None => l.pct(e.value, 2),
    }
}

/// A mean with its interval.
fn mean(l: Lang, e: Option<&Estimate>) -> String {
    match e {
        Some(Estimate {
            value,
            interval: Some([lo, hi]),
        }) => format!("{} {}", l.dec(*value, 4), l.ci((*lo, *hi), 4)),
        Some(e) => l.dec(e.value, 4),
        None => DASH.to_owned(),
    }
}

/// The noise as people read it.
fn describe(l: Lang, n: &Noise) -> String {
    match n {
        Noise::Normal { sd, min, max } => match l {
            Lang::Da => format!(
                "± normal, sd {} (mellem {} og {})",
                l.plain(*sd),
                l.plain(*min),
                l.plain(*max)
            ),
            Lang::En => format!(
                "± normal, sd {} (between {} and {})",
                l.plain(*sd),
                l.plain(*min),
                l.plain(*max)
            ),
        },
        Noise::Relative { sd, .. } => match l {
            Lang::Da => format!("± normal, sd {} af værdien", l.pct(*sd, 0)),
            Lang::En => format!("± normal, sd {} of the value", l.pct(*sd, 0)),
        },
        Noise::Neighbour { rate, linked, .. } => {
            let linked: Vec<&str> = linked.iter().map(|c| c.column.as_str()).collect();
            let base = match l {
                Lang::Da => format!("en nabokategori for {} af rækkerne", l.pct(*rate, 0)),
                Lang::En => format!("a neighbouring category for {} of rows", l.pct(*rate, 0)),
            };
            if linked.is_empty() {
                base
            } else {
                format!("{base} ({} {})", linked.join(", "), l.t("følger med", "follows"))
            }
        }
    }
}
