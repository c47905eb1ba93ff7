//! `/api/v1/audit`: the audit log for advisors and admins, listed and verified.

use super::views::{AuditKeyView, AuditPage, ChainHead, ChainView, CheckpointView, ConsistencyView, InclusionView};
use crate::app::audit::{self as app, AuditQuery, ChainStatus, chain_status, filter};
use crate::error::{ApiError, ApiResult};
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
        ChainStatus::Intact {
            entries,
            head,
            root,
            checkpoints,
            foreign,
        } => ChainView::Intact {
            intact: true,
            entries,
            head: head.map(|(seq, hash)| ChainHead { seq, hash }),
            root: store::merkle::to_hex(&root),
            checkpoints,
            foreign_checkpoints: foreign,
        },
        ChainStatus::Broken(b) => ChainView::Broken { intact: false, at: b },
        ChainStatus::Diverges(d) => ChainView::Diverges {
            intact: false,
            divergence: d.to_string(),
        },
        ChainStatus::ForgedCheckpoint(why) => ChainView::Diverges {
            intact: false,
            divergence: format!("a stored checkpoint is not this sandbox's: {why}"),
        },
    }))
}

#[utoipa::path(
    get,
    operation_id = "getAuditCheckpoint",
    path = "/api/v1/audit/checkpoint",
    tag = "audit",
    security(("token" = [])),
    responses(
        (status = 200, description = "The newest signed checkpoint of the audit log.", body = crate::api::schemas::AuditCheckpoint),
        crate::api::schemas::CheckpointRefusals
    )
)]
pub async fn checkpoint(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<CheckpointView>> {
    caller.require(Action::ReadAudit)?;
    app::latest_checkpoint(&state)
        .await?
        .map(|c| Json(c.into()))
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "no checkpoint of the audit log has been signed yet; POST /api/v1/audit/checkpoint signs one",
            )
        })
}

#[utoipa::path(
    post,
    operation_id = "signAuditCheckpoint",
    path = "/api/v1/audit/checkpoint",
    tag = "audit",
    security(("token" = [])),
    responses(
        (status = 201, description = "The log verified and its tree head was signed now; keep the note outside the sandbox.", body = crate::api::schemas::AuditCheckpoint),
        (status = 409, description = "The log does not verify, so nothing was signed.", body = crate::api::schemas::Error),
        crate::api::schemas::CheckpointCreateRefusals
    )
)]
pub async fn sign_checkpoint(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<(axum::http::StatusCode, Json<CheckpointView>)> {
    caller.require(Action::CheckpointAudit)?;
    let c = app::take_checkpoint(&state).await?;
    Ok((axum::http::StatusCode::CREATED, Json(c.into())))
}

#[utoipa::path(
    get,
    operation_id = "getAuditKey",
    path = "/api/v1/audit/key",
    tag = "audit",
    security(("token" = [])),
    responses(
        (status = 200, description = "The public key that checks the audit log's checkpoints.", body = crate::api::schemas::AuditKey),
        crate::api::schemas::KeyRefusals
    )
)]
pub async fn key(State(state): State<AppState>, _caller: Caller) -> Json<AuditKeyView> {
    let v = state.audit_key.verifier();
    Json(AuditKeyView {
        origin: v.origin().to_owned(),
        key: v.to_string(),
    })
}

/// Which entry, in which tree.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// The entry (1-based); required (optional here only so a caller without the right is refused as such).
    #[param(minimum = 1, required = true)]
    pub seq: Option<u64>,
    /// The tree's size; the whole log by default.
    pub size: Option<u64>,
}

#[utoipa::path(
    get,
    operation_id = "proveAuditInclusion",
    path = "/api/v1/audit/proof/inclusion",
    tag = "audit",
    params(InclusionQuery),
    security(("token" = [])),
    responses(
        (status = 200, description = "The entry's inclusion proof.", body = crate::api::schemas::AuditInclusionProof),
        crate::api::schemas::AuditRefusals
    )
)]
pub async fn inclusion(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<InclusionQuery>,
) -> ApiResult<Json<InclusionView>> {
    caller.require(Action::ReadAudit)?;
    let seq = q
        .seq
        .ok_or_else(|| ApiError::bad_request("`seq`, the entry to prove, is required"))?;
    let p = app::inclusion(&state, seq, q.size).await?;
    Ok(Json(InclusionView {
        seq,
        size: p.size,
        leaf: store::merkle::to_hex(&p.leaf),
        root: store::merkle::to_hex(&p.root),
        proof: p.proof.iter().map(store::merkle::to_hex).collect(),
    }))
}

/// Which two trees.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The older tree's size (a checkpoint's); required (optional here only so a caller without the right is
    /// refused as such).
    #[param(required = true)]
    pub from: Option<u64>,
    /// The newer tree's size; the whole log by default.
    pub to: Option<u64>,
}

#[utoipa::path(
    get,
    operation_id = "proveAuditConsistency",
    path = "/api/v1/audit/proof/consistency",
    tag = "audit",
    params(ConsistencyQuery),
    security(("token" = [])),
    responses(
        (status = 200, description = "The consistency proof between the two trees.", body = crate::api::schemas::AuditConsistencyProof),
        crate::api::schemas::AuditRefusals
    )
)]
pub async fn consistency(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyView>> {
    caller.require(Action::ReadAudit)?;
    let from = q
        .from
        .ok_or_else(|| ApiError::bad_request("`from`, the older tree's size, is required"))?;
    let p = app::consistency(&state, from, q.to).await?;
    Ok(Json(ConsistencyView {
        from,
        to: p.to,
        from_root: store::merkle::to_hex(&p.from_root),
        to_root: store::merkle::to_hex(&p.to_root),
        proof: p.proof.iter().map(store::merkle::to_hex).collect(),
    }))
}
