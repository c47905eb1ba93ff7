//! The audit log for advisors and admins: the chain's verification first, then the entries
//! with filters and pages.

use super::layout::{self, Nav, short_id, table, when};
use super::{PageResult, Session};
use crate::routes::audit::{AuditQuery, ChainStatus, READS_AUDIT, chain_status, filter};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use maud::html;
use std::collections::HashMap;

/// Entries per page unless the query says otherwise.
const PAGE: u32 = 50;

pub async fn list(State(state): State<AppState>, s: Session, Query(mut q): Query<AuditQuery>) -> PageResult {
    s.caller.require(READS_AUDIT, "reading the audit log")?;
    // Empty fields of the filter form mean "no filter".
    for f in [&mut q.case, &mut q.actor, &mut q.from, &mut q.to] {
        if f.as_deref().is_some_and(|v| v.trim().is_empty()) {
            *f = None;
        }
    }
    q.limit = Some(q.limit.unwrap_or(PAGE));
    let filter = filter(&q)?;
    let entries = state.store.list_audit(&filter).await?;
    let status = chain_status(&state).await?;
    let users: HashMap<String, String> = state
        .store
        .list_users()
        .await?
        .into_iter()
        .map(|u| (u.id.as_str().to_owned(), u.name))
        .collect();
    let cases: HashMap<String, String> = state
        .store
        .list_cases()
        .await?
        .into_iter()
        .map(|c| (c.id.as_str().to_owned(), c.name))
        .collect();
    let link = |offset: u64| {
        let mut parts = vec![format!("limit={}", filter.limit), format!("offset={offset}")];
        for (k, v) in [("case", &q.case), ("actor", &q.actor), ("from", &q.from), ("to", &q.to)] {
            if let Some(v) = v {
                parts.push(format!("{k}={}", super::encode(v)));
            }
        }
        format!("/ui/audit?{}", parts.join("&"))
    };
    let body = html! {
        h1 { "Audit log" }
        @match &status {
            ChainStatus::Intact { entries, head } => div.notice.ok #chain-status {
                strong { "The chain is intact." }
                " All " (entries) " entries were checked: every hash matches its entry and every entry links to the one before."
                @if let Some((seq, hash)) = head { br; "Head: entry " (seq) ", hash " span.mono { (hash) } " (record it elsewhere to detect truncation later)." }
            },
            ChainStatus::Broken(b) => div.notice.bad #chain-status role="alert" {
                strong { "The chain is broken at entry " (b.seq) "." } " " (b.message)
            },
        }
        form.inline #audit-filter method="get" action="/ui/audit" {
            label { "Case"
                select name="case" {
                    option value="" { "any" }
                    @for (id, name) in &cases { option value=(id) selected[q.case.as_deref() == Some(id)] { (name) } }
                }
            }
            label { "Actor"
                select name="actor" {
                    option value="" { "anyone" }
                    @for (id, name) in &users { option value=(id) selected[q.actor.as_deref() == Some(id)] { (name) } }
                    option value="anonymous" selected[q.actor.as_deref() == Some("anonymous")] { "anonymous" }
                }
            }
            label { "From (UTC)" input type="text" name="from" placeholder="2026-11-24T00:00:00Z" value=(q.from.as_deref().unwrap_or("")); }
            label { "To (UTC)" input type="text" name="to" placeholder="2026-11-25T00:00:00Z" value=(q.to.as_deref().unwrap_or("")); }
            button type="submit" { "Filter" }
        }
        @if entries.is_empty() {
            p #no-entries { "No entries match." }
        } @else {
            (table(&["#", "Time (UTC)", "Actor", "Role", "Action", "Object", "Outcome", "Case", "Request"], html! {
                @for e in &entries {
                    tr.entry {
                        td.num { (e.seq) }
                        td.time { (when(&e.time)) }
                        td { (users.get(&e.actor).map_or(e.actor.as_str(), String::as_str)) }
                        td { (e.role) }
                        td.mono { (e.action) }
                        td.mono { (e.object) }
                        td class=(if e.outcome == "ok" || e.outcome.starts_with('2') || e.outcome.starts_with('3') { "num ok" } else { "num bad" }) { (e.outcome) }
                        td { (e.case_id.as_deref().map_or("", |c| cases.get(c).map_or(c, String::as_str))) }
                        td { (short_id(&e.request_id)) }
                    }
                }
            }))
        }
        nav.pager aria-label="pages" {
            @if filter.offset > 0 {
                a #newer href=(link(filter.offset.saturating_sub(u64::from(filter.limit)))) { "‹ Earlier page" }
            }
            @if entries.len() as u32 == filter.limit {
                a #older href=(link(filter.offset + u64::from(filter.limit))) { "Next page ›" }
            }
        }
    };
    Ok(layout::page("Audit log", Some(&s), Nav::Audit, None, body).into_response())
}
