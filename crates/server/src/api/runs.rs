//! `/api/v1/runs`: queued, read with their progress, cancelled, and their reports.

use super::views::RunView;
use crate::app;
use crate::app::runs::RunRequest;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Query};
use crate::middleware::{AuditCase, AuditContext, AuditObject, in_case};
use crate::policy::{self, Caller};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use store::RunState;

#[utoipa::path(
    post,
    operation_id = "createRun",
    path = "/api/v1/runs",
    tag = "runs",
    request_body = crate::api::schemas::NewRun,
    security(("token" = [])),
    responses(
        (status = 201, description = "The queued run.", body = crate::api::schemas::Run),
        crate::api::schemas::ChangeRefusals
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    audit: AuditContext,
    Json(body): Json<RunRequest>,
) -> ApiResult<Response> {
    let (run, case) = app::runs::start(&state, &caller, audit.on_success(StatusCode::CREATED), &body).await?;
    Ok(in_case(&case, (StatusCode::CREATED, axum::Json(RunView::from(run)))))
}

#[utoipa::path(
    get,
    operation_id = "getRun",
    path = "/api/v1/runs/{run}",
    tag = "runs",
    params(("run" = crate::api::schemas::RunId, Path, description = "The run's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The run with its progress.", body = crate::api::schemas::Run),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let (run, case) = policy::run(&state, &caller, &id).await?;
    Ok(in_case(&case, axum::Json(RunView::from(run))))
}

#[utoipa::path(
    get,
    operation_id = "listCaseRuns",
    path = "/api/v1/cases/{case}/runs",
    tag = "runs",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The runs of the case the caller may see.", body = Vec<crate::api::schemas::Run>),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn list_case(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let runs: Vec<RunView> = policy::runs_of_case(&state, &caller, &case)
        .await?
        .into_iter()
        .map(RunView::from)
        .collect();
    Ok(in_case(&case, axum::Json(runs)))
}

/// Which runs to list: of one case, in one state.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    case: Option<String>,
    state: Option<String>,
}

#[utoipa::path(
    get,
    operation_id = "listRuns",
    path = "/api/v1/runs",
    tag = "runs",
    params(ListQuery),
    security(("token" = [])),
    responses(
        (status = 200, description = "The runs the caller may see.", body = Vec<crate::api::schemas::Run>),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn list(State(state): State<AppState>, caller: Caller, Query(q): Query<ListQuery>) -> ApiResult<Response> {
    let want = q
        .state
        .as_deref()
        .map(RunState::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let cases = match &q.case {
        Some(id) => vec![policy::case(&state, &caller, id).await?],
        None => policy::cases(&state, &caller).await?,
    };
    let mut out = Vec::new();
    for case in &cases {
        for run in policy::runs_of_case(&state, &caller, case).await? {
            if want.is_none_or(|w| w == run.state) {
                out.push(RunView::from(run));
            }
        }
    }
    let mut r = axum::Json(out).into_response();
    if let [case] = cases.as_slice() {
        r.extensions_mut().insert(AuditCase(case.id.as_str().to_owned()));
    }
    Ok(r)
}

#[utoipa::path(
    post,
    operation_id = "cancelRun",
    path = "/api/v1/runs/{run}/cancel",
    tag = "runs",
    params(("run" = crate::api::schemas::RunId, Path, description = "The run's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The cancelled run.", body = crate::api::schemas::Run),
        crate::api::schemas::CancelRefusals
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    audit: AuditContext,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (cancelled, case) = app::runs::cancel(&state, &caller, audit.on_success(StatusCode::OK), &id).await?;
    Ok(in_case(&case, axum::Json(RunView::from(cancelled))))
}

/// Re-executes a succeeded run from its record (the model by hash, the dataset spec and seeds)
/// and says whether the new findings are byte-identical to the stored ones, naming the first
/// difference if not, and the versions that differ. Advisors and admins; changes no data. Runs
/// as long as the run did (one replay at a time per process; 503 while busy).
#[utoipa::path(
    post,
    operation_id = "replayRun",
    path = "/api/v1/runs/{run}/replay",
    tag = "runs",
    params(("run" = crate::api::schemas::RunId, Path, description = "The run's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The replay's comparison with the stored record.", body = crate::api::schemas::Replay),
        crate::api::schemas::ReplayRefusals
    )
)]
pub async fn replay(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let (replay, case) = app::runs::replay(&state, &caller, &id).await?;
    // The audit entry says what the replay found, with the hashes it compared.
    let object = replay.audit_object();
    let mut r = in_case(&case, axum::Json(replay));
    r.extensions_mut().insert(AuditObject(object));
    Ok(r)
}

#[utoipa::path(
    get,
    operation_id = "getReport",
    path = "/api/v1/runs/{run}/report",
    tag = "runs",
    params(("run" = crate::api::schemas::RunId, Path, description = "The run's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The run record of a succeeded run.", body = crate::api::schemas::RunRecord),
        crate::api::schemas::ReportRefusals
    )
)]
pub async fn report(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let (report, case, _) = app::runs::stored_report(&state, &caller, &id).await?;
    Ok(in_case(&case, axum::Json(report.record)))
}

#[utoipa::path(
    get,
    operation_id = "getReportMarkdown",
    path = "/api/v1/runs/{run}/report.md",
    tag = "runs",
    params(("run" = crate::api::schemas::RunId, Path, description = "The run's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The report as Markdown.", body = String, content_type = "text/markdown"),
        crate::api::schemas::ReportRefusals
    )
)]
pub async fn report_md(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let (report, case, _) = app::runs::stored_report(&state, &caller, &id).await?;
    Ok(in_case(
        &case,
        (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            report.markdown,
        ),
    ))
}

/// The language of an HTML report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HtmlQuery {
    lang: Option<String>,
}

/// The report as one self-contained HTML page, in Danish or English (`?lang=da|en`).
#[utoipa::path(
    get,
    operation_id = "getReportHtml",
    path = "/api/v1/runs/{run}/report.html",
    tag = "runs",
    params(("run" = crate::api::schemas::RunId, Path, description = "The run's id."), HtmlQuery),
    security(("token" = [])),
    responses(
        (status = 200, description = "The report as one self-contained HTML page.", body = String, content_type = "text/html"),
        crate::api::schemas::ReportRefusals
    )
)]
pub async fn report_html(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<HtmlQuery>,
) -> ApiResult<Response> {
    let lang = app::runs::report_lang(q.lang.as_deref())?;
    let (html, case) = app::runs::render_report(&state, &caller, &id, lang).await?;
    Ok(in_case(&case, html_report_response(html)))
}

/// A report page with a policy that lets it run no script and load nothing.
pub fn html_report_response(html: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
            ),
        ],
        html,
    )
        .into_response()
}
