//! `/api/v1/cases/{case}/comparison` and `/leaderboard`: runs of one case compared as paired samples, and every
//! succeeded run against the criteria it was judged by.

use crate::app;
use crate::error::ApiResult;
use crate::extract::Query;
use crate::middleware::in_case;
use crate::policy::Caller;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::Response;
use serde::Deserialize;

/// Which runs to compare.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CompareQuery {
    /// 2 to 8 run ids of the case, separated by commas, the baseline first. They must have scored the same
    /// dataset (the same `dataset_sha256`).
    runs: String,
    /// Bootstrap resamples behind each interval (default 1000, at most 10000).
    resamples: Option<usize>,
}

/// The comparison the query asks for, in the visible case `id`.
async fn compared(
    state: &AppState,
    caller: &Caller,
    id: &str,
    q: &CompareQuery,
) -> ApiResult<(evaluate::RunComparison, store::Case)> {
    let runs = app::compare::parse_runs(&q.runs)?;
    app::compare::compare(state, caller, id, &runs, q.resamples).await
}

/// Runs on the same dataset compared as paired samples: every rate of everyone and of every group, and every
/// disparity, with paired (and unpaired) bootstrap intervals of the differences, and each criterion's verdicts
/// side by side. Runs on different datasets are refused (409) naming both hashes.
#[utoipa::path(
    get,
    operation_id = "compareRuns",
    path = "/api/v1/cases/{case}/comparison",
    tag = "runs",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id."), CompareQuery),
    security(("token" = [])),
    responses(
        (status = 200, description = "The comparison.", body = crate::api::schemas::RunComparison),
        crate::api::schemas::ReportRefusals
    )
)]
pub async fn comparison(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<CompareQuery>,
) -> ApiResult<Response> {
    let (c, case) = compared(&state, &caller, &id, &q).await?;
    Ok(in_case(&case, axum::Json(c)))
}

/// The same comparison as Markdown.
#[utoipa::path(
    get,
    operation_id = "compareRunsMarkdown",
    path = "/api/v1/cases/{case}/comparison.md",
    tag = "runs",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id."), CompareQuery),
    security(("token" = [])),
    responses(
        (status = 200, description = "The comparison as Markdown.", body = String, content_type = "text/markdown"),
        crate::api::schemas::ReportRefusals
    )
)]
pub async fn comparison_md(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<CompareQuery>,
) -> ApiResult<Response> {
    let (c, case) = compared(&state, &caller, &id, &q).await?;
    Ok(in_case(
        &case,
        (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            c.to_markdown(),
        ),
    ))
}

/// Every succeeded run of the case the caller may see, with its model and its verdict on each criterion any of
/// them was judged by; most criteria passed first.
#[utoipa::path(
    get,
    operation_id = "caseLeaderboard",
    path = "/api/v1/cases/{case}/leaderboard",
    tag = "runs",
    params(("case" = crate::api::schemas::CaseId, Path, description = "The case's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The leaderboard.", body = crate::api::schemas::Leaderboard),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn leaderboard(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let (board, case) = app::compare::leaderboard(&state, &caller, &id, app::compare::MAX_LEADERBOARD_RUNS).await?;
    Ok(in_case(&case, axum::Json(board)))
}
