//! Cases, their criteria and models, and the vendor's upload form.

use super::Session;
use super::layout::{
    self, Nav, TEXT_CHARS, csrf_field, json_text, name, names, short_id, state_badge, table, user, when,
};
use super::runs::run_form;
use super::{PageError, PageResult, bad_form, check_form, see_other};
use crate::app::cases::{fix_criteria, members_of};
use crate::app::models::{accept, count_upload};
use crate::error::ApiError;
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
use maud::{Markup, html};
use serde::Deserialize;
use store::meta::{Case, Model};

pub async fn list(State(state): State<AppState>, s: Session) -> PageResult {
    list_page(&state, &s, None).await
}

async fn list_page(state: &AppState, s: &Session, error: Option<String>) -> PageResult {
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
        h1 { "Cases" }
        @if rows.is_empty() {
            p #no-cases { "You are not in any case yet. An authority adds your organisation to a case." }
        } @else {
            (table(&["Case", "Organisations", "Models", "Runs", "Opened"], html! {
                @for (case, members, models, runs) in &rows {
                    tr.case {
                        td { a href={ "/ui/cases/" (case.id) } { (name(&case.name)) } }
                        td { (names(members.iter().map(|o| o.name.as_str()))) }
                        td.num { (models) }
                        td.num { (runs) }
                        td { (case.created_at.as_str().get(..10).unwrap_or_default()) }
                    }
                }
            }))
        }
        @if manages {
            h2 { "Open a case" }
            @if let Some(e) = &error { div.notice.bad role="alert" { (user(e, TEXT_CHARS)) } }
            form.stack #new-case method="post" action="/ui/cases" {
                (csrf_field(s))
                label { "Name" input type="text" name="name" required maxlength="200"; }
                fieldset {
                    legend { "Organisations taking part (yours is always in)" }
                    @for org in orgs.iter().filter(|o| o.id != s.caller.org.id) {
                        label { input type="checkbox" name="members" value=(org.id); " " (name(&org.name)) " (" (org.kind.as_str()) ")" }
                    }
                }
                div { button type="submit" { "Open case" } }
            }
        }
    };
    Ok(layout::page("Cases", Some(s), Nav::Cases, None, body).into_response())
}

/// `name`, `csrf` and any number of `members` (checkboxes), which axum's `Form` cannot
/// collect into a list.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: Session,
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
            let mut r = list_page(&state, &s, Some(e.message)).await?;
            *r.status_mut() = e.status;
            Ok(r)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn show(State(state): State<AppState>, s: Session, Path(id): Path<String>) -> PageResult {
    let case = policy::case(&state, &s.caller, &id).await?;
    let page = case_page(&state, &s, &case, None).await?;
    Ok(in_case(&case, page))
}

