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
//! Row `i` depends only on the spec and `i` (counter-based randomness, [`rng`]), so output is
//! identical whatever the thread count or batch split.

pub mod alias;
pub mod bias;
pub mod cpr;
pub mod date;
pub mod dictionary;
mod error;
pub mod fidelity;
pub mod generate;
pub mod labels;
pub mod locale;
pub mod model;
pub mod names;
pub mod population;
pub mod refdata;
pub mod rng;
pub mod scenario;
pub mod spec;
pub mod writer;

pub use error::SynthError;
pub use generate::Generator;
pub use spec::{Counterfactual, DatasetSpec, Split};
pub use writer::{Format, WriteSummary, write_dataset};
