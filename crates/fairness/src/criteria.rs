//! Criteria an authority fixes before a run, and their verdicts.
//!
//! A criterion names an attribute, a fairness metric, what it is compared against, and a
//! threshold, e.g. `disparate_impact >= 0.8` on `origin`. Its verdict is `pass` when the whole
//! interval lies on the passing side, `fail` when the whole interval lies on the failing side,
//! and `inconclusive` when the interval straddles the threshold (or the metric is undefined) —
//! with the numbers behind it.

use crate::cells::{RateMetric, Value};
use crate::metric::NullReason;
use crate::report::{AttributeReport, ReferenceComparison, Report};
use serde::{Deserialize, Serialize};

/// Why a criteria file was refused; the whole file is refused, so no run is judged by half of it.
#[derive(Debug, thiserror::Error)]
pub enum CriteriaError {
    /// The text is not TOML.
    #[error("criteria file is not valid TOML: {0}")]
    Toml(String),
    /// The text is not JSON.
    #[error("criteria file is not valid JSON: {0}")]
    Json(String),
    /// A criterion names an unknown metric or attribute form, or a threshold that cannot hold.
    #[error("criterion {index} ({name}): {reason}")]
    Invalid {
        /// Its position in the file, from 1.
        index: usize,
        /// Its name, or the one made for it.
        name: String,
        /// What was wrong.
        reason: String,
    },
}

/// Comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
// Variant doc comments would turn this enum's JSON Schema into a `oneOf` (and loosen the maps
// keyed by it), so the variants are described in `//` comments.
#[allow(missing_docs)]
pub enum Op {
    // At least.
    #[serde(rename = ">=")]
    Ge,
    // More than.
    #[serde(rename = ">")]
    Gt,
    // At most.
    #[serde(rename = "<=")]
    Le,
    // Less than.
    #[serde(rename = "<")]
    Lt,
}

impl Op {
    /// The operator as written in criteria files.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Lt => "<",
        }
    }

    fn holds(self, v: f64, t: f64) -> bool {
        match self {
            Op::Ge => v >= t,
            Op::Gt => v > t,
            Op::Le => v <= t,
            Op::Lt => v < t,
        }
    }
}

/// What a metric is compared against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Against {
    /// Largest gap between any two groups (fairlearn's `between_groups`).
    #[default]
    BetweenGroups,
    /// Worst group against the reference group.
    Reference,
    /// Worst group against the whole population (fairlearn's `to_overall`).
    Overall,
}

impl Against {
    /// Its name in criteria files.
    pub fn as_str(self) -> &'static str {
        match self {
            Against::BetweenGroups => "between_groups",
            Against::Reference => "reference",
            Against::Overall => "overall",
        }
    }
}

/// An axis of a run's shift grid: the populations the generator makes with one setting changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
// Variant doc comments would turn this enum's JSON Schema into a `oneOf`, so the variants are
// described in `//` comments.
#[allow(missing_docs)]
pub enum ShiftAxis {
    // How strongly municipality encodes origin (0, 1, 2).
    ProxyStrength,
    // How often the recorded outcome of the biased group is flipped (0, 0.1, 0.2, 0.3).
    LabelRate,
    // How the biased group is sampled against its real share.
    RepresentationFactor,
    // One region's citizens only.
    Region,
}

impl ShiftAxis {
    /// Its name in criteria files, records and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ShiftAxis::ProxyStrength => "proxy_strength",
            ShiftAxis::LabelRate => "label_rate",
            ShiftAxis::RepresentationFactor => "representation_factor",
            ShiftAxis::Region => "region",
        }
    }

    /// The label people read: `(Danish, English)`.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            ShiftAxis::ProxyStrength => (
                "Proxy-styrke (kommune og oprindelse)",
                "Proxy strength (municipality and origin)",
            ),
            ShiftAxis::LabelRate => ("Skævhed i registrerede udfald", "Label bias rate"),
            ShiftAxis::RepresentationFactor => ("Repræsentation", "Representation factor"),
            ShiftAxis::Region => ("Region", "Region"),
        }
    }
}

/// A point on a shift axis: a number for the bias knobs, a region's name for the geographic axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
// `GridValue` is already the partial dependence's grid value in the published schemas.
#[schemars(rename = "ShiftGridValue")]
// Variant doc comments would turn this enum's JSON Schema into a `oneOf`; described in `//`.
#[allow(missing_docs)]
pub enum GridValue {
    // A knob's value.
    Number(f64),
    // A region's name.
    Name(String),
}

impl std::fmt::Display for GridValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GridValue::Number(x) => write!(f, "{x}"),
            GridValue::Name(n) => f.write_str(n),
        }
    }
}

/// The drop a criterion bounds: its metric on the population at `from` minus its metric on the
/// population at `to`, both points of `axis` of the run's shift grid. "Accuracy against the true
/// outcome falls by at most 0.05 from proxy strength 1 to 2" is `metric = "accuracy_true"`,
/// `shift = { axis = "proxy_strength", from = 1, to = 2 }`, `op = "<="`, `threshold = 0.05`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftBound {
    /// The axis.
    pub axis: ShiftAxis,
    /// The point the drop is measured from.
    pub from: GridValue,
    /// The point the drop is measured to.
    pub to: GridValue,
}

