//! `/api/v1/cases/{case}/plan`: a case's sandbox plan, read in any saved version and saved as a new one.

use crate::app;
use crate::app::plan::Plan;
use crate::error::ApiResult;
use crate::extract::{Json, Query};
use crate::middleware::{AuditContext, in_case};
use crate::policy::{self, Caller};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// A case's plan as served.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct PlanView {
    /// The case.
    pub case: String,
    /// The saved version (1 for the first save); 0 before any save.
    pub version: u64,
    /// SHA-256 of the stored canonical JSON; absent before any save.
    pub sha256: Option<String>,
    /// Who saved it (a user id).
    pub saved_by: Option<String>,
    /// When (RFC 3339, UTC).
    pub saved_at: Option<String>,
    /// The plan; absent before any save.
    pub plan: Option<Plan>,
}

impl PlanView {
    fn of(case: &store::Case, loaded: Option<(Plan, store::StoredDocument)>) -> Self {
        match loaded {
            None => PlanView {
                case: case.id.to_string(),
                version: 0,
                sha256: None,
                saved_by: None,
                saved_at: None,
                plan: None,
            },
            Some((plan, s)) => PlanView {
                case: case.id.to_string(),
                version: s.version,
                sha256: Some(s.sha256.to_string()),
                saved_by: Some(s.saved_by.to_string()),
                saved_at: Some(s.saved_at.to_string()),
                plan: Some(plan),
            },
        }
    }
}

/// Which saved version to read.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PlanQuery {
    /// A saved version (1, 2, ...); the one in force when not given.
    version: Option<u64>,
}

#[utoipa::path(
    get,
    operation_id = "getPlan",
    path = "/api/v1/cases/{case}/plan",
    tag = "plan",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id."), PlanQuery),
    security(("token" = [])),
    responses(
        (status = 200, description = "The plan in force (or the version asked for); version 0 and no plan before the first save.", body = crate::api::schemas::PlanView),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<PlanQuery>,
) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let loaded = app::plan::load(&state, &caller, &case, q.version).await?;
    Ok(in_case(&case, axum::Json(PlanView::of(&case, loaded))))
}

#[utoipa::path(
    put,
    operation_id = "savePlan",
    path = "/api/v1/cases/{case}/plan",
    tag = "plan",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id.")),
    request_body = crate::api::schemas::SandboxPlan,
    security(("token" = [])),
    responses(
        (status = 200, description = "Saved as a new version, now in force; runs started from now record it.", body = crate::api::schemas::PlanView),
        crate::api::schemas::ChangeRefusals
    )
)]
pub async fn save(
    State(state): State<AppState>,
    caller: Caller,
    audit: AuditContext,
    Path(id): Path<String>,
    Json(plan): Json<Plan>,
) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let saved = app::plan::save(&state, &caller, audit.on_success(StatusCode::OK), &case, plan).await?;
    let loaded = app::plan::load(&state, &caller, &case, Some(saved.version)).await?;
    Ok(in_case(&case, axum::Json(PlanView::of(&case, loaded))))
}
