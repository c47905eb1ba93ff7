//! Inspection of an ONNX model before anything loads it.
//!
//! The model is parsed here, in safe Rust (prost over the committed `onnx.proto`), and checked
//! against rules that ONNX Runtime itself does not enforce or enforces too late: no external
//! data (a path the runtime would open), no in-memory address marker (a pointer the runtime
//! would trust), only the standard operator domains and an allow-list of operators, opsets in
//! the supported range, and caps on sizes that would otherwise be discovered as an exhausted
//! machine. Every finding names the node or tensor it is about.
//!
//! External data is looked for by one walk over the whole model driven by the schema
//! (`external`), not by a list of places, so a tensor in a field nobody listed is still found.

mod external;

use crate::proto::{
    GraphProto, ModelProto, NodeProto, TensorProto, TypeProto, ValueInfoProto, tensor_proto, tensor_shape_proto,
    type_proto,
};
use prost::Message;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// The marker ONNX Runtime reads as "this external data lives at a raw memory address".
pub const MEM_ADDR_MARKER: &[u8] = b"_ORT_MEM_ADDR_";

/// Operators of the default domain a model may use: arithmetic, shape handling, reductions,
/// activations, control flow and the layers of small networks.
pub const ALLOWED_ONNX_OPS: &[&str] = &[
    "Abs",
    "Acos",
    "Add",
    "And",
    "ArgMax",
    "ArgMin",
    "Asin",
    "Atan",
    "BatchNormalization",
    "Cast",
    "CastLike",
    "Ceil",
    "Celu",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "Cos",
    "CumSum",
    "Div",
    "Dropout",
    "Einsum",
    "Elu",
    "Equal",
    "Erf",
    "Exp",
    "Expand",
    "Flatten",
    "Floor",
    "Gather",
    "GatherElements",
    "GatherND",
    "Gelu",
    "Gemm",
    "Greater",
    "GreaterOrEqual",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "If",
    "IsInf",
    "IsNaN",
    "LayerNormalization",
    "LeakyRelu",
    "Less",
    "LessOrEqual",
    "Log",
    "LogSoftmax",
    "Loop",
    "MatMul",
    "Max",
    "Mean",
    "Min",
    "Mod",
    "Mul",
    "Neg",
    "NonZero",
    "Not",
    "OneHot",
    "Or",
    "PRelu",
    "Pow",
    "Range",
    "Reciprocal",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceProd",
    "ReduceSum",
    "ReduceSumSquare",
    "Relu",
    "Reshape",
    "Round",
    "ScatterElements",
    "ScatterND",
    "Selu",
    "Shape",
    "Sigmoid",
    "Sign",
    "Sin",
    "Size",
    "Slice",
    "Softmax",
    "Softplus",
    "Softsign",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Sum",
    "Tan",
    "Tanh",
    "Tile",
    "TopK",
    "Transpose",
    "Trilu",
    "Unsqueeze",
    "Where",
    "Xor",
];

/// Operators of `ai.onnx.ml`: the classical models scikit-learn exporters produce.
pub const ALLOWED_ML_OPS: &[&str] = &[
    "ArrayFeatureExtractor",
    "Binarizer",
    "CastMap",
    "CategoryMapper",
    "DictVectorizer",
    "FeatureVectorizer",
    "Imputer",
    "LabelEncoder",
    "LinearClassifier",
    "LinearRegressor",
    "Normalizer",
    "OneHotEncoder",
    "SVMClassifier",
    "SVMRegressor",
    "Scaler",
    "TreeEnsemble",
    "TreeEnsembleClassifier",
    "TreeEnsembleRegressor",
    "ZipMap",
];

/// Caps on what a model may declare. Defaults suit the tabular models of the sandbox's cases
/// with a wide margin; an operator of the sandbox can raise them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Limits {
    /// Size of the model file.
    pub max_file_bytes: u64,
    /// Nodes, counting those in subgraphs.
    pub max_nodes: usize,
    /// Initializers, counting those in subgraphs.
    pub max_initializers: usize,
    /// Declared size of one initializer, in bytes.
    pub max_tensor_bytes: u64,
    /// Declared size of all initializers together, in bytes.
    pub max_total_tensor_bytes: u64,
    /// Largest fixed dimension of a declared input, output or intermediate shape.
    pub max_declared_dim: i64,
    /// Nesting of subgraphs (If, Loop bodies).
    pub max_subgraph_depth: usize,
    /// Supported opsets of the default domain and of `ai.onnx.ml`, inclusive.
    pub onnx_opsets: (i64, i64),
    /// Supported opsets of `ai.onnx.ml`, inclusive.
    pub ml_opsets: (i64, i64),
    /// Nesting of protobuf messages the schema walk follows (a `TypeProto` can nest without
    /// end); deeper is refused.
    #[serde(default = "default_max_message_depth")]
    pub max_message_depth: usize,
    /// Protobuf messages the schema walk visits; more is refused.
    #[serde(default = "default_max_messages")]
    pub max_messages: usize,
}

