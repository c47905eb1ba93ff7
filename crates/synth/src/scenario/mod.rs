//! Scenarios: a population selection plus the scenario's own features and outcome.
//!
//! Every shipped scenario is a module file (`crates/synth/scenarios/*.toml`, read by
//! [`crate::module`]) compiled into the binary; a new one is a new file there plus one line in
//! [`SHIPPED`]. An authority's own module is loaded the same way at run time. The [`Scenario`]
//! trait is what the generator, the paths and the analyses see of either.

#[cfg(any(test, feature = "oracle"))]
pub(crate) mod oracle;

use crate::bias::{BiasConfig, Direction};
use crate::dictionary::ColumnDoc;
use crate::model::{Citizen, Employment, Origin};
use crate::paths::Recompute;
use crate::rng::{RowRng, Var};
use arrow::array::{ArrayRef, BooleanArray, Float64Array};
use arrow::datatypes::DataType;
use std::ops::RangeInclusive;
use std::sync::{Arc, OnceLock};

/// One scenario of the sandbox.
pub trait Scenario: Send + Sync + std::fmt::Debug {
    /// The name used on the command line and in metadata.
    fn name(&self) -> &'static str;
    /// One paragraph: who the citizens are, what the outcome means, which real case it mirrors.
    fn summary(&self) -> &'static str;
    /// Ages (at the reference date) of the citizens the scenario draws.
    fn ages(&self) -> RangeInclusive<u8>;
    /// Relative selection weight of an age and sex on top of the population pyramid (e.g. the
    /// newly unemployed are younger than the population).
    fn cohort_weight(&self, _age: u8, _male: bool) -> f64 {
        1.0
    }
    /// Relative selection weight of an origin group on top of the population model.
    fn origin_weight(&self, _origin: Origin) -> f64 {
        1.0
    }
    /// An employment status every citizen of the scenario has (e.g. newly unemployed).
    fn fixed_employment(&self) -> Option<Employment> {
        None
    }
    /// Whether rows carry an outcome (`outcome_true` and `outcome_recorded`, with `p_true` or
    /// `expected_true`).
    fn has_outcome(&self) -> bool {
        true
    }
    /// What the outcome is: what a model of the scenario predicts.
    fn outcome_kind(&self) -> OutcomeKind {
        if self.has_outcome() {
            OutcomeKind::Binary
        } else {
            OutcomeKind::None
        }
    }
    /// Numeric features measurement bias may target; the first is the default.
    fn numeric_features(&self) -> &'static [&'static str] {
        &[]
    }
    /// The mildly biased defaults used when `--bias` is not given.
    fn default_bias(&self) -> BiasConfig {
        BiasConfig::none(self.numeric_features().first().copied())
    }
    /// The scenario's own columns, after the population's.
    fn columns(&self) -> Vec<ColumnDoc>;
    /// The columns that carry no legitimate information for the scenario's decision but tell a
    /// model a protected attribute: what the `proxy` path of a twin recomputes.
    fn proxies(&self) -> &'static [&'static str] {
        crate::paths::DEFAULT_PROXIES
    }
    /// The measurement error of the scenario's own columns (the population's are shared): what the
    /// robustness perturbation moves each input by. Columns not named are recorded exactly.
    fn measurement_errors(&self) -> Vec<crate::noise::ColumnError> {
        Vec::new()
    }
    /// The decision a citizen would want changed and the inputs that can be acted on; `None`
    /// for a scenario without an outcome.
    fn recourse(&self) -> Option<crate::recourse::RecourseSpec> {
        None
    }
    /// A columnar builder for one batch.
    fn builder(&self, capacity: usize) -> Box<dyn ScenarioColumns>;
}

