//! The manifest: the vendor's description of how scenario columns become the model's input
//! tensors and which outputs carry the decision.
//!
//! Parsed strictly (unknown fields are errors, sizes bounded), then checked against the model's
//! declared inputs and outputs, so a mismatch is found at upload rather than as a runtime error
//! in the middle of a run.

use crate::inspect::{Finding, Rule, Summary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Manifests larger than this are refused before parsing.
pub const MAX_MANIFEST_BYTES: usize = 256 * 1024;
/// Input columns after one-hot expansion, over all tensors.
pub const MAX_FEATURES: usize = 10_000;

/// The vendor's description of a model: which scenario columns feed which input tensors, and which output is the decision. Checked against the model at inspection, before any worker loads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The vendor's name for the model.
    pub name: String,
    /// The vendor's version label.
    pub version: String,
    /// The scenario whose columns the inputs use (see `sandkasse scenarios`).
    pub scenario: String,
    /// Free text for the reports.
    #[serde(default)]
    pub description: String,
    /// The model's input tensors, each built from scenario columns.
    pub inputs: Vec<InputSpec>,
    /// Which outputs hold the prediction: a yes/no decision and its probability (the default,
    /// `task = "binary"`), a number (`task = "regression"`), or one of several classes
    /// (`task = "multiclass"`).
    pub output: Output,
}

/// One input tensor of shape `[rows, width]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// The graph input's name.
    pub tensor: String,
    /// The tensor's element type.
    pub dtype: DType,
    /// In order: a plain column is one value (booleans 0/1); a column with `one_hot` is one
    /// value per listed category (1 where the row has that category, else 0; an unlisted
    /// category gives all zeros). With dtype `string`, each column is its category's text.
    pub columns: Vec<ColumnSpec>,
}

/// The element type of an input tensor: the model decides it (its declared input type), and
/// the sandbox casts the scenario's column to it, so a model exported straight from a data
/// frame (one input per column, each of the frame's own type) needs no recasting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
// Variant doc comments would turn this enum's JSON Schema into a `oneOf`, so the variants are
// described in `//` comments.
#[allow(missing_docs)]
pub enum DType {
    // ONNX `float`.
    Float32,
    // ONNX `double`.
    Float64,
    // ONNX `int32`.
    Int32,
    // ONNX `int64`.
    Int64,
    // ONNX `bool`: yes/no columns, and one-hot categories.
    Bool,
    // ONNX `string`.
    String,
}

impl DType {
    /// Every element type, in the order the manifest documentation lists them.
    pub const ALL: [DType; 6] = [
        DType::Float32,
        DType::Float64,
        DType::Int32,
        DType::Int64,
        DType::Bool,
        DType::String,
    ];

    /// The ONNX element type name, as [`crate::inspect::Port::elem_type`] spells it.
    pub fn onnx_name(self) -> &'static str {
        match self {
            DType::Float32 => "float",
            DType::Float64 => "double",
            DType::Int32 => "int32",
            DType::Int64 => "int64",
            DType::Bool => "bool",
            DType::String => "string",
        }
    }

    /// The manifest's name for it (`dtype = "..."`).
    pub fn manifest_name(self) -> &'static str {
        match self {
            DType::Float32 => "float32",
            DType::Float64 => "float64",
            DType::Int32 => "int32",
            DType::Int64 => "int64",
            DType::Bool => "bool",
            DType::String => "string",
        }
    }

    /// The element type whose ONNX name is `name` (`"float"`, `"int64"`, ...), if the sandbox
    /// can build it.
    pub fn from_onnx_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.onnx_name() == name)
    }

    /// Integer tensors: a column with fractions cannot feed them without losing them.
    pub fn is_integer(self) -> bool {
        matches!(self, DType::Int32 | DType::Int64)
    }
}

/// One scenario column feeding an input tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// The column's name in the data.
    pub column: String,
    /// The categories to one-hot encode it into; `None`: the column's value as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_hot: Option<Vec<String>>,
}