fn default_max_message_depth() -> usize {
    Limits::default().max_message_depth
}

fn default_max_messages() -> usize {
    Limits::default().max_messages
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 256 << 20,
            max_nodes: 20_000,
            max_initializers: 20_000,
            max_tensor_bytes: 256 << 20,
            max_total_tensor_bytes: 512 << 20,
            max_declared_dim: 1 << 24,
            max_subgraph_depth: 4,
            onnx_opsets: (7, 23),
            ml_opsets: (1, 5),
            // A model with four levels of subgraphs is about 25 deep; protobuf stops at 100.
            max_message_depth: 64,
            // The sample models hold a few hundred messages; 20,000 nodes with their
            // attributes and value infos a few hundred thousand.
            max_messages: 1_000_000,
        }
    }
}

/// Which rule a finding breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
// Doc comments on all variants would turn this enum's JSON Schema into a `oneOf` of one entry
// each, so the older variants are described in `//` comments.
#[allow(missing_docs)]
pub enum Rule {
    // The file is larger than `max_file_bytes`.
    FileSize,
    // The bytes are not an ONNX model.
    NotOnnx,
    // A tensor's data lives in another file, which could point anywhere.
    ExternalData,
    // The file holds ONNX Runtime's raw memory address marker `_ORT_MEM_ADDR_`.
    MemoryAddressMarker,
    // An operator domain other than ai.onnx and ai.onnx.ml (custom operators are native code).
    Domain,
    // An operator outside the allow-list.
    Operator,
    // An opset outside the supported range.
    Opset,
    // More nodes than `max_nodes`.
    NodeCount,
    // More initializers than `max_initializers`.
    InitializerCount,
    // A declared tensor larger than the limits.
    TensorSize,
    // A declared dimension larger than `max_declared_dim`.
    DeclaredShape,
    // Subgraphs nested deeper than `max_subgraph_depth`.
    SubgraphDepth,
    // Model-local functions, which are not supported.
    Functions,
    // The model does not match its manifest.
    Manifest,
    /// Messages nested deeper, or more of them, than the schema walk follows.
    Nesting,
    /// A field the committed ONNX schema does not know: what it holds cannot be checked.
    UnknownField,
}

/// One reason to reject a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// The rule broken.
    pub rule: Rule,
    /// The node, tensor, input or output concerned (`graph` path for subgraphs).
    pub location: String,
    /// What was found, for the vendor to fix.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// A graph input or output as declared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Port {
    /// Its name in the graph.
    pub name: String,
    /// `tensor(float)`, `seq(map(int64,tensor(float)))`, ...
    pub r#type: String,
    /// Element type of a tensor (`float`, `int64`, `string`, ...); `None` for non-tensors.
    pub elem_type: Option<String>,
    /// Dimensions: a number, a symbolic name, or `?`. `None` for non-tensors or no shape.
    pub shape: Option<Vec<String>>,
}

impl Port {
    /// The fixed size of dimension `i`, if declared.
    pub fn dim(&self, i: usize) -> Option<i64> {
        self.shape.as_ref()?.get(i)?.parse().ok()
    }

    /// Whether this is a sequence of maps (a ZipMap output).
    pub fn is_sequence_of_maps(&self) -> bool {
        self.r#type.starts_with("seq(map(")
    }
}

