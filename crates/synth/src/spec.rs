//! The dataset specification: everything that determines a dataset's bytes.
//!
//! Two runs with equal specs produce identical data; the spec is stored in every file's
//! metadata so that a dataset can always be regenerated from its own header.

use crate::SynthError;
use crate::bias::{BiasConfig, KEYS};
use crate::scenario::{self, Scenario};
use serde::{Deserialize, Serialize};

/// The generator's version, part of every dataset's identity.
pub const GENERATOR_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Rows per generated batch (originals). Fixed, not derived from the thread count, so output
/// does not depend on parallelism.
pub const BATCH_ROWS: usize = 64 * 1024;

/// Which disjoint part of the row space a dataset draws from.
///
/// Global row `g` is a citizen; `all` takes `g = i`, `train` takes the even rows `g = 2i` and
/// `test` the odd rows `g = 2i + 1`, so train and test never share a citizen (nor a CPR number)
/// and each is reproducible on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
// Variant doc comments would turn this enum's JSON Schema into a `oneOf`, so the variants are
// described in `//` comments.
#[allow(missing_docs)]
pub enum Split {
    // Every citizen.
    All,
    // The even global rows.
    Train,
    // The odd global rows.
    Test,
}

impl Split {
    /// The global row of the `i`-th row of this split: the identity that determines the citizen.
    pub fn global_row(self, i: u64) -> u64 {
        match self {
            Split::All => i,
            Split::Train => 2 * i,
            Split::Test => 2 * i + 1,
        }
    }

    /// Its name, as on the command line and in the data's metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::All => "all",
            Split::Train => "train",
            Split::Test => "test",
        }
    }

    /// Reads a split's name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "all" => Some(Split::All),
            "train" => Some(Split::Train),
            "test" => Some(Split::Test),
            _ => None,
        }
    }
}

/// The attribute a counterfactual twin changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Counterfactual {
    /// The twin is of the other sex (and gets a CPR number of that sex).
    Sex,
    /// Danish-origin citizens' twins are non-Western immigrants; everyone else's twin is of
    /// Danish origin. Country, names, geography, education, work and income follow.
    Origin,
}

impl Counterfactual {
    /// Every attribute a twin can change, for error messages.
    pub const NAMES: &'static [&'static str] = &["sex", "origin"];

    /// Its name, as on the command line and in the data's metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Counterfactual::Sex => "sex",
            Counterfactual::Origin => "origin",
        }
    }

    /// Reads an attribute's name.
    pub fn parse(s: &str) -> Result<Self, SynthError> {
        match s {
            "sex" => Ok(Self::Sex),
            "origin" => Ok(Self::Origin),
            _ => Err(SynthError::UnknownCounterfactual {
                attr: s.to_owned(),
                known: Self::NAMES.join(", "),
            }),
        }
    }
}

/// Everything that determines a dataset's bytes; stored in every file's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DatasetSpec {
    /// The scenario's name.
    pub scenario: String,
    /// Citizens (originals; with twins the file has twice as many rows).
    pub rows: u64,
    /// The seed of every random draw.
    pub seed: u64,
    /// Which half of the population, so train and test never share a citizen.
    pub split: Split,
    /// The injected bias.
    pub bias: BiasConfig,
    /// The attribute twins change; `None`: no twins.
    pub counterfactual: Option<Counterfactual>,
    /// The day ages are counted to (ISO date).
    pub reference_date: String,
    /// The generator's version that wrote the spec.
    pub generator_version: String,
    /// Rows per batch: with the seed it fixes the batches' bytes.
    pub batch_rows: usize,
    /// The SHA-256 of the scenario module the data is drawn from, when it is not one shipped
    /// with this generator version (whose modules the version fixes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
}

impl DatasetSpec {
    /// A spec with the scenario's default (mildly biased) settings.
    pub fn new(scenario: &str, rows: u64, seed: u64) -> Result<Self, SynthError> {
        let s = scenario::by_name(scenario)?;
        if rows == 0 {
            return Err(SynthError::ZeroRows(rows));
        }
        let (y, m, d) = crate::population::REFERENCE_DATE;
        Ok(Self {
            scenario: s.name().to_owned(),
            rows,
            seed,
            split: Split::All,
            bias: s.default_bias(),
            counterfactual: None,
            reference_date: format!("{y:04}-{m:02}-{d:02}"),
            generator_version: GENERATOR_VERSION.to_owned(),
            batch_rows: BATCH_ROWS,
            module: None,
        })
    }

    /// A spec with a loaded module's default settings; the spec records the module's SHA-256.
    pub fn for_module(module: &crate::module::ModuleScenario, rows: u64, seed: u64) -> Result<Self, SynthError> {
        use crate::scenario::Scenario as _;
        if rows == 0 {
            return Err(SynthError::ZeroRows(rows));
        }
        let shipped = crate::scenario::shipped_source(module.name()).is_some_and(|s| s == module.source());
        let (y, m, d) = crate::population::REFERENCE_DATE;
        Ok(Self {
            scenario: module.name().to_owned(),
            rows,
            seed,
            split: Split::All,
            bias: module.default_bias(),
            counterfactual: None,
            reference_date: format!("{y:04}-{m:02}-{d:02}"),
            generator_version: GENERATOR_VERSION.to_owned(),
            batch_rows: BATCH_ROWS,
            module: (!shipped).then(|| module.sha256().to_owned()),
        })
    }

    /// The scenario the spec names: its module when it records one (which must be loaded in
    /// this process), else the shipped scenario of that name.
    pub(crate) fn scenario(&self) -> Result<Box<dyn Scenario>, SynthError> {
        match &self.module {
            None => scenario::by_name(&self.scenario),
            Some(sha) => match crate::module::loaded(sha) {
                Some(m) if m.name() == self.scenario => Ok(Box::new(m)),
                Some(m) => Err(SynthError::Module(format!(
                    "the spec names scenario {:?} but module {sha} is {:?}",
                    self.scenario,
                    m.name()
                ))),
                None => Err(SynthError::Module(format!(
                    "the spec's scenario {:?} comes from module {sha}, which is not loaded here; load the module file first (e.g. --scenario-file)",
                    self.scenario
                ))),
            },
        }
    }

    /// Applies `--bias` arguments in order: `none` resets every knob to no bias, `KEY=VALUE`
    /// sets one knob.
    pub fn apply_bias_args<S: AsRef<str>>(&mut self, args: &[S]) -> Result<(), SynthError> {
        let s: Box<dyn Scenario> = self.scenario()?;
        for arg in args {
            let arg = arg.as_ref();
            if arg == "none" {
                self.bias = BiasConfig::none(s.numeric_features().first().copied());
                continue;
            }
            let (k, v) = arg.split_once('=').ok_or_else(|| {
                if KEYS.contains(&arg) {
                    SynthError::BadBiasSyntax(arg.to_owned())
                } else {
                    SynthError::UnknownBiasKey {
                        key: arg.to_owned(),
                        known: KEYS.join(", "),
                    }
                }
            })?;
            self.bias
                .set(k.trim(), v.trim(), s.numeric_features(), s.has_outcome())?;
        }
        Ok(())
    }
}
