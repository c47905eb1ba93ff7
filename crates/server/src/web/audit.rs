//! The audit log for advisors and admins: the chain's verification first, then the entries
//! with filters and pages.

use super::layout::{self, NAME_CHARS, Nav, TEXT_CHARS, name, plain, short_id, table, user, when};
use super::text::{T, Words};
use super::{PageResult, Session};
use crate::app::audit::{AuditQuery, ChainStatus, filter};
use crate::error::ApiError;
use crate::policy::Action;
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use maud::html;
use serde::Deserialize;
use std::collections::HashMap;
use store::Role;

/// Entries per page unless the query says otherwise.
const PAGE: u32 = 50;

/// A browser's `datetime-local` value (`2026-11-24T14:05`), read as UTC, in RFC 3339;
/// anything else is passed on for the API's parser to accept or name.
fn from_picker(v: String) -> String {
    let b = v.as_bytes();
    if b.len() == 16 && b[10] == b'T' && b[13] == b':' {
        format!("{v}:00Z")
    } else {
        v
    }
}

/// RFC 3339 UTC back into what a `datetime-local` field shows.
fn to_picker(v: &str) -> &str {
    v.get(..16).filter(|_| v.ends_with('Z')).unwrap_or(v)
}

/// The API's filter, plus `check=now` to verify the chain now rather than reuse a check
/// of the last 30 seconds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    case: Option<String>,
    actor: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    order: Option<String>,
    check: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    s: Session,
    w: Words,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> PageResult {
    s.caller.require(Action::ReadAudit)?;
    let Query(p) = q.map_err(super::bad_query)?;
    let fresh = match p.check.as_deref() {
        None | Some("") => false,
        Some("now") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`check` must be now, got {:?}",
                other.chars().take(20).collect::<String>()
            ))
            .into());
        }
    };
    let mut q = AuditQuery {
        case: p.case,
        actor: p.actor,
        from: p.from,
        to: p.to,
        limit: p.limit,
        offset: p.offset,
        order: p.order,
    };
    // Empty fields of the filter form mean "no filter".
    for f in [
        &mut q.case,
        &mut q.actor,
        &mut q.from,
        &mut q.to,
        &mut q.order,
        &mut q.limit,
        &mut q.offset,
    ] {
        if f.as_deref().is_some_and(|v| v.trim().is_empty()) {
            *f = None;
        }
    }
    q.from = q.from.take().map(from_picker);
    q.to = q.to.take().map(from_picker);
    q.limit = Some(q.limit.unwrap_or_else(|| PAGE.to_string()));
    // People want the latest first; the API keeps chain order unless asked.
    q.order = Some(q.order.take().unwrap_or_else(|| "newest".into()));
    let filter = filter(&q)?;
    let entries = state.store.list_audit(&filter).await?;
    let (status, checked_at) = state.last_check.status(&state, fresh).await?;
    let key = state.audit_key.verifier().to_string();
    let latest = crate::app::audit::latest_checkpoint(&state).await?;
    // In the filter's menus by name; looked up by id in the table.
    let by_name = |mut v: Vec<(String, String)>| {
        v.sort_by(|a, b| a.1.cmp(&b.1));
        v
    };
    let user_list = by_name(
        state
            .store
            .list_users()
            .await?
            .into_iter()
            .map(|u| (u.id.as_str().to_owned(), u.name))
            .collect(),
    );
    let case_list = by_name(
        state
            .store
            .list_cases()
            .await?
            .into_iter()
            .map(|c| (c.id.as_str().to_owned(), c.name))
            .collect(),
    );
    let users: HashMap<&str, &str> = user_list.iter().map(|(i, n)| (i.as_str(), n.as_str())).collect();
    let cases: HashMap<&str, &str> = case_list.iter().map(|(i, n)| (i.as_str(), n.as_str())).collect();
    let link = |offset: u64| {
        let mut parts = vec![format!("limit={}", filter.limit), format!("offset={offset}")];
        for (k, v) in [
            ("case", &q.case),
            ("actor", &q.actor),
            ("from", &q.from),
            ("to", &q.to),
            ("order", &q.order),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={}", super::encode(v)));
            }
        }
        format!("/ui/audit?{}", parts.join("&"))
    };
    let body = html! {
        h1 { (w.t(T::AuditLog)) }
        @match &status {
            ChainStatus::Intact { entries, head, .. } => div.notice.ok #chain-status {
                strong { (w.t(T::ChainIntact)) }
                (w.chain_checked(*entries, &when(&checked_at)))
                @if let Some((seq, hash)) = head { br; (w.chain_head(seq)) span.mono { (hash) } (w.chain_head_after()) }
                " " a #check-now href="/ui/audit?check=now" { (w.t(T::CheckAgainNow)) }
            },
            ChainStatus::Broken(b) => div.notice.bad #chain-status role="alert" {
                strong { (w.chain_broken(b.seq)) } " " (user(&b.message, TEXT_CHARS))
                (w.checked_at(&when(&checked_at))) a #check-now href="/ui/audit?check=now" { (w.t(T::CheckAgainNow)) }
            },
            ChainStatus::Diverges(d) => div.notice.bad #chain-status role="alert" {
                strong { (w.t(T::LogDiverges)) } " " (user(&d.to_string(), TEXT_CHARS))
                (w.checked_at(&when(&checked_at))) a #check-now href="/ui/audit?check=now" { (w.t(T::CheckAgainNow)) }
            },
            ChainStatus::ForgedCheckpoint(why) => div.notice.bad #chain-status role="alert" {
                strong { (w.t(T::LogDiverges)) } " " (user(why, TEXT_CHARS))
                (w.checked_at(&when(&checked_at))) a #check-now href="/ui/audit?check=now" { (w.t(T::CheckAgainNow)) }
            },
        }
        details #checkpoints {
            summary { (w.t(T::Checkpoints)) }
            p { (w.t(T::CheckpointsExplained)) }
            p { (w.t(T::PublicKey)) ": " code #audit-key { (key) } }
            @match &latest {
                Some(c) => {
                    p { (w.t(T::NewestCheckpoint)) ": " (w.checkpoint_covers(c.checkpoint.size, &when(c.checkpoint.time.as_str()))) }
                    pre #audit-checkpoint { (c.text) }
                },
                None => p { (w.t(T::NoCheckpointYet)) },
            }
        }
        form.inline #audit-filter method="get" action="/ui/audit" {
            label { (w.t(T::Case))
                select name="case" {
                    option value="" { (w.t(T::Any)) }
                    @for (id, n) in &case_list { option value=(id) selected[q.case.as_deref() == Some(id)] { (plain(n, NAME_CHARS)) } }
                }
            }
            label { (w.t(T::Actor))
                select name="actor" {
                    option value="" { (w.t(T::Anyone)) }
                    @for (id, n) in &user_list { option value=(id) selected[q.actor.as_deref() == Some(id)] { (plain(n, NAME_CHARS)) } }
                    option value="anonymous" selected[q.actor.as_deref() == Some("anonymous")] { (w.t(T::Anonymous)) }
                }
            }
            label { (w.t(T::FromUtc)) input type="datetime-local" name="from" value=(q.from.as_deref().map_or("", to_picker)); }
            label { (w.t(T::ToUtc)) input type="datetime-local" name="to" value=(q.to.as_deref().map_or("", to_picker)); }
            label { (w.t(T::Order))
                select name="order" {
                    option value="newest" selected[filter.newest_first] { (w.t(T::NewestFirst)) }
                    option value="oldest" selected[!filter.newest_first] { (w.t(T::OldestFirst)) }
                }
            }
            button type="submit" { (w.t(T::Filter)) }
        }
        @if entries.is_empty() {
            p #no-entries { (w.t(T::NoEntries)) }
        } @else {
            (table(&[w.t(T::Number), w.t(T::TimeUtc), w.t(T::Actor), w.t(T::Role), w.t(T::Action), w.t(T::Object), w.t(T::Outcome), w.t(T::Case), w.t(T::Request)], html! {
                @for e in &entries {
                    tr.entry {
                        td.num { (e.seq) }
                        td.time { (when(&e.time)) }
                        td { (name(users.get(e.actor.as_str()).copied().unwrap_or(e.actor.as_str()))) }
                        td { @match Role::parse(&e.role) { Ok(r) => (w.role(r)), Err(_) => (name(&e.role)) } }
                        td.mono { (user(&e.action, TEXT_CHARS)) }
                        td.mono { (user(&e.object, TEXT_CHARS)) }
                        td class=(if e.outcome == "ok" || e.outcome.starts_with('2') || e.outcome.starts_with('3') { "num ok" } else { "num bad" }) { (name(&e.outcome)) }
                        td { (name(e.case_id.as_deref().map_or("", |c| cases.get(c).copied().unwrap_or(c)))) }
                        td { (short_id(&e.request_id)) }
                    }
                }
            }))
        }
        nav.pager aria-label=(w.t(T::Pages)) {
            @if filter.offset > 0 {
                a #previous href=(link(filter.offset.saturating_sub(u64::from(filter.limit)))) { (w.t(T::PreviousPage)) }
            }
            @if entries.len() as u32 == filter.limit {
                a #next href=(link(filter.offset.saturating_add(u64::from(filter.limit)))) { (w.t(T::NextPage)) }
            }
        }
    };
    Ok(layout::page(&w, w.t(T::AuditLog), Some(&s), Nav::Audit, None, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::{from_picker, to_picker};

    #[test]
    fn the_date_picker_is_read_and_shown_as_utc() {
        assert_eq!(from_picker("2026-11-24T14:05".into()), "2026-11-24T14:05:00Z");
        assert_eq!(from_picker("2026-11-24T14:05:00Z".into()), "2026-11-24T14:05:00Z");
        assert_eq!(from_picker("soon".into()), "soon");
        assert_eq!(to_picker("2026-11-24T14:05:00Z"), "2026-11-24T14:05");
        assert_eq!(to_picker("soon"), "soon");
    }
}
