//! The first stage: read the model and the manifest (bounded), inspect the model, check the
//! manifest against it and the dataset against the manifest. Nothing untrusted runs before this
//! has passed, and every refusal names its file.

use crate::source::Source;
use crate::{EvaluateError, Request, hex, read_bounded};
use inference::{Manifest, Summary, inspect};
use sha2::{Digest, Sha256};

/// Everything the later stages need, checked.
pub(crate) struct Prepared {
    /// Handed to the workers (taken out when they start).
    pub(crate) model_bytes: Vec<u8>,
    pub(crate) manifest: Manifest,
    pub(crate) manifest_sha256: String,
    pub(crate) inspection: Summary,
    pub(crate) source: Source,
    /// Indices of the manifest's columns in the dataset's schema.
    pub(crate) feature_columns: Vec<usize>,
}

pub(crate) fn prepare(req: &Request) -> Result<Prepared, EvaluateError> {
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
    let source = Source::open(&req.dataset)?;
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
    let manifest_sha256 = hex(&Sha256::digest(manifest_text.as_bytes()));
    let feature_columns: Vec<usize> = manifest
        .columns()
        .iter()
        .filter_map(|c| schema.index_of(c).ok())
        .collect();
    Ok(Prepared {
        model_bytes,
        manifest,
        manifest_sha256,
        inspection: inspection.summary,
        source,
        feature_columns,
    })
}
