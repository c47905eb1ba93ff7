//! ONNX Runtime: finding the library, and running a model on feature tensors.
//!
//! Only the worker process runs models. The parent loads the library just to report its
//! version (`sandkasse doctor`).

use crate::features::{InputTensor, TensorData};
use crate::manifest::{ClassValue, Manifest, MulticlassOutput, Output, OutputSpec};
use ort::session::Session;
use ort::value::{DynMapValueType, DynValue, Tensor, TensorElementType, ValueType};
use std::path::{Path, PathBuf};

/// The ONNX Runtime release the sandbox is built and tested against.
pub const ORT_VERSION: &str = "1.31.1";
const LIB_NAME: &str = "libonnxruntime.so.1.31.1";

/// Why ONNX Runtime could not be found, loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// No library was found where it was looked for.
    #[error(
        "ONNX Runtime {ORT_VERSION} was not found (looked at: {tried}). Install it with `bash scripts/setup.sh`, or point ORT_DYLIB_PATH at libonnxruntime.so"
    )]
    NotFound {
        /// The paths looked at.
        tried: String,
    },
    /// The library was found but did not load (wrong version or architecture).
    #[error("loading ONNX Runtime from {path}: {message}")]
    Load {
        /// The library file.
        path: PathBuf,
        /// What the loader said.
        message: String,
    },
    /// ONNX Runtime refused the model or failed while scoring.
    #[error("ONNX Runtime: {0}")]
    Ort(String),
    /// An output is not what the manifest says it is.
    #[error("the model's output {output:?}: {message}")]
    Output {
        /// The output.
        output: String,
        /// What was wrong with it.
        message: String,
    },
}

fn ort_err(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Ort(e.to_string())
}

/// Finds the ONNX Runtime library: `ORT_DYLIB_PATH` (which must exist when set); then the project's own Python
/// environment (`.venv`, made by `scripts/setup.sh`) in a parent directory of the executable
/// or of the working directory; then the system's library directories.
pub fn locate() -> Result<PathBuf, RuntimeError> {
    let mut tried = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        // An explicit choice that is wrong is an error, not a reason to pick another library.
        return Err(RuntimeError::NotFound {
            tried: format!("ORT_DYLIB_PATH={} (no such file)", p.display()),
        });
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
    }
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    for root in roots {
        let lib = root.join(".venv/lib");
        let Ok(entries) = std::fs::read_dir(&lib) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path().join("site-packages/onnxruntime/capi").join(LIB_NAME);
            if p.is_file() {
                return Ok(p);
            }
        }
        tried.push(format!("{}/python3*/site-packages/onnxruntime/capi", lib.display()));
    }
    for dir in [
        "/usr/local/lib",
        "/usr/lib",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
    ] {
        for name in [LIB_NAME, "libonnxruntime.so"] {
            let p = Path::new(dir).join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
        tried.push(dir.to_owned());
    }
    tried.dedup();
    Err(RuntimeError::NotFound {
        tried: tried.join(", "),
    })
}

/// Loads the library (once per process) and returns its version.
pub fn load(path: &Path) -> Result<String, RuntimeError> {
    let load_err = |message: String| RuntimeError::Load {
        path: path.to_owned(),
        message,
    };
    ort::init_from(path).map_err(|e| load_err(e.to_string()))?;
    Ok(version(path))
}

/// Creates the process's ONNX Runtime environment (one per process), after [`load`].
/// The worker calls this only once it is locked down: creating the environment starts a
/// thread, and a thread that exists before Landlock is applied would stay unrestricted.
pub fn environment() -> Result<ort::environment::Environment, RuntimeError> {
    ort::init()
        .with_name("sandkasse-worker")
        .with_telemetry(false)
        .build()
        .map_err(ort_err)
}

