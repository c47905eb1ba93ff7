//! The criteria fixed before the run and their verdicts.

use super::Doc;
use super::cells::pair;
use crate::Lang;
use crate::fmt::{DASH, E, name};
use fairness::Outcome;
use std::fmt::Write;

impl Doc<'_> {
    pub(super) fn criteria(&mut self) {
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
                    name(&self.group_label(&c.attribute, g))
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
}

/// A verdict's name, as the record writes it; also its CSS class.
fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::Inconclusive => "inconclusive",
    }
}