/// The longest region name a shift bound may give (it is quoted in verdicts).
pub const MAX_GRID_NAME_CHARS: usize = 60;

impl ShiftBound {
    /// Checks that the points fit the axis: numbers for the knobs, names for regions, and two
    /// different points. Which points the grid has is the run's business.
    fn check(&self) -> Result<(), String> {
        let numeric = self.axis != ShiftAxis::Region;
        for (which, v) in [("from", &self.from), ("to", &self.to)] {
            match (numeric, v) {
                (true, GridValue::Number(x)) if x.is_finite() => {}
                (true, _) => return Err(format!("shift.{which} of {} must be a number", self.axis.as_str())),
                (false, GridValue::Name(n)) if n.chars().count() <= MAX_GRID_NAME_CHARS => {}
                (false, GridValue::Name(_)) => {
                    return Err(format!("shift.{which} is longer than {MAX_GRID_NAME_CHARS} characters"));
                }
                (false, GridValue::Number(_)) => {
                    return Err(format!(
                        "shift.{which} of region must be a region's name, e.g. \"Region Nordjylland\""
                    ));
                }
            }
        }
        if self.from == self.to {
            return Err("shift.from and shift.to are the same point; a drop needs two".into());
        }
        Ok(())
    }
}

/// One criterion.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// A name for the reports; by default one is made from the other fields.
    #[serde(default)]
    pub name: Option<String>,
    /// Attribute, or an intersection as `a&b`; empty (left out) for `accuracy` and
    /// `accuracy_true`, which are of the whole population.
    #[serde(default)]
    pub attribute: String,
    /// What is measured.
    pub metric: CriterionMetric,
    /// What the groups are compared against.
    #[serde(default)]
    pub against: Against,
    /// How the value must relate to `threshold` to pass.
    pub op: Op,
    /// The bound the value is held to.
    pub threshold: f64,
    /// For `flip_rate`: the causal path of the twins (`total`, `proxy`, `mediated`,
    /// `through:a+b`, `hold:a+b`) as a run's path stage measures it; `None`: the run's own
    /// counterfactual twins of `attribute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// When set, the criterion bounds how much its metric drops between two points of the run's
    /// shift grid (`--shift`) rather than its value on the run's own dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift: Option<ShiftBound>,
}

impl Criterion {
    /// The criterion in words: its name if it has one, else its metric, attribute, path and
    /// shift (`disparate_impact on origin`). The Markdown report and comparisons name it so.
    pub fn describe(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let on = if self.attribute.is_empty() {
            "everyone"
        } else {
            &self.attribute
        };
        let base = match &self.path {
            Some(path) => format!("{} on {on} along path {path}", self.metric),
            None => format!("{} on {on}", self.metric),
        };
        match self.shift_text() {
            Some(shift) => format!("{base}, {shift}"),
            None => base,
        }
    }

    /// The criterion in words with its bound: `disparate_impact on origin >= 0.8`; what comparisons and
    /// leaderboards put side by side.
    pub fn describe_with_bound(&self) -> String {
        format!("{} {} {}", self.describe(), self.op.as_str(), self.threshold)
    }

    /// What a shift bound measures, in words: `drop along proxy_strength from 1 to 2`.
    pub fn shift_text(&self) -> Option<String> {
        self.shift
            .as_ref()
            .map(|s| format!("drop along {} from {} to {}", s.axis.as_str(), s.from, s.to))
    }

