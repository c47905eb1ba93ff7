//! Untrusted ONNX models: inspection before loading, the vendor's manifest, feature tensors
//! from Arrow, and scoring in an isolated worker process.

pub mod client;
pub mod features;
pub mod inspect;
pub mod manifest;
pub mod pipe;
pub mod protocol;
pub mod runtime;
pub mod sandbox;
pub mod worker;

pub mod proto {
    //! The ONNX protobuf types, generated from `proto/onnx.proto`.
    #![allow(clippy::all, missing_docs)]
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}
