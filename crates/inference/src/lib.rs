//! Untrusted ONNX models: inspection before loading, the vendor's manifest, feature tensors
//! from Arrow, and scoring in an isolated worker process.

#![deny(missing_docs)]

mod client;
mod features;
mod inspect;
mod manifest;
mod pipe;
mod protocol;
mod runtime;
mod sandbox;
mod worker;

pub use client::{Cause, MAX_PREDICTED_VALUE, Pool, PoolEvent, Worker, WorkerConfig, WorkerError};
pub use features::{FeatureError, InputTensor, TensorData, build as build_features};
pub use inspect::{Finding, Inspection, Limits, Port, Rule, Summary, external_data_findings, inspect};
pub use manifest::{
    ClassValue, ColumnSpec, DType, InputSpec, MAX_CLASS_BYTES, MAX_CLASSES, MAX_FEATURES, MAX_MANIFEST_BYTES, Manifest,
    MulticlassOutput, Output, OutputSpec, RegressionOutput, Task,
};
pub use protocol::{MAX_ERROR_TEXT, Probe, ProbeOutcome, Ready};
pub use runtime::{
    Model, RuntimeError, environment as runtime_environment, load as load_runtime, locate as locate_runtime,
};
pub use sandbox::{
    Config as SandboxConfig, DISABLED_FOR_TEST, LayerStatus, early as isolate_before_runtime,
    known_layer as known_isolation_layer, late as isolate_after_runtime, probe as probe_isolation, worker_read_paths,
};
pub use worker::{WorkerArgs, main as worker_main};

/// The ONNX protobuf types, generated: the module is the unit of API (tests build models with it).
pub mod proto {
    //! The ONNX protobuf types, generated from `proto/onnx.proto`.
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}