    /// The criterion measured on one population: without its shift bound.
    pub fn at_one_point(&self) -> Criterion {
        Criterion {
            shift: None,
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    criterion: Vec<Criterion>,
}

/// The longest `path` a criterion may name (it is quoted in verdicts and error messages).
pub const MAX_PATH_CHARS: usize = 200;

/// Parses criteria from TOML (`[[criterion]]` tables) or JSON (`{"criterion": [...]}` or a
/// bare array), chosen by the text's first non-blank character.
pub fn parse(text: &str) -> Result<Vec<Criterion>, CriteriaError> {
    let trimmed = text.trim_start();
    let list = if trimmed.starts_with('[') && !trimmed.starts_with("[[") {
        serde_json::from_str::<Vec<Criterion>>(text).map_err(|e| CriteriaError::Json(e.to_string()))?
    } else if trimmed.starts_with('{') {
        serde_json::from_str::<File>(text)
            .map_err(|e| CriteriaError::Json(e.to_string()))?
            .criterion
    } else {
        toml::from_str::<File>(text)
            .map_err(|e| CriteriaError::Toml(e.to_string()))?
            .criterion
    };
    for (i, c) in list.iter().enumerate() {
        let invalid = |reason: String| CriteriaError::Invalid {
            index: i + 1,
            name: c.name.clone().unwrap_or_else(|| c.metric.to_string()),
            reason,
        };
        if !c.threshold.is_finite() {
            return Err(invalid("threshold must be a finite number".into()));
        }
        let (_, kind) = c.metric.resolve();
        if matches!(kind, Kind::Overall(_)) {
            if !c.attribute.is_empty() {
                return Err(invalid(format!(
                    "{} is of the whole population; leave `attribute` out (for a gap between groups use \
                     accuracy_difference)",
                    c.metric
                )));
            }
            if c.against != Against::BetweenGroups {
                return Err(invalid(format!("{} compares no groups; leave `against` out", c.metric)));
            }
        } else if c.attribute.is_empty() {
            return Err(invalid(format!(
                "{} compares groups: name the attribute (e.g. attribute = \"origin\")",
                c.metric
            )));
        }
        if let Some(shift) = &c.shift {
            if matches!(kind, Kind::Flip | Kind::Analysis) {
                return Err(invalid(format!(
                    "a shift bounds a metric of the report on each population; {} is measured by another stage",
                    c.metric
                )));
            }
            shift.check().map_err(invalid)?;
        }
        if matches!(kind, Kind::DisparateImpact | Kind::AverageOdds) && c.against != Against::Reference {
            return Err(invalid(format!(
                "{} is always measured against the reference group; set against = \"reference\"",
                c.metric
            )));
        }
        if matches!(kind, Kind::EqualizedOdds(_)) && c.against != Against::BetweenGroups {
            return Err(invalid("equalized odds is measured between groups".into()));
        }
        if let Some(p) = &c.path
            && p.chars().count() > MAX_PATH_CHARS
        {
            return Err(invalid(format!(
                "path is {} characters; at most {MAX_PATH_CHARS}",
                p.chars().count()
            )));
        }
        if matches!(kind, Kind::Analysis) && c.against != Against::BetweenGroups {
            return Err(invalid(format!(
                "{} is measured by the run's robustness stage per group of the attribute; leave `against` out",
                c.metric
            )));
        }
        if c.path.is_some() && !matches!(kind, Kind::Flip) {
            return Err(invalid(format!(
                "a path belongs to metric flip_rate (twins along a causal path), not {}",
                c.metric
            )));
        }
        if matches!(kind, Kind::Flip) {
            if c.against != Against::BetweenGroups {
                return Err(invalid(
                    "flip_rate compares each citizen with their twin, not groups; leave `against` out".into(),
                ));
            }
            if !["sex", "origin"].contains(&c.attribute.as_str()) {
                return Err(invalid(format!(
                    "flip_rate is measured for the attribute twins change, sex or origin, not {:?}",
                    c.attribute.chars().take(60).collect::<String>()
                )));
            }
        }
    }
    Ok(list)
}

/// The metric a criterion judges: a disparity of one rate (difference or ratio), equalized odds,
/// disparate impact or average odds. Its name in criteria files, records and the API is the
/// snake-case variant name, e.g. `equal_opportunity_difference`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
// Variant doc comments would turn this enum's JSON Schema into a `oneOf` (and loosen the maps
// keyed by it), so the variants are described in `//` comments.
#[allow(missing_docs)]
pub enum CriterionMetric {
    // Difference of selection rates.
    DemographicParityDifference,
    // Ratio of selection rates.
    DemographicParityRatio,
    // Difference of true positive rates.
    EqualOpportunityDifference,
    // Ratio of true positive rates.
    EqualOpportunityRatio,
    // Difference of precisions.
    PredictiveParityDifference,
    // Ratio of precisions.
    PredictiveParityRatio,
    // Difference of false positive rates.
    FalsePositiveRateDifference,
    // Ratio of false positive rates.
    FalsePositiveRateRatio,
    // Difference of accuracies.
    AccuracyDifference,
    // Ratio of accuracies.
    AccuracyRatio,
    // The larger of the TPR and FPR differences.
    EqualizedOddsDifference,
    // The smaller of the TPR and FPR ratios.
    EqualizedOddsRatio,
    // Each group's selection rate over the reference's (the four-fifths rule).
    DisparateImpact,
    // Mean of a group's TPR and FPR differences to the reference.
    AverageOddsDifference,
    // Share of citizens whose decision differs from their counterfactual twin's (along `path`).
    FlipRate,
    // The worst group's share of decisions that flip with every input moved by its measurement error (robustness).
    PerturbationFlipRate,
    // The gap in the share with recourse between the groups with the highest and the lowest share (robustness).
    RecourseGap,
    // The share of correct decisions against the recorded outcome, of the whole population.
    Accuracy,
    // The share of correct decisions against the true outcome, of the whole population.
    AccuracyTrue,
}

impl CriterionMetric {
    /// Every criterion metric, in the order of this enum.
    pub const ALL: &'static [CriterionMetric] = &[
        CriterionMetric::DemographicParityDifference,
        CriterionMetric::DemographicParityRatio,
        CriterionMetric::EqualOpportunityDifference,
        CriterionMetric::EqualOpportunityRatio,
        CriterionMetric::PredictiveParityDifference,
        CriterionMetric::PredictiveParityRatio,
        CriterionMetric::FalsePositiveRateDifference,
        CriterionMetric::FalsePositiveRateRatio,
        CriterionMetric::AccuracyDifference,
        CriterionMetric::AccuracyRatio,
        CriterionMetric::EqualizedOddsDifference,
        CriterionMetric::EqualizedOddsRatio,
        CriterionMetric::DisparateImpact,
        CriterionMetric::AverageOddsDifference,
        CriterionMetric::FlipRate,
        CriterionMetric::PerturbationFlipRate,
        CriterionMetric::RecourseGap,
        CriterionMetric::Accuracy,
        CriterionMetric::AccuracyTrue,
    ];

    /// Its name in criteria files, records and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            CriterionMetric::DemographicParityDifference => "demographic_parity_difference",
            CriterionMetric::DemographicParityRatio => "demographic_parity_ratio",
            CriterionMetric::EqualOpportunityDifference => "equal_opportunity_difference",
            CriterionMetric::EqualOpportunityRatio => "equal_opportunity_ratio",
            CriterionMetric::PredictiveParityDifference => "predictive_parity_difference",
            CriterionMetric::PredictiveParityRatio => "predictive_parity_ratio",
            CriterionMetric::FalsePositiveRateDifference => "false_positive_rate_difference",
            CriterionMetric::FalsePositiveRateRatio => "false_positive_rate_ratio",
            CriterionMetric::AccuracyDifference => "accuracy_difference",
            CriterionMetric::AccuracyRatio => "accuracy_ratio",
            CriterionMetric::EqualizedOddsDifference => "equalized_odds_difference",
            CriterionMetric::EqualizedOddsRatio => "equalized_odds_ratio",
            CriterionMetric::DisparateImpact => "disparate_impact",
            CriterionMetric::AverageOddsDifference => "average_odds_difference",
            CriterionMetric::FlipRate => "flip_rate",
            CriterionMetric::PerturbationFlipRate => "perturbation_flip_rate",
            CriterionMetric::RecourseGap => "recourse_gap",
            CriterionMetric::Accuracy => "accuracy",
            CriterionMetric::AccuracyTrue => "accuracy_true",
        }
    }

    /// The metric with this name, if any.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.as_str() == s)
    }

    /// The label people read: `(Danish, English)`.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            CriterionMetric::DemographicParityDifference => {
                ("Demografisk paritet, forskel", "Demographic parity, difference")
            }
            CriterionMetric::DemographicParityRatio => ("Demografisk paritet, forhold", "Demographic parity, ratio"),
            CriterionMetric::EqualOpportunityDifference => {
                ("Lige muligheder, forskel", "Equal opportunity, difference")
            }
            CriterionMetric::EqualOpportunityRatio => ("Lige muligheder, forhold", "Equal opportunity, ratio"),
            CriterionMetric::PredictiveParityDifference => {
                ("Prædiktiv paritet, forskel", "Predictive parity, difference")
            }
            CriterionMetric::PredictiveParityRatio => ("Prædiktiv paritet, forhold", "Predictive parity, ratio"),
            CriterionMetric::FalsePositiveRateDifference => {
                ("Falsk positiv-rate, forskel", "False positive rate, difference")
            }
            CriterionMetric::FalsePositiveRateRatio => ("Falsk positiv-rate, forhold", "False positive rate, ratio"),
            CriterionMetric::AccuracyDifference => ("Nøjagtighed, forskel", "Accuracy, difference"),
            CriterionMetric::AccuracyRatio => ("Nøjagtighed, forhold", "Accuracy, ratio"),
            CriterionMetric::EqualizedOddsDifference => ("Udlignede odds, forskel", "Equalized odds, difference"),
            CriterionMetric::EqualizedOddsRatio => ("Udlignede odds, forhold", "Equalized odds, ratio"),
            CriterionMetric::DisparateImpact => ("Disparat effekt", "Disparate impact"),
            CriterionMetric::AverageOddsDifference => ("Gennemsnitlig odds, forskel", "Average odds, difference"),
            CriterionMetric::FlipRate => ("Andel skiftede afgørelser hos tvillinger", "Counterfactual flip rate"),
            CriterionMetric::PerturbationFlipRate => (
                "Andel skiftede afgørelser ved målefejl",
                "Flip rate under measurement error",
            ),
            CriterionMetric::RecourseGap => ("Forskel i adgang til en ændring", "Recourse gap"),
            CriterionMetric::Accuracy => ("Nøjagtighed (registreret udfald)", "Accuracy (recorded outcome)"),
            CriterionMetric::AccuracyTrue => ("Nøjagtighed (sandt udfald)", "Accuracy (true outcome)"),
        }
    }

    /// Whether a run's robustness stages measure it, rather than its report.
    pub fn is_robustness(self) -> bool {
        matches!(self.resolve().1, Kind::Analysis)
    }

    /// The rate whose disparity it reads, and how.
    fn resolve(self) -> (RateMetric, Kind) {
        use CriterionMetric as C;
        use RateMetric as R;
        match self {
            C::DemographicParityDifference => (R::SelectionRate, Kind::Rate(true)),
            C::DemographicParityRatio => (R::SelectionRate, Kind::Rate(false)),
            C::EqualOpportunityDifference => (R::TruePositiveRate, Kind::Rate(true)),
            C::EqualOpportunityRatio => (R::TruePositiveRate, Kind::Rate(false)),
            C::PredictiveParityDifference => (R::Precision, Kind::Rate(true)),
            C::PredictiveParityRatio => (R::Precision, Kind::Rate(false)),
            C::FalsePositiveRateDifference => (R::FalsePositiveRate, Kind::Rate(true)),
            C::FalsePositiveRateRatio => (R::FalsePositiveRate, Kind::Rate(false)),
            C::AccuracyDifference => (R::Accuracy, Kind::Rate(true)),
            C::AccuracyRatio => (R::Accuracy, Kind::Rate(false)),
            C::EqualizedOddsDifference => (R::TruePositiveRate, Kind::EqualizedOdds(true)),
            C::EqualizedOddsRatio => (R::TruePositiveRate, Kind::EqualizedOdds(false)),
            C::DisparateImpact => (R::SelectionRate, Kind::DisparateImpact),
            C::AverageOddsDifference => (R::TruePositiveRate, Kind::AverageOdds),
            // No rate of the groups: the twins' flips (the rate is unused).
            C::FlipRate => (R::SelectionRate, Kind::Flip),
            // Measured by the run's robustness stages (the rate is unused).
            C::PerturbationFlipRate | C::RecourseGap => (R::SelectionRate, Kind::Analysis),
            // Of the whole population (the rate is unused).
            C::Accuracy => (R::Accuracy, Kind::Overall(false)),
            C::AccuracyTrue => (R::Accuracy, Kind::Overall(true)),
        }
    }
}

