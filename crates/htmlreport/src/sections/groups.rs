//! Groups and intersections: per-group metrics, disparities, disparate impact.

use super::cells::{Shown, metric, metric_vs_true, pair};
use super::{Doc, compared};
use crate::Lang;
use crate::fmt::{DASH, E, name};
use fairness::{AttributeReport, MetricName, RateMetric};
use std::fmt::Write;

/// Rate metrics shown per group, in table order.
const GROUP_COLUMNS: [MetricName; 6] = [
    MetricName::BaseRate,
    MetricName::SelectionRate,
    MetricName::TruePositiveRate,
    MetricName::FalsePositiveRate,
    MetricName::Precision,
    MetricName::Accuracy,
];

impl Doc<'_> {
    pub(super) fn groups_section(&mut self) {
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
                name(&self.group_label(attr, r))
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
                name(&self.group_label(attr, &g.group)),
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
            let reference = self.group_label(&a.attribute, a.reference.as_deref().unwrap_or("?"));
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
                    name(&self.group_label(&a.attribute, g)),
                    self.value_cell(&d.ratio, d.ratio_interval),
                    E(&p.map_or_else(|| DASH.to_owned(), |p| l.p_value(p)))
                );
            }
            self.w("</tbody></table>");
        }
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