/// What a reviewer reads about a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    /// SHA-256 of the file, the model's identity in every record.
    pub sha256: String,
    /// Size of the file.
    pub file_bytes: u64,
    /// The ONNX IR version.
    pub ir_version: i64,
    /// The tool that wrote the model, as it claims.
    pub producer: String,
    /// Opset version per domain.
    pub opsets: BTreeMap<String, i64>,
    /// The graph's inputs.
    pub inputs: Vec<Port>,
    /// The graph's outputs.
    pub outputs: Vec<Port>,
    /// `domain:op` (default domain without prefix) -> count, subgraphs included.
    pub operators: BTreeMap<String, usize>,
    /// Nodes, subgraphs included.
    pub nodes: usize,
    /// Initializers, subgraphs included.
    pub initializers: usize,
    /// Elements of all initializers and constant tensors, plus the numbers in node
    /// attributes (where linear and tree models keep their weights).
    pub parameters: u64,
    /// What does not stop the model but its readers must know, such as categories the data
    /// can hold that no one-hot list names (those rows get all zeros). Filled when the
    /// manifest is checked against its scenario; absent in records from before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The outcome of inspection: the summary (as far as the file could be read) and the
/// findings. A model is accepted only with no findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Inspection {
    /// What could be read of the model.
    pub summary: Summary,
    /// Every reason to reject it; empty when accepted.
    pub findings: Vec<Finding>,
}

impl Inspection {
    /// Whether the model may be loaded: no findings.
    pub fn accepted(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Size in bytes of one element of an ONNX tensor type (strings count their pointer).
fn elem_bytes(t: i32) -> u64 {
    use tensor_proto::DataType as D;
    match D::try_from(t).unwrap_or(D::Undefined) {
        D::Bool | D::Int8 | D::Uint8 | D::Float8e4m3fn | D::Float8e4m3fnuz | D::Float8e5m2 | D::Float8e5m2fnuz => 1,
        D::Int16 | D::Uint16 | D::Float16 | D::Bfloat16 => 2,
        D::Int32 | D::Uint32 | D::Float => 4,
        D::Int64 | D::Uint64 | D::Double | D::Complex64 | D::String => 8,
        D::Complex128 => 16,
        _ => 1,
    }
}

fn elem_name(t: i32) -> String {
    use tensor_proto::DataType as D;
    match D::try_from(t) {
        Ok(D::Float) => "float".into(),
        Ok(D::Double) => "double".into(),
        Ok(D::Int64) => "int64".into(),
        Ok(D::Int32) => "int32".into(),
        Ok(D::String) => "string".into(),
        Ok(D::Bool) => "bool".into(),
        Ok(other) => other.as_str_name().to_ascii_lowercase(),
        Err(_) => format!("unknown({t})"),
    }
}

fn type_string(t: Option<&TypeProto>) -> String {
    match t.and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(x)) => format!("tensor({})", elem_name(x.elem_type.unwrap_or(0))),
        Some(type_proto::Value::SequenceType(s)) => format!("seq({})", type_string(s.elem_type.as_deref())),
        Some(type_proto::Value::MapType(m)) => format!(
            "map({},{})",
            elem_name(m.key_type.unwrap_or(0)),
            type_string(m.value_type.as_deref())
        ),
        Some(type_proto::Value::OptionalType(o)) => format!("optional({})", type_string(o.elem_type.as_deref())),
        Some(type_proto::Value::SparseTensorType(x)) => {
            format!("sparse_tensor({})", elem_name(x.elem_type.unwrap_or(0)))
        }
        Some(type_proto::Value::OpaqueType(_)) => "opaque".into(),
        None => "unknown".into(),
    }
}

fn port(v: &ValueInfoProto) -> Port {
    let tensor = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(x)) => Some(x),
        _ => None,
    };
    Port {
        name: v.name.clone().unwrap_or_default(),
        r#type: type_string(v.r#type.as_ref()),
        elem_type: tensor.map(|x| elem_name(x.elem_type.unwrap_or(0))),
        shape: tensor.and_then(|x| x.shape.as_ref()).map(|s| {
            s.dim
                .iter()
                .map(|d| match &d.value {
                    Some(tensor_shape_proto::dimension::Value::DimValue(v)) => v.to_string(),
                    Some(tensor_shape_proto::dimension::Value::DimParam(p)) => p.clone(),
                    None => "?".into(),
                })
                .collect()
        }),
    }
}

/// Walks a graph and its subgraphs, collecting counts and findings.
struct Walker<'l> {
    limits: &'l Limits,
    findings: Vec<Finding>,
    operators: BTreeMap<String, usize>,
    nodes: usize,
    initializers: usize,
    parameters: u64,
    total_tensor_bytes: u64,
    reported_node_cap: bool,
}

