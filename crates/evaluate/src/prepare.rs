//! The first stage: read the model and the manifest (bounded), inspect the model and check
//! the manifest against it ([`check_model`]); then check the dataset against the manifest
//! ([`check_dataset`]). No worker starts before the model has passed; the dataset is read and
//! hashed while the workers start (both take a while, and neither needs the other). Every
//! refusal names its file.

use crate::source::Source;
use crate::{EvaluateError, Request, hex, read_bounded};
use inference::{Manifest, Summary, inspect};
use sha2::{Digest, Sha256};

/// Everything the later stages need, checked.
pub(crate) struct Prepared {
    pub(crate) manifest: Manifest,
    pub(crate) manifest_sha256: String,
    pub(crate) inspection: Summary,
    pub(crate) source: Source,
    /// Indices of the manifest's columns in the dataset's schema.
    pub(crate) feature_columns: Vec<usize>,
    /// A row is a positive decision when its probability reaches this: the yes/no manifest's
    /// threshold (only yes/no runs take these stages).
    pub(crate) threshold: f64,
}

impl Prepared {
    /// The names of the model's feature columns in `schema`, a schema of the dataset's batches
    /// (the indices are the manifest's columns in the dataset's order).
    pub(crate) fn feature_names(&self, schema: &arrow::datatypes::Schema) -> Vec<String> {
        self.feature_columns
            .iter()
            .map(|&i| schema.field(i).name().clone())
            .collect()
    }
}

/// The model and its manifest, checked; the dataset not yet read.
pub(crate) struct Checked {
    /// Handed to the workers.
    pub(crate) model_bytes: Vec<u8>,
    pub(crate) manifest: Manifest,
    pub(crate) manifest_sha256: String,
    pub(crate) inspection: Summary,
}

/// Reads and inspects the model and checks the manifest against it.
pub(crate) fn check_model(req: &Request) -> Result<Checked, EvaluateError> {
    let read_err = |file: &str, e: std::io::Error| EvaluateError::Read {
        file: file.to_owned(),
        error: e.to_string(),
    };
    let size = std::fs::metadata(&req.model)
        .map_err(|e| read_err(&req.model_name, e))?
        .len();
    if size > req.limits.max_file_bytes {
        return Err(EvaluateError::TooLarge {
            file: req.model_name.clone(),
            bytes: size,
            limit: req.limits.max_file_bytes,
        });
    }
    let model_bytes = std::fs::read(&req.model).map_err(|e| read_err(&req.model_name, e))?;
    let manifest_text = read_bounded(&req.manifest, inference::MAX_MANIFEST_BYTES as u64)
        .map_err(|e| read_err(&req.manifest_name, e))?;
    let manifest = Manifest::parse(&manifest_text).map_err(|e| EvaluateError::Manifest {
        file: req.manifest_name.clone(),
        error: e.to_string(),
    })?;
    let inspection = inspect(&model_bytes, &req.limits);
    let mut findings = inspection.findings.clone();
    if findings.is_empty() {
        findings = manifest.check_against(&inspection.summary);
    }
    if !findings.is_empty() {
        return Err(EvaluateError::Rejected(
            findings.iter().map(ToString::to_string).collect(),
        ));
    }
    let mut inspection = inspection;
    inspection.summary.warnings =
        crate::check_manifest_fits_scenario(&manifest).map_err(|problems| EvaluateError::Manifest {
            file: req.manifest_name.clone(),
            error: problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
        })?;
    let manifest_sha256 = hex(&Sha256::digest(manifest_text.as_bytes()));
    Ok(Checked {
        model_bytes,
        manifest,
        manifest_sha256,
        inspection: inspection.summary,
    })
}

/// Checks the opened dataset against the checked yes/no manifest.
pub(crate) fn check_dataset(
    req: &Request,
    checked: Checked,
    source: Source,
    threshold: f64,
) -> Result<Prepared, EvaluateError> {
    let feature_columns = check_columns(req, &checked.manifest, &source)?;
    let Checked {
        model_bytes: _,
        manifest,
        manifest_sha256,
        inspection,
    } = checked;
    Ok(Prepared {
        manifest,
        manifest_sha256,
        inspection,
        source,
        feature_columns,
        threshold,
    })
}

/// Checks that the dataset is of the manifest's scenario and holds its columns; the positions of
/// the model's columns in the batches handed out.
pub(crate) fn check_columns(req: &Request, manifest: &Manifest, source: &Source) -> Result<Vec<usize>, EvaluateError> {
    if manifest.scenario != source.spec.scenario {
        return Err(EvaluateError::Scenario {
            manifest: manifest.scenario.clone(),
            dataset: source.spec.scenario.clone(),
        });
    }
    let schema = source.schema.clone();
    for c in manifest.columns() {
        if schema.field_with_name(c).is_err() {
            return Err(EvaluateError::Manifest {
                file: req.manifest_name.clone(),
                error: format!("column {c:?} is not in scenario {}", manifest.scenario),
            });
        }
    }
    manifest
        .columns()
        .iter()
        .map(|c| {
            source.batch_schema.index_of(c).map_err(|_| EvaluateError::Manifest {
                file: req.manifest_name.clone(),
                error: format!("column {c:?} was not read from the dataset"),
            })
        })
        .collect()
}
