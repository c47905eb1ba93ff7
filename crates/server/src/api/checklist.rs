//! `/api/v1/cases/{case}/checklist` (JSON) and `/checklist.csv`: a case's requirements checklist, read in any
//! saved version and saved as a new one; `/api/v1/checklist/schema`: its JSON Schema.

use crate::app;
use crate::app::checklist::{Format, Loaded};
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::middleware::{AuditContext, in_case};
use crate::policy::{self, Caller};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// A case's checklist as served: which version, saved by whom and when, how far it has got, and the items.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ChecklistView {
    /// The case.
    pub case: String,
    /// The saved version (1 for the first save); 0 for the blank checklist before any save.
    pub version: u64,
    /// SHA-256 of the stored canonical JSON; absent for the blank checklist.
    pub sha256: Option<String>,
    /// Who saved it (a user id).
    pub saved_by: Option<String>,
    /// When (RFC 3339, UTC).
    pub saved_at: Option<String>,
    /// Items open, answered and evidenced.
    pub summary: checklist::Summary,
    /// The checklist itself, as its schema describes it.
    pub checklist: checklist::Checklist,
}

impl ChecklistView {
    fn of(case: &store::Case, loaded: Loaded) -> Self {
        let s = loaded.stored.as_ref();
        ChecklistView {
            case: case.id.to_string(),
            version: s.map_or(0, |s| s.version),
            sha256: s.map(|s| s.sha256.to_string()),
            saved_by: s.map(|s| s.saved_by.to_string()),
            saved_at: s.map(|s| s.saved_at.to_string()),
            summary: loaded.checklist.summary(),
            checklist: loaded.checklist,
        }
    }
}

/// Which saved version to read.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// A saved version (1, 2, ...); the one in force when not given.
    version: Option<u64>,
}

#[utoipa::path(
    get,
    operation_id = "getChecklist",
    path = "/api/v1/cases/{case}/checklist",
    tag = "checklist",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id."), VersionQuery),
    security(("token" = [])),
    responses(
        (status = 200, description = "The checklist in force (or the version asked for); the blank one, version 0, before any save.", body = crate::api::schemas::ChecklistView),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let loaded = app::checklist::load(&state, &caller, &case, q.version).await?;
    Ok(in_case(&case, axum::Json(ChecklistView::of(&case, loaded))))
}

#[utoipa::path(
    get,
    operation_id = "getChecklistCsv",
    path = "/api/v1/cases/{case}/checklist.csv",
    tag = "checklist",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id."), VersionQuery),
    security(("token" = [])),
    responses(
        (status = 200, description = "The checklist as CSV (UTF-8, CRLF, formula-safe cells); importing it back gives the same bytes.", body = String, content_type = "text/csv"),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn get_csv(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let loaded = app::checklist::load(&state, &caller, &case, q.version).await?;
    let csv = checklist::to_csv(&loaded.checklist);
    Ok(in_case(
        &case,
        ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv),
    ))
}

/// The body's media type must be one of `want` (parameters such as `charset` aside).
fn media_type(headers: &HeaderMap, want: &[&str]) -> ApiResult<()> {
    let got = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if want.contains(&got.as_str()) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "the body must be {}, not {:?}",
                want.join(" or "),
                got.chars().take(60).collect::<String>()
            ),
        ))
    }
}

/// Saves after the checks in the order every change has them: the case is visible (404), the role may (403),
/// the body is the right kind (415), then what it says (422).
async fn put(
    state: AppState,
    caller: Caller,
    audit: AuditContext,
    id: String,
    (headers, body): (HeaderMap, axum::body::Bytes),
    format: Format,
) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    caller.require(crate::policy::Action::AnswerChecklist)?;
    match format {
        Format::Json => media_type(&headers, &["application/json"])?,
        Format::Csv => media_type(&headers, &["text/csv", "application/octet-stream"])?,
    }
    let body = std::str::from_utf8(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not UTF-8 (the first bad byte is at offset {}); save the file as UTF-8",
            e.valid_up_to()
        ))
    })?;
    let saved = app::checklist::save(&state, &caller, audit.on_success(StatusCode::OK), &case, body, format).await?;
    let loaded = app::checklist::load(&state, &caller, &case, Some(saved.version)).await?;
    Ok(in_case(&case, axum::Json(ChecklistView::of(&case, loaded))))
}

#[utoipa::path(
    put,
    operation_id = "saveChecklist",
    path = "/api/v1/cases/{case}/checklist",
    tag = "checklist",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id.")),
    request_body(content = crate::api::schemas::Checklist, description = "The whole checklist: one item per requirement of the catalogue.", content_type = "application/json"),
    security(("token" = [])),
    responses(
        (status = 200, description = "Saved as a new version, now in force.", body = crate::api::schemas::ChecklistView),
        crate::api::schemas::ChangeRefusals
    )
)]
pub async fn save_json(
    State(state): State<AppState>,
    caller: Caller,
    audit: AuditContext,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    put(state, caller, audit, id, (headers, body), Format::Json).await
}

#[utoipa::path(
    put,
    operation_id = "saveChecklistCsv",
    path = "/api/v1/cases/{case}/checklist.csv",
    tag = "checklist",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id.")),
    request_body(content = crate::api::schemas::Binary, description = "The checklist as CSV in UTF-8, as GET .../checklist.csv writes it; sent as application/octet-stream or text/csv.", content_type = "application/octet-stream"),
    security(("token" = [])),
    responses(
        (status = 200, description = "Saved as a new version, now in force.", body = crate::api::schemas::ChecklistView),
        crate::api::schemas::ChangeRefusals
    )
)]
pub async fn save_csv(
    State(state): State<AppState>,
    caller: Caller,
    audit: AuditContext,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    put(state, caller, audit, id, (headers, body), Format::Csv).await
}

#[utoipa::path(
    get,
    operation_id = "getChecklistSchema",
    path = "/api/v1/checklist/schema",
    tag = "checklist",
    security(("token" = [])),
    responses(
        (status = 200, description = "The JSON Schema of a checklist.", body = Object, content_type = "application/schema+json"),
        crate::api::schemas::CallerRefusals
    )
)]
pub async fn schema(_caller: Caller) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/schema+json")],
        checklist::json_schema(),
    )
}
