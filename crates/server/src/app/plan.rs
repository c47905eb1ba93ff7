//! The sandbox plan of a case: what the case sets out to learn (objectives, the legal questions), which models are
//! in scope, who takes part in which role, and its milestones — as Datatilsynet's sandbox agrees one with each
//! participant. Versioned like the checklist (every save a new version, all kept, each audited with its hash);
//! the version in force is recorded in every run started after it (`RunParams::plan_version`). The authority that
//! owns the case (and admins) write it; everyone in the case reads it (vendors without other organisations'
//! models in scope).

use crate::error::{ApiError, ApiResult};
use crate::middleware::Audit;
use crate::policy::{Action, Caller};
use crate::state::AppState;
use serde::{Deserialize, Serialize};
use store::{Case, DocumentKind, StoredDocument};

/// Most entries in each list of a plan.
pub const MAX_ENTRIES: usize = 50;
/// Longest text of one entry, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;

/// A sandbox plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SandboxPlan")]
pub struct Plan {
    /// What the case sets out to learn or show (1 to 50).
    pub objectives: Vec<String>,
    /// The legal questions the case is to answer (e.g. "Is the profiling an automated decision under GDPR Art. 22?").
    #[serde(default)]
    pub legal_questions: Vec<String>,
    /// Ids of the case's models the plan covers.
    #[serde(default)]
    pub models_in_scope: Vec<String>,
    /// The organisations taking part and what each is responsible for.
    #[serde(default)]
    pub participants: Vec<Participant>,
    /// Milestones, with their due dates.
    #[serde(default)]
    pub milestones: Vec<Milestone>,
    /// What the authority agrees to publish about the case, and whether it has: once `published`, anyone may
    /// read the case's public summary (`/api/v1/public/cases/{case}/summary`) without signing in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publication: Option<Publication>,
}

/// The texts of a case's public summary, in the fields transparency registers ask for (the EU database for
/// high-risk AI systems, AI Act Art. 71 and Annex VIII; the Danish overview of public-sector AI), written by the
/// authority for the public: nothing confidential belongs here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    /// Whether the summary is public now. Set it when the case is finished and the participants agree; only
    /// the models in scope of the plan are counted in it.
    #[serde(default)]
    pub published: bool,
    /// The system's status at the authority.
    pub status: SystemStatus,
    /// What the AI system is for, in words for the public (Annex VIII point A.5; "formål").
    pub intended_purpose: String,
    /// How it works: the data it uses and its logic, in words for the public (Annex VIII point A.6).
    #[serde(default)]
    pub how_it_works: String,
    /// The legal basis of the processing.
    #[serde(default)]
    pub legal_basis: String,
    /// How people oversee its output and how a citizen may contest a decision (AI Act Art. 14;
    /// forvaltningsloven).
    #[serde(default)]
    pub human_oversight: String,
    /// Where the public may ask about it: an organisation's address, not a person's.
    #[serde(default)]
    pub contact: String,
}

/// Where an AI system stands at the authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SystemStatus {
    /// Being considered or developed.
    Planned,
    /// Tried out in a limited pilot.
    Piloting,
    /// In use.
    InUse,
    /// No longer in use.
    Retired,
    /// Not taken further.
    NotPursued,
}

impl SystemStatus {
    /// The status for people.
    pub fn label(self, da: bool) -> &'static str {
        match (self, da) {
            (Self::Planned, true) => "Planlagt",
            (Self::Planned, false) => "Planned",
            (Self::Piloting, true) => "Afprøves",
            (Self::Piloting, false) => "Piloting",
            (Self::InUse, true) => "I brug",
            (Self::InUse, false) => "In use",
            (Self::Retired, true) => "Udfaset",
            (Self::Retired, false) => "Retired",
            (Self::NotPursued, true) => "Ikke videreført",
            (Self::NotPursued, false) => "Not pursued",
        }
    }
}

/// A participant of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Participant {
    /// The organisation's name.
    pub organisation: String,
    /// Its role in the case.
    pub role: PlanRole,
    /// What it is responsible for.
    #[serde(default)]
    pub responsibilities: String,
}

/// A participant's role in the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanRole {
    /// The public authority that would use the AI solution.
    Authority,
    /// The vendor of the AI solution.
    Vendor,
    /// The supervisory advisor (Datatilsynet).
    Advisor,
    /// Anyone else (a municipality's data protection officer, a user panel).
    Other,
}

/// A milestone of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Milestone {
    /// What is to be done.
    pub title: String,
    /// When (a calendar date, `YYYY-MM-DD`).
    pub due: String,
    /// Whether it is done.
    #[serde(default)]
    pub done: bool,
}

/// Refuses text that is empty, too long or carries control characters other than line breaks and tabs.
fn check_text(what: &str, text: &str, may_be_empty: bool) -> ApiResult<()> {
    let n = text.chars().count();
    if (!may_be_empty && text.trim().is_empty()) || n > MAX_TEXT_CHARS {
        return Err(ApiError::unprocessable(
            "invalid_plan",
            format!("`{what}` must have 1 to {MAX_TEXT_CHARS} characters, has {n}"),
        ));
    }
    if let Some(c) = text.chars().find(|c| c.is_control() && !matches!(c, '\n' | '\t')) {
        return Err(ApiError::unprocessable(
            "invalid_plan",
            format!(
                "`{what}` contains the control character U+{:04X}; write plain text",
                u32::from(c)
            ),
        ));
    }
    Ok(())
}

