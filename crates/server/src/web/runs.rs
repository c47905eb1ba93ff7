//! Runs: the start form, lists, one run with live progress, cancelling, and its report.

use super::layout::{
    self, NAME_CHARS, Nav, TEXT_CHARS, csrf_field, name, plain, short_id, state_badge, table, user, when,
};
use super::text::{T, Words};
use super::{CsrfOnly, PageError, PageResult, Session, bad_form, check_form, see_other};
use crate::api::runs::html_report_response;
use crate::app::runs::{RunRequest, render_report, report_lang, start};
use crate::error::ApiError;
use crate::middleware::in_case;
use crate::middleware::{AuditCase, AuditObject};
use crate::policy;
use crate::policy::{may_cancel, runs_of_case};
use crate::state::AppState;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use maud::{Markup, html};
use serde::Deserialize;
use store::{Model, Run, RunState};

/// The form that starts a run on one of `models` (the ones the caller may see).
/// `again` is a refused form, shown with its values as sent.
pub fn run_form(
    s: &Session,
    w: &Words,
    models: &[Model],
    selected: Option<&Model>,
    max_rows: u64,
    again: Option<&RunForm>,
) -> Markup {
    let value = |f: fn(&RunForm) -> &str, default: &'static str| again.map_or(default.to_owned(), |a| f(a).to_owned());
    let twin = again.map_or("", |a| a.counterfactual.as_str());
    html! {
        form.inline #run-form method="post" action="/ui/runs" {
            (csrf_field(s))
            label { (w.t(T::Model))
                select #run-model name="model_id" required {
                    @for m in models {
                        option value=(m.id) selected[selected.is_some_and(|x| x.id == m.id)] {
                            (plain(&m.name, NAME_CHARS)) " " (plain(&m.version, NAME_CHARS))
                        }
                    }
                }
            }
            label { (w.t(T::Citizens))
                input #run-rows type="number" name="rows" min="1" max=(max_rows) value=(value(|a| &a.rows, "20000")) required;
            }
            label { (w.t(T::Seed)) input type="number" name="seed" min="0" value=(value(|a| &a.seed, "0")); }
            label { (w.t(T::InjectedBias)) input #run-bias type="text" name="bias" maxlength="400" placeholder=(w.t(T::ScenarioDefault)) value=(value(|a| &a.bias, "")); }
            label { (w.t(T::CounterfactualTwins))
                select name="counterfactual" {
                    option value="" { (w.t(T::NoTwins)) }
                    @for c in synth::Counterfactual::NAMES {
                        option value=(c) selected[twin == *c] {
                            (synth::Counterfactual::parse(c).map_or_else(|_| (*c).to_owned(), |c| htmlreport::labels::counterfactual(w.lang, c)))
                        }
                    }
                }
            }
            button #run-submit type="submit" { (w.t(T::StartRun)) }
        }
    }
}

fn progress(run: &Run) -> f64 {
    if run.total_rows == 0 {
        0.0
    } else {
        run.progress_rows as f64 / run.total_rows as f64
    }
}

