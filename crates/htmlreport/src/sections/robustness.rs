//! Robustness: the stability verdict (each decision depends on the citizen's row only), its
//! checks and the rows where the model was unstable; then the perturbation (`perturbation.rs`) and recourse (`recourse.rs`).

use super::Doc;
use crate::Lang;
use crate::fmt::E;
use evaluate::{Stability, StabilityCheck};
use std::fmt::Write;

impl Doc<'_> {
    pub(super) fn robustness(&mut self) {
        let rec = self.rec;
        let Some(r) = &rec.robustness else {
            return;
        };
        let s = &r.stability;
        let l = self.l;
        let _ = write!(
            self.out,
            "<section id=\"robustness\"><h2>{}</h2><p><span class=\"verdict {}\">{}</span> {}</p>",
            self.t("Robusthed", "Robustness"),
            if s.stable { "v-pass" } else { "v-fail" },
            if s.stable {
                self.t("Stabil.", "Stable.")
            } else {
                self.t("Ustabil.", "Unstable.")
            },
            E(&match l {
                Lang::Da => format!(
                    "Rækkerne i kørslens første forespørgsel blev scoret igen af de isolerede arbejdsprocesser: som samme \
                     forespørgsel, i en tilfældig rækkefølge og nogle én ad gangen på tilfældige pladser (seed {}). Hver \
                     sandsynlighed skal være kørslens egen inden for {} og hver afgørelse den samme; en model, der ser på \
                     resten af sin batch, på rækkernes plads eller trækker tilfældige tal, falder her. Desuden blev rækker på \
                     tilfældige pladser i forespørgsler fra hele kørslen scoret igen sammen i tilfældig rækkefølge.",
                    s.seed,
                    tolerance(s)
                ),
                Lang::En => format!(
                    "The rows of the run's first request were scored again by the isolated workers: as the same \
                     request, in a random order, and some one at a time at random positions (seed {}). Every \
                     probability must be the run's own within {} and every decision the same; a model that looks at \
                     the rest of its batch or its rows' positions, or draws random numbers, fails here. Rows at random \
                     positions of requests from the whole run were also scored again together, in a random order.",
                    s.seed,
                    tolerance(s)
                ),
            })
        );
        let _ = write!(
            self.out,
            "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            self.t("Kontrol", "Check"),
            self.t("Rækker", "Rows"),
            self.t("Rækker pr. kald", "Rows per request"),
            self.t("Største forskel", "Largest difference"),
            self.t("Rækker med forskel", "Rows differing"),
            self.t("Skiftede afgørelser", "Decisions changed"),
        );
        for c in &s.checks {
            let _ = write!(
                self.out,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                self.t(check_name(c.check).0, check_name(c.check).1),
                E(&l.count(c.rows as f64)),
                E(&l.count(c.batch_rows as f64)),
                E(&format!("{:.1e}", c.max_difference)),
                E(&l.count(c.rows_differing as f64)),
                E(&l.count(c.decisions_changed as f64)),
            );
        }
        self.w("</tbody></table>");
        let examples: Vec<String> = s
            .checks
            .iter()
            .flat_map(|c| c.examples.iter().map(move |e| (c.check, e)))
            .map(|(check, e)| {
                let (da, en) = check_name(check);
                let person = e.person_id.map(|p| format!(" (person_id {p})")).unwrap_or_default();
                let person = if e.twin {
                    format!("{person}, {}", l.t("tvilling", "twin"))
                } else {
                    person
                };
                match l {
                    Lang::Da => format!(
                        "{da}: række {}{person}: {} i kørslen, {} igen",
                        e.row,
                        l.dec(e.probability, 6),
                        l.dec(e.again, 6)
                    ),
                    Lang::En => format!(
                        "{en}: row {}{person}: {} in the run, {} again",
                        e.row,
                        l.dec(e.probability, 6),
                        l.dec(e.again, 6)
                    ),
                }
            })
            .collect();
        for c in s.checks.iter().filter(|c| c.error.is_some()) {
            let (da, en) = check_name(c.check);
            let _ = write!(
                self.out,
                "<p>{}: {} {}</p>",
                E(l.t(da, en)),
                self.t("arbejdsprocessen svarede ikke:", "the worker gave no answer:"),
                E(c.error.as_deref().unwrap_or_default())
            );
        }
        if !examples.is_empty() {
            let _ = write!(
                self.out,
                "<p>{}</p><ul>",
                self.t(
                    "Rækker, hvor modellen var ustabil:",
                    "Rows where the model was unstable:"
                )
            );
            for e in examples {
                let _ = write!(self.out, "<li>{}</li>", E(&e));
            }
            self.w("</ul>");
        }
        if let Some(p) = &r.perturbation {
            self.perturbation(p);
        }
        if let Some(rc) = &r.recourse {
            self.recourse(rc);
        }
        if let Some(sh) = &r.shift {
            self.shift(sh);
        }
        self.w("</section>");
    }
}

fn tolerance(s: &Stability) -> String {
    format!("{:e}", s.tolerance)
}

/// A check's name in Danish and English.
fn check_name(c: StabilityCheck) -> (&'static str, &'static str) {
    match c {
        StabilityCheck::Repeated => ("Gentaget", "Repeated"),
        StabilityCheck::Permuted => ("Tilfældig rækkefølge", "Random order"),
        StabilityCheck::SingleRows => ("Én række ad gangen", "One row at a time"),
        StabilityCheck::Sampled => ("Rækker fra hele kørslen", "Rows from the whole run"),
    }
}
