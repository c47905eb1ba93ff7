//! Accuracy over all citizens, against the recorded and the true outcome.

use super::Doc;
use super::cells::{metric, metric_vs_true};
use crate::fmt::{DASH, E};
use fairness::MetricName;
use std::fmt::Write;

/// Metrics of the overall table, recorded and true outcome side by side.
const OVERALL_ROWS: [MetricName; 15] = [
    MetricName::Accuracy,
    MetricName::BalancedAccuracy,
    MetricName::BaseRate,
    MetricName::SelectionRate,
    MetricName::TruePositiveRate,
    MetricName::FalsePositiveRate,
    MetricName::FalseNegativeRate,
    MetricName::Precision,
    MetricName::F1,
    MetricName::RocAuc,
    MetricName::AveragePrecision,
    MetricName::Brier,
    MetricName::LogLoss,
    MetricName::ExpectedCalibrationError,
    MetricName::NegativePredictiveValue,
];

impl Doc<'_> {
    pub(super) fn accuracy(&mut self) {
        let Some(rep) = self.rep else { return };
        let l = self.l;
        let _ = write!(
            self.out,
            "<section id=\"accuracy\"><h2>{}</h2>",
            self.t("Nøjagtighed for alle borgere", "Accuracy over all citizens")
        );
        let overall = &rep.overall;
        let has_true = overall.metrics_vs_label_true.is_some();
        let _ = write!(
            self.out,
            "<p>{}</p>",
            self.t(
                "Det registrerede udfald er det, registrene viser, og kan selv være skævt; det sande udfald er den syntetiske befolknings faktiske udfald. En model, der passer bedre til registrene end til sandheden, gentager registrenes skævhed.",
                "The recorded outcome is what the registers show and may itself be biased; the true outcome is what actually happens to the synthetic population. A model that fits the records better than the truth reproduces their bias."
            )
        );
        let _ = write!(
            self.out,
            "<table class=\"keep\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>",
            self.t("Mål", "Metric"),
            self.t("Mod registreret udfald", "Against recorded outcome")
        );
        if has_true {
            let _ = write!(
                self.out,
                "<th scope=\"col\">{}</th>",
                self.t("Mod sandt udfald", "Against true outcome")
            );
        }
        self.w("</tr></thead><tbody>");
        let _ = write!(
            self.out,
            "<tr><th scope=\"row\">{}</th><td class=\"n\">{}</td>{}</tr>",
            self.t("Borgere", "Citizens"),
            E(&l.count(overall.count)),
            if has_true { "<td></td>" } else { "" }
        );
        for key in OVERALL_ROWS {
            let rec = metric(&overall.metrics, key);
            let tru = metric_vs_true(overall, key);
            if rec.is_none() && tru.is_none() {
                continue;
            }
            let rate = key.is_rate();
            let _ = write!(
                self.out,
                "<tr><th scope=\"row\">{}</th>{}",
                E(self.metric_label(key)),
                self.metric_cell(rec, rate)
            );
            if has_true {
                self.w(&self.metric_cell(tru, rate));
            }
            self.w("</tr>");
        }
        self.w("</tbody></table>");
        let ge = rep.generalized_entropy_alpha2;
        let th = rep.theil;
        if ge.is_some() || th.is_some() {
            let _ = write!(
                self.out,
                "<p>{}: {}; {}: {}.</p>",
                self.t(
                    "Ulighed i fordelen på individniveau: generaliseret entropi (α = 2)",
                    "Inequality of benefit between individuals: generalized entropy (α = 2)"
                ),
                E(&ge.map_or_else(|| DASH.to_owned(), |x| l.dec(x, 3))),
                self.t("Theil-indeks", "Theil index"),
                E(&th.map_or_else(|| DASH.to_owned(), |x| l.dec(x, 3))),
            );
        }
        self.w("</section>");
    }
}
