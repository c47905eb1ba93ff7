//! The title, the facts of the run, the summary and the table of contents.

use super::Doc;
use crate::fmt::{E, Isolated, name};
use std::fmt::Write;

impl Doc<'_> {
    pub(super) fn header(&mut self, title: &str) {
        let _ = write!(self.out, "<header><h1>{}</h1><p class=\"sub\">", Isolated(title));
        let mut facts: Vec<String> = Vec::new();
        let p = &self.rec.provenance;
        facts.push(format!(
            "{}: {}",
            self.t("Scenarie", "Scenario"),
            name(&p.dataset.scenario)
        ));
        facts.push(format!("{}: {}", self.t("Startet", "Started"), E(&p.started)));
        if let Some(s) = &self.meta.run_id {
            facts.push(format!("{}: {}", self.t("Kørsel", "Run"), name(s)));
        }
        if let Some(s) = &self.meta.case_name {
            facts.push(format!("{}: {}", self.t("Sag", "Case"), name(s)));
        }
        let facts = facts.join(" · ");
        self.w(&facts);
        self.w("</p>");
        let summary = self.summary();
        let _ = write!(
            self.out,
            "<section id=\"summary\" class=\"summary\"><h2>{}</h2>",
            self.t("Sammenfatning", "Summary")
        );
        for s in summary {
            let _ = write!(self.out, "<p>{}</p>", Isolated(&s));
        }
        self.w("</section>");
        let mut items = if self.rep.is_some() {
            vec![
                ("provenance", self.t("Oprindelse", "Provenance")),
                ("criteria", self.t("Kriterier og afgørelser", "Criteria and verdicts")),
                ("accuracy", self.t("Nøjagtighed", "Accuracy")),
                ("groups", self.t("Grupper", "Groups")),
                ("charts", self.t("Figurer", "Charts")),
            ]
        } else {
            vec![
                ("provenance", self.t("Oprindelse", "Provenance")),
                ("groups", self.t("Mål pr. gruppe", "Metrics by group")),
                ("charts", self.t("Figurer", "Charts")),
            ]
        };
        if self.rec.robustness.is_some() {
            items.push(("robustness", self.t("Robusthed", "Robustness")));
        }
        items.push(("throughput", self.t("Gennemløb", "Throughput")));
        let _ = write!(
            self.out,
            "<nav class=\"toc\" aria-label=\"{}\"><ol>",
            self.t("Indhold", "Contents")
        );
        for (id, label) in items {
            let _ = write!(self.out, "<li><a href=\"#{id}\">{}</a></li>", E(label));
        }
        self.w("</ol></nav></header>");
    }
}
