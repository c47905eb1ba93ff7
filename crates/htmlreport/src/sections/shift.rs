//! The shift grid: the model on populations the generator made with one setting changed from the
//! run's own; per axis a table of accuracy (against the recorded and the true outcome), selection
//! rate and disparate impact per group attribute, then, on the axes whose populations are the same
//! citizens, the paired change from the run's own setting.

use super::Doc;
use crate::Lang;
use crate::fmt::{DASH, E, name};
use evaluate::{PointMeasure, Shift, ShiftPoint};
use explain::Estimate;
use fairness::{GridValue, ShiftAxis};
use std::fmt::Write;

impl Doc<'_> {
    /// The shift grid's part of the robustness section (inside it, under its own heading).
    pub(super) fn shift(&mut self, s: &Shift) {
        let l = self.l;
        let _ = write!(
            self.out,
            "<h3>{}</h3><p>{}</p>",
            self.t("Skift i befolkningen", "Population shift"),
            E(&match l {
                Lang::Da => format!(
                    "Modellen er kørt på befolkninger af {} borgere, som generatoren har lavet med én indstilling ændret \
                     fra kørslens egen (markeret *): hvor stærkt kommune afslører oprindelse, hvor ofte den skævt \
                     behandlede gruppes registrerede udfald er vendt, hvor stærkt gruppen er repræsenteret, og én \
                     regions borgere alene. Hvert punkts specifikation står i kørselsposten. Nøjagtighed med \
                     Wilson-intervaller; disparat effekt (laveste forhold mellem en gruppes og referencegruppens \
                     andel udvalgte) med percentilintervaller over {} bootstrap-gentagelser pr. punkt.",
                    l.count(s.rows as f64),
                    l.count(s.bootstrap as f64)
                ),
                Lang::En => format!(
                    "The model was run on populations of {} citizens the generator made with one setting changed from \
                     the run's own (marked *): how strongly municipality encodes origin, how often the biased group's \
                     recorded outcome is flipped, how the biased group is sampled, and one region's citizens alone. \
                     Each point's spec is in the run record. Accuracy with Wilson intervals; disparate impact (the \
                     lowest ratio of a group's selection rate to the reference group's) with percentile intervals \
                     over {} bootstrap resamples per point.",
                    l.count(s.rows as f64),
                    l.count(s.bootstrap as f64)
                ),
            })
        );
        let attributes: Vec<String> = s
            .points
            .first()
            .map(|p| p.disparate_impact.iter().map(|d| d.attribute.clone()).collect())
            .unwrap_or_default();
        for axis in [
            ShiftAxis::ProxyStrength,
            ShiftAxis::LabelRate,
            ShiftAxis::RepresentationFactor,
            ShiftAxis::Region,
        ] {
            let points: Vec<&ShiftPoint> = s.points.iter().filter(|p| p.axis == axis).collect();
            if points.is_empty() {
                continue;
            }
            let (da, en) = axis.label();
            let _ = write!(
                self.out,
                "<table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>",
                E(self.t(da, en)),
                E(self.t(da, en)),
                self.t("Borgere", "Citizens"),
                self.t("Nøjagtighed (registreret)", "Accuracy (recorded)"),
                self.t("Nøjagtighed (sandt)", "Accuracy (true)"),
                self.t("Andel udvalgte", "Selection rate"),
            );
            for a in &attributes {
                let _ = write!(
                    self.out,
                    "<th scope=\"col\">{}, {}</th>",
                    self.t("Disparat effekt", "Disparate impact"),
                    E(&self.attr_label(a).to_lowercase())
                );
            }
            self.w("</tr></thead><tbody>");
            for p in &points {
                let _ = write!(
                    self.out,
                    "<tr><th scope=\"row\">{}{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                    name(&self.grid_value(&p.value)),
                    if p.baseline { " *" } else { "" },
                    E(&l.count(p.rows as f64)),
                    E(&share(l, p.accuracy.as_ref())),
                    E(&share(l, p.accuracy_true.as_ref())),
                    E(&share(l, p.selection_rate.as_ref())),
                );
                for d in &p.disparate_impact {
                    let _ = write!(self.out, "<td>{}</td>", E(&measure(l, d)));
                }
                self.w("</tr>");
            }
            self.w("</tbody></table>");
            let changed: Vec<(&&ShiftPoint, &evaluate::PointChange)> = points
                .iter()
                .filter_map(|p| p.change.as_ref().map(|c| (p, c)))
                .collect();
            if changed.is_empty() {
                continue;
            }
            let _ = write!(
                self.out,
                "<table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
                E(&format!(
                    "{} – {}",
                    self.t(da, en),
                    self.t(
                        "de samme borgere sammenlignet én for én med kørslens egen indstilling (parret bootstrap)",
                        "the same citizens compared one by one with the run's own setting (paired bootstrap)"
                    )
                )),
                E(self.t(da, en)),
                self.t("Fra", "From"),
                self.t("Ændrede afgørelser", "Decisions changed"),
                self.t("Nøjagtighed (registreret)", "Accuracy (recorded)"),
                self.t("Nøjagtighed (sandt)", "Accuracy (true)"),
                self.t("Andel udvalgte", "Selection rate"),
            );
            for (p, c) in &changed {
                let _ = write!(
                    self.out,
                    "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    name(&self.grid_value(&p.value)),
                    name(&self.grid_value(&c.from)),
                    E(&l.count(c.decisions_changed as f64)),
                    E(&signed(l, &c.accuracy)),
                    E(&signed(l, &c.accuracy_true)),
                    E(&signed(l, &c.selection_rate)),
                );
            }
            self.w("</tbody></table>");
            let _ = write!(
                self.out,
                "<table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
                E(&format!(
                    "{} – {}",
                    self.t(da, en),
                    self.t(
                        "ændring i disparat effekt pr. gruppe",
                        "change of disparate impact per group"
                    )
                )),
                E(self.t(da, en)),
                self.t("Gruppe", "Group"),
                self.t("Reference", "Reference"),
                self.t("Disparat effekt", "Disparate impact"),
                self.t("Ændring", "Change"),
            );
            for (p, c) in &changed {
                for g in &c.disparate_impact {
                    let _ = write!(
                        self.out,
                        "<tr><th scope=\"row\">{}</th><td>{}: {}</td><td>{}</td><td>{} → {}</td><td>{}</td></tr>",
                        name(&self.grid_value(&p.value)),
                        E(&self.attr_label(&g.attribute)),
                        name(&self.group_label(&g.attribute, &g.group)),
                        name(&self.group_label(&g.attribute, &g.reference)),
                        E(&l.dec(g.from, 4)),
                        E(&l.dec(g.to, 4)),
                        E(&signed(l, &g.change)),
                    );
                }
            }
            self.w("</tbody></table>");
        }
    }

    /// A grid value as people read it: a number in the report's language, a region's name, or
    /// "all regions".
    fn grid_value(&self, v: &GridValue) -> String {
        match v {
            GridValue::Number(x) => self.l.plain(*x),
            GridValue::Name(n) if n == evaluate::ALL_REGIONS => self.t("alle regioner", "all regions").to_owned(),
            GridValue::Name(n) => n.clone(),
        }
    }
}

