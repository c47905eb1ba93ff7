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

/// Checks the manifest, inspects the model and stores both (the model's row with `audit`'s
/// entry), or stores nothing and says why. `case` is one the caller can see.
pub async fn accept(
    state: &AppState,
    caller: &Caller,
    audit: Audit<'_>,
    case: &Case,
    model: Vec<u8>,
    manifest: Vec<u8>,
) -> ApiResult<Model> {
    caller.require(Action::UploadModel)?;
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
    // Inspection parses untrusted protobuf: off the async threads.
    let (mut inspection, model) = tokio::task::spawn_blocking(move || {
        let inspection = inference::inspect(&model, &inference::Limits::default());
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
