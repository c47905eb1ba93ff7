//! The case's leaderboard and run comparison on the pages: the leaderboard and the choice of runs on the case
//! page, and the comparison of the chosen runs on a page of its own.

use super::layout::{self, Nav, TEXT_CHARS, name, plain, short_id, table};
use super::text::{T, Words};
use super::{PageError, PageResult, Session};
use crate::app::compare::{Leaderboard, leaderboard};
use crate::error::ApiError;
use crate::middleware::in_case;
use crate::policy;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use evaluate::{Change, RunComparison};
use maud::{Markup, html};
use store::Case;

/// Longest query a comparison page reads: eight run ids and their names.
const MAX_QUERY_BYTES: usize = 1024;

/// The case page's section: the leaderboard and the form choosing runs to compare.
pub(super) async fn section(state: &AppState, s: &Session, w: &Words, case: &Case) -> Result<Markup, PageError> {
    let (board, _) = leaderboard(
        state,
        &s.caller,
        case.id.as_str(),
        crate::app::compare::PAGE_LEADERBOARD_RUNS,
    )
    .await?;
    if board.rows.is_empty() {
        return Ok(html! {});
    }
    Ok(html! {
        h2 #leaderboard { (w.t(T::Leaderboard)) }
        p.muted { (w.t(T::LeaderboardExplained)) }
        (leaderboard_table(w, &board))
        @if board.rows.len() >= 2 {
            h2 #compare { (w.t(T::CompareRuns)) }
            p.muted { (w.t(T::CompareExplained)) }
            form.stack method="get" action={ "/ui/cases/" (case.id) "/compare" } {
                fieldset {
                    @for r in board.rows.iter().take(50) {
                        label.check {
                            input type="checkbox" name="run" value=(r.run);
                            " " (short_id(&r.run)) " " (name(&r.model)) " · " span.mono { (r.dataset_sha256.chars().take(12).collect::<String>()) }
                        }
                    }
                }
                div { button #compare-runs type="submit" { (w.t(T::Compare)) } }
            }
        }
    })
}

/// The case page's section on its plan and checklist: the plan in force and how far the checklist has got.
pub(super) async fn documents(state: &AppState, s: &Session, w: &Words, case: &Case) -> Result<Markup, PageError> {
    let plan = crate::app::plan::load(state, &s.caller, case, None).await?;
    let checklist = crate::app::checklist::load(state, &s.caller, case, None).await?;
    let summary = checklist.checklist.summary();
    let version = checklist.stored.as_ref().map_or(0, |s| s.version);
    Ok(html! {
        h2 #plan { (w.t(T::SandboxPlan)) }
        @match &plan {
            None => p { (w.t(T::NoPlan)) },
            Some((plan, stored)) => {
                p.muted { (w.t(T::Version)) " " (stored.version) " · " span.mono { (stored.sha256.as_str().chars().take(12).collect::<String>()) } }
                h3 { (w.t(T::Objectives)) }
                ul { @for o in &plan.objectives { li { (layout::user(o, TEXT_CHARS)) } } }
                @if !plan.legal_questions.is_empty() {
                    h3 { (w.t(T::LegalQuestions)) }
                    ul { @for q in &plan.legal_questions { li { (layout::user(q, TEXT_CHARS)) } } }
                }
                @if !plan.milestones.is_empty() {
                    h3 { (w.t(T::Milestones)) }
                    ul { @for m in &plan.milestones { li { (plain(&m.due, 10)) " " (layout::user(&m.title, TEXT_CHARS)) @if m.done { " ✓" } } } }
                }
            }
        }
        h2 #checklist { (w.t(T::RequirementsChecklist)) }
        p.muted { (w.t(T::ChecklistExplained)) }
        dl.facts #checklist-summary {
            dt { (w.t(T::Version)) } dd { (version) }
            dt { (w.t(T::Open)) } dd { (summary.open) }
            dt { (w.t(T::Answered)) } dd { (summary.answered) }
            dt { (w.t(T::Evidenced)) } dd { (summary.evidenced) }
        }
    })
}

fn leaderboard_table(w: &Words, board: &Leaderboard) -> Markup {
    let mut head: Vec<&str> = vec![
        w.t(T::Runs),
        w.t(T::Model),
        w.t(T::Dataset),
        w.t(T::Passed),
        w.t(T::Failed),
    ];
    let criteria: Vec<String> = board.criteria.iter().map(|c| plain(c, TEXT_CHARS)).collect();
    head.extend(criteria.iter().map(String::as_str));
    table(
        &head,
        html! {
            @for r in &board.rows {
                tr {
                    td { a href={ "/ui/runs/" (r.run) } { (short_id(&r.run)) } }
                    td { (name(&r.model)) }
                    td.mono { (r.dataset_sha256.chars().take(12).collect::<String>()) }
                    td.num { (r.passed) }
                    td.num { (r.failed) }
                    @for v in &r.verdicts {
                        td { @match v.as_deref() {
                            Some("pass") => span.badge.state-succeeded { (w.t(T::Passed)) },
                            Some("fail") => span.badge.state-failed { (w.t(T::Failed)) },
                            Some(other) => span.badge { (plain(other, 20)) },
                            None => "—",
                        } }
                    }
                }
            }
        },
    )
}

