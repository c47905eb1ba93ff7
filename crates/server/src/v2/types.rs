//! The Open Inference Protocol's messages (KServe V2, REST), as this server sends and reads
//! them. The protocol's own names are kept field for field, so that its clients (tritonclient,
//! KServe's) read them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An error, as the protocol has it: one string.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "V2Error")]
pub struct V2ErrorBody {
    pub error: String,
}

/// `GET /v2/health/live`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Live {
    pub live: bool,
}

/// `GET /v2/health/ready`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Ready {
    pub ready: bool,
}

/// A model's readiness: its workers are started.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ModelReady {
    pub name: String,
    pub ready: bool,
}

/// `GET /v2`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ServerMetadata {
    pub name: String,
    pub version: String,
    /// The protocol extensions supported: `binary_tensor_data` (tensors as raw bytes after
    /// the JSON header, `Inference-Header-Content-Length`).
    pub extensions: Vec<String>,
}

/// A tensor a model takes or gives.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TensorMetadata {
    pub name: String,
    /// `FP32`, `INT64` or `BYTES`.
    pub datatype: String,
    /// `[-1]`: any number of rows.
    pub shape: Vec<i64>,
}

/// `GET /v2/models/{model}`: the scenario columns the model reads, and its outputs.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ModelMetadata {
    /// The model's id.
    pub name: String,
    pub versions: Vec<String>,
    pub platform: String,
    pub inputs: Vec<TensorMetadata>,
    pub outputs: Vec<TensorMetadata>,
}

/// A request to score rows.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct InferRequest {
    /// Echoed in the answer.
    #[serde(default)]
    pub id: Option<String>,
    /// One tensor per scenario column the model reads.
    pub inputs: Vec<InputTensor>,
    /// The outputs wanted (`label`, `probability`); both when not given.
    #[serde(default)]
    pub outputs: Option<Vec<RequestedOutput>>,
    /// `binary_data_output: true` asks for every output as raw bytes (the binary tensor
    /// extension); other parameters are ignored.
    #[serde(default)]
    pub parameters: Option<serde_json::Map<String, Value>>,
}

/// One input column: `shape` `[N]` or `[N, 1]`, `data` its values (flat or nested row-major).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct InputTensor {
    pub name: String,
    pub shape: Vec<i64>,
    /// `FP32`, `FP64`, `INT8`–`INT64`, `UINT8`–`UINT64`, `BOOL` for numbers, `BYTES` for categories.
    pub datatype: String,
    /// The values; absent when they follow the JSON as raw bytes (`binary_data_size`).
    #[serde(default)]
    #[schemars(schema_with = "tensor_data")]
    pub data: Option<Value>,
    /// `binary_data_size`: the tensor's raw little-endian bytes follow the JSON header (the
    /// binary tensor extension); other parameters are ignored.
    #[serde(default)]
    pub parameters: Option<serde_json::Map<String, Value>>,
}

/// Numbers, booleans or strings, in arrays nested as deep as the shape.
fn tensor_data(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": {
            "anyOf": [
                {"type": "number"},
                {"type": "boolean"},
                {"type": "string"},
                {"type": "array", "items": {}},
            ]
        },
    })
}

/// An output wanted.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RequestedOutput {
    pub name: String,
    /// `binary_data: true` asks for this output as raw bytes; other parameters are ignored.
    #[serde(default)]
    pub parameters: Option<serde_json::Map<String, Value>>,
}

/// The scores.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InferResponse {
    pub model_name: String,
    pub model_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub outputs: Vec<OutputTensor>,
}

/// One output: `label` (INT64, or BYTES for text classes) or `probability` (FP32, of the
/// positive class), shape `[N]`.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutputTensor {
    pub name: String,
    pub datatype: String,
    pub shape: Vec<usize>,
    /// The values, unless they follow the JSON as raw bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<OutputData>,
    /// `binary_data_size` when the values follow the JSON as raw bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<OutputParameters>,
}

/// An output's parameters.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutputParameters {
    /// How many bytes of the body after the JSON header are this output's.
    pub binary_data_size: usize,
}

/// An output's values.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum OutputData {
    Integers(Vec<i64>),
    Numbers(Vec<f64>),
    Text(Vec<String>),
}