impl Walker<'_> {
    fn find(&mut self, rule: Rule, location: impl Into<String>, message: impl Into<String>) {
        // A hostile model can have a million bad nodes; a reviewer needs the first few.
        if self.findings.len() < 100 {
            self.findings.push(Finding {
                rule,
                location: location.into(),
                message: message.into(),
            });
        }
    }

    fn tensor(&mut self, t: &TensorProto, location: &str) {
        let name = t.name.clone().unwrap_or_default();
        let loc = format!("{location}tensor {name:?}");
        let mut elements: u64 = 1;
        for &d in &t.dims {
            if d < 0 {
                self.find(Rule::TensorSize, &loc, format!("negative dimension {d}"));
                return;
            }
            elements = elements.saturating_mul(d as u64);
        }
        let bytes = elements.saturating_mul(elem_bytes(t.data_type.unwrap_or(0)));
        if bytes > self.limits.max_tensor_bytes {
            self.find(
                Rule::TensorSize,
                &loc,
                format!(
                    "declares {:?} = {bytes} bytes, over the cap of {} bytes",
                    t.dims, self.limits.max_tensor_bytes
                ),
            );
        }
        self.parameters = self.parameters.saturating_add(elements);
        let before = self.total_tensor_bytes;
        self.total_tensor_bytes = self.total_tensor_bytes.saturating_add(bytes);
        if before <= self.limits.max_total_tensor_bytes && self.total_tensor_bytes > self.limits.max_total_tensor_bytes
        {
            self.find(
                Rule::TensorSize,
                &loc,
                format!(
                    "initializers declare more than {} bytes in all",
                    self.limits.max_total_tensor_bytes
                ),
            );
        }
    }

    fn shape(&mut self, v: &ValueInfoProto, what: &str, location: &str) {
        if let Some(type_proto::Value::TensorType(x)) = v.r#type.as_ref().and_then(|t| t.value.as_ref())
            && let Some(s) = &x.shape
        {
            for (i, d) in s.dim.iter().enumerate() {
                if let Some(tensor_shape_proto::dimension::Value::DimValue(n)) = d.value
                    && !(0..=self.limits.max_declared_dim).contains(&n)
                {
                    self.find(
                        Rule::DeclaredShape,
                        format!("{location}{what} {:?}", v.name.clone().unwrap_or_default()),
                        format!(
                            "dimension {i} is declared as {n}, outside 0..={}",
                            self.limits.max_declared_dim
                        ),
                    );
                }
            }
        }
    }

    fn node(&mut self, n: &NodeProto, index: usize, location: &str, depth: usize) {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            if !self.reported_node_cap {
                self.reported_node_cap = true;
                self.find(
                    Rule::NodeCount,
                    location.trim_end_matches(": ").to_owned() + " graph",
                    format!("more than {} nodes", self.limits.max_nodes),
                );
            }
            return;
        }
        let op = n.op_type.clone().unwrap_or_default();
        let domain = n.domain.clone().unwrap_or_default();
        let loc = format!(
            "{location}node {:?} ({op}, #{index})",
            n.name.clone().filter(|s| !s.is_empty()).unwrap_or_default()
        );
        let key = match domain.as_str() {
            "" | "ai.onnx" => op.clone(),
            d => format!("{d}:{op}"),
        };
        *self.operators.entry(key).or_default() += 1;
        match domain.as_str() {
            "" | "ai.onnx" => {
                if !ALLOWED_ONNX_OPS.contains(&op.as_str()) {
                    self.find(
                        Rule::Operator,
                        &loc,
                        format!("operator {op:?} is not on the allow-list"),
                    );
                }
            }
            "ai.onnx.ml" => {
                if !ALLOWED_ML_OPS.contains(&op.as_str()) {
                    self.find(
                        Rule::Operator,
                        &loc,
                        format!("operator ai.onnx.ml:{op} is not on the allow-list"),
                    );
                }
            }
            other => self.find(
                Rule::Domain,
                &loc,
                format!("operator domain {other:?} is not allowed (only ai.onnx and ai.onnx.ml)"),
            ),
        }
        for a in &n.attribute {
            let aloc = format!("{loc} attribute {:?}: ", a.name.clone().unwrap_or_default());
            // Classical models (linear, trees) keep their weights in attributes.
            self.parameters = self.parameters.saturating_add((a.floats.len() + a.ints.len()) as u64);
            if let Some(t) = &a.t {
                self.tensor(t, &aloc);
            }
            for t in &a.tensors {
                self.tensor(t, &aloc);
            }
            for g in a.g.iter().chain(&a.graphs) {
                if depth + 1 > self.limits.max_subgraph_depth {
                    self.find(
                        Rule::SubgraphDepth,
                        &loc,
                        format!("subgraphs nested deeper than {}", self.limits.max_subgraph_depth),
                    );
                } else {
                    self.graph(g, &aloc, depth + 1);
                }
            }
        }
    }

    fn graph(&mut self, g: &GraphProto, location: &str, depth: usize) {
        self.initializers += g.initializer.len() + g.sparse_initializer.len();
        if self.initializers > self.limits.max_initializers {
            self.find(
                Rule::InitializerCount,
                format!("{location}graph"),
                format!("more than {} initializers", self.limits.max_initializers),
            );
            return;
        }
        for t in &g.initializer {
            self.tensor(t, location);
        }
        for s in &g.sparse_initializer {
            for t in s.values.iter().chain(&s.indices) {
                self.tensor(t, location);
            }
        }
        for v in &g.input {
            self.shape(v, "input", location);
        }
        for v in &g.output {
            self.shape(v, "output", location);
        }
        for v in &g.value_info {
            self.shape(v, "value", location);
        }
        for (i, n) in g.node.iter().enumerate() {
            self.node(n, i, location, depth);
            if self.reported_node_cap {
                return;
            }
        }
    }
}

