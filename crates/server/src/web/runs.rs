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
    let (explain_on, paths_on) = again.map_or((true, true), |a| (!a.no_explain(), !a.no_paths()));
    let robustness_on = again.is_none_or(|a| !a.no_robustness());
    let shift_on = again.is_some_and(|a| !a.shift.is_empty());
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
            // Tells the server the checkboxes were shown, so an unticked one means off.
            input type="hidden" name="stages" value="1";
            label { input #run-explain type="checkbox" name="explain" value="on" checked[explain_on]; " " (w.t(T::ExplainModel)) }
            label { input #run-paths type="checkbox" name="paths" value="on" checked[paths_on]; " " (w.t(T::CausalPaths)) }
            label { input #run-robustness type="checkbox" name="robustness" value="on" checked[robustness_on]; " " (w.t(T::RobustnessStage)) }
            label { input #run-shift type="checkbox" name="shift" value="on" checked[shift_on]; " " (w.t(T::ShiftStage)) }
            label { (w.t(T::PathList))
                input #run-path-list type="text" name="path_list" maxlength=(FORM_LIST_CHARS) value=(value(|a| &a.path_list, DEFAULT_PATH_LIST));
            }
            label { (w.t(T::Proxies))
                input #run-proxies type="text" name="proxies" maxlength=(FORM_LIST_CHARS) placeholder=(w.t(T::ScenarioDefault)) value=(value(|a| &a.proxies, ""));
            }
            button #run-submit type="submit" { (w.t(T::StartRun)) }
        }
    }
}

/// The paths the form offers before anyone changes them: the stage's defaults.
const DEFAULT_PATH_LIST: &str = "total,proxy,mediated";

/// The longest paths list or proxies list the form takes (the API takes more).
const FORM_LIST_CHARS: usize = 2000;

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
    /// Set by the form, which shows the stage checkboxes: without it (a client that does not
    /// know them) both stages run, as by default.
    #[serde(default)]
    stages: String,
    #[serde(default)]
    explain: String,
    #[serde(default)]
    paths: String,
    #[serde(default)]
    robustness: String,
    /// Off unless ticked: the shift grid costs several populations' scoring.
    #[serde(default)]
    shift: String,
    #[serde(default)]
    path_list: String,
    #[serde(default)]
    proxies: String,
}

impl RunForm {
    fn no_explain(&self) -> bool {
        !self.stages.is_empty() && self.explain.is_empty()
    }

    fn no_paths(&self) -> bool {
        !self.stages.is_empty() && self.paths.is_empty()
    }

    fn no_robustness(&self) -> bool {
        !self.stages.is_empty() && self.robustness.is_empty()
    }
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
        Ok(mut body) => {
            // The form asks for the grid's default size, or the server's run limit if smaller.
            if let Some(o) = &mut body.shift {
                o.rows = o
                    .rows
                    .min(usize::try_from(state.config.max_run_rows).unwrap_or(usize::MAX));
            }
            start(&state, &s.caller, audit.on_success(StatusCode::SEE_OTHER), &body).await
        }
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
        no_explain: f.no_explain(),
        explain: None,
        no_paths: f.no_paths(),
        paths: if f.no_paths() { None } else { path_options(f)? },
        no_robustness: f.no_robustness(),
        robustness: None,
        shift: (!f.shift.is_empty()).then(evaluate::ShiftOptions::default),
    })
}

/// The causal-path options of the form's lists; `None` when they leave the defaults.
/// Paths are separated by commas (`through:a+b` joins its columns with `+`); proxies by
/// commas or spaces, none meaning the scenario's.
fn path_options(f: &RunForm) -> Result<Option<evaluate::PathOptions>, ApiError> {
    for (field, text) in [("paths", &f.path_list), ("proxies", &f.proxies)] {
        if text.chars().count() > FORM_LIST_CHARS {
            return Err(ApiError::bad_request(format!(
                "the {field} list is at most {FORM_LIST_CHARS} characters"
            )));
        }
    }
    let list = f.path_list.trim();
    let proxies: Vec<String> = f
        .proxies
        .split([',', ' ', '\t', '\n', '\r'])
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    if (list.is_empty() || list == DEFAULT_PATH_LIST) && proxies.is_empty() {
        return Ok(None);
    }
    let mut options = evaluate::PathOptions::default();
    if !list.is_empty() {
        options.paths = list
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| synth::Path::parse(p).map_err(|e| ApiError::bad_request(format!("paths: {e}"))))
            .collect::<Result<_, _>>()?;
    }
    if !proxies.is_empty() {
        options.proxies = Some(proxies);
    }
    Ok(Some(options))
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
        @if run.state == RunState::Succeeded && s.caller.may(policy::Action::ReplayRun) {
            form.actions method="post" action={ "/ui/runs/" (run.id) "/replay" } {
                (csrf_field(&s))
                button #replay type="submit" { (w.t(T::ReplayRun)) }
                span.muted { " " (w.t(T::ReplayExplained)) }
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
                dt { (w.t(T::Explanations)) } dd #run-explanations { @match &p.explain {
                    Some(o) => (w.explained(o.rows as u64, o.repeats as u64)),
                    None => (w.t(T::Off)),
                } }
                dt { (w.t(T::CausalPaths)) } dd #run-causal-paths { @match &p.paths {
                    Some(o) => (w.paths_on(&plain(&o.paths.iter().map(synth::Path::name).collect::<Vec<_>>().join(", "), TEXT_CHARS), o.rows as u64)),
                    None => (w.t(T::Off)),
                } }
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

