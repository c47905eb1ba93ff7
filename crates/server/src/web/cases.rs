//! Cases, their criteria and models, and the vendor's upload form.

use super::Session;
use super::layout::{
    self, Nav, TEXT_CHARS, csrf_field, json_text, name, names, short_id, state_badge, table, user, when,
};
use super::runs::run_form;
use super::text::{T, Words};
use super::{PageError, PageResult, bad_form, check_form, see_other};
use crate::app::cases::{fix_criteria, members_of};
use crate::app::models::{UploadParts, accept, count_upload};
use crate::extract::{multipart_error, read_field};
use crate::middleware::in_case;
use crate::middleware::{AuditContext, AuditObject};
use crate::policy;
use crate::policy::{Action, runs_of_case};
use crate::state::AppState;
use axum::Form;
use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use htmlreport::labels;
use maud::{Markup, html};
use serde::Deserialize;
use store::{Case, Model};

pub async fn list(State(state): State<AppState>, s: Session, w: Words) -> PageResult {
    list_page(&state, &s, &w, None).await
}

async fn list_page(state: &AppState, s: &Session, w: &Words, error: Option<String>) -> PageResult {
    let cases = policy::cases(state, &s.caller).await?;
    let mut rows = Vec::with_capacity(cases.len());
    for case in &cases {
        let members = members_of(&state.store, case).await?;
        let models = policy::visible_models(&s.caller, state.store.list_models(&case.id).await?).len();
        let runs = runs_of_case(state, &s.caller, case).await?.len();
        rows.push((case, members, models, runs));
    }
    let manages = s.caller.may(Action::OpenCase);
    let orgs = if manages {
        state.store.list_orgs().await?
    } else {
        Vec::new()
    };
    let body = html! {
        h1 { (w.t(T::Cases)) }
        @if rows.is_empty() {
            p #no-cases { (w.t(T::NoCases)) }
        } @else {
            (table(&[w.t(T::Case), w.t(T::Organisations), w.t(T::Models), w.t(T::Runs), w.t(T::Opened)], html! {
                @for (case, members, models, runs) in &rows {
                    tr.case {
                        td { a href={ "/ui/cases/" (case.id) } { (name(&case.name)) } }
                        td { (names(members.iter().map(|o| o.name.as_str()))) }
                        td.num { (w.count(*models as u64)) }
                        td.num { (w.count(*runs as u64)) }
                        td { (case.created_at.as_str().get(..10).unwrap_or_default()) }
                    }
                }
            }))
        }
        @if manages {
            h2 { (w.t(T::OpenACase)) }
            @if let Some(e) = &error { div.notice.bad role="alert" { (user(e, TEXT_CHARS)) } }
            form.stack #new-case method="post" action="/ui/cases" {
                (csrf_field(s))
                label { (w.t(T::Name)) input type="text" name="name" required maxlength="200"; }
                fieldset {
                    legend { (w.t(T::MembersLegend)) }
                    @for org in orgs.iter().filter(|o| o.id != s.caller.org.id) {
                        label { input type="checkbox" name="members" value=(org.id); " " (name(&org.name)) " (" (w.org_kind(org.kind)) ")" }
                    }
                }
                div { button type="submit" { (w.t(T::OpenCase)) } }
            }
        }
    };
    Ok(layout::page(w, w.t(T::Cases), Some(s), Nav::Cases, None, body).into_response())
}