/// The value of a scenario variable in a row: with `held` (the citizen's row and the variables a
/// path-specific twin recomputes) and the variable not recomputed, the citizen's own; else drawn.
#[cfg(any(test, feature = "oracle"))]
macro_rules! held_var {
    ($held:expr, $name:literal, $field:ident, $draw:expr) => {
        match $held {
            Some((o, r)) if !r.has($name) => o.$field,
            _ => $draw,
        }
    };
}
#[cfg(any(test, feature = "oracle"))]
pub(crate) use held_var;

/// Accumulates a scenario's own columns for one batch.
pub trait ScenarioColumns: Send {
    /// Adds the columns' values for one citizen. With `held`, the row is a path-specific twin of
    /// the row pushed last without it: every variable not in the set is copied from that row (its
    /// true and observed values), the rest drawn from the twin's values with the same draws.
    fn push(&mut self, citizen: &Citizen, rng: &RowRng, bias: &BiasConfig, held: Option<&Recompute>);
    /// The finished columns, in the order of the scenario's column docs.
    fn finish(self: Box<Self>) -> Vec<ArrayRef>;
}

/// The shipped scenario modules: name and text.
pub const SHIPPED: &[(&str, &str)] = &[
    ("population", include_str!("../../scenarios/population.toml")),
    (
        "unemployment-risk",
        include_str!("../../scenarios/unemployment-risk.toml"),
    ),
    (
        "rehabilitation-need",
        include_str!("../../scenarios/rehabilitation-need.toml"),
    ),
    (
        "eldercare-visitation",
        include_str!("../../scenarios/eldercare-visitation.toml"),
    ),
];

/// The text of a shipped scenario's module.
pub fn shipped_source(name: &str) -> Option<&'static str> {
    SHIPPED.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

fn shipped() -> &'static [crate::module::ModuleScenario] {
    static S: OnceLock<Vec<crate::module::ModuleScenario>> = OnceLock::new();
    S.get_or_init(|| {
        SHIPPED
            .iter()
            .map(|(name, text)| {
                crate::module::load(&format!("scenarios/{name}.toml"), text)
                    .unwrap_or_else(|e| panic!("a shipped scenario module is valid (tested): {e}"))
            })
            .collect()
    })
}

/// Every shipped scenario.
pub fn all() -> Vec<Box<dyn Scenario>> {
    shipped().iter().map(|m| Box::new(*m) as Box<dyn Scenario>).collect()
}

/// Looks a scenario up by name: a shipped one, or a module loaded in this process under that
/// name (the newest loaded, when several versions were).
pub fn by_name(name: &str) -> Result<Box<dyn Scenario>, crate::SynthError> {
    if let Some(m) = shipped().iter().find(|s| s.name() == name) {
        return Ok(Box::new(*m));
    }
    if let Some(m) = crate::module::loaded_by_name(name) {
        return Ok(Box::new(m));
    }
    Err(crate::SynthError::UnknownScenario {
        name: name.to_owned(),
        known: names().join(", "),
    })
}

/// The outcome columns every outcome scenario shares, with label bias applied in one place.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The index of the row last pushed without holding: what its twins copy.
    last: usize,
    p_true: Vec<f64>,
    truth: Vec<bool>,
    recorded: Vec<bool>,
}

