//! Models: the visible models of a case, and accepting an upload (inspected before anything is
//! stored).

use crate::error::{ApiError, ApiResult};
use crate::middleware::Audit;
use crate::policy::{self, Action, Caller};
use crate::state::AppState;
use axum::http::StatusCode;
use inference::Manifest;
use serde_json::json;
use store::{Case, Model, NewModel};

/// The models of a visible case that the caller may see.
pub async fn of_case(state: &AppState, caller: &Caller, case: &Case) -> ApiResult<Vec<Model>> {
    Ok(policy::visible_models(caller, state.store.list_models(&case.id).await?))
}

/// Counts an upload's outcome in the metrics.
pub fn count_upload<T>(state: &AppState, result: &ApiResult<T>) {
    state.metrics.upload(match result {
        Ok(_) => "accepted",
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => "rejected",
        Err(_) => "invalid",
    });
}

/// Where an upload's manifest comes from: the vendor's own, or drafted by the sandbox from the
/// model's declared inputs and outputs (when the upload has no manifest part).
pub enum ManifestSource {
    /// The manifest's bytes as uploaded (TOML or JSON).
    Given(Vec<u8>),
    /// Draft one from the model, with what the model cannot say.
    Draft(evaluate::DraftRequest),
}

/// Largest text part of an upload other than the manifest and the feature names.
const MAX_TEXT_PART: u64 = 200;
/// Largest `feature_names` part: 10,000 names of up to 200 characters, roughly.
pub(crate) const MAX_FEATURE_NAMES_PART: u64 = 1 << 20;

/// The parts of a model upload, read from a multipart body by the API and the pages alike:
/// `model`, and either `manifest` or what a drafted one needs (`name`, `version`, `scenario`,
/// and optionally `feature_names`, `positive_class`, `threshold`). Each part is bounded as it
/// is read; a repeated or unknown part is refused.
#[derive(Default)]
pub struct UploadParts {
    model: Option<Vec<u8>>,
    manifest: Option<Vec<u8>>,
    text: std::collections::BTreeMap<&'static str, String>,
}

/// The optional parts of an upload that drafts its manifest.
pub const DRAFT_PARTS: [&str; 6] = [
    "name",
    "version",
    "scenario",
    "feature_names",
    "positive_class",
    "threshold",
];

impl UploadParts {
    /// Reads `field` if it is one of the upload's parts (`Ok(false)`: not one, or repeated).
    pub async fn read(&mut self, field: &mut axum::extract::multipart::Field<'_>, state: &AppState) -> ApiResult<bool> {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "model" if self.model.is_none() => {
                self.model = Some(crate::extract::read_field(field, "model", state.config.max_model_bytes).await?);
            }
            "manifest" if self.manifest.is_none() => {
                self.manifest =
                    Some(crate::extract::read_field(field, "manifest", state.config.max_manifest_bytes).await?);
            }
            other => {
                let Some(part) = DRAFT_PARTS.into_iter().find(|p| *p == other) else {
                    return Ok(false);
                };
                if self.text.contains_key(part) {
                    return Ok(false);
                }
                let limit = if part == "feature_names" {
                    MAX_FEATURE_NAMES_PART
                } else {
                    MAX_TEXT_PART
                };
                let bytes = crate::extract::read_field(field, part, limit).await?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| ApiError::bad_request(format!("the part `{part}` is not UTF-8 text")))?;
                self.text.insert(part, text);
            }
        }
        Ok(true)
    }

    /// The model's bytes and where its manifest comes from. An empty manifest part (a form
    /// whose file field was left empty) counts as none.
    pub fn into_source(mut self) -> ApiResult<(Vec<u8>, ManifestSource)> {
        // A form sends its empty fields too: an empty part is no part.
        self.text.retain(|_, v| !v.trim().is_empty());
        let model = self
            .model
            .filter(|m| !m.is_empty())
            .ok_or_else(|| ApiError::bad_request("the part `model` is missing: send the ONNX file as `model`"))?;
        if let Some(manifest) = self.manifest.take().filter(|m| !m.is_empty()) {
            if let Some(part) = self.text.keys().next() {
                return Err(ApiError::bad_request(format!(
                    "the part `{part}` is for drafting a manifest; this upload has its own manifest, which says it"
                )));
            }
            return Ok((model, ManifestSource::Given(manifest)));
        }
        let mut take = |part: &str| {
            self.text
                .remove(part)
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
        };
        let required = |value: Option<String>, part: &str| {
            value.ok_or_else(|| {
                ApiError::bad_request(format!(
                    "the part `{part}` is missing: send the manifest as `manifest`, or `name`, `version` and `scenario` to have one drafted from the model"
                ))
            })
        };
        let name = required(take("name"), "name")?;
        let version = required(take("version"), "version")?;
        let scenario = required(take("scenario"), "scenario")?;
        let feature_names = take("feature_names")
            .map(|t| evaluate::parse_feature_names(&t))
            .transpose()
            .map_err(|e| ApiError::bad_request(format!("the part `feature_names`: {e}")))?;
        let positive_class = take("positive_class");
        let threshold = match take("threshold") {
            None => 0.5,
            Some(t) => t
                .parse::<f64>()
                .ok()
                .filter(|t| (0.0..=1.0).contains(t))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "the part `threshold` is {:?}; a number in [0, 1] is expected",
                        t.chars().take(40).collect::<String>()
                    ))
                })?,
        };
        Ok((
            model,
            ManifestSource::Draft(evaluate::DraftRequest {
                name,
                version,
                scenario,
                feature_names,
                positive_class,
                threshold,
            }),
        ))
    }
}