/// Inspects the bytes of a model file.
pub fn inspect(bytes: &[u8], limits: &Limits) -> Inspection {
    let mut summary = Summary {
        sha256: hex(&Sha256::digest(bytes)),
        file_bytes: bytes.len() as u64,
        ir_version: 0,
        producer: String::new(),
        opsets: BTreeMap::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        operators: BTreeMap::new(),
        nodes: 0,
        initializers: 0,
        parameters: 0,
        warnings: Vec::new(),
    };
    let reject = |summary: Summary, rule: Rule, location: &str, message: String| Inspection {
        summary,
        findings: vec![Finding {
            rule,
            location: location.to_owned(),
            message,
        }],
    };
    if bytes.len() as u64 > limits.max_file_bytes {
        return reject(
            summary,
            Rule::FileSize,
            "file",
            format!("{} bytes, over the cap of {} bytes", bytes.len(), limits.max_file_bytes),
        );
    }
    let model = match ModelProto::decode(bytes) {
        Ok(m) => m,
        Err(e) => {
            return reject(
                summary,
                Rule::NotOnnx,
                "file",
                format!("not a readable ONNX model (protobuf: {e})"),
            );
        }
    };
    let mut w = Walker {
        limits,
        findings: Vec::new(),
        operators: BTreeMap::new(),
        nodes: 0,
        initializers: 0,
        parameters: 0,
        total_tensor_bytes: 0,
        reported_node_cap: false,
    };
    // External data first: wherever the schema allows a tensor, by one walk over the schema.
    for f in external_data_findings(bytes, limits) {
        w.find(f.rule, f.location, f.message);
    }
    summary.ir_version = model.ir_version.unwrap_or(0);
    summary.producer = format!(
        "{} {}",
        model.producer_name.clone().unwrap_or_default(),
        model.producer_version.clone().unwrap_or_default()
    )
    .trim()
    .to_owned();
    for o in &model.opset_import {
        let domain = o.domain.clone().unwrap_or_default();
        let version = o.version.unwrap_or(0);
        let (name, range) = match domain.as_str() {
            "" | "ai.onnx" => ("ai.onnx".to_owned(), Some(limits.onnx_opsets)),
            "ai.onnx.ml" => (domain.clone(), Some(limits.ml_opsets)),
            _ => (domain.clone(), None),
        };
        match range {
            Some((lo, hi)) if !(lo..=hi).contains(&version) => w.find(
                Rule::Opset,
                format!("opset_import {name:?}"),
                format!("version {version} is outside the supported {lo}..={hi}"),
            ),
            Some(_) => {}
            None => w.find(
                Rule::Domain,
                format!("opset_import {name:?}"),
                "operator domains other than ai.onnx and ai.onnx.ml are not allowed",
            ),
        }
        summary.opsets.insert(name, version);
    }
    if !model.functions.is_empty() {
        w.find(
            Rule::Functions,
            format!("function {:?}", model.functions[0].name.clone().unwrap_or_default()),
            "model-local functions are not supported",
        );
    }
    match &model.graph {
        Some(g) => {
            let initializers: BTreeSet<&str> = g.initializer.iter().filter_map(|t| t.name.as_deref()).collect();
            summary.inputs = g
                .input
                .iter()
                .filter(|v| !initializers.contains(v.name.as_deref().unwrap_or_default()))
                .map(port)
                .collect();
            summary.outputs = g.output.iter().map(port).collect();
            w.graph(g, "", 0);
        }
        None => w.find(Rule::NotOnnx, "model", "the model has no graph"),
    }
    // The marker anywhere else (a doc string, an attribute) is as suspect as in a tensor.
    if w.findings.iter().all(|f| f.rule != Rule::MemoryAddressMarker)
        && let Some(at) = bytes.windows(MEM_ADDR_MARKER.len()).position(|x| x == MEM_ADDR_MARKER)
    {
        w.find(
            Rule::MemoryAddressMarker,
            format!("byte {at}"),
            "the file contains ONNX Runtime's raw memory address marker _ORT_MEM_ADDR_",
        );
    }
    // As the ONNX checker has it: a domain some node uses must be imported. A graph of
    // ai.onnx.ml operators only (what onnxmltools writes for a tree ensemble) needs no
    // default-domain opset.
    for (domain, prefix) in [("ai.onnx", None), ("ai.onnx.ml", Some("ai.onnx.ml:"))] {
        let used = w.operators.keys().find(|op| match prefix {
            None => !op.contains(':'),
            Some(p) => op.starts_with(p),
        });
        if let Some(op) = used
            && !summary.opsets.contains_key(domain)
        {
            w.find(
                Rule::Opset,
                "opset_import",
                format!("operator {op:?} is of domain {domain:?}, but no opset of {domain:?} is imported"),
            );
        }
    }
    summary.operators = w.operators;
    summary.nodes = w.nodes;
    summary.initializers = w.initializers;
    summary.parameters = w.parameters;
    Inspection {
        summary,
        findings: w.findings,
    }
}

