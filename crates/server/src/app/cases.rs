//! Cases: opening one, its member organisations, and the criteria fixed before its runs.

use crate::error::{ApiError, ApiResult};
use crate::middleware::Audit;
use crate::policy::{Action, Caller};
use crate::state::AppState;
use fairness::Criterion;
use store::{Case, Criteria, Org};
use store::{OrgId, Store};

/// Most member organisations one request may add when a case is opened.
const MAX_MEMBERS: usize = 50;
/// Most criteria one case (or run) may have.
pub const MAX_CRITERIA: usize = 200;

/// The member organisations of a case, by name.
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
        .ok_or_else(|| {
            ApiError::unprocessable(
                "unknown_organisation",
                format!("no organisation {:?}", key.chars().take(80).collect::<String>()),
            )
        })
}

/// Opens a case with the caller's organisation and `members` (ids or names) in it; the case,
/// its members and `audit`'s entry commit together. A bad member name stores nothing.
pub async fn open(
    state: &AppState,
    caller: &Caller,
    audit: Audit<'_>,
    name: &str,
    members: &[String],
) -> ApiResult<Case> {
    caller.require(Action::OpenCase)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::bad_request("a case's name must be 1 to 200 characters"));
    }
    if members.len() > MAX_MEMBERS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_MEMBERS} member organisations"
        )));
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

/// Adds an organisation (id or name) to a visible case, with `audit`'s entry; the members after.
pub async fn add_member(
    state: &AppState,
    caller: &Caller,
    audit: Audit<'_>,
    case: &Case,
    org: &str,
) -> ApiResult<Vec<Org>> {
    caller.require(Action::AddMember)?;
    let org = find_org(&state.store, org).await?;
    let entry = audit.entry(format!("case {} member {}", case.id, org.id), Some(&case.id));
    audit
        .commit(state.store.add_case_member_audited(&case.id, &org.id, entry))
        .await?;
    members_of(&state.store, case).await
}

/// Checks criteria with the engine's own parser: at most [`MAX_CRITERIA`], each well formed.
pub fn check_criteria(list: &[serde_json::Value]) -> ApiResult<Vec<Criterion>> {
    if list.len() > MAX_CRITERIA {
        return Err(ApiError::bad_request(format!("at most {MAX_CRITERIA} criteria")));
    }
    let text = serde_json::Value::Array(list.to_vec()).to_string();
    fairness::parse_criteria(&text)
        .map_err(|e| ApiError::unprocessable("invalid_criteria", format!("the criteria: {e}")))
}

/// Checks and stores a visible case's criteria with `audit`'s entry.
pub async fn fix_criteria(
    state: &AppState,
    caller: &Caller,
    audit: Audit<'_>,
    case: &Case,
    list: &[serde_json::Value],
) -> ApiResult<Criteria> {
    caller.require(Action::FixCriteria)?;
    let parsed = check_criteria(list)?;
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

/// The criteria a case has fixed, typed; none fixed is an empty list.
pub async fn criteria_of(state: &AppState, case: &Case) -> ApiResult<Vec<Criterion>> {
    match state.store.criteria(&case.id).await? {
        Some(c) => typed_criteria(&c),
        None => Ok(Vec::new()),
    }
}

/// Stored criteria read back by the engine's type: what was stored was checked by it, so a
/// failure here is the database's fault, not the caller's.
pub fn typed_criteria(c: &Criteria) -> ApiResult<Vec<Criterion>> {
    serde_json::from_value(c.json.clone()).map_err(|e| ApiError::internal(format!("the case's stored criteria: {e}")))
}