impl ColumnSpec {
    /// Values it adds to each row of the tensor: 1, or one per one-hot category.
    pub fn width(&self) -> usize {
        self.one_hot.as_ref().map_or(1, Vec::len)
    }
}

/// A class label: the models' labels are integers or strings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
// Variant doc comments would add descriptions to the `anyOf` entries of this enum's JSON
// Schema, so the variants are described in `//` comments.
#[allow(missing_docs)]
pub enum ClassValue {
    // An integer class (`0`, `1`).
    Int(i64),
    // A text class (`"yes"`).
    Text(String),
}

impl std::fmt::Display for ClassValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClassValue::Int(i) => write!(f, "{i}"),
            ClassValue::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// Which outputs of the model the sandbox reads, and how a decision is made from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// The output with the predicted class. Absent for a model that only outputs a
    /// probability (as PyTorch and Keras export them): its label is then the positive class
    /// where P(positive class) >= threshold and the other class elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The output with class probabilities: a float or double tensor `[rows, classes]` (or
    /// `[rows]` / `[rows, 1]` holding the positive class's probability), or a sequence of
    /// maps (ZipMap).
    pub probability: String,
    /// The class that counts as a positive decision.
    pub positive_class: ClassValue,
    /// The class of each column of a probability tensor; by default 0, 1, ... for integer
    /// classes. Not needed for ZipMap outputs, whose maps are keyed by class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<ClassValue>>,
    /// Decide positive when P(positive class) >= threshold.
    pub threshold: f64,
}

/// What a model predicts, as the manifest's `[output]` table says (`task`, binary by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
// Variant doc comments would turn this enum's JSON Schema into a `oneOf`, so the variants are
// described in `//` comments.
#[allow(missing_docs)]
pub enum Task {
    // A yes/no decision with the positive class's probability.
    Binary,
    // A number (hours of home care a week, a count of visits).
    Regression,
    // One of several classes (visitation levels).
    Multiclass,
}

impl Task {
    /// Its name in the manifest and in `sandkasse metrics --task`.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Binary => "binary",
            Task::Regression => "regression",
            Task::Multiclass => "multiclass",
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The model's prediction, one kind per task: the fields of one task cannot be given to another
/// (a threshold on a regression output is refused, not ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "RawOutput", into = "RawOutput")]
#[schemars(with = "RawOutput")]
pub enum Output {
    /// A yes/no decision (`task = "binary"`, or no `task`).
    Binary(OutputSpec),
    /// A number per row (`task = "regression"`).
    Regression(RegressionOutput),
    /// One of several classes per row (`task = "multiclass"`).
    Multiclass(MulticlassOutput),
}

/// A regression model's output: one number per row, as scikit-learn's and XGBoost's exporters
/// write them (`variable`, float `[rows, 1]`) and PyTorch's (`[rows]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RegressionOutput {
    /// The output holding the predicted value: a float or double tensor `[rows]` or `[rows, 1]`.
    pub value: String,
}

/// A multi-class model's output: the predicted class (a label output, as scikit-learn exports it),
/// or the class probabilities whose largest names it (as PyTorch and Keras export them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MulticlassOutput {
    /// The output with the predicted class (int64 or string).
    pub label: Option<String>,
    /// The output with class probabilities, `[rows, classes]` or ZipMap; without a label output
    /// the class with the largest probability is the prediction (the first of equals).
    pub probability: Option<String>,
    /// The classes in the model's order: the scenario's level names (`"none"`, `"light"`, ...),
    /// or their positions 0, 1, ... when the model's labels are integers.
    pub classes: Vec<ClassValue>,
}

