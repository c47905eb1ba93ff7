//! `/api/v1/cases`: cases, their member organisations and their criteria.

use super::views::{CaseView, CriteriaView};
use crate::app;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::middleware::{AuditContext, in_case};
use crate::policy::{self, Caller};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use store::Org;

#[utoipa::path(
    get,
    operation_id = "listCases",
    path = "/api/v1/cases",
    tag = "cases",
    security(("token" = [])),
    responses(
        (status = 200, description = "The cases the caller may see.", body = Vec<crate::api::schemas::Case>),
        crate::api::schemas::ListRefusals
    )
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::Json<Vec<CaseView>>> {
    let cases = policy::cases(&state, &caller).await?;
    let mut out = Vec::with_capacity(cases.len());
    for c in cases {
        out.push(CaseView::of(&state.store, c).await?);
    }
    Ok(axum::Json(out))
}

/// A case to open: its name, and the organisations besides the caller's that are in it.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCase {
    /// 1 to 200 characters.
    name: String,
    /// Organisations besides the caller's, by id or name.
    #[serde(default)]
    members: Vec<String>,
}

#[utoipa::path(
    post,
    operation_id = "createCase",
    path = "/api/v1/cases",
    tag = "cases",
    request_body = crate::api::schemas::NewCase,
    security(("token" = [])),
    responses(
        (status = 201, description = "The case opened.", body = crate::api::schemas::Case),
        crate::api::schemas::CreateRefusals
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    audit: AuditContext,
    Json(new): Json<NewCase>,
) -> ApiResult<Response> {
    let case = app::cases::open(
        &state,
        &caller,
        audit.on_success(StatusCode::CREATED),
        &new.name,
        &new.members,
    )
    .await?;
    let body = CaseView::of(&state.store, case.clone()).await?;
    Ok(in_case(&case, (StatusCode::CREATED, axum::Json(body))))
}

#[utoipa::path(
    get,
    operation_id = "getCase",
    path = "/api/v1/cases/{case}",
    tag = "cases",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The case.", body = crate::api::schemas::Case),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let body = CaseView::of(&state.store, case.clone()).await?;
    Ok(in_case(&case, axum::Json(body)))
}

#[utoipa::path(
    get,
    operation_id = "listMembers",
    path = "/api/v1/cases/{case}/members",
    tag = "cases",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The member organisations.", body = Vec<crate::api::schemas::Org>),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn members(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let members: Vec<Org> = app::cases::members_of(&state.store, &case).await?;
    Ok(in_case(&case, axum::Json(members)))
}

/// An organisation to add to a case, by id or by name.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    org: String,
}

#[utoipa::path(
    post,
    operation_id = "addMember",
    path = "/api/v1/cases/{case}/members",
    tag = "cases",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id.")),
    request_body = crate::api::schemas::NewMember,
    security(("token" = [])),
    responses(
        (status = 200, description = "The members after.", body = Vec<crate::api::schemas::Org>),
        crate::api::schemas::ChangeRefusals
    )
)]
pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    audit: AuditContext,
    Path(id): Path<String>,
    Json(new): Json<NewMember>,
) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let members = app::cases::add_member(&state, &caller, audit.on_success(StatusCode::OK), &case, &new.org).await?;
    Ok(in_case(&case, axum::Json(members)))
}

#[utoipa::path(
    get,
    operation_id = "getCriteria",
    path = "/api/v1/cases/{case}/criteria",
    tag = "cases",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The criteria fixed for the case.", body = crate::api::schemas::Criteria),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn criteria(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let c = state
        .store
        .criteria(&case.id)
        .await?
        .ok_or_else(|| ApiError::not_found("criteria of case", case.id.as_str()))?;
    Ok(in_case(&case, axum::Json(CriteriaView::of(c)?)))
}

/// The criteria to fix for a case, each as the engine reads it.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetCriteria {
    /// Each checked by the evaluation engine's own reader, so a wrong one is refused by name.
    #[schemars(with = "Vec<fairness::Criterion>")]
    criteria: Vec<Value>,
}

#[utoipa::path(
    put,
    operation_id = "fixCriteria",
    path = "/api/v1/cases/{case}/criteria",
    tag = "cases",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id.")),
    request_body = crate::api::schemas::SetCriteria,
    security(("token" = [])),
    responses(
        (status = 200, description = "The criteria as fixed.", body = crate::api::schemas::Criteria),
        crate::api::schemas::ChangeRefusals
    )
)]
pub async fn set_criteria(
    State(state): State<AppState>,
    caller: Caller,
    audit: AuditContext,
    Path(id): Path<String>,
    Json(body): Json<SetCriteria>,
) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let c = app::cases::fix_criteria(&state, &caller, audit.on_success(StatusCode::OK), &case, &body.criteria).await?;
    Ok(in_case(&case, axum::Json(CriteriaView::of(c)?)))
}
