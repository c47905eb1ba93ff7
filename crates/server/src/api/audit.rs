//! `/api/v1/audit`: the audit log for advisors and admins, listed and verified.

use super::views::{AuditPage, ChainHead, ChainView};
use crate::app::audit::{AuditQuery, ChainStatus, chain_status, filter};
use crate::error::ApiResult;
use crate::extract::Query;
use crate::policy::{Action, Caller};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;

#[utoipa::path(
    get,
    operation_id = "listAudit",
    path = "/api/v1/audit",
    tag = "audit",
    params(AuditQuery),
    security(("token" = [])),
    responses(
        (status = 200, description = "A page of the audit log.", body = crate::api::schemas::AuditPage),
        crate::api::schemas::AuditRefusals
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    caller.require(Action::ReadAudit)?;
    let entries = state.store.list_audit(&filter(&q)?).await?;
    Ok(Json(AuditPage { entries }))
}

#[utoipa::path(
    get,
    operation_id = "verifyAudit",
    path = "/api/v1/audit/verify",
    tag = "audit",
    security(("token" = [])),
    responses(
        (status = 200, description = "Whether every hash and link of the chain holds.", body = crate::api::schemas::ChainView),
        crate::api::schemas::AuditRefusals
    )
)]
pub async fn verify(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<ChainView>> {
    caller.require(Action::VerifyAudit)?;
    Ok(Json(match chain_status(&state).await? {
        ChainStatus::Intact { entries, head } => ChainView::Intact {
            intact: true,
            entries,
            head: head.map(|(seq, hash)| ChainHead { seq, hash }),
        },
        ChainStatus::Broken(b) => ChainView::Broken { intact: false, at: b },
    }))
}