/// The case page; `criteria_error` is a refused criteria text and why, shown in its form.
async fn case_page(
    state: &AppState,
    s: &Session,
    case: &Case,
    criteria_error: Option<(&str, &str)>,
) -> Result<Markup, PageError> {
    let members = members_of(&state.store, case).await?;
    let criteria = state.store.criteria(&case.id).await?;
    let models = policy::visible_models(&s.caller, state.store.list_models(&case.id).await?);
    let runs = runs_of_case(state, &s.caller, case).await?;
    let criteria_text = criteria
        .as_ref()
        .and_then(|c| serde_json::to_string_pretty(&c.json).ok())
        .map_or_else(|| "[]".into(), |t| json_text(&t));
    let body = html! {
        p.muted { a href="/ui/cases" { "Cases" } " ›" }
        h1 #case-name { (name(&case.name)) }
        dl.facts {
            dt { "Organisations" } dd { (names(members.iter().map(|o| o.name.as_str()))) }
            dt { "Opened" } dd { (when(case.created_at.as_str())) }
            dt { "Id" } dd.mono { (case.id) }
        }
        h2 #criteria { "Criteria" }
        @match &criteria {
            None => p { "No criteria are fixed yet; reports will show the metrics without verdicts." },
            Some(c) => {
                p.muted { "Fixed " (when(c.fixed_at.as_str())) ". Every run started from now on is judged against these." }
                (criteria_table(&c.json))
            }
        }
        @if s.caller.may(Action::FixCriteria) {
            details open[criteria_error.is_some()] {
                summary { "Change the criteria" }
                @if let Some((_, e)) = criteria_error { div.notice.bad #criteria-error role="alert" { (user(e, TEXT_CHARS)) } }
                form.stack method="post" action={ "/ui/cases/" (case.id) "/criteria" } {
                    (csrf_field(s))
                    label { "Criteria (JSON list, or TOML with [[criterion]] tables)"
                        textarea name="criteria" rows="10" { (criteria_error.map_or(criteria_text.as_str(), |(t, _)| t)) }
                    }
                    div { button type="submit" { "Fix criteria" } }
                }
            }
        }
        h2 #models { "Models" }
        @if models.is_empty() {
            p { "No models yet." }
        } @else {
            (models_table(&models))
        }
        @if s.caller.may(Action::UploadModel) {
            p.actions { a.button #upload-link href={ "/ui/cases/" (case.id) "/upload" } { "Upload a model" } }
        }
        h2 #runs { "Runs" }
        @if runs.is_empty() {
            p { "No runs yet." }
        } @else {
            (super::runs::runs_table(&runs, &models))
        }
        @if s.caller.may(Action::StartRun) && !models.is_empty() {
            h2 { "Start a run" }
            (run_form(s, &models, None, state.config.max_run_rows, None))
        }
    };
    Ok(layout::page(&case.name, Some(s), Nav::Cases, None, body))
}

/// Criteria as a table, one row each; whatever cannot be read is shown as JSON.
fn criteria_table(json: &serde_json::Value) -> Markup {
    let list: Vec<fairness::criteria::Criterion> = match serde_json::from_value(json.clone()) {
        Ok(l) => l,
        Err(_) => return html! { pre.mono { (json_text(json)) } },
    };
    let op = |c: &fairness::criteria::Criterion| c.op.as_str();
    let against = |c: &fairness::criteria::Criterion| c.against.as_str();
    table(
        &["Name", "Attribute", "Metric", "Against", "Requirement"],
        html! {
            @for c in &list {
                tr.criterion {
                    td { (name(c.name.as_deref().unwrap_or(""))) }
                    td { (name(&c.attribute)) }
                    td.mono { (name(c.metric.as_str())) }
                    td { (against(c).replace('_', " ")) }
                    td.mono { (op(c)) " " (c.threshold) }
                }
            }
        },
    )
}

fn models_table(models: &[Model]) -> Markup {
    table(
        &["Model", "Version", "Scenario", "Uploaded", "SHA-256"],
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
        match fairness::criteria::parse(&form.criteria) {
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
            let page = case_page(&state, &s, &case, Some((&form.criteria, &message))).await?;
            Ok(in_case(&case, (StatusCode::UNPROCESSABLE_ENTITY, page)))
        }
    }
}

fn upload_form(s: &Session, case: &Case, findings: Option<(&str, &[String])>) -> Markup {
    let body = html! {
        p.muted { a href="/ui/cases" { "Cases" } " › " a href={ "/ui/cases/" (case.id) } { (name(&case.name)) } " ›" }
        h1 { "Upload a model" }
        p { "The model (ONNX) and its manifest (TOML or JSON) are inspected before anything is stored: operators, opsets, sizes and the manifest's columns. A model that fails is not kept." }
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
            label { "Model (.onnx)" input #model-file type="file" name="model" accept=".onnx" required; }
            label { "Manifest (.toml or .json)" input #manifest-file type="file" name="manifest" accept=".toml,.json" required; }
            div { button #upload-submit type="submit" { "Upload and inspect" } }
        }
    };
    layout::page("Upload a model", Some(s), Nav::Cases, None, body)
}

pub async fn upload_page(State(state): State<AppState>, s: Session, Path(id): Path<String>) -> PageResult {
    let case = policy::case(&state, &s.caller, &id).await?;
    s.caller.require(Action::UploadModel)?;
    Ok(in_case(&case, upload_form(&s, &case, None)))
}

/// The form's parts in order: `csrf` first (checked before the files are read), then
/// `model` and `manifest`.
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: Session,
    audit: AuditContext,
    Path(id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> PageResult {
    let case = policy::case(&state, &s.caller, &id).await?;
    s.caller.require(Action::UploadModel)?;
    let mut multipart = multipart.map_err(|e| bad_form(e.body_text()))?;
    let (mut csrf_ok, mut model, mut manifest) = (false, None, None);
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
            "model" if model.is_none() => {
                model = Some(read_field(&mut field, "model", state.config.max_model_bytes).await?);
            }
            "manifest" if manifest.is_none() => {
                manifest = Some(read_field(&mut field, "manifest", state.config.max_manifest_bytes).await?);
            }
            other => {
                return Err(bad_form(format!(
                    "unexpected or repeated part {:?}",
                    other.chars().take(40).collect::<String>()
                )));
            }
        }
    }
    if !csrf_ok {
        check_form(&headers, &s, "")?;
    }
    let result = match (model, manifest) {
        (Some(m), Some(f)) if !m.is_empty() && !f.is_empty() => {
            accept(&state, &s.caller, audit.on_success(StatusCode::SEE_OTHER), &case, m, f).await
        }
        _ => Err(ApiError::bad_request("choose both a model file and a manifest file")),
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
                "The model was rejected at inspection:".to_owned()
            };
            Ok(in_case(
                &case,
                (e.status, upload_form(&s, &case, Some((&message, &list)))),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn model(State(state): State<AppState>, s: Session, Path(id): Path<String>) -> PageResult {
    let (model, case) = policy::model(&state, &s.caller, &id).await?;
    let summary: Option<inference::inspect::Summary> = serde_json::from_value(model.inspection.clone()).ok();
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
        p.muted { a href="/ui/cases" { "Cases" } " › " a href={ "/ui/cases/" (case.id) } { (name(&case.name)) } " ›" }
        h1 #model-name { (name(&model.name)) " " span.muted { (name(&model.version)) } }
        dl.facts {
            dt { "Scenario" } dd { (name(&model.scenario)) }
            dt { "Vendor" } dd { (name(&uploader)) }
            dt { "Uploaded" } dd { (when(model.created_at.as_str())) }
            dt { "Model SHA-256" } dd.mono { (model.model_sha256.as_str()) }
            dt { "Manifest SHA-256" } dd.mono { (model.manifest_sha256.as_str()) }
        }
        h2 #inspection { "Inspection" }
        @match &summary {
            None => pre.mono { (json_text(&model.inspection)) },
            Some(sum) => {
                div.notice.ok { "Accepted: no findings. Only allowed operators and opsets, no external data, within every size limit." }
                dl.facts {
                    dt { "Producer" } dd { (name(&sum.producer)) }
                    dt { "IR version" } dd { (sum.ir_version) }
                    dt { "Opsets" } dd.mono { (user(&sum.opsets.iter().map(|(d, v)| format!("{}:{v}", if d.is_empty() { "ai.onnx" } else { d })).collect::<Vec<_>>().join(", "), TEXT_CHARS)) }
                    dt { "File size" } dd { (sum.file_bytes) " bytes" }
                    dt { "Nodes" } dd { (sum.nodes) }
                    dt { "Initializers" } dd { (sum.initializers) }
                    dt { "Parameters" } dd { (sum.parameters) }
                }
                h2 { "Inputs and outputs" }
                (table(&["Direction", "Name", "Type", "Shape"], html! {
                    @for (dir, p) in sum.inputs.iter().map(|p| ("input", p)).chain(sum.outputs.iter().map(|p| ("output", p))) {
                        tr.port {
                            td { (dir) } td.mono { (name(&p.name)) } td.mono { (name(&p.r#type)) }
                            td.mono { (user(&p.shape.as_ref().map_or("—".to_owned(), |s| format!("[{}]", s.join(", "))), TEXT_CHARS)) }
                        }
                    }
                }))
                h2 { "Operators" }
                (table(&["Operator", "Count"], html! {
                    @for (op, n) in &sum.operators { tr.operator { td.mono { (name(op)) } td.num { (n) } } }
                }))
            }
        }
        h2 { "Runs of this model" }
        @if runs.is_empty() { p { "None yet." } } @else {
            (table(&["Run", "State", "Created"], html! {
                @for r in &runs {
                    tr { td { a href={ "/ui/runs/" (r.id) } { (short_id(r.id.as_str())) } } td { (state_badge(r.state)) } td.time { (when(r.created_at.as_str())) } }
                }
            }))
        }
        @if s.caller.may(Action::StartRun) {
            h2 { "Start a run" }
            (run_form(&s, std::slice::from_ref(&model), Some(&model), state.config.max_run_rows, None))
        }
    };
    Ok(in_case(
        &case,
        layout::page(&model.name, Some(&s), Nav::Cases, None, body),
    ))
}
