//! The audit log, for advisors and admins: filtered listing and chain verification.

use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::policy::Caller;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use store::meta::{AuditFilter, Role};
use store::{CaseId, StoreError, Timestamp};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    case: Option<String>,
    actor: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Value>> {
    caller.require(&[Role::Advisor, Role::Admin], "reading the audit log")?;
    let time = |s: &Option<String>, name: &str| {
        s.as_deref()
            .map(Timestamp::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request(format!("`{name}`: {e}")))
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "`limit` must be in 1..=1000, got {limit}"
        )));
    }
    let filter = AuditFilter {
        case: q
            .case
            .as_deref()
            .map(CaseId::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request(format!("`case`: {e}")))?,
        actor: q.actor.clone(),
        from: time(&q.from, "from")?,
        to: time(&q.to, "to")?,
        limit,
        offset: q.offset.unwrap_or(0),
    };
    let entries = state.store.list_audit(&filter).await?;
    Ok(Json(json!({"entries": entries})))
}

pub async fn verify(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require(&[Role::Advisor, Role::Admin], "verifying the audit log")?;
    match state.store.verify_audit().await {
        Ok(n) => {
            let head = state.store.all_audit().await?.pop();
            Ok(Json(json!({
                "intact": true,
                "entries": n,
                "head": head.map(|h| json!({"seq": h.seq, "hash": h.hash})),
            })))
        }
        Err(StoreError::ChainBroken(b)) => Ok(Json(json!({"intact": false, "break": b}))),
        Err(e) => Err(e.into()),
    }
}
