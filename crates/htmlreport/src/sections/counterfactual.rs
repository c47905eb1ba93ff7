//! The counterfactual twins' table: how often the decision flips, per change and in all.

use super::Doc;
use super::cells::{Shown, pair};
use crate::Lang;
use crate::fmt::{DASH, E, name};
use std::fmt::Write;

impl Doc<'_> {
    pub(super) fn counterfactual_table(&mut self) {
        let l = self.l;
        let Some(cf) = self.rep.and_then(|r| r.counterfactual.as_ref()) else {
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
                (
                    self.attr_label(&c.attribute),
                    format!(
                        "{} → {}",
                        self.group_label(&c.attribute, &c.from),
                        self.group_label(&c.attribute, &c.to)
                    ),
                )
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
}
