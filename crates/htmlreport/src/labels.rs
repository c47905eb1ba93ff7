//! The words for the domain's names that the reports and the service's pages both show, in
//! Danish and English: one table, so a page and the report it links to call the same thing
//! by the same name. Metric names come from `fairness` (their `label()`), group values from
//! `synth::labels`; what is only the report's own stays in its sections.

use crate::Lang;
use fairness::MetricName;
use fairness::{Against, CriterionMetric, Op};
use synth::Counterfactual;

/// A metric's label, e.g. "Udvælgelsesrate" / "Selection rate".
pub fn metric(l: Lang, m: MetricName) -> &'static str {
    let (da, en) = m.label();
    l.t(da, en)
}

/// A criterion's metric, e.g. "Disparat effekt" / "Disparate impact".
pub fn criterion_metric(l: Lang, m: CriterionMetric) -> &'static str {
    let (da, en) = m.label();
    l.t(da, en)
}

/// What a criterion compares against, e.g. "mellem grupper" / "between groups".
pub fn against(l: Lang, a: Against) -> &'static str {
    match a {
        Against::BetweenGroups => l.t("mellem grupper", "between groups"),
        Against::Overall => l.t("i forhold til alle", "to overall"),
        Against::Reference => l.t("i forhold til referencegruppen", "against the reference group"),
    }
}

/// A criterion's comparison as a mathematical sign (the same in both languages).
pub fn op_symbol(op: Op) -> &'static str {
    match op {
        Op::Ge => "≥",
        Op::Le => "≤",
        Op::Gt => ">",
        Op::Lt => "<",
    }
}

/// A protected attribute (or an intersection `a&b`, joined by " × ") as people read it; an
/// attribute without a label is shown as the data names it.
pub fn attribute(l: Lang, attr: &str) -> String {
    attr.split('&')
        .map(|a| {
            let (da, en) = match a {
                "sex" => ("Køn", "Sex"),
                "origin" => ("Herkomst", "Origin"),
                "age_band" => ("Aldersgruppe", "Age band"),
                "municipality" => ("Kommune", "Municipality"),
                "region" => ("Region", "Region"),
                "education" => ("Uddannelse", "Education"),
                _ => return a.to_owned(),
            };
            l.t(da, en).to_owned()
        })
        .collect::<Vec<_>>()
        .join(" × ")
}

/// The attribute a counterfactual twin changes, by its label ("Køn" / "Sex").
pub fn counterfactual(l: Lang, c: Counterfactual) -> String {
    attribute(
        l,
        match c {
            Counterfactual::Sex => "sex",
            Counterfactual::Origin => "origin",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersections_and_unknown_attributes() {
        assert_eq!(attribute(Lang::Da, "sex&origin"), "Køn × Herkomst");
        assert_eq!(attribute(Lang::En, "sex&shoe_size"), "Sex × shoe_size");
        assert_eq!(counterfactual(Lang::Da, Counterfactual::Origin), "Herkomst");
        assert_eq!(against(Lang::En, Against::Overall), "to overall");
    }
}
