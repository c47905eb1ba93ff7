//! The findings of a case on its page, and the form advisors and authorities write them with.

use super::Session;
use super::layout::{TEXT_CHARS, csrf_field, short_id, user, when};
use super::text::{T, Words};
use super::{PageResult, bad_form, check_form, see_other};
use crate::app::findings::{FindingRequest, MAX_BODY_CHARS, list, write};
use crate::middleware::{AuditContext, in_case};
use crate::policy::{self, Action};
use crate::state::AppState;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use maud::{Markup, html};
use serde::Deserialize;
use store::{Case, Finding, FindingId, FindingTarget, Model, Run, Severity};

fn severity(w: &Words, s: Severity) -> &'static str {
    match s {
        Severity::Note => w.t(T::SeverityNote),
        Severity::Low => w.t(T::SeverityLow),
        Severity::Medium => w.t(T::SeverityMedium),
        Severity::High => w.t(T::SeverityHigh),
    }
}

fn target(w: &Words, t: &FindingTarget) -> Markup {
    match t {
        FindingTarget::Case => html! { (w.t(T::TheCase)) },
        FindingTarget::Model(m) => {
            html! { (w.t(T::Model)) " " a href={ "/ui/models/" (m) } { (short_id(m.as_str())) } }
        }
        FindingTarget::Run(r) => html! { (w.t(T::Run)) " " a href={ "/ui/runs/" (r) } { (short_id(r.as_str())) } },
    }
}

/// The findings the caller may read, and the form if they may write; `refused` is a refused text and why.
pub async fn section(
    state: &AppState,
    s: &Session,
    w: &Words,
    case: &Case,
    models: &[Model],
    runs: &[Run],
    refused: Option<(&str, &str)>,
) -> Result<Markup, crate::error::ApiError> {
    let visible = list(state, &s.caller, case).await?;
    // Successors among what the caller reads (a correction keeps its target); the writers read them all.
    let all = visible.clone();
    let successor = |f: &Finding| {
        all.iter()
            .find(|g| g.supersedes.as_ref() == Some(&f.id))
            .map(|g| g.id.clone())
    };
    Ok(html! {
        h2 #findings { (w.t(T::Findings)) }
        @if visible.is_empty() {
            p { (w.t(T::NoFindings)) }
        } @else {
            @for f in &visible {
                article.finding id={ "finding-" (f.id) } data-severity=(f.severity.as_str()) {
                    p.muted {
                        strong { (severity(w, f.severity)) } " · " (target(w, &f.target)) " · "
                        (f.role.as_str()) " · " (when(f.created_at.as_str()))
                        @if let Some(old) = &f.supersedes { " · " (w.t(T::Corrects)) " " a href={ "#finding-" (old) } { (short_id(old.as_str())) } }
                        @if let Some(new) = successor(f) { " · " strong { (w.t(T::SupersededBy)) } " " a href={ "#finding-" (new) } { (short_id(new.as_str())) } }
                    }
                    // Line by line, so its breaks show as breaks and every other hidden character as an escape.
                    p.finding-body { @for (i, line) in f.body.lines().enumerate() { @if i > 0 { br; } (user(line, MAX_BODY_CHARS)) } }
                }
            }
        }
        @if s.caller.may(Action::WriteFinding) {
            details open[refused.is_some()] {
                summary { (w.t(T::WriteAFinding)) }
                @if let Some((_, e)) = refused { div.notice.bad #finding-error role="alert" { (user(e, TEXT_CHARS)) } }
                form.stack method="post" action={ "/ui/cases/" (case.id) "/findings" } {
                    (csrf_field(s))
                    label { (w.t(T::About))
                        select name="target" {
                            option value="case" { (w.t(T::TheCase)) }
                            @for m in models { option value={ "model:" (m.id) } { (w.t(T::Model)) " " (super::layout::name(&m.name)) " " (super::layout::name(&m.version)) } }
                            @for r in runs { option value={ "run:" (r.id) } { (w.t(T::Run)) " " (short_id(r.id.as_str())) } }
                        }
                    }
                    label { (w.t(T::Severity))
                        select name="severity" {
                            @for sv in Severity::ALL { option value=(sv.as_str()) { (severity(w, *sv)) } }
                        }
                    }
                    label { (w.t(T::Finding))
                        textarea name="body" rows="5" maxlength="10000" required { (refused.map_or("", |(b, _)| b)) }
                    }
                    label { (w.t(T::Corrects))
                        select name="supersedes" {
                            option value="" { "—" }
                            @for f in all.iter().filter(|f| successor(f).is_none()) { option value=(f.id) { (short_id(f.id.as_str())) } }
                        }
                    }
                    div { button type="submit" { (w.t(T::WriteAFinding)) } }
                }
            }
        }
    })
}

#[derive(Debug, Deserialize)]
pub struct FindingForm {
    #[serde(default)]
    csrf: String,
    target: String,
    severity: String,
    body: String,
    #[serde(default)]
    supersedes: String,
}

impl FindingForm {
    /// The API's request from the form's fields, or what is wrong with them.
    fn request(&self) -> Result<FindingRequest, String> {
        let target = match self.target.split_once(':') {
            None if self.target == "case" => FindingTarget::Case,
            Some(("model", id)) => FindingTarget::Model(id.parse().map_err(|e| format!("the model: {e}"))?),
            Some(("run", id)) => FindingTarget::Run(id.parse().map_err(|e| format!("the run: {e}"))?),
            _ => return Err("choose what the finding is about".into()),
        };
        let severity = Severity::parse(&self.severity).map_err(|e| e.to_string())?;
        let supersedes = (!self.supersedes.is_empty())
            .then(|| self.supersedes.parse::<FindingId>())
            .transpose()
            .map_err(|e| format!("the finding it corrects: {e}"))?;
        Ok(FindingRequest {
            target,
            severity,
            body: self.body.clone(),
            links: Vec::new(),
            supersedes,
        })
    }
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: Session,
    w: Words,
    audit: AuditContext,
    Path(id): Path<String>,
    form: Result<Form<FindingForm>, FormRejection>,
) -> PageResult {
    let Form(form) = form.map_err(bad_form)?;
    check_form(&headers, &s, &form.csrf)?;
    let case = policy::case(&state, &s.caller, &id).await?;
    s.caller.require(Action::WriteFinding)?;
    let outcome = match form.request() {
        Err(e) => Err(e),
        Ok(req) => match write(&state, &s.caller, audit.on_success(StatusCode::SEE_OTHER), &case, req).await {
            Ok(_) => Ok(()),
            Err(e) if e.status.is_client_error() && e.status != StatusCode::FORBIDDEN => Err(e.message),
            Err(e) => return Err(e.into()),
        },
    };
    match outcome {
        Ok(()) => Ok(in_case(&case, see_other(&format!("/ui/cases/{}#findings", case.id)))),
        Err(message) => {
            let page = super::cases::case_page(&state, &s, &w, &case, None, Some((&form.body, &message))).await?;
            Ok(in_case(&case, (StatusCode::UNPROCESSABLE_ENTITY, page)))
        }
    }
}
