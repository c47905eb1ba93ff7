//! Cases, their member organisations and their criteria.

use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::middleware::{Audit, AuditCase, AuditContext};
use crate::policy::{self, Caller};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use store::meta::{Case, Org, Role};
use store::{OrgId, Store};

/// A case with its members, as the API shows it.
pub async fn case_json(store: &Store, case: &Case) -> ApiResult<Value> {
    let members = members_of(store, case).await?;
    Ok(json!({
        "id": case.id, "name": case.name, "created_by": case.created_by,
        "created_at": case.created_at, "members": members,
    }))
}

pub async fn members_of(store: &Store, case: &Case) -> ApiResult<Vec<Org>> {
    let mut out = Vec::new();
    for id in store.case_members(&case.id).await? {
        if let Some(org) = store.org(&id).await? {
            out.push(org);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A response that also tells the audit log which case it concerns.
pub fn in_case(case: &Case, response: impl IntoResponse) -> Response {
    let mut r = response.into_response();
    r.extensions_mut().insert(AuditCase(case.id.as_str().to_owned()));
    r
}

pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::Json<Vec<Value>>> {
    let cases = policy::cases(&state, &caller).await?;
    let mut out = Vec::with_capacity(cases.len());
    for c in &cases {
        out.push(case_json(&state.store, c).await?);
    }
    Ok(axum::Json(out))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCase {
    name: String,
    #[serde(default)]
    members: Vec<String>,
}

/// An organisation by id or by name.
async fn find_org(store: &Store, key: &str) -> ApiResult<Org> {
    if let Ok(id) = OrgId::parse(key)
        && let Some(org) = store.org(&id).await?
    {
        return Ok(org);
    }
    store
        .list_orgs()
        .await?
        .into_iter()
        .find(|o| o.name == key)
        .ok_or_else(|| ApiError::unprocessable("unknown_organisation", format!("no organisation {:?}", truncate(key))))
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Who may open cases and fix their criteria.
pub const MANAGES_CASES: &[Role] = &[Role::Authority, Role::Admin];

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    audit: AuditContext,
    Json(new): Json<NewCase>,
) -> ApiResult<Response> {
    let case = open_case(
        &state,
        &caller,
        audit.on_success(StatusCode::CREATED),
        &new.name,
        &new.members,
    )
    .await?;
    let body = case_json(&state.store, &case).await?;
    Ok(in_case(&case, (StatusCode::CREATED, axum::Json(body))))
}

/// Opens a case with the caller's organisation and `members` (ids or names) in it, for the
/// API and the pages; the case, its members and `audit`'s entry commit together. A bad member
/// name stores nothing.
pub async fn open_case(
    state: &AppState,
    caller: &Caller,
    audit: Audit<'_>,
    name: &str,
    members: &[String],
) -> ApiResult<Case> {
    caller.require(MANAGES_CASES, "creating a case")?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::bad_request("a case's name must be 1 to 200 characters"));
    }
    if members.len() > 50 {
        return Err(ApiError::bad_request("at most 50 member organisations"));
    }
    // Resolve every member before creating anything, so a bad name stores nothing.
    let mut orgs = vec![caller.org.id.clone()];
    for m in members {
        orgs.push(find_org(&state.store, m).await?.id);
    }
    let case = audit
        .commit(state.store.create_case_audited(name, &caller.user.id, &orgs, |c| {
            audit.entry(format!("case {}", c.id), Some(&c.id))
        }))
        .await?;
    Ok(case)
}

pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let body = case_json(&state.store, &case).await?;
    Ok(in_case(&case, axum::Json(body)))
}

pub async fn members(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let members = members_of(&state.store, &case).await?;
    Ok(in_case(&case, axum::Json(members)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    org: String,
}

pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    audit: AuditContext,
    Path(id): Path<String>,
    Json(new): Json<NewMember>,
) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    caller.require(MANAGES_CASES, "adding members to a case")?;
    let org = find_org(&state.store, &new.org).await?;
    let audit = audit.on_success(StatusCode::OK);
    let entry = audit.entry(format!("case {} member {}", case.id, org.id), Some(&case.id));
    audit
        .commit(state.store.add_case_member_audited(&case.id, &org.id, entry))
        .await?;
    let members = members_of(&state.store, &case).await?;
    Ok(in_case(&case, axum::Json(members)))
}

pub async fn criteria(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let c = state
        .store
        .criteria(&case.id)
        .await?
        .ok_or_else(|| ApiError::not_found("criteria of case", case.id.as_str()))?;
    Ok(in_case(&case, axum::Json(criteria_json(&c))))
}

fn criteria_json(c: &store::meta::Criteria) -> Value {
    json!({"case_id": c.case_id, "criteria": c.json, "fixed_by": c.fixed_by, "fixed_at": c.fixed_at})
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetCriteria {
    criteria: Vec<Value>,
}

/// Checks criteria with the engine's own parser and returns them in canonical form.
pub fn parse_criteria(list: &[Value]) -> ApiResult<Vec<fairness::criteria::Criterion>> {
    if list.len() > 200 {
        return Err(ApiError::bad_request("at most 200 criteria"));
    }
    let text = Value::Array(list.to_vec()).to_string();
    fairness::criteria::parse(&text)
        .map_err(|e| ApiError::unprocessable("invalid_criteria", format!("the criteria: {e}")))
}

/// Checks and stores a case's criteria with `audit`'s entry, for the API and the pages.
pub async fn fix_criteria(
    state: &AppState,
    caller: &Caller,
    audit: Audit<'_>,
    case: &Case,
    list: &[Value],
) -> ApiResult<store::meta::Criteria> {
    caller.require(MANAGES_CASES, "fixing criteria")?;
    let parsed = parse_criteria(list)?;
    let json = serde_json::to_value(&parsed).map_err(|e| ApiError::internal(e.to_string()))?;
    let entry = audit.entry(format!("criteria of case {}", case.id), Some(&case.id));
    Ok(audit
        .commit(
            state
                .store
                .set_criteria_audited(&case.id, &json, &caller.user.id, entry),
        )
        .await?)
}

pub async fn set_criteria(
    State(state): State<AppState>,
    caller: Caller,
    audit: AuditContext,
    Path(id): Path<String>,
    Json(body): Json<SetCriteria>,
) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let c = fix_criteria(&state, &caller, audit.on_success(StatusCode::OK), &case, &body.criteria).await?;
    Ok(in_case(&case, axum::Json(criteria_json(&c))))
}
