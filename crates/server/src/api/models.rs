//! `/api/v1/.../models`: uploads (inspected before anything is stored) and reads.

use crate::app;
use crate::error::{ApiError, ApiResult};
use crate::extract::multipart_error;
use crate::middleware::{AuditContext, in_case};
use crate::policy::{self, Action, Caller};
use crate::state::AppState;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use store::Model;

#[utoipa::path(
    get,
    operation_id = "listModels",
    path = "/api/v1/cases/{case}/models",
    tag = "models",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The models of the case the caller may see.", body = Vec<crate::api::schemas::Model>),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn list(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let models = app::models::of_case(&state, &caller, &case).await?;
    Ok(in_case(&case, axum::Json(models)))
}

#[utoipa::path(
    get,
    operation_id = "getModel",
    path = "/api/v1/models/{model}",
    tag = "models",
    params(("model" = crate::api::schemas::ModelId, Path, description = "The model's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The model.", body = crate::api::schemas::Model),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let (model, case) = policy::model(&state, &caller, &id).await?;
    Ok(in_case(&case, axum::Json(model)))
}

#[utoipa::path(
    get,
    operation_id = "getInspection",
    path = "/api/v1/models/{model}/inspection",
    tag = "models",
    params(("model" = crate::api::schemas::ModelId, Path, description = "The model's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "What static inspection found in the model.", body = crate::api::schemas::Inspection),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn inspection(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let (model, case) = policy::model(&state, &caller, &id).await?;
    Ok(in_case(&case, axum::Json(model.inspection)))
}

/// The model's manifest as stored: the vendor's own, or the one the sandbox drafted from the
/// model (TOML). Plain text; what it says is the vendor's.
#[utoipa::path(
    get,
    operation_id = "getModelManifest",
    path = "/api/v1/models/{model}/manifest",
    tag = "models",
    params(("model" = crate::api::schemas::ModelId, Path, description = "The model's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The manifest, TOML or JSON as uploaded or drafted.", body = String, content_type = "text/plain"),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn manifest(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let (model, case) = policy::model(&state, &caller, &id).await?;
    let blobs = state.blobs.clone();
    let digest = model.manifest_sha256.clone();
    let bytes = tokio::task::spawn_blocking(move || blobs.get(&digest))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(format!("reading the manifest: {e}")))?;
    Ok(in_case(
        &case,
        ([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], bytes),
    ))
}

/// `multipart/form-data` with parts `model` (ONNX) and `manifest` (TOML or JSON). Inspection
/// and the manifest check run before anything is stored; a rejection is 422 with the
/// findings, and stores nothing.
#[utoipa::path(
    post,
    operation_id = "uploadModel",
    path = "/api/v1/cases/{case}/models",
    tag = "models",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id.")),
    request_body(content = crate::api::schemas::ModelUpload, content_type = "multipart/form-data", description = "The ONNX model (`model`) and its manifest (`manifest`)."),
    security(("token" = [])),
    responses(
        (status = 201, description = "The accepted model.", body = crate::api::schemas::Model),
        crate::api::schemas::ChangeRefusals
    )
)]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    audit: AuditContext,
    Path(id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    // Refused before a byte of the body is read.
    caller.require(Action::UploadModel)?;
    let result = receive(&state, &caller, audit.on_success(StatusCode::CREATED), &case, multipart).await;
    app::models::count_upload(&state, &result);
    let created = result?;
    Ok(in_case(&case, (StatusCode::CREATED, axum::Json(&created))))
}

async fn receive(
    state: &AppState,
    caller: &Caller,
    audit: crate::middleware::Audit<'_>,
    case: &store::Case,
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
    let mut parts = app::models::UploadParts::default();
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error("reading the upload", e))?
    {
        if !parts.read(&mut field, state).await? {
            return Err(ApiError::bad_request(format!(
                "unexpected or repeated part {:?}; send `model` and `manifest`, or `model`, `name`, `version` and `scenario` (and optionally {}) to have the manifest drafted",
                field.name().unwrap_or_default().chars().take(40).collect::<String>(),
                app::models::DRAFT_PARTS[3..].join(", ")
            )));
        }
    }
    let (model, manifest) = parts.into_source()?;
    app::models::accept(state, caller, audit, case, model, manifest).await
}