/// Every tensor anywhere in the model (initializers, attributes, sparse tensors, subgraphs,
/// functions, `training_info`, any field the schema allows) that keeps its data outside the
/// model file or names ONNX Runtime's memory address marker, each with the path to it; and
/// anything that stops the walk (unreadable bytes, unknown fields, nesting over the caps).
///
/// Cheap (one pass over the field tags, tensor data skipped, no copy), so the worker calls
/// it on the bytes it is about to hand to ONNX Runtime even though the parent inspected them.
pub fn external_data_findings(bytes: &[u8], limits: &Limits) -> Vec<Finding> {
    external::walk(bytes, limits, false).0
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl Summary {
    /// A summary a reviewer can read, in a terminal.
    ///
    /// Every name in it (producer, opset domains, inputs and outputs, their types and
    /// dimensions, operators) is the model's own text: each goes through
    /// [`escape::terminal`], so an escape sequence or a newline in a name is shown, not obeyed,
    /// and cannot erase or fake the "accepted" line printed after this summary.
    pub fn to_text(&self) -> String {
        use escape::terminal as t;
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "sha256      {}", t(&self.sha256));
        let _ = writeln!(s, "size        {} bytes", self.file_bytes);
        let _ = writeln!(s, "producer    {} (IR version {})", t(&self.producer), self.ir_version);
        let opsets: Vec<String> = self.opsets.iter().map(|(d, v)| format!("{} {v}", t(d))).collect();
        let _ = writeln!(s, "opsets      {}", opsets.join(", "));
        for (what, ports) in [("input", &self.inputs), ("output", &self.outputs)] {
            for p in ports {
                let shape = p
                    .shape
                    .as_ref()
                    .map(|d| format!(" [{}]", t(&d.join(", "))))
                    .unwrap_or_default();
                let _ = writeln!(s, "{what:<11} {} {}{shape}", t(&p.name), t(&p.r#type));
            }
        }
        let _ = writeln!(
            s,
            "graph       {} nodes, {} initializers, {} parameters",
            self.nodes, self.initializers, self.parameters
        );
        let ops: Vec<String> = self.operators.iter().map(|(o, n)| format!("{} x{n}", t(o))).collect();
        let _ = writeln!(s, "operators   {}", ops.join(", "));
        for w in &self.warnings {
            let _ = writeln!(s, "warning     {}", t(w));
        }
        s
    }
}