/// The `[output]` table as written: every task's fields, each optional, so that a field of the
/// wrong task is named in the refusal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    /// `binary` (the default), `regression` or `multiclass`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task: Option<Task>,
    /// Binary and multi-class: the output with the predicted class. Absent for a model that only
    /// outputs probabilities (as PyTorch and Keras export them): a binary label is then the
    /// positive class where P(positive class) >= threshold and the other class elsewhere, a
    /// multi-class label the most probable class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    /// Binary and multi-class: the output with class probabilities, a float or double tensor
    /// `[rows, classes]` (binary also `[rows]` / `[rows, 1]` holding the positive class's
    /// probability), or a sequence of maps (ZipMap). Required for binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    probability: Option<String>,
    /// Binary: the class that counts as a positive decision. Required for binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    positive_class: Option<ClassValue>,
    /// The class of each column of a probability tensor; for binary by default 0, 1, ... for
    /// integer classes (not needed for ZipMap outputs, whose maps are keyed by class). Required for
    /// multi-class: the scenario's levels in the model's order, by name or position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    classes: Option<Vec<ClassValue>>,
    /// Binary: decide positive when P(positive class) >= threshold. Required for binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threshold: Option<f64>,
    /// Regression: the output with the predicted value. Required for regression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
}

impl TryFrom<RawOutput> for Output {
    type Error = String;

    fn try_from(r: RawOutput) -> Result<Self, String> {
        let task = r.task.unwrap_or(Task::Binary);
        let foreign: Vec<&str> = [
            ("label", r.label.is_some(), task != Task::Regression),
            ("probability", r.probability.is_some(), task != Task::Regression),
            ("positive_class", r.positive_class.is_some(), task == Task::Binary),
            ("classes", r.classes.is_some(), task != Task::Regression),
            ("threshold", r.threshold.is_some(), task == Task::Binary),
            ("value", r.value.is_some(), task == Task::Regression),
        ]
        .into_iter()
        .filter(|(_, given, belongs)| *given && !belongs)
        .map(|(name, ..)| name)
        .collect();
        if !foreign.is_empty() {
            return Err(format!(
                "output: {} {} not part of a {task} output (task = {:?}); {}",
                foreign.join(", "),
                if foreign.len() == 1 { "is" } else { "are" },
                task.as_str(),
                match task {
                    Task::Binary => "a binary output has label, probability, positive_class, classes and threshold",
                    Task::Regression => "a regression output has value",
                    Task::Multiclass => "a multiclass output has label, probability and classes",
                }
            ));
        }
        let missing = |field: &str| format!("output.{field} is required for a {task} output");
        Ok(match task {
            Task::Binary => Output::Binary(OutputSpec {
                label: r.label,
                probability: r.probability.ok_or_else(|| missing("probability"))?,
                positive_class: r.positive_class.ok_or_else(|| missing("positive_class"))?,
                classes: r.classes,
                threshold: r.threshold.ok_or_else(|| missing("threshold"))?,
            }),
            Task::Regression => Output::Regression(RegressionOutput {
                value: r.value.ok_or_else(|| missing("value"))?,
            }),
            Task::Multiclass => {
                if r.label.is_none() && r.probability.is_none() {
                    return Err(
                        "output: a multiclass output needs label (the predicted class) or probability (the class probabilities), or both".into(),
                    );
                }
                Output::Multiclass(MulticlassOutput {
                    label: r.label,
                    probability: r.probability,
                    classes: r.classes.ok_or_else(|| missing("classes"))?,
                })
            }
        })
    }
}

impl From<Output> for RawOutput {
    fn from(o: Output) -> Self {
        let none = RawOutput {
            task: None,
            label: None,
            probability: None,
            positive_class: None,
            classes: None,
            threshold: None,
            value: None,
        };
        match o {
            // A binary output is written as before `task` existed, so manifests and records
            // written by earlier releases hash and compare the same.
            Output::Binary(b) => RawOutput {
                label: b.label,
                probability: Some(b.probability),
                positive_class: Some(b.positive_class),
                classes: b.classes,
                threshold: Some(b.threshold),
                ..none
            },
            Output::Regression(r) => RawOutput {
                task: Some(Task::Regression),
                value: Some(r.value),
                ..none
            },
            Output::Multiclass(m) => RawOutput {
                task: Some(Task::Multiclass),
                label: m.label,
                probability: m.probability,
                classes: Some(m.classes),
                ..none
            },
        }
    }
}

