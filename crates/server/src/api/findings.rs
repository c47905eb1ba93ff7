//! `/api/v1/cases/{case}/findings`: the findings and notes advisors and authorities write on a case, its models
//! and its runs. Append-only; vendors read those on their own work.

use super::views::FindingView;
use crate::app;
use crate::app::findings::FindingRequest;
use crate::error::ApiResult;
use crate::extract::Json;
use crate::middleware::{AuditContext, in_case};
use crate::policy::{self, Caller};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

#[utoipa::path(
    get,
    operation_id = "listFindings",
    path = "/api/v1/cases/{case}/findings",
    tag = "findings",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The case's findings the caller may read, oldest first; a superseded one names its successor.", body = Vec<crate::api::schemas::Finding>),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn list(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let visible = app::findings::list(&state, &caller, &case).await?;
    // Successors among what the caller reads: a correction keeps its target, so none is hidden from its reader.
    let body = FindingView::list(visible.clone(), &visible);
    Ok(in_case(&case, axum::Json(body)))
}

#[utoipa::path(
    post,
    operation_id = "createFinding",
    path = "/api/v1/cases/{case}/findings",
    tag = "findings",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id.")),
    request_body = crate::api::schemas::NewFinding,
    security(("token" = [])),
    responses(
        (status = 201, description = "The finding, kept as written.", body = crate::api::schemas::Finding),
        crate::api::schemas::ChangeRefusals
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    audit: AuditContext,
    Path(id): Path<String>,
    Json(req): Json<FindingRequest>,
) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let finding = app::findings::write(&state, &caller, audit.on_success(StatusCode::CREATED), &case, req).await?;
    let body = FindingView {
        finding,
        superseded_by: None,
    };
    Ok(in_case(&case, (StatusCode::CREATED, axum::Json(body))))
}
