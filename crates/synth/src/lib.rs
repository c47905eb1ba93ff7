//! Synthetic Danish citizens with known ground truth and controllable injected bias.
//!
//! The crate knows nothing of models, metrics or HTTP. It turns a [`DatasetSpec`] (scenario,
//! rows, seed, split, bias, counterfactual attribute) into Arrow record batches and writes them
//! as Parquet, Arrow IPC or CSV:
//!
//! ```no_run
//! let spec = synth::DatasetSpec::new("unemployment-risk", 1000, 42).unwrap();
//! let generator = synth::Generator::new(spec).unwrap();
//! let batch = generator.batch(0);
//! assert_eq!(batch.num_rows(), 1000);
//! ```
//!
//! Row `i` depends only on the spec and `i` (counter-based randomness), so output is
//! identical whatever the thread count or batch split.

#![deny(missing_docs)]

mod alias;
mod bias;
mod cpr;
mod date;
mod dictionary;
mod error;
mod fidelity;
mod generate;
mod labels;
mod locale;
mod model;
pub mod module;
mod names;
mod noise;
mod paths;
mod population;
mod recourse;
mod refdata;
mod rng;
mod scenario;
mod spec;
mod training;
mod writer;

#[cfg(test)]
mod tests;
// The shared test helpers (`tests/support`) name the crate `synth`, as the integration tests do.
#[cfg(test)]
extern crate self as synth;

pub use bias::{BiasConfig, Direction, Group as BiasGroup};
pub use cpr::{CprError, CprFacts, parse_fictitious as parse_fictitious_cpr};
pub use dictionary::ColumnDoc;
pub use error::SynthError;
pub use fidelity::{FidelityCounts, FidelityReport};
pub use generate::{Generator, meta};
pub use labels::value_names;
pub use noise::{ColumnError, MeasurementError};
pub use paths::{DEFAULT_PROXIES, Path, ResolvedPath, descendants as path_descendants, resolve as resolve_path};
pub use recourse::{ActionDirection, Actionable, RecourseSpec};
pub use scenario::{
    OUTCOME_COLUMNS, OutcomeKind, by_name as scenario_by_name, catalogue as scenario_catalogue,
    columns as scenario_columns, describe as describe_module, measurement_errors, names as scenario_names,
    recourse_spec, shipped_source as scenario_module_source,
};
pub use spec::{Counterfactual, DatasetSpec, GENERATOR_VERSION, Split};
pub use writer::{Format, WriteSummary, write_dataset};

/// Denmark's five regions by name, in Statistics Denmark's code order: the values of the
/// `region` column, and the points of a run's geographic shift.
pub fn regions() -> Vec<&'static str> {
    refdata::get().regions.iter().map(|(_, name)| name.as_str()).collect()
}

/// A generator of a shipped scenario from the Rust implementation its module replaced: only
/// for the benchmark that measures modules against it (`cargo bench -p synth --features oracle`).
#[cfg(feature = "oracle")]
#[doc(hidden)]
pub fn oracle_generator(spec: DatasetSpec) -> Result<Generator, SynthError> {
    let s = scenario::oracle::by_name(&spec.scenario).ok_or_else(|| SynthError::UnknownScenario {
        name: spec.scenario.clone(),
        known: "population, unemployment-risk, rehabilitation-need".into(),
    })?;
    Generator::with_scenario(spec, s)
}
