//! The report's own words for the names it shows: metrics, disparities, criteria, attributes,
//! operators.

use super::Doc;
use fairness::{Against, CriterionMetric, MetricName, Op, RateMetric, Verdict};
use synth::Counterfactual;

/// The attribute a counterfactual twin changes, as the dataset names it.
pub(super) fn counterfactual_name(c: Counterfactual) -> &'static str {
    match c {
        Counterfactual::Sex => "sex",
        Counterfactual::Origin => "origin",
    }
}

impl Doc<'_> {
    pub(super) fn metric_label(&self, m: MetricName) -> &'static str {
        crate::labels::metric(self.l, m)
    }

    /// A disparity's name: the fairness notion measured by the rate, where it has one.
    pub(super) fn disparity_label(&self, m: RateMetric) -> &'static str {
        let (da, en) = match m {
            RateMetric::SelectionRate => (
                "Demografisk paritet (udvælgelsesrate)",
                "Demographic parity (selection rate)",
            ),
            RateMetric::TruePositiveRate => ("Lige muligheder (TPR)", "Equal opportunity (TPR)"),
            RateMetric::FalsePositiveRate => ("Paritet i falsk positiv-rate (FPR)", "False positive rate parity (FPR)"),
            RateMetric::Precision => ("Prædiktiv paritet (præcision)", "Predictive parity (precision)"),
            RateMetric::Accuracy => ("Paritet i nøjagtighed", "Accuracy parity"),
            RateMetric::BaseRate
            | RateMetric::TrueNegativeRate
            | RateMetric::FalseNegativeRate
            | RateMetric::NegativePredictiveValue
            | RateMetric::FalseDiscoveryRate
            | RateMetric::FalseOmissionRate
            | RateMetric::BalancedAccuracy
            | RateMetric::F1 => return self.metric_label(MetricName::from(m)),
        };
        self.t(da, en)
    }

    /// A criterion's metric, e.g. "Disparate impact" or "Equal opportunity, difference".
    fn criterion_metric_label(&self, m: CriterionMetric) -> &'static str {
        crate::labels::criterion_metric(self.l, m)
    }

    pub(super) fn against_label(&self, a: Against) -> &'static str {
        crate::labels::against(self.l, a)
    }

    /// A group as people read it: each value by its label in the report's language where the
    /// value is a known category (`F` is "kvinde"/"female", `danish` is "dansk oprindelse"/
    /// "Danish origin"), else as the data has it; an intersection's values joined by `|` as in
    /// the data. The record keeps the data's values; only what is shown changes.
    pub(super) fn group_label(&self, attr: &str, group: &str) -> String {
        let columns: Vec<&str> = attr.split('&').collect();
        group
            .split('|')
            .enumerate()
            .map(|(i, v)| match columns.get(i).and_then(|c| synth::value_names(c, v)) {
                Some((da, en)) => self.t(da, en).to_owned(),
                None => v.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    pub(super) fn attr_label(&self, attr: &str) -> String {
        crate::labels::attribute(self.l, attr)
    }

    pub(super) fn op_symbol(op: Op) -> &'static str {
        crate::labels::op_symbol(op)
    }

    /// The criterion's own name, else what it measures and on which attribute.
    pub(super) fn criterion_name(&self, v: &Verdict) -> String {
        if let Some(n) = &v.criterion.name {
            return n.clone();
        }
        let attr = if v.criterion.attribute.is_empty() {
            self.t("alle", "everyone").to_owned()
        } else {
            self.attr_label(&v.criterion.attribute).to_lowercase()
        };
        let base = match &v.criterion.path {
            Some(path) => format!(
                "{} ({attr}, {} {path})",
                self.criterion_metric_label(v.criterion.metric),
                self.t("sti", "path")
            ),
            None => format!("{} ({attr})", self.criterion_metric_label(v.criterion.metric)),
        };
        match &v.criterion.shift {
            Some(s) => {
                let (da, en) = s.axis.label();
                format!(
                    "{base}, {} {} {} {} {}",
                    self.t("fald langs", "drop along"),
                    self.t(da, en).to_lowercase(),
                    self.t("fra", "from"),
                    s.from,
                    self.t("til", "to")
                ) + &format!(" {}", s.to)
            }
            None => base,
        }
    }
}
