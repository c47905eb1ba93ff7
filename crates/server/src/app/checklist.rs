//! The requirements checklist of a case (the `checklist` crate's catalogue: AI Act Arts. 9–15 and 17 with
//! Annex IV, GDPR Arts. 22 and 35, AI Act Art. 10(5), forvaltningsloven §§ 22–24, lov om etnisk
//! ligebehandling): read by everyone in the case, saved as a new version by the case's participants (vendors,
//! authorities) and admins, each save audited with its version and hash. Evidence links must name runs, models
//! and findings of the case itself.

use crate::error::{ApiError, ApiResult};
use crate::middleware::Audit;
use crate::policy::{Action, Caller};
use crate::state::AppState;
use checklist::{Checklist, EvidenceLink};
use store::{Case, DocumentKind, StoredDocument};

/// A case's checklist as read: the version in force (or the blank checklist, version 0, before the first save).
pub struct Loaded {
    /// The checklist.
    pub checklist: Checklist,
    /// The stored version it is; `None` for the blank checklist.
    pub stored: Option<StoredDocument>,
}

/// The checklist of a visible case: `version`, or the one in force.
pub async fn load(state: &AppState, case: &Case, version: Option<u64>) -> ApiResult<Loaded> {
    let stored = state.store.document(&case.id, DocumentKind::Checklist, version).await?;
    match (stored, version) {
        (None, Some(v)) => Err(ApiError::not_found("checklist version", &v.to_string())),
        (None, None) => Ok(Loaded {
            checklist: Checklist::blank(),
            stored: None,
        }),
        (Some(s), _) => {
            let checklist = checklist::from_json(&s.body).map_err(|e| {
                ApiError::internal(format!("the stored checklist version {} does not read: {e}", s.version))
            })?;
            Ok(Loaded {
                checklist,
                stored: Some(s),
            })
        }
    }
}

/// How a checklist arrives.
pub enum Format {
    /// Its JSON (the schema at `/api/v1/checklist/schema`).
    Json,
    /// Its CSV, as `GET .../checklist.csv` writes it.
    Csv,
}

/// Reads, checks and saves a new version of a visible case's checklist, with `audit`'s entry.
pub async fn save(
    state: &AppState,
    caller: &Caller,
    audit: Audit<'_>,
    case: &Case,
    text: &str,
    format: Format,
) -> ApiResult<StoredDocument> {
    caller.require(Action::AnswerChecklist)?;
    let parsed = match format {
        Format::Json => checklist::from_json(text),
        Format::Csv => checklist::from_csv(text),
    }
    .map_err(|e| ApiError::unprocessable("invalid_checklist", e.to_string()))?;
    for item in parsed.items() {
        for link in item.evidence() {
            check_link(state, case, item.requirement().as_str(), link).await?;
        }
    }
    let body = checklist::to_json(&parsed);
    let object = |s: &StoredDocument| {
        format!(
            "checklist of case {} version {} sha256 {}",
            case.id, s.version, s.sha256
        )
    };
    let saved = audit
        .commit(
            state
                .store
                .save_document_audited(&case.id, DocumentKind::Checklist, &body, &caller.user.id, |s| {
                    audit.entry(object(s), Some(&case.id))
                }),
        )
        .await?;
    Ok(saved)
}

/// An evidence link must name a run, model or finding of this case.
async fn check_link(state: &AppState, case: &Case, requirement: &str, link: &EvidenceLink) -> ApiResult<()> {
    let refuse = || {
        ApiError::unprocessable(
            "not_in_case",
            format!(
                "the evidence `{link}` of requirement {requirement} names nothing in case {}",
                case.id
            ),
        )
    };
    let in_case = match link {
        EvidenceLink::Run(id) | EvidenceLink::Section { run: id, .. } => match store::RunId::parse(id.as_str()) {
            Ok(r) => state.store.run(&r).await?.is_some_and(|r| r.case_id == case.id),
            Err(_) => false,
        },
        EvidenceLink::Model(id) => match store::ModelId::parse(id.as_str()) {
            Ok(m) => state.store.model(&m).await?.is_some_and(|m| m.case_id == case.id),
            Err(_) => false,
        },
        EvidenceLink::Finding(id) => match store::FindingId::parse(id.as_str()) {
            Ok(f) => state.store.finding(&f).await?.is_some_and(|f| f.case_id == case.id),
            Err(_) => false,
        },
    };
    if in_case { Ok(()) } else { Err(refuse()) }
}
