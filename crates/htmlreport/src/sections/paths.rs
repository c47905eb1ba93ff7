//! Why groups are treated differently: what changing a protected attribute does to the decisions
//! along each causal path (path-specific counterfactual twins), and how the selection gap between
//! the groups splits into the part through the proxies, the part through the mediators and the
//! remainder. The HTML form of the run record's `paths`.

use super::Doc;
use crate::Lang;
use crate::fmt::{DASH, E, Isolated, iso, name};
use crate::svg::{Axis, DotChart, DotRow, dot_chart, nice_max};
use evaluate::Paths;
use explain::{Estimate, GapDecomposition, PathEffect};
use std::fmt::Write;

impl Doc<'_> {
    pub(super) fn paths(&mut self) {
        let Some(p) = &self.rec.paths else {
            return;
        };
        let l = self.l;
        let e = &p.effects;
        let attr = iso(&e.attribute);
        let proxies = if p.proxies.is_empty() {
            self.t("ingen", "none").to_owned()
        } else {
            p.proxies.iter().map(|c| iso(c)).collect::<Vec<_>>().join(", ")
        };
        let conf = l.pct(e.confidence, 0);
        let intro = match l {
            Lang::Da => format!(
                "Hver af de første {} borgere i et datasæt som kørslens, men med kontrafaktiske tvillinger for {attr} \
                 (kørslens egne første borgere, når den har dem; ellers samme scenarie, seed og skævhed, men andre \
                 borgere, fordi tvillinger bruger halvdelen af hver fødselsdatos CPR-løbenumre), fik én tvilling pr. \
                 sti, hvor {attr} er ændret, lavet af generatoren med alle tilfældige træk holdt fast: \"total\" genberegner alt, hvad {attr} påvirker (de \
                 kontrafaktiske tvillinger), \"proxy\" kun proxyerne ({proxies}), \"mediated\" alt andet. Afgørelserne \
                 er truffet af kørslens isolerede arbejdsprocesser; intervaller ved {conf} (Wilson for rater, Student t \
                 for ændringer af scoren). Stadiet tog {} s.",
                l.count(e.citizens as f64),
                l.dec(p.seconds, 1)
            ),
            Lang::En => format!(
                "Each of the first {} citizens of a dataset like the run's but with counterfactual twins of {attr} \
                 (the run's own first citizens when it has them; otherwise the same scenario, seed and bias but other \
                 citizens, because twins take half of each birth date's CPR serials) got one twin per path with \
                 {attr} changed, made by the generator with every random draw held fixed: \"total\" recomputes everything {attr} causes (the \
                 counterfactual twins), \"proxy\" only the proxies ({proxies}), \"mediated\" everything else. Decisions \
                 by the run's isolated workers; intervals at {conf} (Wilson for rates, Student t for score changes). \
                 The stage took {} s.",
                l.count(e.citizens as f64),
                l.dec(p.seconds, 1)
            ),
        };
        let _ = write!(
            self.out,
            "<section id=\"paths\"><h2>{}</h2><p>{}</p>",
            self.t(
                "Hvorfor grupperne behandles forskelligt: kausale stier",
                "Why groups are treated differently: causal paths"
            ),
            Isolated(&intro)
        );
        self.path_table(p);
        if !e.decomposition.is_empty() {
            self.decomposition(p);
        }
        self.w("</section>");
    }

    /// Each path's flips and score changes, over all pairs and per change of value.
    fn path_table(&mut self, p: &Paths) {
        let l = self.l;
        let e = &p.effects;
        let _ = write!(
            self.out,
            "<table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            self.t(
                "Afgørelser, der skifter, og ændring af scoren pr. sti",
                "Decisions that flip and score change per path"
            ),
            self.t("Sti", "Path"),
            self.t("Ændring", "Change"),
            self.t("Par", "Pairs"),
            self.t("Skifterate", "Flip rate"),
            self.t("Til positiv", "To positive"),
            self.t("Til negativ", "To negative"),
            self.t("Gennemsnitlig ændring af score", "Mean score change"),
            self.t("Gennemsnitlig absolut ændring", "Mean absolute change"),
        );
        for r in &e.paths {
            for x in std::iter::once(&r.overall).chain(&r.by_change) {
                let _ = write!(
                    self.out,
                    "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    name(&r.path),
                    self.change_cell(&e.attribute, x),
                    E(&l.count(x.pairs as f64)),
                    E(&rate(l, &x.flip_rate)),
                    E(&rate(l, &x.flips_to_positive)),
                    E(&rate(l, &x.flips_to_negative)),
                    E(&decimal(l, x.mean_score_change.as_ref())),
                    E(&decimal(l, x.mean_abs_score_change.as_ref())),
                );
            }
        }
        self.w("</tbody></table>");
    }

    /// A change of value as HTML: "all" for every pair, else `from → to` by their labels.
    fn change_cell(&self, attr: &str, x: &PathEffect) -> String {
        if x.from.is_empty() && x.to.is_empty() {
            E(self.t("alle", "all")).to_string()
        } else {
            format!(
                "{} → {}",
                name(&self.group_label(attr, &x.from)),
                name(&self.group_label(attr, &x.to))
            )
        }
    }

    /// The selection gap split by path: a chart of gap, proxy, mediated and remainder per change
    /// of value, with their bootstrap intervals, and the table of the numbers.
    fn decomposition(&mut self, p: &Paths) {
        let l = self.l;
        let e = &p.effects;
        let _ = write!(
            self.out,
            "<h3>{}</h3><p>{}</p>",
            self.t(
                "Forskellen i udvælgelse, delt efter sti",
                "The selection gap, split by path"
            ),
            E(&match l {
                Lang::Da => format!(
                    "For borgere med den ene værdi, hvis tvillinger får den anden: forskellen er den anden gruppes \
                     udvælgelsesrate minus deres; \"proxy\" og \"mediated\" er, hvor meget deres udvælgelse flytter sig, \
                     når kun proxyerne eller kun mediatorerne ændres (attributtens egen kolonne forbliver deres); resten \
                     er, hvem grupperne er (alder, køn, alt det attributten ikke påvirker), modellens direkte brug af \
                     attributtens kolonne og stiernes samspil. Percentilintervaller over {} bootstrap-genudtræk \
                     (seed {}).",
                    l.count(e.resamples as f64),
                    e.seed
                ),
                Lang::En => format!(
                    "For citizens of one value whose twins take the other: the gap is the other group's selection rate \
                     minus theirs; \"proxy\" and \"mediated\" are how much their selection moves when only the proxies, \
                     or only the mediators, change (the attribute's own column stays theirs); the remainder is who the \
                     groups are (age, sex, everything the attribute does not cause), the model's direct use of the \
                     attribute's column, and the paths' interaction. Percentile intervals over {} bootstrap \
                     resamples (seed {}).",
                    l.count(e.resamples as f64),
                    e.seed
                ),
            })
        );
        let parts = |d: &GapDecomposition| -> [Estimate; 4] {
            [d.gap.clone(), d.proxy.clone(), d.mediated.clone(), d.remainder.clone()]
        };
        let metrics = [
            self.t("Forskel", "Gap"),
            self.t("Gennem proxyer", "Through proxies"),
            self.t("Gennem mediatorer", "Through mediators"),
            self.t("Rest", "Remainder"),
        ];
        let point = |x: &Estimate| (x.value, x.interval.map(|[lo, hi]| (lo, hi)));
        let rows: Vec<DotRow> = e
            .decomposition
            .iter()
            .map(|d| DotRow {
                label: self.change_text(&e.attribute, d),
                note: String::new(),
                values: parts(d).iter().map(|x| Some(point(x))).collect(),
            })
            .collect();
        let reach = e
            .decomposition
            .iter()
            .flat_map(&parts)
            .flat_map(|x| {
                let [lo, hi] = x.interval.unwrap_or([x.value, x.value]);
                [x.value, lo, hi]
            })
            .filter(|v| v.is_finite())
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let reach = nice_max(reach.max(0.01));
        let desc = rows
            .iter()
            .zip(&e.decomposition)
            .map(|(r, d)| {
                let parts: Vec<String> = metrics
                    .iter()
                    .zip(parts(d))
                    .map(|(m, x)| format!("{m} {}", decimal(l, Some(&x))))
                    .collect();
                format!("{}: {}", r.label, parts.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ");
        let chart = DotChart {
            id: self.next_id(),
            title: match l {
                Lang::Da => format!(
                    "Forskellen i udvælgelsesrate efter {}, delt efter sti",
                    self.attr_label(&e.attribute).to_lowercase()
                ),
                Lang::En => format!(
                    "Selection-rate gap by {}, split by path",
                    self.attr_label(&e.attribute).to_lowercase()
                ),
            },
            desc,
            x: Axis {
                label: self
                    .t(
                        "Forskel i udvælgelsesrate (andel af borgerne)",
                        "Difference in selection rate (share of the citizens)",
                    )
                    .to_owned(),
                min: -reach,
                max: reach,
                pct: false,
            },
            metrics: metrics.iter().map(|m| (*m).to_owned()).collect(),
            rows,
            bars: true,
            interval_key: format!(
                "{} {}",
                l.pct(e.confidence, 0),
                self.t("interval (bootstrap)", "interval (bootstrap)")
            ),
            missing: self.t("ingen værdi", "no value").to_owned(),
        };
        self.w(&dot_chart(&chart, l));
        let _ = write!(
            self.out,
            "<table><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            self.t(
                "Forskellen i udvælgelsesrate, delt efter sti",
                "The selection-rate gap, split by path"
            ),
            self.t("Ændring", "Change"),
            self.t("Borgere (fra / til)", "Citizens (from / to)"),
            self.t("Forskel", "Gap"),
            self.t("Gennem proxyer", "Through proxies"),
            self.t("Gennem mediatorer", "Through mediators"),
            self.t("Rest", "Remainder"),
            self.t("Samlet effekt", "Total effect"),
            self.t("Samspil", "Interaction"),
        );
        for d in &e.decomposition {
            let _ = write!(
                self.out,
                "<tr><th scope=\"row\">{} → {}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                name(&self.group_label(&e.attribute, &d.from)),
                name(&self.group_label(&e.attribute, &d.to)),
                E(&format!(
                    "{} / {}",
                    l.count(d.citizens[0] as f64),
                    l.count(d.citizens[1] as f64)
                )),
                E(&decimal(l, Some(&d.gap))),
                E(&decimal(l, Some(&d.proxy))),
                E(&decimal(l, Some(&d.mediated))),
                E(&decimal(l, Some(&d.remainder))),
                E(&decimal(l, d.total.as_ref())),
                E(&decimal(l, d.interaction.as_ref())),
            );
        }
        self.w("</tbody></table>");
    }

    /// A decomposition's change of value as plain text (for a chart, which escapes it).
    fn change_text(&self, attr: &str, d: &GapDecomposition) -> String {
        format!(
            "{} → {}",
            self.group_label(attr, &d.from),
            self.group_label(attr, &d.to)
        )
    }
}

/// A rate with its interval: 1,23 % (0,98–1,51 %).
fn rate(l: Lang, x: &Estimate) -> String {
    match x.interval {
        Some([lo, hi]) => format!("{} ({})", l.pct(x.value, 2), l.pct_ci((lo, hi), 2)),
        None => l.pct(x.value, 2),
    }
}

/// A difference with its interval: 0,0123 [0,0098; 0,0151]; a dash when not measured.
fn decimal(l: Lang, x: Option<&Estimate>) -> String {
    match x {
        None => DASH.to_owned(),
        Some(x) => match x.interval {
            Some([lo, hi]) => format!("{} {}", l.dec(x.value, 4), l.ci((lo, hi), 4)),
            None => l.dec(x.value, 4),
        },
    }
}