/// Runs with their model's name where the caller can see the model.
pub fn runs_table(w: &Words, runs: &[Run], models: &[Model]) -> Markup {
    let model = |r: &Run| match models.iter().find(|m| m.id == r.model_id) {
        Some(m) => html! { (name(&m.name)) " " (name(&m.version)) },
        None => html! { (r.model_id.as_str().chars().take(8).collect::<String>()) },
    };
    table(
        &[
            w.t(T::Run),
            w.t(T::Model),
            w.t(T::State),
            w.t(T::Progress),
            w.t(T::Citizens),
            w.t(T::Created),
        ],
        html! {
            @for r in runs {
                tr.run {
                    td { a href={ "/ui/runs/" (r.id) } { (short_id(r.id.as_str())) } }
                    td { (model(r)) }
                    td { (state_badge(w, r.state)) }
                    td.num { (w.pct(progress(r), 0)) }
                    td.num { (w.count(r.total_rows)) }
                    td.time { (when(r.created_at.as_str())) }
                }
            }
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    state: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    s: Session,
    w: Words,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> PageResult {
    let Query(q) = q.map_err(super::bad_query)?;
    let want = match q.state.as_deref() {
        None | Some("") => None,
        Some(w) => Some(RunState::parse(w).map_err(|e| PageError(ApiError::bad_request(e.to_string())))?),
    };
    let cases = policy::cases(&state, &s.caller).await?;
    let (mut runs, mut models) = (Vec::new(), Vec::new());
    for case in &cases {
        runs.extend(
            runs_of_case(&state, &s.caller, case)
                .await?
                .into_iter()
                .filter(|r| want.is_none_or(|w| r.state == w)),
        );
        models.extend(policy::visible_models(
            &s.caller,
            state.store.list_models(&case.id).await?,
        ));
    }
    runs.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    let body = html! {
        h1 { (w.t(T::Runs)) }
        form.inline method="get" action="/ui/runs" {
            label { (w.t(T::State))
                select name="state" {
                    option value="" { (w.t(T::Any)) }
                    @for st in RunState::ALL {
                        option value=(st.as_str()) selected[want == Some(*st)] { (w.state(*st)) }
                    }
                }
            }
            button type="submit" { (w.t(T::Filter)) }
        }
        @if runs.is_empty() { p #no-runs { (w.t(T::NoRuns)) } } @else { (runs_table(&w, &runs, &models)) }
    };
    Ok(layout::page(&w, w.t(T::Runs), Some(&s), Nav::Runs, None, body).into_response())
}

#[derive(Debug, Deserialize)]
pub struct RunForm {
    #[serde(default)]
    csrf: String,
    model_id: String,
    rows: String,
    #[serde(default)]
    seed: String,
    #[serde(default)]
    bias: String,
    #[serde(default)]
    counterfactual: String,
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: Session,
    w: Words,
    audit: crate::middleware::AuditContext,
    form: Result<Form<RunForm>, FormRejection>,
) -> PageResult {
    let Form(f) = form.map_err(bad_form)?;
    check_form(&headers, &s, &f.csrf)?;
    let outcome = match body_of(&f) {
        Ok(body) => start(&state, &s.caller, audit.on_success(StatusCode::SEE_OTHER), &body).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok((run, case)) => {
            let mut r = in_case(&case, see_other(&format!("/ui/runs/{}", run.id)));
            r.extensions_mut().insert(AuditObject(format!("run {}", run.id)));
            Ok(r)
        }
        // A value refused: the form again, as sent, with the reason.
        Err(e) if e.status == StatusCode::BAD_REQUEST || e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let (model, case) = policy::model(&state, &s.caller, &f.model_id).await?;
            let models = policy::visible_models(&s.caller, state.store.list_models(&case.id).await?);
            let body = html! {
                p.muted { a href="/ui/cases" { (w.t(T::Cases)) } " › " a href={ "/ui/cases/" (case.id) } { (name(&case.name)) } " ›" }
                h1 { (w.t(T::StartARun)) }
                div.notice.bad #run-error role="alert" { (user(&e.message, TEXT_CHARS)) }
                (run_form(&s, &w, &models, Some(&model), state.config.max_run_rows, Some(&f)))
            };
            Ok(in_case(
                &case,
                (
                    e.status,
                    layout::page(&w, w.t(T::StartARun), Some(&s), Nav::Runs, None, body),
                ),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// The API's request from the form's text fields.
fn body_of(f: &RunForm) -> Result<RunRequest, ApiError> {
    let number = |v: &str, name: &str| -> Result<u64, ApiError> {
        let v = v.trim();
        if v.is_empty() {
            return Ok(0);
        }
        v.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "{name} must be a whole number, got {:?}",
                v.chars().take(30).collect::<String>()
            ))
        })
    };
    Ok(RunRequest {
        model_id: f.model_id.clone(),
        scenario: None,
        rows: number(&f.rows, "citizens")?,
        seed: number(&f.seed, "seed")?,
        bias: f
            .bias
            .split([' ', ','])
            .filter(|b| !b.is_empty())
            .map(str::to_owned)
            .collect(),
        counterfactual: Some(f.counterfactual.clone()).filter(|c| !c.is_empty()),
        criteria: None,
    })
}

pub async fn show(State(state): State<AppState>, s: Session, w: Words, Path(id): Path<String>) -> PageResult {
    let (run, case) = policy::run(&state, &s.caller, &id).await?;
    let model = state.store.model(&run.model_id).await?;
    let model = model.filter(|m| policy::visible_models(&s.caller, vec![m.clone()]).len() == 1);
    let by = state
        .store
        .user(&run.created_by)
        .await?
        .map(|u| u.name)
        .unwrap_or_default();
    let params: Option<crate::runner::RunParams> = serde_json::from_value(run.params.clone()).ok();
    let live = !run.state.is_terminal();
    let pct = 100.0 * progress(&run);
    let body = html! {
        p.muted { a href="/ui/cases" { (w.t(T::Cases)) } " › " a href={ "/ui/cases/" (case.id) } { (name(&case.name)) } " ›" }
        h1 { (w.run_heading()) " " (short_id(run.id.as_str())) " " span #run-state { (state_badge(&w, run.state)) } }
        @if live {
            div #live {
                progress #run-progress max="100" value=(format!("{pct:.1}")) { (w.pct(pct / 100.0, 0)) }
                p.muted { (w.rows_scored(pct, run.progress_rows, run.total_rows)) }
            }
        }
        @if let Some(cause) = &run.cause { div.notice.bad #run-cause { (user(cause, TEXT_CHARS)) } }
        @if run.state == RunState::Succeeded {
            div.actions #report-links {
                a.button #report-en href={ "/ui/runs/" (run.id) "/report?lang=en" } hreflang="en" { (w.t(T::ReportEn)) }
                a.button #report-da href={ "/ui/runs/" (run.id) "/report?lang=da" } hreflang="da" { (w.t(T::ReportDa)) }
            }
        }
        @if live && may_cancel(&s.caller, &run) {
            form.actions method="post" action={ "/ui/runs/" (run.id) "/cancel" } {
                (csrf_field(&s))
                button.danger #cancel type="submit" { (w.t(T::CancelRun)) }
            }
        }
        h2 { (w.t(T::Details)) }
        dl.facts {
            dt { (w.t(T::Model)) } dd { @match &model { Some(m) => a href={ "/ui/models/" (m.id) } { (name(&m.name)) " " (name(&m.version)) }, None => span.mono { (run.model_id) } } }
            dt { (w.t(T::StartedBy)) } dd { (name(&by)) }
            dt { (w.t(T::Created)) } dd { (when(run.created_at.as_str())) }
            dt { (w.t(T::Started)) } dd { (run.started_at.as_ref().map_or("—".into(), |t| when(t.as_str()))) }
            dt { (w.t(T::Finished)) } dd { (run.finished_at.as_ref().map_or("—".into(), |t| when(t.as_str()))) }
            @if let Some(p) = &params {
                dt { (w.t(T::Scenario)) } dd { (name(&p.dataset.scenario)) }
                dt { (w.t(T::Citizens)) } dd { (w.rows_and_seed(run.total_rows, p.dataset.seed)) }
                dt { (w.t(T::Criteria)) } dd { (w.criteria_of_run(p.criteria.len())) }
                dt { (w.t(T::Bootstrap)) } dd { (w.resamples(p.bootstrap as u64)) }
            }
            dt { (w.t(T::Id)) } dd.mono { (run.id) }
        }
    };
    let refresh = live.then_some(2);
    Ok(in_case(
        &case,
        layout::page(&w, w.t(T::Run), Some(&s), Nav::Runs, refresh, body),
    ))
}

pub async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: Session,
    audit: crate::middleware::AuditContext,
    Path(id): Path<String>,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> PageResult {
    let Form(f) = form.map_err(bad_form)?;
    check_form(&headers, &s, &f.csrf)?;
    let (run, case) = crate::app::runs::cancel(&state, &s.caller, audit.on_success(StatusCode::SEE_OTHER), &id).await?;
    let mut r = in_case(&case, see_other(&format!("/ui/runs/{}", run.id)));
    r.extensions_mut().insert(AuditObject(format!("run {}", run.id)));
    Ok(r)
}

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    lang: Option<String>,
}

pub async fn report(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> PageResult {
    let Query(q) = q.map_err(super::bad_query)?;
    let lang = report_lang(q.lang.as_deref())?;
    let (html, case) = render_report(&state, &s.caller, &id, lang).await?;
    let mut r = html_report_response(html);
    r.extensions_mut().insert(AuditCase(case.id.as_str().to_owned()));
    Ok(r)
}
