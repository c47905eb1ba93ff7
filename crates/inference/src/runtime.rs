//! ONNX Runtime: finding the library, and running a model on feature tensors.
//!
//! Only the worker process runs models. The parent loads the library just to report its
//! version (`sandkasse doctor`).

use crate::features::{InputTensor, TensorData};
use crate::manifest::{ClassValue, Manifest};
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

/// Predictions for a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The model's own predicted class.
    pub label: Labels,
    /// P(positive class), checked to be finite and within [0, 1].
    pub probability: Vec<f32>,
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
        let out = &self.manifest.output;
        let (label_name, prob_name) = (out.label.clone(), out.probability.clone());
        let positive = out.positive_class.clone();
        let classes = out.classes.clone();
        let threshold = out.threshold;
        let negative = out.negative_class();
        let outputs = self.session.run(values).map_err(ort_err)?;
        let output = |name: &str| {
            outputs.get(name).ok_or_else(|| RuntimeError::Output {
                output: name.to_owned(),
                message: "missing from the model's outputs".into(),
            })
        };
        let probability = probabilities(output(&prob_name)?, &prob_name, rows, &positive, classes.as_deref())?;
        let label = match &label_name {
            Some(name) => labels(output(name)?, name, rows)?,
            None => derived_labels(&probability, threshold, &positive, negative.as_ref()).ok_or_else(|| {
                RuntimeError::Output {
                    output: prob_name.clone(),
                    message: "the manifest names no label output and no negative class".into(),
                }
            })?,
        };
        Ok(Scored { label, probability })
    }
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
            for (row, m) in maps.iter().enumerate() {
                let x = match positive {
                    ClassValue::Int(c) => m.try_extract_map::<i64, f32>().map(|m| m.get(c).copied()),
                    ClassValue::Text(c) => m.try_extract_map::<String, f32>().map(|m| m.get(c).copied()),
                }
                .map_err(|e| err(format!("row {row}: {e}")))?
                .ok_or_else(|| err(format!("row {row}: no probability for class {positive}")))?;
                p.push(x);
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