impl std::fmt::Display for CriterionMetric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// By hand rather than derived, so an unknown name is refused with the list of known ones (and,
/// in a TOML file, the line it is on).
impl<'de> Deserialize<'de> for CriterionMetric {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_name(&s).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|m| m.as_str()).collect();
            serde::de::Error::custom(format!(
                "unknown metric {:?}; known: {}",
                s.chars().take(60).collect::<String>(),
                known.join(", ")
            ))
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A rate disparity: `true` for difference, `false` for ratio.
    Rate(bool),
    EqualizedOdds(bool),
    DisparateImpact,
    AverageOdds,
    /// Citizens against their twins.
    Flip,
    /// Measured by an analysis stage of the run, not the report.
    Analysis,
    /// The whole population's accuracy: `true` against the true outcome.
    Overall(bool),
}

/// A criterion's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
// Variant doc comments would turn this enum's JSON Schema into a `oneOf` (and loosen the maps
// keyed by it), so the variants are described in `//` comments.
#[allow(missing_docs)]
pub enum Outcome {
    // The value, interval included where there is one, meets the bound.
    Pass,
    // The value, interval included where there is one, misses the bound.
    Fail,
    // The report cannot decide: the value is undefined, the attribute is absent, or the interval straddles the bound.
    Inconclusive,
}