impl Outcome {
    /// An empty outcome for `n` rows.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            last: 0,
            p_true: Vec::with_capacity(n),
            truth: Vec::with_capacity(n),
            recorded: Vec::with_capacity(n),
        }
    }

    /// Draws the true outcome from `p` and the recorded one after label bias; with `held` not
    /// recomputing the outcome (`p_true`), copies the row last pushed without holding.
    #[cfg(any(test, feature = "oracle"))]
    pub fn push(&mut self, p: f64, c: &Citizen, rng: &RowRng, bias: &BiasConfig, held: Option<&Recompute>) {
        let in_group = bias.label_rate > 0.0 && bias.label_group.contains(c);
        self.push_row(p, in_group, rng, bias, held.map(|r| r.has("p_true")));
    }

    /// [`Outcome::push`] for a row whose label-group membership is known: `held` is `None` for
    /// a row of its own, `Some(recompute)` for a twin of the row pushed last without holding,
    /// which copies that row's outcome unless the outcome is recomputed.
    pub fn push_row(&mut self, p: f64, in_label_group: bool, rng: &RowRng, bias: &BiasConfig, held: Option<bool>) {
        match held {
            Some(false) => {
                let i = self.last;
                let (p, t, o) = (self.p_true[i], self.truth[i], self.recorded[i]);
                self.p_true.push(p);
                self.truth.push(t);
                self.recorded.push(o);
                return;
            }
            Some(_) => {}
            None => self.last = self.p_true.len(),
        }
        let truth = rng.bernoulli(Var::Outcome, 0, p);
        let mut recorded = truth;
        if bias.label_rate > 0.0 && in_label_group {
            let flip = rng.bernoulli(Var::LabelBias, 0, bias.label_rate);
            recorded = match (bias.label_direction, truth) {
                (Direction::Down, true) => !flip,
                (Direction::Up, false) => flip,
                _ => truth,
            };
        }
        self.p_true.push(p);
        self.truth.push(truth);
        self.recorded.push(recorded);
    }

    /// Appends `p_true`, `outcome_true` and `outcome` to the batch's columns.
    pub fn finish(self, out: &mut Vec<ArrayRef>) {
        out.push(Arc::new(Float64Array::from(self.p_true)));
        out.push(Arc::new(BooleanArray::from(self.truth)));
        out.push(Arc::new(BooleanArray::from(self.recorded)));
    }

    /// The dictionary entries of the three outcome columns; `positive` says what a positive outcome means.
    pub fn docs(positive: &'static str) -> Vec<ColumnDoc> {
        vec![
            ColumnDoc::new(
                "p_true",
                DataType::Float64,
                "true probability of the outcome given every cause, observed or not",
                &["scenario features", "latent"],
            ),
            ColumnDoc::new("outcome_true", DataType::Boolean, positive, &["p_true"]),
            ColumnDoc::new(
                "outcome_recorded",
                DataType::Boolean,
                "the outcome as historical case files record it: outcome_true after label bias",
                &["outcome_true", "label bias"],
            ),
        ]
    }
}

/// The observed value of a numeric feature: the truth plus measurement-bias noise when the
/// citizen is in the targeted group and the feature is the targeted one.
#[cfg(any(test, feature = "oracle"))]
pub fn observe(truth: f64, feature: &str, k: u32, c: &Citizen, rng: &RowRng, bias: &BiasConfig) -> f64 {
    if bias.measurement_sd > 0.0
        && bias.measurement_feature.as_deref() == Some(feature)
        && bias.measurement_group.contains(c)
    {
        truth + bias.measurement_sd * rng.normal(Var::MeasurementNoise, k)
    } else {
        truth
    }
}

/// The columns that hold the outcome a model is judged against: never a model's input. A yes/no
/// outcome has the first three, a numeric one `expected_true`, `outcome_true` and
/// `outcome_recorded`, and its levels view `level_true` and `level_recorded`.
pub const OUTCOME_COLUMNS: [&str; 6] = [
    "p_true",
    "outcome_true",
    "outcome_recorded",
    "expected_true",
    "level_true",
    "level_recorded",
];

/// What a scenario's outcome is, and so what its models predict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeKind {
    /// No outcome: a population only.
    None,
    /// Yes/no (`p_true`, `outcome_true`, `outcome_recorded` as booleans).
    Binary,
    /// A number (`expected_true`, `outcome_true`, `outcome_recorded` as Float64).
    Continuous,
    /// A whole number (`outcome_true`, `outcome_recorded` as UInt32).
    Count,
}

impl OutcomeKind {
    /// The name modules and reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::None => "none",
            OutcomeKind::Binary => "binary",
            OutcomeKind::Continuous => "continuous",
            OutcomeKind::Count => "count",
        }
    }
}