/// The version of the loaded library, from its build information (`git-branch=rel-1.31.1`),
/// else from the file name.
fn version(path: &Path) -> String {
    let info = ort::info();
    info.split([',', ' '])
        .find_map(|p| p.trim().strip_prefix("git-branch=rel-"))
        .map(str::to_owned)
        .or_else(|| {
            path.file_name()?
                .to_str()?
                .strip_prefix("libonnxruntime.so.")
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Predictions for a batch, one kind per task.
#[derive(Debug, Clone, PartialEq)]
pub enum Scored {
    /// A yes/no model's.
    Binary {
        /// The model's own predicted class.
        label: Labels,
        /// P(positive class), checked to be finite and within [0, 1].
        probability: Vec<f32>,
    },
    /// A regression model's predicted numbers, checked to be finite.
    Regression(Vec<f64>),
    /// A multi-class model's predicted classes, as positions in the manifest's `classes`.
    Multiclass(Vec<u32>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    Int(Vec<i64>),
    Text(Vec<String>),
}

impl Labels {
    pub fn len(&self) -> usize {
        match self {
            Labels::Int(v) => v.len(),
            Labels::Text(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A model loaded into a session.
pub struct Model {
    session: Session,
    manifest: Manifest,
}

impl Model {
    /// Builds a session from the model's bytes. `threads` is the session's intra-op thread
    /// count: a worker pool parallelises across workers, so each worker usually wants 1.
    pub fn load(
        env: &ort::environment::Environment,
        bytes: &[u8],
        manifest: Manifest,
        threads: usize,
    ) -> Result<Model, RuntimeError> {
        let session = Session::builder(env)
            .map_err(ort_err)?
            .with_intra_threads(threads.max(1))
            .map_err(ort_err)?
            .with_inter_threads(1)
            .map_err(ort_err)?
            .commit_from_memory(bytes)
            .map_err(ort_err)?;
        Ok(Model { session, manifest })
    }

    /// The manifest the model was loaded with.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Runs the model on one batch of input tensors and checks its outputs.
    pub fn run(&mut self, inputs: Vec<InputTensor>) -> Result<Scored, RuntimeError> {
        let rows = inputs.first().map_or(0, |t| t.rows);
        let mut values: Vec<(String, DynValue)> = Vec::with_capacity(inputs.len());
        for t in inputs {
            let shape = [t.rows as i64, t.width as i64];
            let v: DynValue = match t.data {
                TensorData::F32(d) => Tensor::from_array((shape, d)).map_err(ort_err)?.into_dyn(),
                TensorData::F64(d) => Tensor::from_array((shape, d)).map_err(ort_err)?.into_dyn(),
                TensorData::I32(d) => Tensor::from_array((shape, d)).map_err(ort_err)?.into_dyn(),
                TensorData::I64(d) => Tensor::from_array((shape, d)).map_err(ort_err)?.into_dyn(),
                TensorData::Bool(d) => Tensor::from_array((shape, d)).map_err(ort_err)?.into_dyn(),
                TensorData::Str(d) => {
                    let a = ndarray::Array2::from_shape_vec((t.rows, t.width), d).map_err(ort_err)?;
                    Tensor::from_string_array(&a).map_err(ort_err)?.into_dyn()
                }
            };
            values.push((t.name, v));
        }
        let outputs = self.session.run(values).map_err(ort_err)?;
        let output = |name: &str| {
            outputs.get(name).ok_or_else(|| RuntimeError::Output {
                output: name.to_owned(),
                message: "missing from the model's outputs".into(),
            })
        };
        match &self.manifest.output {
            Output::Binary(out) => {
                let probability = probabilities(
                    output(&out.probability)?,
                    &out.probability,
                    rows,
                    &out.positive_class,
                    out.classes.as_deref(),
                )?;
                let label = match &out.label {
                    Some(name) => labels(output(name)?, name, rows)?,
                    None => binary_labels(&probability, out)?,
                };
                Ok(Scored::Binary { label, probability })
            }
            Output::Regression(r) => Ok(Scored::Regression(values_of(output(&r.value)?, &r.value, rows)?)),
            Output::Multiclass(m) => {
                let class = match (&m.label, &m.probability) {
                    (Some(name), _) => class_positions(labels(output(name)?, name, rows)?, name, m)?,
                    (None, Some(name)) => most_probable(output(name)?, name, rows, m)?,
                    (None, None) => {
                        return Err(RuntimeError::Output {
                            output: "output".into(),
                            message: "the manifest names neither a label nor a probability output".into(),
                        });
                    }
                };
                Ok(Scored::Multiclass(class))
            }
        }
    }
}

fn binary_labels(probability: &[f32], out: &OutputSpec) -> Result<Labels, RuntimeError> {
    derived_labels(
        probability,
        out.threshold,
        &out.positive_class,
        out.negative_class().as_ref(),
    )
    .ok_or_else(|| RuntimeError::Output {
        output: out.probability.clone(),
        message: "the manifest names no label output and no negative class".into(),
    })
}

/// A float or double tensor as (shape, values in f64).
fn float_tensor(v: &DynValue) -> Result<(Vec<i64>, Vec<f64>), String> {
    match v.try_extract_tensor::<f32>() {
        Ok((shape, data)) => Ok((
            shape.iter().copied().collect(),
            data.iter().map(|&x| f64::from(x)).collect(),
        )),
        Err(_) => {
            let (shape, data) = v
                .try_extract_tensor::<f64>()
                .map_err(|e| format!("not a float or double tensor: {e}"))?;
            Ok((shape.iter().copied().collect(), data.to_vec()))
        }
    }
}

/// One row of a ZipMap output (a map class -> probability): the probability of each of `classes`,
/// the map extracted once (keys of the classes' kind).
fn zipmap_row(map: &ort::value::Value<DynMapValueType>, classes: &[ClassValue]) -> Result<Vec<f32>, String> {
    let missing = |c: &ClassValue| format!("no probability for class {c}");
    match classes.first() {
        Some(ClassValue::Text(_)) => {
            let m = map.try_extract_map::<String, f32>().map_err(|e| e.to_string())?;
            classes
                .iter()
                .map(|c| match c {
                    ClassValue::Text(t) => m.get(t).copied().ok_or_else(|| missing(c)),
                    ClassValue::Int(_) => Err(missing(c)),
                })
                .collect()
        }
        _ => {
            let m = map.try_extract_map::<i64, f32>().map_err(|e| e.to_string())?;
            classes
                .iter()
                .map(|c| match c {
                    ClassValue::Int(i) => m.get(i).copied().ok_or_else(|| missing(c)),
                    ClassValue::Text(_) => Err(missing(c)),
                })
                .collect()
        }
    }
}

/// A regression output: one finite number a row, `[rows]` or `[rows, 1]`.
fn values_of(v: &DynValue, name: &str, rows: usize) -> Result<Vec<f64>, RuntimeError> {
    let err = |message: String| RuntimeError::Output {
        output: name.to_owned(),
        message,
    };
    let (shape, data) = float_tensor(v).map_err(err)?;
    match shape.as_slice() {
        [n] | [n, 1] if *n as usize == rows => {}
        _ => {
            return Err(err(format!(
                "shape {shape:?}: one number a row expected for {rows} rows"
            )));
        }
    }
    if let Some((row, x)) = data.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(err(format!(
            "row {row}: the predicted value {x} is not a finite number"
        )));
    }
    let most = crate::client::MAX_PREDICTED_VALUE;
    if let Some((row, x)) = data.iter().enumerate().find(|(_, x)| x.abs() > most) {
        return Err(err(format!(
            "row {row}: the predicted value {x:e} is larger than {most:e} in magnitude; no outcome a scenario records comes near it"
        )));
    }
    Ok(data)
}

/// A label output's classes as positions in the manifest's classes; a label the manifest does not
/// list is refused (it would be counted as no class, or as another).
fn class_positions(labels: Labels, name: &str, m: &MulticlassOutput) -> Result<Vec<u32>, RuntimeError> {
    let unknown = |row: usize, label: String| RuntimeError::Output {
        output: name.to_owned(),
        message: format!(
            "row {row}: the label {label} is not one of the manifest's classes ({})",
            m.classes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ),
    };
    let position = |c: &ClassValue| m.classes.iter().position(|k| k == c).map(|i| i as u32);
    match labels {
        Labels::Int(v) => v
            .into_iter()
            .enumerate()
            .map(|(row, l)| position(&ClassValue::Int(l)).ok_or_else(|| unknown(row, l.to_string())))
            .collect(),
        Labels::Text(v) => v
            .into_iter()
            .enumerate()
            .map(|(row, l)| {
                position(&ClassValue::Text(l.clone())).ok_or_else(|| {
                    let shown: String = l.chars().take(40).collect();
                    unknown(row, format!("{shown:?}"))
                })
            })
            .collect(),
    }
}

/// The most probable class of each row (the first of equals), from a `[rows, classes]` tensor or
/// ZipMap; probabilities must be finite and within [0, 1].
fn most_probable(v: &DynValue, name: &str, rows: usize, m: &MulticlassOutput) -> Result<Vec<u32>, RuntimeError> {
    let err = |message: String| RuntimeError::Output {
        output: name.to_owned(),
        message,
    };
    let k = m.classes.len();
    let table: Vec<f64> = match v.dtype() {
        ValueType::Sequence(_) => {
            let maps = v
                .try_extract_sequence::<DynMapValueType>()
                .map_err(|e| err(format!("not a sequence of maps: {e}")))?;
            if maps.len() != rows {
                return Err(err(format!("{} maps for {rows} rows", maps.len())));
            }
            let mut t = Vec::with_capacity(rows * k);
            for (row, map) in maps.iter().enumerate() {
                let p = zipmap_row(map, &m.classes).map_err(|e| err(format!("row {row}: {e}")))?;
                t.extend(p.into_iter().map(f64::from));
            }
            t
        }
        _ => {
            let (shape, data) = float_tensor(v).map_err(err)?;
            match shape.as_slice() {
                [n, c] if *n as usize == rows && *c as usize == k => data,
                _ => return Err(err(format!("shape {shape:?} does not fit {rows} rows of {k} classes"))),
            }
        }
    };
    if let Some((i, x)) = table
        .iter()
        .enumerate()
        .find(|(_, x)| !x.is_finite() || !(-1e-5..=1.0 + 1e-5).contains(*x))
    {
        return Err(err(format!("row {}: probability {x} is not within [0, 1]", i / k)));
    }
    Ok(table
        .chunks_exact(k)
        .map(|r| {
            let mut best = 0;
            for (j, &x) in r.iter().enumerate() {
                if x > r[best] {
                    best = j;
                }
            }
            best as u32
        })
        .collect())
}

/// The labels of a model without a label output: the positive class where the probability
/// reaches the threshold (the same comparison the sandbox's decisions use), the negative
/// class elsewhere. `None` when the two classes are of different kinds or the negative one
/// is unknown (the manifest's validation refuses both).
fn derived_labels(
    probability: &[f32],
    threshold: f64,
    positive: &ClassValue,
    negative: Option<&ClassValue>,
) -> Option<Labels> {
    let decide = |p: f32| f64::from(p) >= threshold;
    Some(match (positive, negative?) {
        (ClassValue::Int(yes), ClassValue::Int(no)) => Labels::Int(
            probability
                .iter()
                .map(|&p| if decide(p) { *yes } else { *no })
                .collect(),
        ),
        (ClassValue::Text(yes), ClassValue::Text(no)) => Labels::Text(
            probability
                .iter()
                .map(|&p| if decide(p) { yes.clone() } else { no.clone() })
                .collect(),
        ),
        _ => return None,
    })
}

fn labels(v: &DynValue, name: &str, rows: usize) -> Result<Labels, RuntimeError> {
    let err = |message: String| RuntimeError::Output {
        output: name.to_owned(),
        message,
    };
    let l = match v.dtype() {
        ValueType::Tensor {
            ty: TensorElementType::String,
            ..
        } => Labels::Text(v.try_extract_strings().map_err(|e| err(e.to_string()))?.1),
        _ => {
            if let Ok((_, d)) = v.try_extract_tensor::<i64>() {
                Labels::Int(d.to_vec())
            } else if let Ok((_, d)) = v.try_extract_tensor::<i32>() {
                Labels::Int(d.iter().map(|&x| i64::from(x)).collect())
            } else if let Ok((_, d)) = v.try_extract_strings() {
                Labels::Text(d)
            } else {
                return Err(err(format!("{:?} is not a class label tensor", v.dtype())));
            }
        }
    };
    if l.len() != rows {
        return Err(err(format!("{} labels for {rows} rows", l.len())));
    }
    Ok(l)
}

fn probabilities(
    v: &DynValue,
    name: &str,
    rows: usize,
    positive: &ClassValue,
    classes: Option<&[ClassValue]>,
) -> Result<Vec<f32>, RuntimeError> {
    let err = |message: String| RuntimeError::Output {
        output: name.to_owned(),
        message,
    };
    let p: Vec<f32> = match v.dtype() {
        ValueType::Sequence(_) => {
            let maps = v
                .try_extract_sequence::<DynMapValueType>()
                .map_err(|e| err(format!("not a sequence of maps: {e}")))?;
            if maps.len() != rows {
                return Err(err(format!("{} maps for {rows} rows", maps.len())));
            }
            let mut p = Vec::with_capacity(rows);
            let positive = std::slice::from_ref(positive);
            for (row, m) in maps.iter().enumerate() {
                let x = zipmap_row(m, positive).map_err(|e| err(format!("row {row}: {e}")))?;
                p.push(x[0]);
            }
            p
        }
        _ => {
            // float, or double (what a model trained in float64 exports), narrowed to f32 as
            // every probability the sandbox keeps is.
            let (shape, data): (Vec<i64>, Vec<f32>) = match v.try_extract_tensor::<f32>() {
                Ok((shape, data)) => (shape.iter().copied().collect(), data.to_vec()),
                Err(_) => {
                    let (shape, data) = v
                        .try_extract_tensor::<f64>()
                        .map_err(|e| err(format!("not a float or double tensor: {e}")))?;
                    (
                        shape.iter().copied().collect(),
                        data.iter().map(|&x| x as f32).collect(),
                    )
                }
            };
            let dims = shape;
            match dims.as_slice() {
                [n] if *n as usize == rows => data,
                [n, 1] if *n as usize == rows => data,
                [n, k] if *n as usize == rows && *k >= 2 => {
                    let k = *k as usize;
                    let col = match classes {
                        Some(c) => c.iter().position(|c| c == positive),
                        None => match positive {
                            ClassValue::Int(i) if (*i as usize) < k && *i >= 0 => Some(*i as usize),
                            _ => None,
                        },
                    }
                    .filter(|&c| c < k)
                    .ok_or_else(|| err(format!("no column for the positive class {positive} among {k}")))?;
                    data.chunks_exact(k).map(|r| r[col]).collect()
                }
                _ => return Err(err(format!("shape {dims:?} does not fit {rows} rows"))),
            }
        }
    };
    if let Some((row, x)) = p
        .iter()
        .enumerate()
        .find(|(_, x)| !x.is_finite() || !(-1e-5..=1.0 + 1e-5).contains(*x))
    {
        return Err(err(format!("row {row}: probability {x} is not within [0, 1]")));
    }
    Ok(p.into_iter().map(|x| x.clamp(0.0, 1.0)).collect())
}
