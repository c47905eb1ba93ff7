//! The requirements checklist of a case (the `checklist` crate's catalogue: AI Act Arts. 9–15 and 17 with
//! Annex IV, GDPR Arts. 22 and 35, AI Act Art. 10(5), forvaltningsloven §§ 22–24, lov om etnisk
//! ligebehandling): read by everyone in the case, saved as a new version by the case's authority and admins
//! (who see all of the case's work), each save audited with its version and hash. Evidence links must name runs,
//! models and findings of the case itself. A vendor reads the checklist with only the links to work it may see:
//! like a finding's links, another organisation's work is not named to it (an evidenced item whose every link is
//! hidden reads as answered). Vendors do not save it: a checklist they read is not the whole one.

use crate::error::{ApiError, ApiResult};
use crate::middleware::Audit;
use crate::policy::{self, Action, Caller};
use crate::state::AppState;
use checklist::{Checklist, EvidenceLink};
use store::{Case, DocumentKind, Role, StoredDocument};

/// A case's checklist as read: the version in force (or the blank checklist, version 0, before the first save).
pub struct Loaded {
    /// The checklist.
    pub checklist: Checklist,
    /// The stored version it is; `None` for the blank checklist.
    pub stored: Option<StoredDocument>,
}

/// The checklist of a visible case as `caller` may read it: `version`, or the one in force.
pub async fn load(state: &AppState, caller: &Caller, case: &Case, version: Option<u64>) -> ApiResult<Loaded> {
    let mut loaded = load_whole(state, case, version).await?;
    if caller.role() == Role::Vendor {
        loaded.checklist = for_vendor(state, caller, case, loaded.checklist).await?;
    }
    Ok(loaded)
}

/// The checklist with only the evidence links a vendor may see.
async fn for_vendor(state: &AppState, caller: &Caller, case: &Case, mut list: Checklist) -> ApiResult<Checklist> {
    let models: std::collections::HashSet<String> =
        policy::visible_models(caller, state.store.list_models(&case.id).await?)
            .into_iter()
            .map(|m| m.id.to_string())
            .collect();
    let runs: std::collections::HashSet<String> = policy::runs_of_case(state, caller, case)
        .await?
        .into_iter()
        .map(|r| r.id.to_string())
        .collect();
    let findings: std::collections::HashSet<String> = crate::app::findings::list(state, caller, case)
        .await?
        .into_iter()
        .map(|f| f.id.to_string())
        .collect();
    let sees = |l: &EvidenceLink| match l {
        EvidenceLink::Run(id) | EvidenceLink::Section { run: id, .. } => runs.contains(id.as_str()),
        EvidenceLink::Model(id) => models.contains(id.as_str()),
        EvidenceLink::Finding(id) => findings.contains(id.as_str()),
    };
    let items: Vec<checklist::Item> = list.items().to_vec();
    for item in items {
        if item.evidence().iter().all(sees) {
            continue;
        }
        let links: Vec<EvidenceLink> = item.evidence().iter().filter(|l| sees(l)).cloned().collect();
        let status = match item.status() {
            checklist::Status::Evidenced if links.is_empty() => checklist::Status::Answered,
            s => s,
        };
        let shown = checklist::Item::new(item.requirement(), status, item.answer(), links)
            .map_err(|e| ApiError::internal(format!("a vendor's view of the checklist: {e}")))?;
        list.set(shown);
    }
    Ok(list)
}

/// The whole checklist of a case: `version`, or the one in force.
async fn load_whole(state: &AppState, case: &Case, version: Option<u64>) -> ApiResult<Loaded> {
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
    crate::app::plan::save_document(state, caller, audit, case, DocumentKind::Checklist, &body).await
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