/// `GET /ui/cases/{case}/compare?run=A&run=B`: the comparison of the chosen runs.
pub async fn show(
    State(state): State<AppState>,
    s: Session,
    w: Words,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> PageResult {
    // Visibility first: a case the caller may not see is not found, whatever the query.
    let case = policy::case(&state, &s.caller, &id).await?;
    let query = query.unwrap_or_default();
    if query.len() > MAX_QUERY_BYTES {
        return Err(ApiError::bad_request(format!("the address's query is over {MAX_QUERY_BYTES} bytes")).into());
    }
    let mut runs = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("run", v)) => runs.push(v.to_owned()),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "the address's query may only name runs (run=ID), not {}",
                    pair.chars().take(40).collect::<String>()
                ))
                .into());
            }
        }
    }
    let runs = crate::app::compare::parse_runs(&runs.join(","))?;
    let (c, case) = crate::app::compare::compare(&state, &s.caller, case.id.as_str(), &runs, None).await?;
    let body = html! {
        p.muted { a href="/ui/cases" { (w.t(T::Cases)) } " › " a href={ "/ui/cases/" (case.id) } { (name(&case.name)) } " ›" }
        h1 { (w.t(T::Comparison)) }
        p.muted { (w.t(T::CompareExplained)) }
        dl.facts {
            dt { (w.t(T::Dataset)) } dd.mono { (c.dataset_sha256) }
            dt { (w.t(T::Citizens)) } dd { (c.citizens) }
            dt { (w.t(T::Bootstrap)) } dd { (w.resamples(c.resamples as u64)) }
        }
        (runs_table(&w, &c))
        @if !c.criteria.is_empty() {
            h2 { (w.t(T::Criteria)) }
            (table(
                &std::iter::once(w.t(T::Criteria).to_owned())
                    .chain((1..=c.runs.len()).map(|i| format!("#{i}")))
                    .collect::<Vec<_>>()
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
                html! { @for row in &c.criteria { tr {
                    td { (plain(&row.criterion, TEXT_CHARS)) }
                    @for v in &row.verdicts { td { (plain(v.as_deref().unwrap_or("—"), 20)) } }
                } } },
            ))
        }
        @for p in &c.pairs {
            h2 { "#" (p.second + 1) " / #" (p.first + 1) }
            p { (w.t(T::DecisionsDiffer)) ": " strong { (p.decisions_differ) } }
            (table(
                &[w.t(T::Outcome), w.t(T::Rate), w.t(T::Group), "n", &format!("#{}", p.first + 1), &format!("#{}", p.second + 1),
                  w.t(T::Difference), w.t(T::PairedInterval), w.t(T::UnpairedInterval)],
                html! { @for r in &p.rates { tr {
                    td { (r.outcome.as_str()) }
                    td { (r.rate.as_str()) }
                    td { @match (&r.attribute, &r.group) {
                        (Some(a), Some(g)) => { (plain(a, 40)) "=" (name(g)) },
                        _ => (w.t(T::Everyone)),
                    } }
                    td.num { (r.n) }
                    (change_cells(r.change.as_ref(), true))
                } } },
            ))
        }
    };
    let page = layout::page(&w, &case.name, Some(&s), Nav::Cases, None, body);
    Ok(in_case(&case, page))
}

fn runs_table(w: &Words, c: &RunComparison) -> Markup {
    table(
        &["#", w.t(T::Runs), w.t(T::Model), w.t(T::DecisionThreshold)],
        html! {
            @for (i, r) in c.runs.iter().enumerate() {
                tr {
                    td { (i + 1) }
                    td { a href={ "/ui/runs/" (r.name) } { (short_id(&r.name)) } }
                    td { (name(&r.model)) }
                    td.num { (r.threshold) }
                }
            }
        },
    )
}

fn change_cells(c: Option<&Change>, unpaired: bool) -> Markup {
    let iv = |i: Option<[f64; 2]>| i.map_or_else(|| "—".to_owned(), |[lo, hi]| format!("[{lo:.4}, {hi:.4}]"));
    html! {
        @match c {
            Some(c) => {
                td.num { (format!("{:.4}", c.first)) }
                td.num { (format!("{:.4}", c.second)) }
                td.num { (format!("{:+.4}", c.difference)) }
                td.mono { (iv(c.paired)) }
                @if unpaired { td.mono { (iv(c.unpaired)) } }
            }
            None => { td { "—" } td { "—" } td { "—" } td { "—" } @if unpaired { td { "—" } } }
        }
    }
}