impl Plan {
    /// Checks every field, and that the models in scope are the case's.
    async fn check(&self, state: &AppState, case: &Case) -> ApiResult<()> {
        if self.objectives.is_empty() {
            return Err(ApiError::unprocessable(
                "invalid_plan",
                "`objectives` must name at least one objective",
            ));
        }
        for (name, n) in [
            ("objectives", self.objectives.len()),
            ("legal_questions", self.legal_questions.len()),
            ("models_in_scope", self.models_in_scope.len()),
            ("participants", self.participants.len()),
            ("milestones", self.milestones.len()),
        ] {
            if n > MAX_ENTRIES {
                return Err(ApiError::unprocessable(
                    "invalid_plan",
                    format!("`{name}` has {n} entries; at most {MAX_ENTRIES}"),
                ));
            }
        }
        for (i, t) in self.objectives.iter().enumerate() {
            check_text(&format!("objectives[{i}]"), t, false)?;
        }
        for (i, t) in self.legal_questions.iter().enumerate() {
            check_text(&format!("legal_questions[{i}]"), t, false)?;
        }
        for (i, p) in self.participants.iter().enumerate() {
            check_text(&format!("participants[{i}].organisation"), &p.organisation, false)?;
            check_text(
                &format!("participants[{i}].responsibilities"),
                &p.responsibilities,
                true,
            )?;
        }
        for (i, m) in self.milestones.iter().enumerate() {
            check_text(&format!("milestones[{i}].title"), &m.title, false)?;
            if m.due.parse::<jiff::civil::Date>().is_err() || m.due.len() != 10 {
                return Err(ApiError::unprocessable(
                    "invalid_plan",
                    format!(
                        "`milestones[{i}].due` is {:?}; write a calendar date as YYYY-MM-DD",
                        m.due.chars().take(40).collect::<String>()
                    ),
                ));
            }
        }
        if let Some(p) = &self.publication {
            check_text("publication.intended_purpose", &p.intended_purpose, false)?;
            for (field, text) in [
                ("publication.how_it_works", &p.how_it_works),
                ("publication.legal_basis", &p.legal_basis),
                ("publication.human_oversight", &p.human_oversight),
                ("publication.contact", &p.contact),
            ] {
                check_text(field, text, !p.published)?;
            }
        }
        for (i, id) in self.models_in_scope.iter().enumerate() {
            let in_case = match store::ModelId::parse(id) {
                Ok(m) => state.store.model(&m).await?.is_some_and(|m| m.case_id == case.id),
                Err(_) => false,
            };
            if !in_case {
                return Err(ApiError::unprocessable(
                    "not_in_case",
                    format!(
                        "`models_in_scope[{i}]` ({}) is not a model of case {}",
                        id.chars().take(64).collect::<String>(),
                        case.id
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The plan of a visible case as `caller` may read it: `version`, or the one in force; `None` before the first
/// save. A vendor reads only the models in scope it may see (another organisation's work is not named to it).
pub async fn load(
    state: &AppState,
    caller: &Caller,
    case: &Case,
    version: Option<u64>,
) -> ApiResult<Option<(Plan, StoredDocument)>> {
    let mut loaded = load_whole(state, case, version).await?;
    if let (Some((plan, _)), store::Role::Vendor) = (loaded.as_mut(), caller.role()) {
        let visible: std::collections::HashSet<String> =
            crate::policy::visible_models(caller, state.store.list_models(&case.id).await?)
                .into_iter()
                .map(|m| m.id.to_string())
                .collect();
        plan.models_in_scope.retain(|m| visible.contains(m));
    }
    Ok(loaded)
}

async fn load_whole(state: &AppState, case: &Case, version: Option<u64>) -> ApiResult<Option<(Plan, StoredDocument)>> {
    match state.store.document(&case.id, DocumentKind::Plan, version).await? {
        None if version.is_some() => Err(ApiError::not_found("plan version", &version.unwrap_or(0).to_string())),
        None => Ok(None),
        Some(s) => {
            let plan: Plan = serde_json::from_str(&s.body)
                .map_err(|e| ApiError::internal(format!("the stored plan version {} does not read: {e}", s.version)))?;
            Ok(Some((plan, s)))
        }
    }
}

/// The version of the plan in force now, for a run being started (`None`: the case has no plan yet).
pub async fn version_in_force(state: &AppState, case: &Case) -> ApiResult<Option<u64>> {
    Ok(state
        .store
        .document(&case.id, DocumentKind::Plan, None)
        .await?
        .map(|d| d.version))
}

/// Checks and saves a new version of a visible case's plan, with `audit`'s entry.
pub async fn save(
    state: &AppState,
    caller: &Caller,
    audit: Audit<'_>,
    case: &Case,
    plan: Plan,
) -> ApiResult<StoredDocument> {
    caller.require(Action::EditPlan)?;
    plan.check(state, case).await?;
    let mut body = serde_json::to_string_pretty(&plan).map_err(|e| ApiError::internal(e.to_string()))?;
    body.push('\n');
    let saved = save_document(state, caller, audit, case, DocumentKind::Plan, &body).await?;
    // Its publication may have changed: the public summary is made again on its next read.
    state.public_summaries.remove(&case.id.to_string());
    Ok(saved)
}

/// Saves a new version of one of a case's documents (the plan, the checklist) with its audit entry in the same
/// transaction; the entry's object names the version and the SHA-256 of its text, which is what binds the
/// document in an evidence bundle to the log ([`crate::evidence::document_entry`]).
pub(crate) async fn save_document(
    state: &AppState,
    caller: &Caller,
    audit: Audit<'_>,
    case: &Case,
    kind: DocumentKind,
    body: &str,
) -> ApiResult<StoredDocument> {
    Ok(audit
        .commit(
            state
                .store
                .save_document_audited(&case.id, kind, body, &caller.user.id, |s| {
                    audit.entry(
                        crate::evidence::document_entry(kind, &case.id, s.version, &s.sha256),
                        Some(&case.id),
                    )
                }),
        )
        .await?)
}
