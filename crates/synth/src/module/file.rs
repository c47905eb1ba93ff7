//! The module file as written: TOML read into these types with the byte span of every value a
//! message may have to point at. Unknown keys are refused (a typo must not silently drop a knob).

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// The format every module names on its first line, so a future format is never misread.
pub const FORMAT: &str = "sandkasse-scenario-v1";

/// A whole module file.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModuleFile {
    /// Always `sandkasse-scenario-v1`.
    #[schemars(with = "String")]
    pub format: Spanned<String>,
    /// The scenario's name: lowercase letters, digits and `-`, 3–48 characters.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// What the scenario is, in Danish and English.
    pub summary: Summary,
    /// Who is drawn from the population.
    pub population: PopulationSection,
    /// Named helper expressions, inlined where they are used (no column of their own).
    #[serde(default)]
    pub define: Vec<Define>,
    /// Lookup tables keyed by a category, called like functions: `care_factor(municipality)`.
    #[serde(default)]
    pub table: Vec<Table>,
    /// The scenario's own variables, in the order of their columns.
    #[serde(default)]
    pub variable: Vec<Variable>,
    /// The outcome; a module without one describes a population only.
    pub outcome: Option<OutcomeSection>,
    /// The default injected bias and the variables measurement bias may target.
    pub bias: Option<BiasSection>,
    /// Columns that carry no legitimate information but tell a model a protected attribute.
    #[schemars(with = "Option<Vec<String>>")]
    pub proxies: Option<Spanned<Vec<String>>>,
    /// How far each observed column can be from the truth (what robustness perturbs).
    #[serde(default)]
    pub measurement_error: Vec<MeasurementErrorSection>,
    /// The decision a citizen would want changed and what can be acted on.
    pub recourse: Option<RecourseSection>,
}

/// Danish and English text.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    #[schemars(with = "String")]
    pub da: Spanned<String>,
    #[schemars(with = "String")]
    pub en: Spanned<String>,
}

/// Who is drawn.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PopulationSection {
    /// Youngest and oldest age at the reference date, e.g. `[65, 110]`.
    #[schemars(with = "[u8; 2]")]
    pub ages: Spanned<[u8; 2]>,
    /// Relative selection weight by `age` and `male` on top of the population pyramid.
    #[schemars(with = "Option<String>")]
    pub cohort_weight: Option<Spanned<String>>,
    /// Relative selection weight by origin group (others weigh 1).
    #[schemars(with = "Option<BTreeMap<String, f64>>")]
    pub origin_weights: Option<Spanned<BTreeMap<String, f64>>>,
    /// An employment status every citizen of the scenario has, e.g. `unemployed`.
    #[schemars(with = "Option<String>")]
    pub employment: Option<Spanned<String>>,
}

/// `[[define]]`: a named helper expression.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Define {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[schemars(with = "String")]
    pub value: Spanned<String>,
}

/// `[[table]]`: numbers by the values of a category.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Table {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// The category it is keyed by (a population category or a category variable).
    #[schemars(with = "String")]
    pub key: Spanned<String>,
    /// A number for each value; values not named take `default`.
    #[schemars(with = "BTreeMap<String, f64>")]
    pub values: Spanned<BTreeMap<String, f64>>,
    /// The number of every value not named; without it every value must be named.
    pub default: Option<f64>,
}

/// `[[variable]]`: one variable of the causal model.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// `bool`, `u8`, `u16`, `u32`, `i32`, `f32`, `f64` or `category`.
    #[schemars(with = "String")]
    pub r#type: Spanned<String>,
    /// What it means, for the data dictionary.
    #[schemars(with = "String")]
    pub meaning: Spanned<String>,
    /// A latent variable is drawn but never written: an unobserved cause.
    #[serde(default)]
    pub latent: bool,
    /// Its causes as the dictionary lists them: columns, latent variables (with a trailing
    /// `*`), and `measurement bias` for a variable measurement bias may target.
    #[serde(default = "no_names")]
    #[schemars(with = "Vec<String>")]
    pub parents: Spanned<Vec<String>>,
    /// Its true value: an expression over its parents and draws.
    #[schemars(with = "Option<String>")]
    pub value: Option<Spanned<String>>,
    /// A category's values, in dictionary order.
    pub values: Option<Vec<String>>,
    /// A category's draw: one weight expression per value.
    #[schemars(with = "Option<Vec<String>>")]
    pub weights: Option<Spanned<Vec<Spanned<String>>>>,
    /// Its recorded value from `measured` (the truth after measurement bias); the truth by default.
    #[schemars(with = "Option<String>")]
    pub observed: Option<Spanned<String>>,
    /// Smallest value the recorded column may hold (the type's range by default).
    pub min: Option<f64>,
    /// Largest value the recorded column may hold.
    pub max: Option<f64>,
    /// The random stream of its draws: `latent`, `scenario_a` … `scenario_h`, optionally
    /// `/K` for the first draw's index; by default a stream of its own named after it.
    #[schemars(with = "Option<String>")]
    pub stream: Option<Spanned<String>>,
    /// The index of its measurement-bias noise draw (its place in `bias.measurable` by default).
    pub measurement_draw: Option<u32>,
}

/// `[outcome]`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeSection {
    /// `binary` (the kind this version runs).
    #[schemars(with = "String")]
    pub kind: Spanned<String>,
    /// The true probability of a positive outcome, an expression within [0, 1].
    #[schemars(with = "String")]
    pub p_true: Spanned<String>,
    /// What a true positive outcome means.
    #[schemars(with = "String")]
    pub meaning: Spanned<String>,
}

/// `[bias]`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BiasSection {
    /// Numeric variables measurement bias may target; the first is the default target.
    #[serde(default = "no_names")]
    #[schemars(with = "Vec<String>")]
    pub measurable: Spanned<Vec<String>>,
    /// The default bias, keys as `--bias` takes them; knobs not named are off.
    #[schemars(with = "Option<BTreeMap<String, BiasValue>>")]
    pub default: Option<Spanned<BTreeMap<String, toml::Value>>>,
}

/// `[[measurement_error]]`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasurementErrorSection {
    #[schemars(with = "String")]
    pub column: Spanned<String>,
    /// `normal` (value + sd·z) or `relative` (value·(1 + sd·z)).
    #[schemars(with = "String")]
    pub kind: Spanned<String>,
    pub sd: f64,
    pub min: f64,
    pub max: f64,
    /// Where the scale comes from, for the reader of a report.
    pub why: String,
}

/// `[recourse]`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecourseSection {
    /// Whether the positive decision is the one a citizen wants changed.
    pub unfavourable: bool,
    pub why: String,
    pub action: Vec<ActionSection>,
}

/// `[[recourse.action]]`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionSection {
    #[schemars(with = "String")]
    pub column: Spanned<String>,
    /// `up`, `down` or `either`.
    pub direction: String,
    pub min: f64,
    pub max: f64,
    pub unit: Option<f64>,
    pub why: String,
}

fn no_names() -> Spanned<Vec<String>> {
    Spanned::new(0..0, Vec::new())
}

/// A bias knob's value as the schema describes it: a group or direction as text, a rate,
/// factor or standard deviation as a number (checked by the knob itself when loaded).
#[derive(schemars::JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum BiasValue {
    Text(String),
    Number(f64),
}