impl Output {
    /// Which task the output is for.
    pub fn task(&self) -> Task {
        match self {
            Output::Binary(_) => Task::Binary,
            Output::Regression(_) => Task::Regression,
            Output::Multiclass(_) => Task::Multiclass,
        }
    }

    /// The yes/no output, if the model makes yes/no decisions.
    pub fn binary(&self) -> Option<&OutputSpec> {
        match self {
            Output::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// Whether the model's labels are text (`"yes"`, `"heavy"`) rather than integers.
    pub fn text_labels(&self) -> bool {
        match self {
            Output::Binary(b) => matches!(b.positive_class, ClassValue::Text(_)),
            Output::Regression(_) => false,
            Output::Multiclass(m) => matches!(m.classes.first(), Some(ClassValue::Text(_))),
        }
    }
}

/// Most classes a multi-class output may list.
pub const MAX_CLASSES: usize = 64;
/// Longest class name, in bytes.
pub const MAX_CLASS_BYTES: usize = 200;

impl MulticlassOutput {
    fn validate(&self) -> Result<(), ManifestError> {
        let n = self.classes.len();
        if !(2..=MAX_CLASSES).contains(&n) {
            return Err(invalid(
                "output.classes",
                format!("{n} classes listed; a multiclass output has 2 to {MAX_CLASSES}"),
            ));
        }
        let text = matches!(self.classes[0], ClassValue::Text(_));
        for (i, c) in self.classes.iter().enumerate() {
            let f = format!("output.classes[{i}]");
            match c {
                ClassValue::Text(t) if text => {
                    if t.is_empty() || t.len() > MAX_CLASS_BYTES {
                        return Err(invalid(f, format!("a class name is 1 to {MAX_CLASS_BYTES} bytes")));
                    }
                }
                ClassValue::Int(v) if !text => {
                    if *v != i as i64 {
                        return Err(invalid(
                            f,
                            format!(
                                "is {v}; integer classes are the levels' positions 0, 1, ... in order, so this one is {i}"
                            ),
                        ));
                    }
                }
                _ => return Err(invalid(f, "the classes are all names or all integers, not a mix")),
            }
        }
        let distinct: BTreeSet<&ClassValue> = self.classes.iter().collect();
        if distinct.len() != n {
            return Err(invalid("output.classes", "lists a class twice"));
        }
        Ok(())
    }
}

impl OutputSpec {
    fn validate(&self) -> Result<(), ManifestError> {
        let o = self;
        if !(0.0..=1.0).contains(&o.threshold) {
            return Err(invalid(
                "output.threshold",
                format!("{} is outside [0, 1]", o.threshold),
            ));
        }
        if let Some(classes) = &o.classes
            && !classes.contains(&o.positive_class)
        {
            return Err(invalid(
                "output.classes",
                format!("does not contain the positive class {}", o.positive_class),
            ));
        }
        if o.label.is_none() && o.negative_class().is_none() {
            return Err(invalid(
                "output.classes",
                format!(
                    "without a label output the sandbox labels each row itself, so it needs the two classes (e.g. classes = [\"no\", \"yes\"] with positive_class = \"yes\"); the positive class is {}{}",
                    o.positive_class,
                    o.classes
                        .as_ref()
                        .map(|c| format!(" and {} classes are listed", c.len()))
                        .unwrap_or_default()
                ),
            ));
        }
        Ok(())
    }

    /// The class a negative decision gets when the sandbox derives labels (no label output):
    /// the other of two listed classes, else 0 for a positive 1 and 1 for a positive 0.
    pub fn negative_class(&self) -> Option<ClassValue> {
        match &self.classes {
            Some(c) if c.len() == 2 => c.iter().find(|c| **c != self.positive_class).cloned(),
            Some(_) => None,
            None => match self.positive_class {
                ClassValue::Int(1) => Some(ClassValue::Int(0)),
                ClassValue::Int(0) => Some(ClassValue::Int(1)),
                _ => None,
            },
        }
    }
}

/// Why a manifest was refused; a vendor reads it, so each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Longer than [`MAX_MANIFEST_BYTES`], refused before parsing.
    #[error("the manifest is {0} bytes, over the limit of {MAX_MANIFEST_BYTES}")]
    TooLarge(usize),
    /// The text is not TOML.
    #[error("the manifest is not valid TOML: {0}")]
    Toml(String),
    /// The text is not JSON.
    #[error("the manifest is not valid JSON: {0}")]
    Json(String),
    /// A field is out of range, unknown to the scenario or inconsistent with another.
    #[error("manifest field {field}: {message}")]
    Invalid {
        /// The field's path.
        field: String,
        /// What was wrong.
        message: String,
    },
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ManifestError {
    ManifestError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl Manifest {
    /// Parses a manifest, TOML or JSON (JSON when the text starts with `{`).
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        if text.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge(text.len()));
        }
        let m: Manifest = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| ManifestError::Json(e.to_string()))?
        } else {
            toml::from_str(text).map_err(|e| ManifestError::Toml(e.to_string()))?
        };
        m.validate()?;
        Ok(m)
    }

    fn validate(&self) -> Result<(), ManifestError> {
        for (field, v) in [
            ("name", &self.name),
            ("version", &self.version),
            ("scenario", &self.scenario),
        ] {
            if v.trim().is_empty() || v.len() > 200 {
                return Err(invalid(field, "must be 1 to 200 characters"));
            }
        }
        if self.inputs.is_empty() {
            return Err(invalid("inputs", "at least one input tensor is needed"));
        }
        let mut tensors = BTreeSet::new();
        let mut width = 0usize;
        for (i, input) in self.inputs.iter().enumerate() {
            let f = format!("inputs[{i}]");
            if !tensors.insert(&input.tensor) {
                return Err(invalid(
                    format!("{f}.tensor"),
                    format!("{:?} is listed twice", input.tensor),
                ));
            }
            if input.columns.is_empty() {
                return Err(invalid(format!("{f}.columns"), "at least one column is needed"));
            }
            for (j, c) in input.columns.iter().enumerate() {
                let cf = format!("{f}.columns[{j}]");
                if let Some(cats) = &c.one_hot {
                    if input.dtype == DType::String {
                        return Err(invalid(cf, "one_hot makes numbers; a string tensor takes the text"));
                    }
                    if cats.is_empty() {
                        return Err(invalid(cf, "one_hot lists no categories"));
                    }
                    let distinct: BTreeSet<&String> = cats.iter().collect();
                    if distinct.len() != cats.len() {
                        return Err(invalid(cf, format!("one_hot of {:?} lists a category twice", c.column)));
                    }
                }
                width += c.width();
            }
        }
        if width > MAX_FEATURES {
            return Err(invalid(
                "inputs",
                format!("{width} features, over the limit of {MAX_FEATURES}"),
            ));
        }
        match &self.output {
            Output::Binary(o) => o.validate()?,
            Output::Regression(r) => {
                if r.value.trim().is_empty() {
                    return Err(invalid("output.value", "names no output"));
                }
            }
            Output::Multiclass(m) => m.validate()?,
        }
        Ok(())
    }

    /// Scenario columns the inputs read, in first-use order.
    pub fn columns(&self) -> Vec<&str> {
        let mut seen = BTreeSet::new();
        self.inputs
            .iter()
            .flat_map(|i| &i.columns)
            .map(|c| c.column.as_str())
            .filter(|c| seen.insert(*c))
            .collect()
    }

    /// Findings where the manifest and the model's declared inputs and outputs disagree.
    pub fn check_against(&self, model: &Summary) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut find = |location: String, message: String| {
            out.push(Finding {
                rule: Rule::Manifest,
                location,
                message,
            })
        };
        for input in &self.inputs {
            let loc = format!("input {:?}", input.tensor);
            let Some(port) = model.inputs.iter().find(|p| p.name == input.tensor) else {
                find(
                    loc,
                    "the manifest maps columns to it, but the model has no such input".into(),
                );
                continue;
            };
            if port.elem_type.as_deref() != Some(input.dtype.onnx_name()) {
                find(
                    loc.clone(),
                    format!(
                        "the model declares {}, the manifest dtype = {:?}{}",
                        port.r#type,
                        input.dtype.manifest_name(),
                        port.elem_type
                            .as_deref()
                            .and_then(DType::from_onnx_name)
                            .map(|d| format!(" (write dtype = {:?})", d.manifest_name()))
                            .unwrap_or_default()
                    ),
                );
            }
            let width: usize = input.columns.iter().map(ColumnSpec::width).sum();
            match port.shape.as_ref().map(Vec::len) {
                Some(2) => {
                    if let Some(w) = port.dim(1)
                        && w as usize != width
                    {
                        find(
                            loc,
                            format!("the model declares {w} columns, the manifest builds {width}"),
                        );
                    }
                }
                Some(1) if width == 1 => {}
                Some(n) => find(
                    loc,
                    format!("the model declares {n} dimensions; [rows, columns] expected"),
                ),
                None => {}
            }
        }
        for port in &model.inputs {
            if !self.inputs.iter().any(|i| i.tensor == port.name) {
                find(
                    format!("input {:?}", port.name),
                    "the model needs this input, but the manifest does not say how to build it".into(),
                );
            }
        }
        let (label, probability, value, classes, text_labels) = match &self.output {
            Output::Binary(o) => (
                o.label.as_ref(),
                Some(&o.probability),
                None,
                o.classes.as_deref(),
                matches!(o.positive_class, ClassValue::Text(_)),
            ),
            Output::Regression(r) => (None, None, Some(&r.value), None, false),
            Output::Multiclass(m) => (
                m.label.as_ref(),
                m.probability.as_ref(),
                None,
                Some(m.classes.as_slice()),
                self.output.text_labels(),
            ),
        };
        let task = self.output.task();
        let named = label
            .map(|l| ("label", l))
            .into_iter()
            .chain(probability.map(|p| ("probability", p)))
            .chain(value.map(|v| ("value", v)));
        for (what, name) in named {
            let loc = format!("output {name:?}");
            let Some(p) = model.outputs.iter().find(|p| &p.name == name) else {
                find(
                    loc,
                    format!("the manifest names it as the {what}, but the model has no such output"),
                );
                continue;
            };
            let float = matches!(p.elem_type.as_deref(), Some("float" | "double"));
            let columns = p
                .shape
                .as_ref()
                .and_then(|s| s.get(1))
                .and_then(|d| d.parse::<usize>().ok());
            match what {
                "probability" => {
                    if !(p.is_sequence_of_maps() || float) {
                        find(
                            loc,
                            format!(
                                "{} cannot hold probabilities (float or double tensor, or ZipMap)",
                                p.r#type
                            ),
                        );
                    } else if let Some(k) = columns
                        && let Some(classes) = classes
                        && k != classes.len()
                        && (task == Task::Multiclass || k != 1)
                    {
                        find(
                            loc,
                            format!(
                                "{k} probability columns, but the manifest lists {} classes",
                                classes.len()
                            ),
                        );
                    }
                }
                "value" => {
                    if !float || p.is_sequence_of_maps() {
                        find(
                            loc,
                            format!("{} cannot hold a predicted number (float or double tensor)", p.r#type),
                        );
                    } else if let Some(shape) = &p.shape
                        && (shape.len() > 2 || columns.is_some_and(|k| k != 1))
                    {
                        find(
                            loc,
                            format!(
                                "shape [{}]: a regression output is one number a row, [rows] or [rows, 1]",
                                shape.join(", ")
                            ),
                        );
                    }
                }
                _ => {
                    let ok = if text_labels {
                        p.elem_type.as_deref() == Some("string")
                    } else {
                        matches!(p.elem_type.as_deref(), Some("int64" | "int32"))
                    };
                    if !ok {
                        find(
                            loc,
                            format!(
                                "the label is {}, but the classes are {}",
                                p.r#type,
                                if text_labels {
                                    "names (string)"
                                } else {
                                    "integers (int64 or int32)"
                                }
                            ),
                        );
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "m"
version = "1"
scenario = "unemployment-risk"

[[inputs]]
tensor = "features"
dtype = "float32"
columns = [{ column = "age" }, { column = "sex", one_hot = ["F", "M"] }]

[output]
label = "label"
probability = "probabilities"
positive_class = 1
threshold = 0.5
"#;

    #[test]
    fn parses_toml_and_json_alike() {
        let m = Manifest::parse(GOOD).unwrap();
        assert_eq!(m.inputs[0].columns[1].width(), 2);
        assert_eq!(m.columns(), ["age", "sex"]);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(Manifest::parse(&json).unwrap(), m);
    }

    /// A probability-only model (PyTorch, Keras) names no label; the sandbox labels rows
    /// itself, so it must know the other class: 0/1 by default, else from `classes`.
    #[test]
    fn a_model_without_a_label_output_needs_to_know_both_classes() {
        let no_label = GOOD.replace("label = \"label\"\n", "");
        let m = Manifest::parse(&no_label).unwrap();
        assert_eq!(m.output.binary().unwrap().label, None);
        assert_eq!(m.output.binary().unwrap().negative_class(), Some(ClassValue::Int(0)));
        let text = no_label.replace("positive_class = 1", "positive_class = \"yes\"");
        let e = Manifest::parse(&text).unwrap_err().to_string();
        assert!(e.contains("output.classes") && e.contains("the two classes"), "{e}");
        let listed = text.replace("threshold", "classes = [\"no\", \"yes\"]\nthreshold");
        let m = Manifest::parse(&listed).unwrap();
        assert_eq!(
            m.output.binary().unwrap().negative_class(),
            Some(ClassValue::Text("no".into()))
        );
        let three = text.replace("threshold", "classes = [\"no\", \"yes\", \"maybe\"]\nthreshold");
        assert!(Manifest::parse(&three).is_err());
        // With a label output, any number of classes is fine.
        let labelled = GOOD.replace("threshold", "classes = [0, 1, 2]\nthreshold");
        assert!(Manifest::parse(&labelled).is_ok());
    }

    #[test]
    fn bad_manifests_name_the_field() {
        for (bad, expected) in [
            (GOOD.replace("threshold = 0.5", "threshold = 1.5"), "output.threshold"),
            (GOOD.replace(r#"["F", "M"]"#, r#"["F", "F"]"#), "inputs[0].columns[1]"),
            (GOOD.replace(r#"dtype = "float32""#, r#"dtype = "float16""#), "float16"),
            (
                GOOD.replace("version = \"1\"", "version = \"1\"\nowner = \"x\""),
                "owner",
            ),
            (GOOD.replace("columns = [", "columns = [] #"), "inputs[0].columns"),
        ] {
            let e = Manifest::parse(&bad).unwrap_err().to_string();
            assert!(e.contains(expected), "{e}");
        }
        let huge = format!("{GOOD}\n#{}", "x".repeat(MAX_MANIFEST_BYTES));
        assert!(matches!(Manifest::parse(&huge), Err(ManifestError::TooLarge(_))));
    }

    fn with_output(output: &str) -> String {
        let head = GOOD.split("[output]").next().unwrap_or_default();
        format!("{head}[output]\n{output}\n")
    }

    #[test]
    fn regression_and_multiclass_outputs_parse_and_round_trip() {
        let m = Manifest::parse(&with_output("task = \"regression\"\nvalue = \"variable\"")).unwrap();
        assert_eq!(m.output.task(), Task::Regression);
        assert_eq!(
            m.output,
            Output::Regression(RegressionOutput {
                value: "variable".into()
            })
        );
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.contains(r#""task":"regression""#), "{json}");
        assert_eq!(Manifest::parse(&json).unwrap(), m);
        let m = Manifest::parse(&with_output(
            "task = \"multiclass\"\nlabel = \"label\"\nclasses = [\"none\", \"light\", \"medium\", \"heavy\"]",
        ))
        .unwrap();
        assert!(m.output.text_labels());
        assert_eq!(Manifest::parse(&serde_json::to_string(&m).unwrap()).unwrap(), m);
        let m = Manifest::parse(&with_output(
            "task = \"multiclass\"\nprobability = \"p\"\nclasses = [0, 1, 2, 3]",
        ))
        .unwrap();
        assert!(!m.output.text_labels());
        // A binary output is written without `task`, as before it existed: old manifests hash alike.
        let binary = serde_json::to_string(&Manifest::parse(GOOD).unwrap()).unwrap();
        assert!(!binary.contains("task"), "{binary}");
    }

    /// A field of another task is refused by name, not ignored: a threshold on a regression
    /// output would otherwise look as if it decided something.
    #[test]
    fn fields_of_another_task_and_bad_classes_are_refused_by_name() {
        for (output, expected) in [
            (
                "task = \"regression\"\nvalue = \"v\"\nthreshold = 0.5",
                "threshold is not part of a regression output",
            ),
            ("task = \"regression\"", "output.value is required"),
            (
                "task = \"regression\"\nvalue = \"v\"\nlabel = \"l\"\nclasses = [0, 1]",
                "label, classes are not part",
            ),
            (
                "value = \"v\"\nprobability = \"p\"\npositive_class = 1\nthreshold = 0.5",
                "value is not part of a binary output",
            ),
            ("task = \"multiclass\"\nclasses = [0, 1]", "needs label"),
            ("task = \"multiclass\"\nlabel = \"l\"", "output.classes is required"),
            (
                "task = \"multiclass\"\nlabel = \"l\"\nclasses = [0, 1]\npositive_class = 1",
                "positive_class is not part",
            ),
            (
                "task = \"multiclass\"\nlabel = \"l\"\nclasses = [\"a\"]",
                "1 classes listed",
            ),
            (
                "task = \"multiclass\"\nlabel = \"l\"\nclasses = [\"a\", \"a\"]",
                "lists a class twice",
            ),
            (
                "task = \"multiclass\"\nlabel = \"l\"\nclasses = [\"a\", 1]",
                "output.classes[1]",
            ),
            (
                "task = \"multiclass\"\nlabel = \"l\"\nclasses = [0, 2]",
                "this one is 1",
            ),
            (
                "task = \"multiclass\"\nlabel = \"l\"\nclasses = [\"\", \"b\"]",
                "output.classes[0]",
            ),
            ("task = \"ranking\"\nvalue = \"v\"", "ranking"),
        ] {
            let e = Manifest::parse(&with_output(output)).unwrap_err().to_string();
            assert!(e.contains(expected), "{output:?}: {e}");
        }
        let many: Vec<String> = (0..=MAX_CLASSES).map(|i| format!("\"c{i}\"")).collect();
        let e = Manifest::parse(&with_output(&format!(
            "task = \"multiclass\"\nlabel = \"l\"\nclasses = [{}]",
            many.join(", ")
        )))
        .unwrap_err()
        .to_string();
        assert!(e.contains("65 classes listed"), "{e}");
    }
}
