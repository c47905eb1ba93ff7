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
    /// Which outputs hold the decision and the probability.
    pub output: OutputSpec,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

impl OutputSpec {
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
        let o = &self.output;
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
        let label = self.output.label.as_ref().map(|l| ("label", l));
        for (what, name) in label.into_iter().chain([("probability", &self.output.probability)]) {
            let loc = format!("output {name:?}");
            match model.outputs.iter().find(|p| &p.name == name) {
                None => find(
                    loc,
                    format!("the manifest names it as the {what}, but the model has no such output"),
                ),
                Some(p) if what == "probability" => {
                    if !(p.is_sequence_of_maps() || matches!(p.elem_type.as_deref(), Some("float" | "double"))) {
                        find(
                            loc,
                            format!(
                                "{} cannot hold probabilities (float or double tensor, or ZipMap)",
                                p.r#type
                            ),
                        );
                    } else if let Some(shape) = &p.shape
                        && let Some(k) = shape.get(1).and_then(|d| d.parse::<usize>().ok())
                        && let Some(classes) = &self.output.classes
                        && k != classes.len()
                        && k != 1
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
                Some(p) => {
                    let ok = matches!(
                        (&self.output.positive_class, p.elem_type.as_deref()),
                        (ClassValue::Int(_), Some("int64" | "int32")) | (ClassValue::Text(_), Some("string"))
                    );
                    if !ok {
                        find(
                            loc,
                            format!(
                                "the label is {}, but the positive class is {}",
                                p.r#type, self.output.positive_class
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
        assert_eq!(m.output.label, None);
        assert_eq!(m.output.negative_class(), Some(ClassValue::Int(0)));
        let text = no_label.replace("positive_class = 1", "positive_class = \"yes\"");
        let e = Manifest::parse(&text).unwrap_err().to_string();
        assert!(e.contains("output.classes") && e.contains("the two classes"), "{e}");
        let listed = text.replace("threshold", "classes = [\"no\", \"yes\"]\nthreshold");
        let m = Manifest::parse(&listed).unwrap();
        assert_eq!(m.output.negative_class(), Some(ClassValue::Text("no".into())));
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
}