/// The dictionary entries of a numeric outcome's columns (and of its levels view, if any);
/// `reads` holds what the expected value, the truth and the recording read besides each other.
pub fn numeric_outcome_docs(
    count: bool,
    meaning: &'static str,
    levels: Option<&'static [&'static str]>,
    reads: [&[&'static str]; 3],
) -> Vec<ColumnDoc> {
    let with = |first: &[&'static str], more: &[&'static str]| {
        let mut v: Vec<&'static str> = first.to_vec();
        v.extend(more.iter().filter(|p| !first.contains(p)));
        v
    };
    let ty = if count { DataType::UInt32 } else { DataType::Float64 };
    let mut docs = vec![
        ColumnDoc::new(
            "expected_true",
            DataType::Float64,
            "true expected outcome given every cause, observed or not",
            reads[0],
        ),
        ColumnDoc::new("outcome_true", ty.clone(), meaning, &with(&["expected_true"], reads[1])),
        ColumnDoc::new(
            "outcome_recorded",
            ty,
            "the outcome as case files record it: from outcome_true, then label bias scales it in the targeted group",
            &with(&["outcome_true", "label bias"], reads[2]),
        ),
    ];
    if let Some(levels) = levels {
        docs.push(
            ColumnDoc::new(
                "level_true",
                crate::dictionary::categorical(),
                "outcome_true as an ordered class",
                &["outcome_true"],
            )
            .with_values(levels.to_vec()),
        );
        docs.push(
            ColumnDoc::new(
                "level_recorded",
                crate::dictionary::categorical(),
                "outcome_recorded as an ordered class",
                &["outcome_recorded"],
            )
            .with_values(levels.to_vec()),
        );
    }
    docs
}

/// The names of every shipped scenario.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|s| s.name()).collect()
}

/// The data dictionary of a scenario: the population's columns, then the scenario's own.
pub fn columns(name: &str) -> Result<Vec<ColumnDoc>, crate::SynthError> {
    let s = by_name(name)?;
    let mut columns = crate::dictionary::population_columns();
    columns.extend(s.columns());
    Ok(columns)
}

/// The measurement error of every column of a scenario that registers record with error: the
/// population's, then the scenario's own.
pub fn measurement_errors(name: &str) -> Result<Vec<crate::noise::ColumnError>, crate::SynthError> {
    let s = by_name(name)?;
    let mut errors = crate::noise::population();
    errors.extend(s.measurement_errors());
    Ok(errors)
}

/// The recourse of a scenario: its unfavourable decision and its actionable inputs.
pub fn recourse_spec(name: &str) -> Result<Option<crate::recourse::RecourseSpec>, crate::SynthError> {
    Ok(by_name(name)?.recourse())
}

/// Every scenario described for people and programs: summary, ages, capacity, default bias and
/// the data dictionary (population columns, then the scenario's own). Shown by
/// `sandkasse scenarios` and the service's `/api/v1/scenarios`.
pub fn catalogue() -> Vec<serde_json::Value> {
    shipped().iter().map(describe).collect()
}

/// One scenario module described as [`catalogue`] describes the shipped ones, with its
/// SHA-256 and its Danish summary.
pub fn describe(m: &crate::module::ModuleScenario) -> serde_json::Value {
    let s: &dyn Scenario = m;
    let bias = s.default_bias();
    let model = crate::population::PopulationModel::new(s, &bias, 0, false, 1);
    let mut columns = crate::dictionary::population_columns();
    columns.extend(s.columns());
    serde_json::json!({
        "name": s.name(),
        "summary": s.summary(),
        "summary_da": m.summary_da(),
        "module_sha256": m.sha256(),
        "ages": [s.ages().start(), s.ages().end()],
        "has_outcome": s.has_outcome(),
        "outcome_kind": s.outcome_kind(),
        "max_rows": model.max_capacity(),
        "max_rows_exact_ages": model.exact_capacity(),
        "default_bias": bias,
        "measurable_features": s.numeric_features(),
        "columns": columns,
    })
}
