//! The case's written result as pages: its exit report and its public summary (draft or published), each the
//! same self-contained document the API serves, in the language asked for.

use super::{PageResult, Session};
use crate::api::runs::html_report_response;
use crate::app::runs::report_lang;
use crate::error::ApiError;
use crate::exit;
use crate::middleware::in_case;
use crate::policy;
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangQuery {
    lang: Option<String>,
}

/// `/ui/cases/{case}/exit-report?lang=da|en`.
pub async fn report(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    q: Result<Query<LangQuery>, QueryRejection>,
) -> PageResult {
    let Query(q) = q.map_err(super::bad_query)?;
    let lang = report_lang(q.lang.as_deref())?;
    let (r, case) = exit::build::for_caller(&state, &s.caller, &id).await?;
    Ok(in_case(&case, html_report_response(exit::html::render(&r, lang))))
}

/// `/ui/cases/{case}/public-summary?lang=da|en`: the summary as the public would see it, marked as a draft
/// until the authority publishes it.
pub async fn summary(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    q: Result<Query<LangQuery>, QueryRejection>,
) -> PageResult {
    let Query(q) = q.map_err(super::bad_query)?;
    let lang = report_lang(q.lang.as_deref())?;
    let case = policy::case(&state, &s.caller, &id).await?;
    s.caller.require(policy::Action::ReadSummaryDraft)?;
    let summary = exit::public::summarize(&state, &case, false)
        .await?
        .ok_or_else(|| ApiError::internal("the summary of a case was not made"))?;
    Ok(in_case(
        &case,
        html_report_response(exit::public::render(&summary, lang)),
    ))
}
