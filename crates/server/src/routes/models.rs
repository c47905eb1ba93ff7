//! Model uploads (inspected before anything is stored) and model reads.

use crate::error::{ApiError, ApiResult};
use crate::middleware::{Audit, AuditContext};
use crate::policy::{self, Caller};
use crate::routes::cases::in_case;
use crate::state::AppState;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use inference::manifest::Manifest;
use serde_json::json;
use store::meta::{Model, NewModel, Role};

pub async fn list(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let models = policy::visible_models(&caller, state.store.list_models(&case.id).await?);
    Ok(in_case(&case, axum::Json(models)))
}

pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let (model, case) = policy::model(&state, &caller, &id).await?;
    Ok(in_case(&case, axum::Json(model)))
}

pub async fn inspection(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let (model, case) = policy::model(&state, &caller, &id).await?;
    Ok(in_case(&case, axum::Json(model.inspection)))
}

/// Who may upload models (into cases their organisation is in).
pub const UPLOADS_MODELS: &[Role] = &[Role::Vendor];

/// Reads one multipart field whole, refusing more than `limit` bytes as they arrive.
pub async fn read_field(field: &mut axum::extract::multipart::Field<'_>, name: &str, limit: u64) -> ApiResult<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| multipart_error(&format!("reading part `{name}`"), e))?
    {
        if (out.len() + chunk.len()) as u64 > limit {
            return Err(ApiError::too_large(format!(
                "part `{name}` is over its limit of {limit} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

pub fn multipart_error(what: &str, e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(format!("{what}: the upload is over the size limit"))
    } else {
        ApiError::bad_request(format!("{what}: {}", e.body_text()))
    }
}

/// `multipart/form-data` with parts `model` (ONNX) and `manifest` (TOML or JSON). Inspection
/// and the manifest check run before anything is stored; a rejection is 422 with the
/// findings, and stores nothing.
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    audit: AuditContext,
    Path(id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    caller.require(UPLOADS_MODELS, "uploading a model")?;
    let result = receive(&state, &caller, audit.on_success(StatusCode::CREATED), &case, multipart).await;
    count_upload(&state, &result);
    let created = result?;
    Ok(in_case(&case, (StatusCode::CREATED, axum::Json(&created))))
}

/// Counts an upload's outcome in the metrics.
pub fn count_upload<T>(state: &AppState, result: &ApiResult<T>) {
    state.metrics.upload(match result {
        Ok(_) => "accepted",
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => "rejected",
        Err(_) => "invalid",
    });
}

async fn receive(
    state: &AppState,
    caller: &Caller,
    audit: Audit<'_>,
    case: &store::meta::Case,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Model> {
    let mut multipart = multipart.map_err(|e| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "send multipart/form-data with parts `model` and `manifest`: {}",
                e.body_text()
            ),
        )
    })?;
    let (mut model, mut manifest) = (None, None);
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error("reading the upload", e))?
    {
        match field.name().unwrap_or_default() {
            "model" if model.is_none() => {
                model = Some(read_field(&mut field, "model", state.config.max_model_bytes).await?);
            }
            "manifest" if manifest.is_none() => {
                manifest = Some(read_field(&mut field, "manifest", state.config.max_manifest_bytes).await?);
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unexpected or repeated part {:?}; send exactly `model` and `manifest`",
                    other.chars().take(40).collect::<String>()
                )));
            }
        }
    }
    let model = model.ok_or_else(|| ApiError::bad_request("the part `model` is missing"))?;
    let manifest = manifest.ok_or_else(|| ApiError::bad_request("the part `manifest` is missing"))?;
    accept(state, caller, audit, case, model, manifest).await
}

/// Checks the manifest, inspects the model and stores both (the model's row with `audit`'s
/// entry), or stores nothing and says why. The caller has been checked to be allowed to upload
/// into `case`.
pub async fn accept(
    state: &AppState,
    caller: &Caller,
    audit: Audit<'_>,
    case: &store::meta::Case,
    model: Vec<u8>,
    manifest: Vec<u8>,
) -> ApiResult<Model> {
    let manifest_text = String::from_utf8(manifest)
        .map_err(|_| ApiError::unprocessable("invalid_manifest", "the manifest is not UTF-8 text"))?;
    let parsed = Manifest::parse(&manifest_text)
        .map_err(|e| ApiError::unprocessable("invalid_manifest", format!("the manifest: {e}")))?;
    if synth::scenario::by_name(&parsed.scenario).is_err() {
        return Err(ApiError::unprocessable(
            "invalid_manifest",
            format!(
                "the manifest names scenario {:?}, which does not exist",
                parsed.scenario
            ),
        ));
    }
    // Inspection parses untrusted protobuf: off the async threads.
    let (inspection, model) = tokio::task::spawn_blocking(move || {
        let inspection = inference::inspect::inspect(&model, &inference::inspect::Limits::default());
        (inspection, model)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut findings = inspection.findings.clone();
    if findings.is_empty() {
        findings = parsed.check_against(&inspection.summary);
    }
    if !findings.is_empty() {
        let reasons: Vec<String> = findings.iter().map(ToString::to_string).collect();
        return Err(ApiError::unprocessable(
            "model_rejected",
            format!("the model was rejected at inspection: {}", reasons.join("; ")),
        )
        .with_details(json!(reasons)));
    }
    // Blobs first (content-addressed, harmless if the row never comes), then the row.
    let blobs = state.blobs.clone();
    let manifest_bytes = manifest_text.into_bytes();
    let (model_sha, manifest_sha) = tokio::task::spawn_blocking(move || {
        Ok::<_, store::blobs::BlobError>((blobs.put(&model)?, blobs.put(&manifest_bytes)?))
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
