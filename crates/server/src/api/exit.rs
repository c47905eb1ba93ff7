//! `/api/v1/cases/{case}/exit-report` and the public summary: the written result of a case, for its
//! participants (JSON and printable HTML, Danish or English) and, once the authority has published it, for
//! anyone (`/api/v1/public/cases/{case}/summary`, no sign-in).

use crate::app::runs::report_lang;
use crate::error::{ApiError, ApiResult};
use crate::exit;
use crate::extract::Query;
use crate::middleware::in_case;
use crate::policy::{self, Caller};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Which language.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LangQuery {
    /// `da` or `en` (English when not given).
    lang: Option<String>,
}

/// The exit report of the case as the caller may read it: the plan in force, the participants, every run with
/// its hashes, isolation and verdicts, the leaderboard, the paired comparisons of runs on one dataset, the
/// findings, the checklist and the signed audit checkpoint covering all of it (signed now when the newest does
/// not cover the case's newest entry). A vendor's report holds its own work only and says so (`complete`).
#[utoipa::path(
    get,
    operation_id = "exitReport",
    path = "/api/v1/cases/{case}/exit-report",
    tag = "cases",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The exit report.", body = crate::api::schemas::ExitReport),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn report(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let (r, case) = exit::build::for_caller(&state, &caller, &id).await?;
    Ok(in_case(&case, axum::Json(r)))
}

/// The same exit report as one self-contained HTML document that prints to A4.
#[utoipa::path(
    get,
    operation_id = "exitReportHtml",
    path = "/api/v1/cases/{case}/exit-report.html",
    tag = "cases",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id."), LangQuery),
    security(("token" = [])),
    responses(
        (status = 200, description = "The exit report as HTML.", body = String, content_type = "text/html"),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn report_html(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
) -> ApiResult<Response> {
    let lang = report_lang(q.lang.as_deref())?;
    let (r, case) = exit::build::for_caller(&state, &caller, &id).await?;
    Ok(in_case(
        &case,
        crate::api::runs::html_report_response(exit::html::render(&r, lang)),
    ))
}

/// The case's public summary as it stands, for its participants: a draft (`published: false`) until the
/// authority publishes it in the plan.
#[utoipa::path(
    get,
    operation_id = "publicSummaryDraft",
    path = "/api/v1/cases/{case}/public-summary",
    tag = "cases",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The public summary, published or a draft.", body = crate::api::schemas::PublicSummary),
        crate::api::schemas::RoleReadRefusals
    )
)]
pub async fn draft(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    caller.require(policy::Action::ReadSummaryDraft)?;
    let s = exit::public::summarize(&state, &case, false)
        .await?
        .ok_or_else(|| ApiError::internal("the summary of a case was not made"))?;
    Ok(in_case(&case, axum::Json(s)))
}

/// A published case's summary, for anyone. The same answer (404) for a case that does not exist and one whose
/// summary is not published.
async fn published(state: &AppState, id: &str) -> ApiResult<exit::public::PublicSummary> {
    let nf = || ApiError::not_found("published case", id);
    let cid = store::CaseId::parse(id).map_err(|_| nf())?;
    // The plan in force decides: a summary made from an older version (a read that was still summarising when
    // the authority withdrew it) is never served after the new version is saved.
    let version = state
        .store
        .document(&cid, store::DocumentKind::Plan, None)
        .await?
        .map(|d| d.version)
        .ok_or_else(nf)?;
    if let Some((made_from, s)) = state.public_summaries.get(&cid.to_string())
        && made_from == version
    {
        return s.ok_or_else(nf);
    }
    let case = state.store.case(&cid).await?.ok_or_else(nf)?;
    let s = exit::public::summarize(state, &case, true).await?;
    state.public_summaries.put(cid.to_string(), (version, s.clone()));
    s.ok_or_else(nf)
}

/// The summary of a case whose authority has published it, for anyone: no sign-in. It holds nothing
/// confidential (no person, no run or model id, no finding's text) and fills the fields of the EU database
/// for high-risk AI (Annex VIII) and the Danish overview of public-sector AI. Reused for up to 30 seconds.
#[utoipa::path(
    get,
    operation_id = "publicSummary",
    path = "/api/v1/public/cases/{case}/summary",
    tag = "public",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id.")),
    responses(
        (status = 200, description = "The published summary.", body = crate::api::schemas::PublicSummary),
        crate::api::schemas::PublicRefusals
    )
)]
pub async fn public(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(axum::Json(published(&state, &id).await?).into_response())
}

/// The published summary as a page.
#[utoipa::path(
    get,
    operation_id = "publicSummaryHtml",
    path = "/api/v1/public/cases/{case}/summary.html",
    tag = "public",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id."), LangQuery),
    responses(
        (status = 200, description = "The published summary as HTML.", body = String, content_type = "text/html"),
        crate::api::schemas::PublicRefusals
    )
)]
pub async fn public_html(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
) -> ApiResult<Response> {
    let lang = report_lang(q.lang.as_deref())?;
    let s = published(&state, &id).await?;
    Ok(crate::api::runs::html_report_response(exit::public::render(&s, lang)))
}