/// `name`, `csrf` and any number of `members` (checkboxes), which axum's `Form` cannot
/// collect into a list.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: Session,
    w: Words,
    audit: AuditContext,
    body: Bytes,
) -> PageResult {
    let (mut csrf, mut name, mut members) = (String::new(), String::new(), Vec::new());
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "csrf" => csrf = v.into_owned(),
            "name" => name = v.into_owned(),
            "members" => members.push(v.into_owned()),
            other => {
                return Err(bad_form(format!(
                    "unexpected field {:?}",
                    other.chars().take(40).collect::<String>()
                )));
            }
        }
    }
    check_form(&headers, &s, &csrf)?;
    match crate::app::cases::open(
        &state,
        &s.caller,
        audit.on_success(StatusCode::SEE_OTHER),
        &name,
        &members,
    )
    .await
    {
        Ok(case) => {
            let mut r = in_case(&case, see_other(&format!("/ui/cases/{}", case.id)));
            r.extensions_mut().insert(AuditObject(format!("case {}", case.id)));
            Ok(r)
        }
        Err(e) if e.status == StatusCode::BAD_REQUEST || e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let mut r = list_page(&state, &s, &w, Some(e.message)).await?;
            *r.status_mut() = e.status;
            Ok(r)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn show(State(state): State<AppState>, s: Session, w: Words, Path(id): Path<String>) -> PageResult {
    let case = policy::case(&state, &s.caller, &id).await?;
    let page = case_page(&state, &s, &w, &case, None, None).await?;
    Ok(in_case(&case, page))
}

/// The case page; `criteria_error` and `finding_error` are a refused text and why, shown in its form.
pub(super) async fn case_page(
    state: &AppState,
    s: &Session,
    w: &Words,
    case: &Case,
    criteria_error: Option<(&str, &str)>,
    finding_error: Option<(&str, &str)>,
) -> Result<Markup, PageError> {
    let members = members_of(&state.store, case).await?;
    let criteria = state.store.criteria(&case.id).await?;
    let models = policy::visible_models(&s.caller, state.store.list_models(&case.id).await?);
    let runs = runs_of_case(state, &s.caller, case).await?;
    let criteria_text = criteria
        .as_ref()
        .and_then(|c| serde_json::to_string_pretty(&c.json).ok())
        .map_or_else(|| "[]".into(), |t| json_text(&t));
    let findings = super::findings::section(state, s, w, case, &models, &runs, finding_error).await?;
    let compare = super::compare::section(state, s, w, case).await?;
    let documents = super::compare::documents(state, s, w, case).await?;
    let body = html! {
        p.muted { a href="/ui/cases" { (w.t(T::Cases)) } " ›" }
        h1 #case-name { (name(&case.name)) }
        dl.facts {
            dt { (w.t(T::Organisations)) } dd { (names(members.iter().map(|o| o.name.as_str()))) }
            dt { (w.t(T::Opened)) } dd { (when(case.created_at.as_str())) }
            dt { (w.t(T::Id)) } dd.mono { (case.id) }
        }
        p.actions #case-result {
            (w.lang.t("Slutrapport", "Exit report")) ": "
            a #exit-report-da href={ "/ui/cases/" (case.id) "/exit-report?lang=da" } { "dansk" } " · "
            a #exit-report-en href={ "/ui/cases/" (case.id) "/exit-report?lang=en" } { "English" }
            @if s.caller.may(Action::ReadSummaryDraft) {
                br;
                (w.lang.t("Offentligt resumé", "Public summary")) ": "
                a #public-summary-da href={ "/ui/cases/" (case.id) "/public-summary?lang=da" } { "dansk" } " · "
                a #public-summary-en href={ "/ui/cases/" (case.id) "/public-summary?lang=en" } { "English" }
            }
        }
        h2 #criteria { (w.t(T::Criteria)) }
        @match &criteria {
            None => p { (w.t(T::NoCriteria)) },
            Some(c) => {
                p.muted { (w.criteria_fixed(&when(c.fixed_at.as_str()))) }
                (criteria_table(w, &c.json))
            }
        }
        @if s.caller.may(Action::FixCriteria) {
            details open[criteria_error.is_some()] {
                summary { (w.t(T::ChangeCriteria)) }
                @if let Some((_, e)) = criteria_error { div.notice.bad #criteria-error role="alert" { (user(e, TEXT_CHARS)) } }
                form.stack method="post" action={ "/ui/cases/" (case.id) "/criteria" } {
                    (csrf_field(s))
                    label { (w.t(T::CriteriaHint))
                        textarea name="criteria" rows="10" { (criteria_error.map_or(criteria_text.as_str(), |(t, _)| t)) }
                    }
                    div { button type="submit" { (w.t(T::FixCriteria)) } }
                }
            }
        }
        h2 #models { (w.t(T::Models)) }
        @if models.is_empty() {
            p { (w.t(T::NoModels)) }
        } @else {
            (models_table(w, &models))
        }
        @if s.caller.may(Action::UploadModel) {
            p.actions { a.button #upload-link href={ "/ui/cases/" (case.id) "/upload" } { (w.t(T::UploadAModel)) } }
        }
        h2 #runs { (w.t(T::Runs)) }
        @if runs.is_empty() {
            p { (w.t(T::NoRunsYet)) }
        } @else {
            (super::runs::runs_table(w, &runs, &models))
        }
        @if s.caller.may(Action::StartRun) && !models.is_empty() {
            h2 { (w.t(T::StartARun)) }
            (run_form(s, w, &models, None, state.config.max_run_rows, None))
        }
        (compare)
        (documents)
        (findings)
    };
    Ok(layout::page(w, &case.name, Some(s), Nav::Cases, None, body))
}

/// Criteria as a table, one row each, in the reports' words (the metric's name as the
/// criteria text writes it beside its label); whatever cannot be read is shown as JSON.
fn criteria_table(w: &Words, json: &serde_json::Value) -> Markup {
    let list: Vec<fairness::Criterion> = match serde_json::from_value(json.clone()) {
        Ok(l) => l,
        Err(_) => return html! { pre.mono { (json_text(json)) } },
    };
    let l = w.lang;
    table(
        &[
            w.t(T::Name),
            w.t(T::Attribute),
            w.t(T::Metric),
            w.t(T::Against),
            w.t(T::Requirement),
        ],
        html! {
            @for c in &list {
                tr.criterion {
                    td { (name(c.name.as_deref().unwrap_or(""))) }
                    td { (name(&labels::attribute(l, &c.attribute))) }
                    td {
                        (labels::criterion_metric(l, c.metric)) br; code.muted { (c.metric.as_str()) }
                        @if let Some(path) = &c.path { br; span.muted { (l.t("sti ", "path ")) code { (path) } } }
                        @if let Some(shift) = c.shift_text() { br; span.muted { (shift) } }
                    }
                    td { (labels::against(l, c.against)) }
                    td.mono { (labels::op_symbol(c.op)) " " (l.plain(c.threshold)) }
                }
            }
        },
    )
}

fn models_table(w: &Words, models: &[Model]) -> Markup {
    table(
        &[
            w.t(T::Model),
            w.t(T::Version),
            w.t(T::Scenario),
            w.t(T::Uploaded),
            w.t(T::Sha256),
        ],
        html! {
            @for m in models {
                tr.model {
                    td { a href={ "/ui/models/" (m.id) } { (name(&m.name)) } }
                    td { (name(&m.version)) }
                    td { (name(&m.scenario)) }
                    td.time { (when(m.created_at.as_str())) }
                    td { (short_id(m.model_sha256.as_str())) }
                }
            }
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct CriteriaForm {
    #[serde(default)]
    csrf: String,
    criteria: String,
}

pub async fn set_criteria(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: Session,
    w: Words,
    audit: AuditContext,
    Path(id): Path<String>,
    form: Result<Form<CriteriaForm>, FormRejection>,
) -> PageResult {
    let Form(form) = form.map_err(bad_form)?;
    check_form(&headers, &s, &form.csrf)?;
    let case = policy::case(&state, &s.caller, &id).await?;
    s.caller.require(Action::FixCriteria)?;
    let outcome = if form.criteria.len() > 64 << 10 {
        Err("the criteria text is over 64 KiB".to_owned())
    } else {
        match fairness::parse_criteria(&form.criteria) {
            Err(e) => Err(format!("the criteria: {e}")),
            Ok(parsed) => {
                let list: Vec<serde_json::Value> = parsed.iter().filter_map(|c| serde_json::to_value(c).ok()).collect();
                match fix_criteria(&state, &s.caller, audit.on_success(StatusCode::SEE_OTHER), &case, &list).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY || e.status == StatusCode::BAD_REQUEST => {
                        Err(e.message)
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    };
    match outcome {
        Ok(()) => {
            let mut r = in_case(&case, see_other(&format!("/ui/cases/{}#criteria", case.id)));
            r.extensions_mut()
                .insert(AuditObject(format!("criteria of case {}", case.id)));
            Ok(r)
        }
        Err(message) => {
            let page = case_page(&state, &s, &w, &case, Some((&form.criteria, &message)), None).await?;
            Ok(in_case(&case, (StatusCode::UNPROCESSABLE_ENTITY, page)))
        }
    }
}

fn upload_form(s: &Session, w: &Words, case: &Case, findings: Option<(&str, &[String])>) -> Markup {
    let body = html! {
        p.muted { a href="/ui/cases" { (w.t(T::Cases)) } " › " a href={ "/ui/cases/" (case.id) } { (name(&case.name)) } " ›" }
        h1 { (w.t(T::UploadAModel)) }
        p { (w.t(T::UploadIntro)) }
        @if let Some((message, list)) = findings {
            div.notice.bad #upload-error role="alert" {
                p { (user(message, TEXT_CHARS)) }
                @if !list.is_empty() {
                    ul.findings { @for f in list { li { (user(f, TEXT_CHARS)) } } }
                }
            }
        }
        form.stack #upload method="post" enctype="multipart/form-data" action={ "/ui/cases/" (case.id) "/models" } {
            (csrf_field(s))
            label { (w.t(T::ModelFile)) input #model-file type="file" name="model" accept=".onnx" required; }
            label { (w.t(T::ManifestFile)) input #manifest-file type="file" name="manifest" accept=".toml,.json"; }
            fieldset #draft {
                p.muted { (w.t(T::DraftIntro)) }
                label { (w.t(T::ModelName)) input #draft-name type="text" name="name" maxlength="200"; }
                label { (w.t(T::Version)) input #draft-version type="text" name="version" maxlength="200"; }
                label { (w.t(T::Scenario))
                    select #draft-scenario name="scenario" {
                        option value="" { "—" }
                        @for scenario in synth::scenario_names() { option value=(scenario) { (scenario) } }
                    }
                }
                label { (w.t(T::FeatureNames)) textarea #draft-feature-names name="feature_names" rows="3" {} }
                label { (w.t(T::PositiveClass)) input #draft-positive-class type="text" name="positive_class" maxlength="200"; }
                label { (w.t(T::Threshold)) input #draft-threshold type="number" name="threshold" min="0" max="1" step="any" placeholder="0.5"; }
            }
            div { button #upload-submit type="submit" { (w.t(T::UploadAndInspect)) } }
        }
    };
    layout::page(w, w.t(T::UploadAModel), Some(s), Nav::Cases, None, body)
}

pub async fn upload_page(State(state): State<AppState>, s: Session, w: Words, Path(id): Path<String>) -> PageResult {
    let case = policy::case(&state, &s.caller, &id).await?;
    s.caller.require(Action::UploadModel)?;
    Ok(in_case(&case, upload_form(&s, &w, &case, None)))
}

/// The form's parts in order: `csrf` first (checked before the files are read), then
/// `model` and `manifest`.
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: Session,
    w: Words,
    audit: AuditContext,
    Path(id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> PageResult {
    let case = policy::case(&state, &s.caller, &id).await?;
    s.caller.require(Action::UploadModel)?;
    let mut multipart = multipart.map_err(|e| bad_form(e.body_text()))?;
    let mut csrf_ok = false;
    let mut parts = UploadParts::default();
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| PageError(multipart_error("reading the upload", e)))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "csrf" if !csrf_ok => {
                let value = read_field(&mut field, "csrf", 200).await?;
                check_form(&headers, &s, &String::from_utf8_lossy(&value))?;
                csrf_ok = true;
            }
            _ if !csrf_ok => check_form(&headers, &s, "")?,
            other => {
                if !parts.read(&mut field, &state).await? {
                    return Err(bad_form(format!(
                        "unexpected or repeated part {:?}",
                        other.chars().take(40).collect::<String>()
                    )));
                }
            }
        }
    }
    if !csrf_ok {
        check_form(&headers, &s, "")?;
    }
    let result = match parts.into_source() {
        Ok((model, manifest)) => {
            accept(
                &state,
                &s.caller,
                audit.on_success(StatusCode::SEE_OTHER),
                &case,
                model,
                manifest,
            )
            .await
        }
        Err(e) => Err(e),
    };
    count_upload(&state, &result);
    match result {
        Ok(model) => {
            let mut r = in_case(&case, see_other(&format!("/ui/models/{}", model.id)));
            r.extensions_mut().insert(AuditObject(format!("model {}", model.id)));
            Ok(r)
        }
        Err(e) if e.status.is_client_error() => {
            let list: Vec<String> = e
                .details
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            let message = if list.is_empty() {
                e.message.clone()
            } else {
                w.t(T::RejectedAtInspection).to_owned()
            };
            Ok(in_case(
                &case,
                (e.status, upload_form(&s, &w, &case, Some((&message, &list)))),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn model(State(state): State<AppState>, s: Session, w: Words, Path(id): Path<String>) -> PageResult {
    let (model, case) = policy::model(&state, &s.caller, &id).await?;
    let summary: Option<inference::Summary> = serde_json::from_value(model.inspection.clone()).ok();
    let runs: Vec<_> = runs_of_case(&state, &s.caller, &case)
        .await?
        .into_iter()
        .filter(|r| r.model_id == model.id)
        .collect();
    let uploader = state
        .store
        .org(&model.org_id)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    let body = html! {
        p.muted { a href="/ui/cases" { (w.t(T::Cases)) } " › " a href={ "/ui/cases/" (case.id) } { (name(&case.name)) } " ›" }
        h1 #model-name { (name(&model.name)) " " span.muted { (name(&model.version)) } }
        dl.facts {
            dt { (w.t(T::Scenario)) } dd { (name(&model.scenario)) }
            dt { (w.t(T::Vendor)) } dd { (name(&uploader)) }
            dt { (w.t(T::Uploaded)) } dd { (when(model.created_at.as_str())) }
            dt { (w.t(T::ModelSha)) } dd.mono { (model.model_sha256.as_str()) }
            dt { (w.t(T::ManifestSha)) } dd.mono { (model.manifest_sha256.as_str()) }
        }
        h2 #inspection { (w.t(T::Inspection)) }
        @match &summary {
            None => pre.mono { (json_text(&model.inspection)) },
            Some(sum) => {
                div.notice.ok { (w.t(T::Accepted)) }
                @if !sum.warnings.is_empty() {
                    div.notice #manifest-warnings {
                        p { (w.t(T::ManifestWarnings)) }
                        ul { @for warning in &sum.warnings { li { (user(warning, TEXT_CHARS)) } } }
                    }
                }
                dl.facts {
                    dt { (w.t(T::Producer)) } dd { (name(&sum.producer)) }
                    dt { (w.t(T::IrVersion)) } dd { (sum.ir_version) }
                    dt { (w.t(T::Opsets)) } dd.mono { (user(&sum.opsets.iter().map(|(d, v)| format!("{}:{v}", if d.is_empty() { "ai.onnx" } else { d })).collect::<Vec<_>>().join(", "), TEXT_CHARS)) }
                    dt { (w.t(T::FileSize)) } dd { (w.count(sum.file_bytes)) " " (w.t(T::Bytes)) }
                    dt { (w.t(T::Nodes)) } dd { (w.count(sum.nodes as u64)) }
                    dt { (w.t(T::Initializers)) } dd { (w.count(sum.initializers as u64)) }
                    dt { (w.t(T::Parameters)) } dd { (w.count(sum.parameters)) }
                }
                h2 { (w.t(T::InputsAndOutputs)) }
                (table(&[w.t(T::Direction), w.t(T::Name), w.t(T::Type), w.t(T::Shape)], html! {
                    @for (dir, p) in sum.inputs.iter().map(|p| (w.t(T::Input), p)).chain(sum.outputs.iter().map(|p| (w.t(T::Output), p))) {
                        tr.port {
                            td { (dir) } td.mono { (name(&p.name)) } td.mono { (name(&p.r#type)) }
                            td.mono { (user(&p.shape.as_ref().map_or("—".to_owned(), |s| format!("[{}]", s.join(", "))), TEXT_CHARS)) }
                        }
                    }
                }))
                h2 { (w.t(T::Operators)) }
                (table(&[w.t(T::Operator), w.t(T::Count)], html! {
                    @for (op, n) in &sum.operators { tr.operator { td.mono { (name(op)) } td.num { (w.count(*n as u64)) } } }
                }))
            }
        }
        h2 { (w.t(T::RunsOfThisModel)) }
        @if runs.is_empty() { p { (w.t(T::NoneYet)) } } @else {
            (table(&[w.t(T::Run), w.t(T::State), w.t(T::Created)], html! {
                @for r in &runs {
                    tr { td { a href={ "/ui/runs/" (r.id) } { (short_id(r.id.as_str())) } } td { (state_badge(&w, r.state)) } td.time { (when(r.created_at.as_str())) } }
                }
            }))
        }
        @if s.caller.may(Action::StartRun) {
            h2 { (w.t(T::StartARun)) }
            (run_form(&s, &w, std::slice::from_ref(&model), Some(&model), state.config.max_run_rows, None))
        }
    };
    Ok(in_case(
        &case,
        layout::page(&w, &model.name, Some(&s), Nav::Cases, None, body),
    ))
}
