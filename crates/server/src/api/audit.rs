//! `/api/v1/audit`: the audit log for advisors and admins, listed and verified.

use crate::app::audit::{AuditQuery, ChainStatus, chain_status, filter};
use crate::error::ApiResult;
use crate::extract::Query;
use crate::policy::{Action, Caller};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Value>> {
    caller.require(Action::ReadAudit)?;
    let entries = state.store.list_audit(&filter(&q)?).await?;
    Ok(Json(json!({"entries": entries})))
}

pub async fn verify(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require(Action::VerifyAudit)?;
    Ok(Json(match chain_status(&state).await? {
        ChainStatus::Intact { entries, head } => json!({
            "intact": true,
            "entries": entries,
            "head": head.map(|(seq, hash)| json!({"seq": seq, "hash": hash})),
        }),
        ChainStatus::Broken(b) => json!({"intact": false, "break": b}),
    }))
}
