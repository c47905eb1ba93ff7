//! Recourse: for the citizens with the unfavourable decision, the smallest change of one
//! actionable input that changes it; per input and per group, the gaps between groups, and what
//! the first citizens could be told.

use super::Doc;
use crate::Lang;
use crate::fmt::{DASH, E, name};
use evaluate::Recourse;
use explain::{Direction, Estimate};
use std::fmt::Write;

/// Citizens whose own changes the report lists.
const EXAMPLES: usize = 5;

impl Doc<'_> {
    /// The recourse part of the robustness section, under its own heading.
    pub(super) fn recourse(&mut self, r: &Recourse) {
        let l = self.l;
        let res = &r.result;
        let decision = if res.config.unfavourable {
            self.t("positive", "positive")
        } else {
            self.t("negative", "negative")
        };
        let _ = write!(
            self.out,
            "<h3>{}</h3><p>{}</p>",
            self.t("Hvad der kunne ændre afgørelsen", "What would change the decision"),
            E(&match l {
                Lang::Da => format!(
                    "For de {} borgere blandt de første {} rækker med den ugunstige afgørelse ({decision}: {}) er den mindste \
                     ændring af ét input, der kan handles på, fundet ved at spørge modellen i de isolerede arbejdsprocesser: \
                     {} værdier mod grænsen, derefter halvering (til én enhed for hele tal). For en model, der er monoton i \
                     inputtet, er det det eksakte minimum.",
                    l.count(res.overall.citizens as f64),
                    l.count(r.rows as f64),
                    r.why,
                    res.config.grid
                ),
                Lang::En => format!(
                    "For the {} citizens among the first {} rows with the unfavourable decision ({decision}: {}), the \
                     smallest change of one actionable input that changes it, asked of the model in the isolated \
                     workers: {} values towards the bound, then bisection (to one unit for whole numbers). For a model \
                     monotone in the input this is the exact minimum.",
                    l.count(res.overall.citizens as f64),
                    l.count(r.rows as f64),
                    r.why,
                    res.config.grid
                ),
            })
        );
        let _ = write!(
            self.out,
            "<table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            self.t("Mulige ændringer pr. input", "Possible changes per input"),
            self.t("Input", "Input"),
            self.t("Må ændres", "May move"),
            self.t("Inden for", "Within"),
            self.t("Andel med en ændring", "Share with a change"),
            self.t("Median ændring", "Median change"),
        );
        for (a, s) in res.actions.iter().zip(&res.overall.actions) {
            let _ = write!(
                self.out,
                "<tr><th scope=\"row\" title=\"{}\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                E(&a.why),
                name(&a.column),
                E(direction(l, a.direction)),
                E(&l.ci((a.min, a.max), 0)),
                E(&share(l, &s.share)),
                E(&s.median_change.map_or(DASH.to_owned(), |m| l.dec(m, 2))),
            );
        }
        let _ = write!(
            self.out,
            "</tbody></table><p>{} {}.</p>",
            self.t("Mindst ét af dem:", "At least one of them:"),
            E(&share(l, &res.overall.any))
        );
        let ch = &res.check;
        let checked = match (l, ch.holds()) {
            (Lang::Da, true) => format!(
                "Kontrolleret blandt almindelige rækker: de {} ændrede rækker, scoret igen i tilfældig rækkefølge sammen \
                 med de {} rækker, som de er, gav de afgørelser, søgningen fandt.",
                l.count(ch.changed_rows as f64),
                l.count(ch.own_rows as f64)
            ),
            (Lang::En, true) => format!(
                "Checked among ordinary rows: the {} changed rows, scored again in a random order with the {} rows as \
                 they are, gave the decisions the search found.",
                l.count(ch.changed_rows as f64),
                l.count(ch.own_rows as f64)
            ),
            (Lang::Da, false) => format!(
                "Kan ikke troes: scoret igen blandt almindelige rækker fik {} af {} ændrede rækker og {} af {} uændrede \
                 rækker andre afgørelser end i søgningen og kørslen. Modellen svarer søgningens forespørgsler anderledes.",
                ch.changed_disagreeing, ch.changed_rows, ch.own_disagreeing, ch.own_rows
            ),
            (Lang::En, false) => format!(
                "Not to be believed: scored again among ordinary rows, {} of {} changed rows and {} of {} rows as they \
                 are got other decisions than in the search and the run. The model answers the search's requests \
                 differently.",
                ch.changed_disagreeing, ch.changed_rows, ch.own_disagreeing, ch.own_rows
            ),
        };
        if ch.holds() {
            let _ = write!(self.out, "<p>{}</p>", E(&checked));
        } else {
            let _ = write!(self.out, "<p><strong>{}</strong></p>", E(&checked));
        }
        if !res.groups.is_empty() {
            let _ = write!(
                self.out,
                "<table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>",
                self.t("Pr. gruppe", "Per group"),
                self.t("Gruppe", "Group"),
                self.t("Borgere", "Citizens"),
                self.t("Andel med en ændring", "Share with a change"),
            );
            for a in &res.actions {
                let _ = write!(
                    self.out,
                    "<th scope=\"col\">{} {}</th>",
                    self.t("Median", "Median"),
                    name(&a.column)
                );
            }
            self.w("</tr></thead><tbody>");
            for g in &res.groups {
                let _ = write!(
                    self.out,
                    "<tr><th scope=\"row\">{}: {}</th><td>{}</td><td>{}</td>",
                    E(&self.attr_label(&g.attribute)),
                    name(&self.group_label(&g.attribute, &g.value)),
                    E(&l.count(g.summary.citizens as f64)),
                    E(&share(l, &g.summary.any)),
                );
                for s in &g.summary.actions {
                    let _ = write!(
                        self.out,
                        "<td>{}</td>",
                        E(&s.median_change.map_or(DASH.to_owned(), |m| l.dec(m, 2)))
                    );
                }
                self.w("</tr>");
            }
            self.w("</tbody></table>");
        }
        for gap in &res.gaps {
            let interval = gap.gap.interval.map_or(String::new(), |[lo, hi]| {
                format!(
                    " ({} {})",
                    self.t("interval", "interval"),
                    l.ci((100.0 * lo, 100.0 * hi), 1)
                )
            });
            let adjusted = match l {
                Lang::Da => format!(" for {} par", gap.pairs),
                Lang::En => format!(" for {} pairs", gap.pairs),
            };
            let left_out = if gap.excluded.is_empty() {
                String::new()
            } else {
                format!(
                    " {} {}.",
                    self.t("Udeladt:", "Left out:"),
                    gap.excluded.iter().map(|e| name(e)).collect::<Vec<_>>().join("; ")
                )
            };
            let _ = write!(
                self.out,
                "<p>{}: {} {} {} {} {}{}{}.{left_out}</p>",
                E(&self.attr_label(&gap.attribute)),
                name(&self.group_label(&gap.attribute, &gap.highest)),
                self.t("har en mulig ændring", "has a possible change"),
                E(&l.dec(100.0 * gap.gap.value, 1)),
                self.t("procentpoint oftere end", "percentage points more often than"),
                name(&self.group_label(&gap.attribute, &gap.lowest)),
                E(&interval),
                E(&adjusted),
            );
        }
        let examples: Vec<String> = res
            .citizens
            .iter()
            .take(EXAMPLES)
            .map(|c| {
                let options: Vec<String> = res
                    .actions
                    .iter()
                    .zip(&c.changes)
                    .map(|(a, ch)| match ch {
                        Some(d) => format!(
                            "{} {}{}",
                            name(&a.column),
                            if *d > 0.0 { "+" } else { "" },
                            E(&l.plain(*d))
                        ),
                        None => format!("{} {}", self.t("ingen ændring af", "no change of"), name(&a.column)),
                    })
                    .collect();
                format!(
                    "{} {}: {}",
                    self.t("Række", "Row"),
                    c.row,
                    options.join(self.t("; eller ", "; or "))
                )
            })
            .collect();
        if !examples.is_empty() {
            let _ = write!(
                self.out,
                "<p>{}</p><ul>",
                self.t(
                    "Hvad de første borgere kunne få at vide:",
                    "What the first citizens could be told:"
                )
            );
            for e in examples {
                let _ = write!(self.out, "<li>{e}</li>");
            }
            self.w("</ul>");
        }
    }
}

fn direction(l: Lang, d: Direction) -> &'static str {
    match d {
        Direction::Up => l.t("op", "up"),
        Direction::Down => l.t("ned", "down"),
        Direction::Either => l.t("begge veje", "either way"),
    }
}

fn share(l: Lang, e: &Estimate) -> String {
    match e.interval {
        Some([lo, hi]) => format!("{} ({})", l.pct(e.value, 1), l.pct_ci((lo, hi), 1)),
        None => l.pct(e.value, 1),
    }
}
