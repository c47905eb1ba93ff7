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
    /// `binary` (yes/no, from `p_true`), `continuous` (a number, e.g. hours a week) or `count` (a
    /// whole number, e.g. visits a month), the last two from `expected`, `value` and `recorded`.
    #[schemars(with = "String")]
    pub kind: Spanned<String>,
    /// Binary: the true probability of a positive outcome, an expression within [0, 1].
    #[schemars(with = "Option<String>")]
    pub p_true: Option<Spanned<String>>,
    /// Continuous or count: the true expected outcome given every cause, observed or not (no
    /// draws) — the `expected_true` column, what `p_true` is to a yes/no outcome.
    #[schemars(with = "Option<String>")]
    pub expected: Option<Spanned<String>>,
    /// Continuous or count: the true outcome, drawn around `expected` (which it may read).
    #[schemars(with = "Option<String>")]
    pub value: Option<Spanned<String>>,
    /// Continuous or count: the outcome as case files record it, from `truth` (the true outcome);
    /// `truth` when absent. Label bias then scales it in the targeted group.
    #[schemars(with = "Option<String>")]
    pub recorded: Option<Spanned<String>>,
    /// Continuous or count: the smallest and largest outcome, true or recorded.
    #[schemars(with = "Option<[f64; 2]>")]
    pub bounds: Option<Spanned<[f64; 2]>>,
    /// Continuous or count: the unit, for the dictionary (e.g. `hours a week`).
    #[schemars(with = "Option<String>")]
    pub unit: Option<Spanned<String>>,
    /// Continuous or count: a second view of the outcome as ordered classes (`level_true`,
    /// `level_recorded`), for models that predict a class.
    pub levels: Option<LevelsSection>,
    /// What the outcome means (binary: what a true positive outcome means).
    #[schemars(with = "String")]
    pub meaning: Spanned<String>,
}

/// `[outcome.levels]`: ordered classes cut from a numeric outcome.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelsSection {
    /// The classes from lowest to highest, e.g. `["none", "light", "medium", "heavy"]`.
    #[schemars(with = "Vec<String>")]
    pub classes: Spanned<Vec<String>>,
    /// Where each class after the first begins: an outcome of at least `from[k]` is class
    /// `k + 1` or higher. Strictly increasing, one fewer than the classes.
    #[schemars(with = "Vec<f64>")]
    pub from: Spanned<Vec<f64>>,
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