/// Inspection parses untrusted protobuf: off the async threads.
async fn inspect(model: Vec<u8>) -> ApiResult<(inference::Inspection, Vec<u8>)> {
    tokio::task::spawn_blocking(move || {
        let inspection = inference::inspect(&model, &inference::Limits::default());
        (inspection, model)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))
}

fn rejected(findings: &[inference::Finding]) -> ApiError {
    let reasons: Vec<String> = findings.iter().map(ToString::to_string).collect();
    ApiError::unprocessable(
        "model_rejected",
        format!("the model was rejected at inspection: {}", reasons.join("; ")),
    )
    .with_details(json!(reasons))
}

/// Checks the manifest (or drafts one), inspects the model and stores both (the model's row
/// with `audit`'s entry), or stores nothing and says why. `case` is one the caller can see.
pub async fn accept(
    state: &AppState,
    caller: &Caller,
    audit: Audit<'_>,
    case: &Case,
    model: Vec<u8>,
    manifest: ManifestSource,
) -> ApiResult<Model> {
    caller.require(Action::UploadModel)?;
    // The model is inspected first when a manifest is drafted from it, else after the
    // manifest's own checks (`Err` holds it until then).
    let (manifest, inspected) = match manifest {
        ManifestSource::Given(bytes) => (bytes, Err(model)),
        ManifestSource::Draft(request) => {
            let (inspection, model) = inspect(model).await?;
            if !inspection.findings.is_empty() {
                return Err(rejected(&inspection.findings));
            }
            // The model's names are unbounded (as many inputs as the inspection allows): off the
            // async threads.
            let summary = inspection.summary.clone();
            let drafted = tokio::task::spawn_blocking(move || evaluate::draft_manifest(&summary, &request))
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?;
            let drafted = drafted.map_err(|problems| {
                let reasons: Vec<String> = problems.iter().map(ToString::to_string).collect();
                ApiError::unprocessable(
                    "invalid_manifest",
                    format!(
                        "no manifest could be drafted from the model; send one as the part `manifest`, or fix: {}",
                        reasons.join("; ")
                    ),
                )
                .with_details(json!(reasons))
            })?;
            (evaluate::manifest_toml(&drafted).into_bytes(), Ok((inspection, model)))
        }
    };
    let manifest_text = String::from_utf8(manifest)
        .map_err(|_| ApiError::unprocessable("invalid_manifest", "the manifest is not UTF-8 text"))?;
    let parsed = Manifest::parse(&manifest_text)
        .map_err(|e| ApiError::unprocessable("invalid_manifest", format!("the manifest: {e}")))?;
    // The manifest against its scenario's data (columns, types, one-hot categories), before
    // the model is even inspected: every problem at once, each naming its field.
    // The first check of a scenario draws a sample of it: off the async threads.
    let checked = parsed.clone();
    let fit = tokio::task::spawn_blocking(move || evaluate::check_manifest_fits_scenario(&checked))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let warnings = fit.map_err(|problems| {
        let reasons: Vec<String> = problems.iter().map(ToString::to_string).collect();
        ApiError::unprocessable(
            "invalid_manifest",
            format!("the manifest does not fit its scenario: {}", reasons.join("; ")),
        )
        .with_details(json!(reasons))
    })?;
    let (mut inspection, model) = match inspected {
        Ok(done) => done,
        Err(model) => inspect(model).await?,
    };
    let mut findings = inspection.findings.clone();
    if findings.is_empty() {
        findings = parsed.check_against(&inspection.summary);
    }
    if !findings.is_empty() {
        return Err(rejected(&findings));
    }
    inspection.summary.warnings = warnings;
    // Blobs first (content-addressed, harmless if the row never comes), then the row.
    let blobs = state.blobs.clone();
    let manifest_bytes = manifest_text.into_bytes();
    let (model_sha, manifest_sha) = tokio::task::spawn_blocking(move || {
        Ok::<_, store::BlobError>((blobs.put(&model)?, blobs.put(&manifest_bytes)?))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    let new = NewModel {
        case_id: case.id.clone(),
        org_id: caller.org.id.clone(),
        name: parsed.name.clone(),
        version: parsed.version.clone(),
        scenario: parsed.scenario.clone(),
        model_sha256: model_sha,
        manifest_sha256: manifest_sha,
        inspection: serde_json::to_value(&inspection.summary).map_err(|e| ApiError::internal(e.to_string()))?,
    };
    let created = audit
        .commit(
            state
                .store
                .create_model_audited(new, |m| audit.entry(format!("model {}", m.id), Some(&case.id))),
        )
        .await?;
    Ok(created)
}
