//! The summary: three to seven sentences from the numbers.

use super::cells::{metric, metric_vs_true};
use super::{Doc, compared, is_single};
use crate::Lang;
use crate::fmt::iso;
use fairness::{MetricName, Outcome};
use std::fmt::Write;

impl<'a> Doc<'a> {
    /// Three to seven sentences from the numbers.
    pub(super) fn summary(&self) -> Vec<String> {
        let l = self.l;
        let mut s = Vec::new();
        let Some(rep) = self.rep else {
            return self.task_summary();
        };
        let overall = &rep.overall;
        let scenario = iso(&self.rec.provenance.dataset.scenario);
        let rows = l.count(overall.count);
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

        let acc_rec = metric(&overall.metrics, MetricName::Accuracy).and_then(|m| m.value);
        let acc_true = metric_vs_true(overall, MetricName::Accuracy).and_then(|m| m.value);
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

        let verdicts = &self.rec.verdicts;
        if verdicts.is_empty() {
            s.push(
                self.t(
                    "Der var ingen kriterier fastlagt før kørslen.",
                    "No criteria were fixed before the run.",
                )
                .into(),
            );
        } else {
            let count = |v: Outcome| verdicts.iter().filter(|x| x.verdict == v).count();
            let failed: Vec<String> = verdicts
                .iter()
                .filter(|x| x.verdict == Outcome::Fail)
                .map(|x| iso(&self.criterion_name(x)))
                .collect();
            let mut line = match l {
                Lang::Da => format!(
                    "Af {} kriterier fastlagt før kørslen er {} bestået, {} ikke bestået og {} uafklarede",
                    verdicts.len(),
                    count(Outcome::Pass),
                    count(Outcome::Fail),
                    count(Outcome::Inconclusive)
                ),
                Lang::En => format!(
                    "Of {} criteria fixed before the run, {} pass, {} fail and {} are inconclusive",
                    verdicts.len(),
                    count(Outcome::Pass),
                    count(Outcome::Fail),
                    count(Outcome::Inconclusive)
                ),
            };
            if !failed.is_empty() {
                let _ = write!(line, " ({}: {})", self.t("ikke bestået", "failed"), failed.join("; "));
            }
            line.push('.');
            s.push(line);
        }

        if let Some((attr, (hi_g, hi), (lo_g, lo))) = self.largest_selection_gap() {
            let (hi_g, lo_g) = (iso(&self.group_label(attr, hi_g)), iso(&self.group_label(attr, lo_g)));
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

        if let Some(cf) = rep.counterfactual.as_ref() {
            let attr = self.counterfactual_attr(cf);
            let pairs = cf.overall.pairs as f64;
            if let Some(flip) = cf.overall.flip_rate {
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
            for g in a.groups.iter().filter(|g| !compared(g)) {
                if is_single(a) {
                    flagged.push(format!(
                        "{} {}",
                        iso(&self.attr_label(&a.attribute)),
                        iso(&self.group_label(&a.attribute, &g.group))
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
        if let Some(r) = &self.rec.robustness {
            let st = &r.stability;
            let differing: usize = st.checks.iter().map(|c| c.rows_differing).sum();
            let flipped: usize = st.checks.iter().map(|c| c.decisions_changed).sum();
            let rows = st.checks.first().map_or(0, |c| c.rows);
            s.push(match (l, st.stable) {
                (Lang::Da, true) => format!(
                    "Modellen var stabil på de {} rækker i kørslens første forespørgsel: scoret igen i en anden \
                     rækkefølge og nogle én ad gangen gav den samme sandsynligheder og afgørelser.",
                    l.count(rows as f64)
                ),
                (Lang::En, true) => format!(
                    "The model was stable on the {} rows of the run's first request: scored again in another order and \
                     some one at a time, it gave the same probabilities and decisions.",
                    l.count(rows as f64)
                ),
                (Lang::Da, false) => format!(
                    "Modellen er ustabil: scoret igen gav den andre sandsynligheder i {} tilfælde og andre afgørelser i \
                     {}; en afgørelse om en borger afhænger af andet end borgerens egne oplysninger (se Robusthed).",
                    l.count(differing as f64),
                    l.count(flipped as f64)
                ),
                (Lang::En, false) => format!(
                    "The model is unstable: scored again it gave other probabilities in {} cases and other decisions in \
                     {}; a decision about a citizen depends on more than the citizen's own data (see Robustness).",
                    l.count(differing as f64),
                    l.count(flipped as f64)
                ),
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
            let rates: Vec<(&str, f64)> = a
                .groups
                .iter()
                .filter(|g| compared(g))
                .filter_map(|g| Some((g.group.as_str(), g.value(MetricName::SelectionRate)?)))
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
                best = Some((a.attribute.as_str(), hi, lo));
            }
        }
        best
    }
}