/// A share with its interval: 74,80 % (74,42–75,18 %).
fn share(l: Lang, e: Option<&Estimate>) -> String {
    match e {
        Some(Estimate {
            value,
            interval: Some([lo, hi]),
        }) => format!("{} ({})", l.pct(*value, 2), l.pct_ci((*lo, *hi), 2)),
        Some(e) => l.pct(e.value, 2),
        None => DASH.to_owned(),
    }
}

/// A measurement with its interval: 0,4887 [0,3238; 0,6871].
fn measure(l: Lang, m: &PointMeasure) -> String {
    match (m.value, m.interval) {
        (Some(v), Some([lo, hi])) => format!("{} {}", l.dec(v, 4), l.ci((lo, hi), 4)),
        (Some(v), None) => l.dec(v, 4),
        (None, _) => DASH.to_owned(),
    }
}

/// A change with its sign and interval: +0,0085 [+0,0049; +0,0121].
fn signed(l: Lang, e: &Estimate) -> String {
    let s = |x: f64| {
        let d = l.dec(x, 4);
        if x > 0.0 && !d.chars().all(|c| matches!(c, '0' | ',' | '.')) {
            format!("+{d}")
        } else {
            d
        }
    };
    match e.interval {
        Some([lo, hi]) => format!("{} [{}{} {}]", s(e.value), s(lo), l.t(";", ","), s(hi)),
        None => s(e.value),
    }
}