/// `POST /ui/runs/{run}/replay` (advisors and admins): replays the run and shows what the replay found.
pub async fn replay(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: Session,
    w: Words,
    Path(id): Path<String>,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> PageResult {
    let Form(f) = form.map_err(bad_form)?;
    check_form(&headers, &s, &f.csrf)?;
    let (r, case) = crate::app::runs::replay(&state, &s.caller, &id).await?;
    let c = &r.comparison;
    let body = html! {
        p.muted { a href="/ui/cases" { (w.t(T::Cases)) } " › " a href={ "/ui/cases/" (case.id) } { (name(&case.name)) } " › " a href={ "/ui/runs/" (r.run) } { (short_id(&r.run)) } " ›" }
        h1 { (w.t(T::Replay)) " " (short_id(&r.run)) }
        @if c.identical {
            div.notice.ok #replay-verdict role="status" { (w.t(T::ReplayIdentical)) }
        } @else {
            div.notice.bad #replay-verdict role="alert" { (w.t(T::ReplayDifferent)) }
        }
        dl.facts {
            dt { (w.t(T::Stored)) } dd.mono { (c.stored_findings_sha256) }
            dt { (w.t(T::Replayed)) } dd.mono { (c.replayed_findings_sha256) }
            dt { (w.t(T::Citizens)) } dd { (r.rows) }
            dt { (w.t(T::Model)) } dd.mono { (r.model_sha256) }
        }
        @if let Some(d) = &c.first_difference {
            h2 { (w.t(T::FirstDifference)) }
            dl.facts #replay-difference {
                dt { "path" } dd.mono { (plain(&d.path, TEXT_CHARS)) }
                dt { (w.t(T::Stored)) } dd.mono { (plain(d.stored.as_deref().unwrap_or("—"), TEXT_CHARS)) }
                dt { (w.t(T::Replayed)) } dd.mono { (plain(d.replayed.as_deref().unwrap_or("—"), TEXT_CHARS)) }
            }
        }
        h2 { (w.t(T::ChangedCircumstances)) }
        @if c.changed.is_empty() {
            p #replay-changed { (w.t(T::NoneChanged)) }
        } @else {
            (table(&["", w.t(T::Stored), w.t(T::Replayed)], html! { @for ch in &c.changed { tr {
                td { (plain(&ch.what, 40)) } td { (plain(&ch.stored, TEXT_CHARS)) } td { (plain(&ch.replayed, TEXT_CHARS)) }
            } } }))
        }
        p.actions { a.button href={ "/ui/runs/" (r.run) } { (w.t(T::BackToRun)) } }
    };
    let object = r.audit_object();
    let mut resp = in_case(&case, layout::page(&w, &case.name, Some(&s), Nav::Runs, None, body));
    resp.extensions_mut().insert(AuditObject(object));
    Ok(resp)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::runs::stages;
    use synth::Path;

    /// The form as the page sends it with its defaults, changed by `edit`.
    fn form(edit: impl FnOnce(&mut RunForm)) -> RunForm {
        let mut f = RunForm {
            csrf: "c".into(),
            model_id: "m".into(),
            rows: "300".into(),
            seed: String::new(),
            bias: String::new(),
            counterfactual: String::new(),
            stages: "1".into(),
            explain: "on".into(),
            paths: "on".into(),
            robustness: "on".into(),
            shift: String::new(),
            path_list: DEFAULT_PATH_LIST.into(),
            proxies: String::new(),
        };
        edit(&mut f);
        f
    }

    fn options(f: &RunForm) -> (Option<evaluate::ExplainOptions>, Option<evaluate::PathOptions>) {
        stages(&body_of(f).unwrap()).unwrap()
    }

    #[test]
    fn the_forms_defaults_are_the_stages_defaults() {
        let defaults = (
            Some(evaluate::ExplainOptions::default()),
            Some(evaluate::PathOptions::default()),
        );
        assert_eq!(options(&form(|_| {})), defaults);
        // A client that does not know the checkboxes (no `stages`) gets both stages.
        assert_eq!(
            options(&form(|f| {
                f.stages.clear();
                f.explain.clear();
                f.paths.clear();
                f.path_list.clear();
            })),
            defaults
        );
        assert_eq!(options(&form(|f| f.path_list = " ".into())), defaults);
    }

    #[test]
    fn unticked_checkboxes_turn_the_stages_off() {
        let b = body_of(&form(|f| f.paths.clear())).unwrap();
        assert!(b.no_paths && !b.no_explain && b.paths.is_none());
        assert_eq!(stages(&b).unwrap(), (Some(evaluate::ExplainOptions::default()), None));
        let b = body_of(&form(|f| f.explain.clear())).unwrap();
        assert_eq!(stages(&b).unwrap(), (None, Some(evaluate::PathOptions::default())));
        let b = body_of(&form(|f| f.robustness.clear())).unwrap();
        assert!(b.no_robustness && !b.no_paths && !b.no_explain);
        assert_eq!(crate::app::runs::robustness_stage(&b).unwrap(), None);
        let b = body_of(&form(|_| {})).unwrap();
        assert_eq!(
            crate::app::runs::robustness_stage(&b).unwrap(),
            Some(evaluate::RobustnessOptions::default())
        );
        // The lists of a stage that is off are not read.
        let b = body_of(&form(|f| {
            f.paths.clear();
            f.path_list = "nonsense".into();
        }))
        .unwrap();
        assert_eq!(stages(&b).unwrap().1, None);
    }

    #[test]
    fn the_forms_lists_map_to_the_same_options_as_the_apis() {
        let f = form(|f| {
            f.path_list = "total, through:education+sector ,hold:region".into();
            f.proxies = "municipality, region  country_of_origin".into();
        });
        let api: crate::app::runs::RunRequest = serde_json::from_value(serde_json::json!({
            "model_id": "m",
            "rows": 300,
            "paths": {
                "paths": ["total", { "through": ["education", "sector"] }, { "hold": ["region"] }],
                "proxies": ["municipality", "region", "country_of_origin"],
                "rows": evaluate::DEFAULT_PATH_ROWS
            }
        }))
        .unwrap();
        assert_eq!(options(&f), stages(&api).unwrap());
        let (_, paths) = options(&f);
        assert_eq!(
            paths.unwrap().paths.iter().map(Path::name).collect::<Vec<_>>(),
            ["total", "through:education+sector", "hold:region"]
        );
        let (_, paths) = options(&form(|f| f.proxies = "municipality".into()));
        let paths = paths.unwrap();
        assert_eq!(paths.paths, evaluate::PathOptions::default().paths);
        assert_eq!(paths.proxies, Some(vec!["municipality".to_owned()]));
    }

    #[test]
    fn bad_lists_in_the_form_are_refused_with_the_reason() {
        let e = body_of(&form(|f| f.path_list = "total,sideways".into())).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.starts_with("paths: unknown path"), "{}", e.message);
        let e = body_of(&form(|f| f.proxies = "p ".repeat(FORM_LIST_CHARS))).unwrap_err();
        assert!(e.message.contains("proxies list is at most"), "{}", e.message);
        // Bounds beyond the form's are the API's: an overlong column name is refused there.
        let f = form(|f| f.path_list = format!("through:{}", "a".repeat(65)));
        let e = stages(&body_of(&f).unwrap()).unwrap_err();
        assert!(e.message.starts_with("paths.paths: "), "{}", e.message);
    }

    fn session() -> Session {
        let user = serde_json::from_value(serde_json::json!({
            "id": "0".repeat(32), "org_id": "1".repeat(32), "name": "Vendor", "role": "vendor", "created_at": "2024-01-01T00:00:00Z"
        }))
        .unwrap();
        let org = serde_json::from_value(serde_json::json!({ "id": "1".repeat(32), "name": "Org", "kind": "vendor" }))
            .unwrap();
        Session {
            caller: crate::policy::Caller { user, org },
            csrf: "c".into(),
        }
    }

    #[test]
    fn the_form_shows_the_stages_ticked_by_default_and_as_sent_when_refused() {
        let (s, w) = (session(), Words::default());
        let html = run_form(&s, &w, &[], None, 1000, None).into_string();
        for want in [
            r#"name="stages" value="1""#,
            r#"id="run-explain" type="checkbox" name="explain" value="on" checked"#,
            r#"id="run-paths" type="checkbox" name="paths" value="on" checked"#,
            r#"name="path_list" maxlength="2000" value="total,proxy,mediated""#,
            r#"name="proxies""#,
            "Explain the model",
            "Causal paths",
        ] {
            assert!(html.contains(want), "{want} not in {html}");
        }
        let again = form(|f| {
            f.explain.clear();
            f.path_list = "through:education".into();
        });
        let html = run_form(&s, &w, &[], None, 1000, Some(&again)).into_string();
        assert!(html.contains(r#"name="explain" value="on">"#), "{html}");
        assert!(html.contains(r#"name="paths" value="on" checked"#), "{html}");
        assert!(html.contains(r#"value="through:education""#), "{html}");
        let da = Words {
            lang: crate::web::text::Lang::Da,
            ..Words::default()
        };
        let html = run_form(&s, &da, &[], None, 1000, None).into_string();
        assert!(
            html.contains("Forklar modellen") && html.contains("Kausale stier"),
            "{html}"
        );
    }
}