impl Outcome {
    /// The outcome's stable name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

/// A criterion's verdict with the numbers behind it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Verdict {
    /// The criterion judged.
    pub criterion: Criterion,
    /// Its result.
    pub verdict: Outcome,
    /// The measured value; `None` when undefined.
    pub value: Option<f64>,
    /// The value's confidence interval, when the report has one.
    pub interval: Option<[f64; 2]>,
    /// The group the worst value belongs to, when comparing groups one by one.
    pub group: Option<String>,
    /// The verdict in words, for the reports.
    pub explanation: String,
    /// Groups kept out of the comparison, with reasons.
    pub excluded: Vec<String>,
}

/// A report with the verdicts of the criteria judged against it: what `sandkasse metrics`
/// writes. The verdicts sit beside the report, not in it, so the report does not depend on
/// the criteria that read it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Judged {
    /// The report.
    #[serde(flatten)]
    pub report: Report,
    /// The verdicts on it.
    pub verdicts: Vec<Verdict>,
}

/// The worst of several per-group comparisons: for differences the largest |d| (its interval
/// folded to absolute values), for ratios the one furthest below 1.
fn worst(items: Vec<(String, Value, Option<[f64; 2]>)>, difference: bool) -> Option<(String, f64, Option<[f64; 2]>)> {
    let defined = items.into_iter().filter_map(|(g, v, i)| v.value.map(|v| (g, v, i)));
    if difference {
        defined
            .map(|(g, v, i)| {
                let i = i.map(|[lo, hi]| {
                    if lo <= 0.0 && hi >= 0.0 {
                        [0.0, lo.abs().max(hi.abs())]
                    } else {
                        [lo.abs().min(hi.abs()), lo.abs().max(hi.abs())]
                    }
                });
                (g, v.abs(), i)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
    } else {
        defined.min_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// What a criterion measures: value, interval, worst group, excluded groups, null reason.
type Measured = (
    Option<f64>,
    Option<[f64; 2]>,
    Option<String>,
    Vec<String>,
    Option<NullReason>,
);

/// The worst group's comparison with the reference (difference or ratio) as a measurement.
fn worst_against_reference(list: &[ReferenceComparison], difference: bool, excluded: Vec<String>) -> Measured {
    let items = list
        .iter()
        .map(|r| {
            if difference {
                (r.group.clone(), r.difference, r.difference_interval)
            } else {
                (r.group.clone(), r.ratio, r.ratio_interval)
            }
        })
        .collect();
    match worst(items, difference) {
        Some((g, v, i)) => (Some(v), i, Some(g), excluded, None),
        None => (None, None, None, excluded, Some(NullReason::NoGroupToCompare)),
    }
}

/// What an analysis stage measured for a criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The value.
    pub value: f64,
    /// Its interval, when there is one.
    pub interval: Option<[f64; 2]>,
    /// The group (or pair of groups) it belongs to.
    pub group: Option<String>,
    /// Groups kept out, with reasons.
    pub excluded: Vec<String>,
}

/// What a run's analysis stages measured for a criterion they answer (its metric, attribute,
/// path and, to find the worst group, its operator) to its measurement; `None` when the stage did not measure it, `Some(Err(why))` when what it
/// measured cannot decide the criterion. The `flip_rate` of a path comes from the path stage;
/// `perturbation_flip_rate` and `recourse_gap` from the robustness stages.
pub type Analysed<'a> = &'a dyn Fn(&Criterion) -> Option<Result<Measurement, String>>;

fn measured(m: Result<Measurement, String>) -> Result<Measured, String> {
    m.map(|m| (Some(m.value), m.interval, m.group, m.excluded, None))
}

/// A `flip_rate` criterion's measurement: from the path stage when it names a path, else from the
/// report's own counterfactual twins of the attribute.
fn measure_flips(c: &Criterion, report: &Report, analysed: Analysed) -> Result<Measured, String> {
    match &c.path {
        Some(path) => analysed(c)
            .ok_or_else(|| format!("the run measured no path {path:?} of {}", c.attribute))
            .and_then(measured),
        None => {
            let cf = report
                .counterfactual
                .as_ref()
                .filter(|cf| cf.by_change.iter().any(|b| b.attribute == c.attribute))
                .ok_or_else(|| format!("the report has no counterfactual twins of {}", c.attribute))?;
            Ok((
                cf.overall.flip_rate,
                cf.overall.flip_rate_interval,
                None,
                Vec::new(),
                None,
            ))
        }
    }
}

/// The whole population's accuracy, against the recorded or (`truth`) the true outcome, with its
/// Wilson interval.
fn measure_overall(report: &Report, truth: bool) -> Result<Measured, String> {
    let metrics = if truth {
        report
            .overall
            .metrics_vs_label_true
            .as_ref()
            .ok_or("the report has no true outcome to measure accuracy against")?
    } else {
        &report.overall.metrics
    };
    let m = metrics
        .get(&crate::metric::MetricName::Accuracy)
        .ok_or("the report has no accuracy")?;
    Ok((m.value.value, m.interval, None, Vec::new(), m.value.null_reason))
}

fn measure(c: &Criterion, a: &AttributeReport) -> Measured {
    let (rate, kind) = c.metric.resolve();
    let d = a.disparity(rate).expect("every disparity metric is computed");
    let excluded = d
        .excluded
        .iter()
        .map(|e| format!("{}: {}", e.group, e.reason))
        .collect();
    let (value, interval, group) = match kind {
        Kind::Rate(diff) => match c.against {
            Against::BetweenGroups => {
                let (v, i) = if diff {
                    (d.difference_between_groups, d.intervals.difference_between_groups)
                } else {
                    (d.ratio_between_groups, d.intervals.ratio_between_groups)
                };
                (v, i, None)
            }
            Against::Overall => {
                let (v, i) = if diff {
                    (d.difference_to_overall, d.intervals.difference_to_overall)
                } else {
                    (d.ratio_to_overall, d.intervals.ratio_to_overall)
                };
                (v, i, None)
            }
            Against::Reference => return worst_against_reference(&d.to_reference, diff, excluded),
        },
        Kind::EqualizedOdds(diff) => {
            let cb = &a.combined;
            if diff {
                (cb.equalized_odds_difference, cb.equalized_odds_intervals[0], None)
            } else {
                (cb.equalized_odds_ratio, cb.equalized_odds_intervals[1], None)
            }
        }
        Kind::Flip | Kind::Analysis | Kind::Overall(_) => {
            unreachable!("measured by measure_flips, measure_overall or the run's analyses")
        }
        Kind::DisparateImpact | Kind::AverageOdds => {
            let (list, diff) = if matches!(kind, Kind::DisparateImpact) {
                (&a.combined.disparate_impact, false)
            } else {
                (&a.combined.average_odds_difference, true)
            };
            return worst_against_reference(list, diff, excluded);
        }
    };
    (value.value, interval, group, excluded, value.null_reason)
}

/// The verdict of a criterion the report cannot decide, and why.
fn inconclusive(c: &Criterion, why: String) -> Verdict {
    Verdict {
        criterion: c.clone(),
        verdict: Outcome::Inconclusive,
        value: None,
        interval: None,
        group: None,
        explanation: why,
        excluded: Vec::new(),
    }
}

/// Judges every criterion against a report (a criterion an analysis stage answers, a `flip_rate`
/// along a path or a robustness metric, is inconclusive: see [`evaluate_with_analyses`]).
pub fn evaluate(criteria: &[Criterion], report: &Report) -> Vec<Verdict> {
    evaluate_with_analyses(criteria, report, &|_| None)
}

/// Judges every criterion against a report, and the criteria the run's analysis stages answer
/// (`flip_rate` along a path, the robustness metrics) against `analysed`.
pub fn evaluate_with_analyses(criteria: &[Criterion], report: &Report, analysed: Analysed) -> Vec<Verdict> {
    criteria
        .iter()
        .map(|c| {
            let flips = match c.metric.resolve().1 {
                _ if c.shift.is_some() => Some(
                    analysed(c)
                        .ok_or_else(|| {
                            format!(
                                "the run measured no shift along {} (its shift grid was not asked for)",
                                c.shift.as_ref().map_or("", |s| s.axis.as_str())
                            )
                        })
                        .and_then(measured),
                ),
                Kind::Overall(truth) => Some(measure_overall(report, truth)),
                Kind::Flip => Some(measure_flips(c, report, analysed)),
                Kind::Analysis => Some(
                    analysed(c)
                        .ok_or_else(|| {
                            format!(
                                "the run measured no {} for {} (its robustness stage was skipped or had no such groups)",
                                c.metric, c.attribute
                            )
                        })
                        .and_then(measured),
                ),
                _ => None,
            };
            let a = report.attribute(&c.attribute);
            let (value, interval, group, excluded, null_reason) = match (flips, a) {
                (Some(Ok(m)), _) => m,
                (Some(Err(why)), _) => return inconclusive(c, why),
                (None, Some(a)) => measure(c, a),
                (None, None) => return inconclusive(c, format!("attribute {:?} is not in the report", c.attribute)),
            };
            let op = c.op.as_str();
            let (verdict, explanation) = match (value, interval) {
                (None, _) => (
                    Outcome::Inconclusive,
                    format!(
                        "{} is undefined: {}",
                        c.metric,
                        null_reason.map_or("no value", NullReason::as_str)
                    ),
                ),
                (Some(v), Some([lo, hi])) => {
                    let (all_pass, all_fail) = (
                        c.op.holds(lo, c.threshold) && c.op.holds(hi, c.threshold),
                        !c.op.holds(lo, c.threshold) && !c.op.holds(hi, c.threshold),
                    );
                    if all_pass {
                        (
                            Outcome::Pass,
                            format!(
                                "{v:.4} {op} {} holds across the interval [{lo:.4}, {hi:.4}]",
                                c.threshold
                            ),
                        )
                    } else if all_fail {
                        (
                            Outcome::Fail,
                            format!(
                                "{v:.4} {op} {} fails across the interval [{lo:.4}, {hi:.4}]",
                                c.threshold
                            ),
                        )
                    } else {
                        (
                            Outcome::Inconclusive,
                            format!(
                                "the interval [{lo:.4}, {hi:.4}] around {v:.4} straddles the threshold {}",
                                c.threshold
                            ),
                        )
                    }
                }
                (Some(v), None) => {
                    let ok = c.op.holds(v, c.threshold);
                    (
                        if ok { Outcome::Pass } else { Outcome::Fail },
                        format!(
                            "{v:.4} {op} {} {} (point estimate only: no interval was computed)",
                            c.threshold,
                            if ok { "holds" } else { "fails" }
                        ),
                    )
                }
            };
            Verdict {
                criterion: c.clone(),
                verdict,
                value,
                interval,
                group,
                explanation,
                excluded,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_as_serialized_and_read_back() {
        for op in [Op::Ge, Op::Gt, Op::Le, Op::Lt] {
            assert_eq!(serde_json::to_value(op).unwrap(), op.as_str());
        }
        for a in [Against::BetweenGroups, Against::Reference, Against::Overall] {
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        for &m in CriterionMetric::ALL {
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
            assert_eq!(serde_json::from_value::<CriterionMetric>(m.as_str().into()).unwrap(), m);
        }
    }

    #[test]
    fn a_flip_rate_criterion_is_checked_where_it_differs_from_the_others() {
        let refused = |toml: &str| match parse(toml) {
            Err(CriteriaError::Invalid { reason, .. }) => reason,
            other => panic!("not refused: {other:?}"),
        };
        let base = "[[criterion]]\nattribute = \"origin\"\nop = \"<=\"\nthreshold = 0.01\n";
        let r = refused(&format!(
            "{base}metric = \"demographic_parity_difference\"\npath = \"proxy\"\n"
        ));
        assert!(r.contains("a path belongs to metric flip_rate"), "{r}");
        let r = refused(&format!("{base}metric = \"flip_rate\"\nagainst = \"reference\"\n"));
        assert!(r.contains("leave `against` out"), "{r}");
        let r =
            refused("[[criterion]]\nattribute = \"age_band\"\nmetric = \"flip_rate\"\nop = \"<=\"\nthreshold = 0.01\n");
        assert!(r.contains("sex or origin"), "{r}");
        let long = "x".repeat(MAX_PATH_CHARS + 1);
        let r = refused(&format!("{base}metric = \"flip_rate\"\npath = \"{long}\"\n"));
        assert!(r.contains("at most 200") && !r.contains(&long), "{r}");
        let ok = parse(&format!(
            "{base}metric = \"flip_rate\"\npath = \"through:education+sector\"\n"
        ))
        .unwrap();
        assert_eq!(ok[0].path.as_deref(), Some("through:education+sector"));
    }

    #[test]
    fn a_flip_rate_along_a_path_is_judged_on_the_paths_and_inconclusive_without_them() {
        let c = parse(
            "[[criterion]]\nattribute = \"origin\"\nmetric = \"flip_rate\"\npath = \"proxy\"\nop = \"<=\"\nthreshold = 0.01\n",
        )
        .unwrap();
        let acc = crate::Accumulator::new(&["origin"], true, true, crate::MissingGroups::default());
        let report = Report::build(&acc, &crate::Config::default());
        let v = evaluate(&c, &report);
        assert_eq!(v[0].verdict, Outcome::Inconclusive);
        assert!(
            v[0].explanation.contains("no path \"proxy\" of origin"),
            "{}",
            v[0].explanation
        );
        let m = |value: f64, interval: [f64; 2]| Measurement {
            value,
            interval: Some(interval),
            group: None,
            excluded: Vec::new(),
        };
        let paths = |c: &Criterion| {
            (c.metric == CriterionMetric::FlipRate && c.attribute == "origin" && c.path.as_deref() == Some("proxy"))
                .then(|| Ok(m(0.0, [0.0, 0.004])))
        };
        let v = evaluate_with_analyses(&c, &report, &paths);
        assert_eq!(v[0].verdict, Outcome::Pass, "{}", v[0].explanation);
        let paths = |_: &Criterion| Some(Ok(m(0.02, [0.015, 0.025])));
        assert_eq!(evaluate_with_analyses(&c, &report, &paths)[0].verdict, Outcome::Fail);
        // Without a path: the report's own twins, which this report has none of.
        let mut total = c.clone();
        total[0].path = None;
        let v = evaluate(&total, &report);
        assert!(
            v[0].explanation.contains("no counterfactual twins of origin"),
            "{}",
            v[0].explanation
        );
    }

    #[test]
    fn robustness_criteria_are_judged_on_the_robustness_stages_and_inconclusive_without_them() {
        let c = parse(
            "[[criterion]]\nattribute = \"origin\"\nmetric = \"perturbation_flip_rate\"\nop = \"<=\"\nthreshold = 0.05\n\
             [[criterion]]\nattribute = \"origin\"\nmetric = \"recourse_gap\"\nop = \"<=\"\nthreshold = 0.1\n",
        )
        .unwrap();
        assert!(c.iter().all(|c| c.metric.is_robustness()));
        assert!(!CriterionMetric::FlipRate.is_robustness());
        let acc = crate::Accumulator::new(&["origin"], true, true, crate::MissingGroups::default());
        let report = Report::build(&acc, &crate::Config::default());
        let v = evaluate(&c, &report);
        assert!(v.iter().all(|v| v.verdict == Outcome::Inconclusive));
        assert!(v[0].explanation.contains("robustness stage"), "{}", v[0].explanation);
        let at = |value: f64, interval: [f64; 2], group: &str| Measurement {
            value,
            interval: Some(interval),
            group: Some(group.into()),
            excluded: vec!["small: 3 rows".into()],
        };
        let measured = |c: &Criterion| match (c.metric, c.attribute.as_str()) {
            (CriterionMetric::PerturbationFlipRate, "origin") => Some(Ok(at(0.03, [0.02, 0.04], "danish"))),
            (CriterionMetric::RecourseGap, "origin") => Some(Ok(at(0.2, [0.12, 0.28], "a vs b"))),
            _ => None,
        };
        let v = evaluate_with_analyses(&c, &report, &measured);
        assert_eq!(v[0].verdict, Outcome::Pass, "{}", v[0].explanation);
        assert_eq!(v[0].group.as_deref(), Some("danish"));
        assert_eq!(v[0].excluded, ["small: 3 rows"]);
        assert_eq!(v[1].verdict, Outcome::Fail, "{}", v[1].explanation);
        // A stage that cannot decide says why.
        let undecided = |_: &Criterion| Some(Err("measured at noise scale 0".into()));
        let v = evaluate_with_analyses(&c, &report, &undecided);
        assert_eq!(v[0].verdict, Outcome::Inconclusive);
        assert_eq!(v[0].explanation, "measured at noise scale 0");
        let refused = parse(
            "[[criterion]]\nattribute = \"origin\"\nmetric = \"recourse_gap\"\nagainst = \"reference\"\nop = \"<=\"\nthreshold = 0.1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(refused.contains("leave `against` out"), "{refused}");
    }
}
