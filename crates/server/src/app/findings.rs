//! Findings and notes on a case, a model or a run: what advisors (and authorities) write, the advisor's only
//! write. Append-only: a correction is a new finding that supersedes an earlier one, and both are kept. Vendors
//! see the findings on their own work (their models and their runs), nothing else of the case's.

use crate::error::{ApiError, ApiResult};
use crate::middleware::Audit;
use crate::policy::{self, Action, Caller};
use crate::state::AppState;
use serde::Deserialize;
use store::{Case, EvidenceLink, Finding, FindingId, FindingTarget, NewFinding, Role, Severity};

/// Longest text of a finding, in characters.
pub const MAX_BODY_CHARS: usize = 10_000;
/// Most evidence links on one finding.
pub const MAX_LINKS: usize = 20;
/// Longest report-section anchor a link may name.
pub const MAX_SECTION_CHARS: usize = 64;

/// A finding as written through the API or the pages.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingRequest {
    /// What it is about: `{"kind": "case"}`, `{"kind": "model", "id": ...}` or `{"kind": "run", "id": ...}`; a
    /// model or run of this case.
    pub target: FindingTarget,
    /// `note`, `low`, `medium` or `high`.
    pub severity: Severity,
    /// What was found: 1 to 10,000 characters, plain text (line breaks kept, other control characters refused).
    pub body: String,
    /// The evidence: runs (optionally one section of the report, by its anchor) and models of this case.
    #[serde(default)]
    pub links: Vec<EvidenceLink>,
    /// The finding of this case it corrects; that one stays, marked as superseded.
    #[serde(default)]
    pub supersedes: Option<FindingId>,
}

/// Checks that a target names a model or run of `case` (a vendor's own, for a vendor), else 422 naming it.
async fn check_target(state: &AppState, case: &Case, target: &FindingTarget, what: &str) -> ApiResult<()> {
    let in_case = match target {
        FindingTarget::Case => true,
        FindingTarget::Model(m) => state.store.model(m).await?.is_some_and(|m| m.case_id == case.id),
        FindingTarget::Run(r) => state.store.run(r).await?.is_some_and(|r| r.case_id == case.id),
    };
    if in_case {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "not_in_case",
            format!("{what} names a model or run that is not in case {}", case.id),
        ))
    }
}

/// Refuses a text that is empty, too long, or carries control characters other than line breaks and tabs.
fn check_body(body: &str) -> ApiResult<()> {
    let n = body.chars().count();
    if body.trim().is_empty() || n > MAX_BODY_CHARS {
        return Err(ApiError::bad_request(format!(
            "`body` must have 1 to {MAX_BODY_CHARS} characters, has {n}"
        )));
    }
    if let Some(c) = body
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::bad_request(format!(
            "`body` contains the control character U+{:04X}; write plain text",
            u32::from(c)
        )));
    }
    Ok(())
}

/// Writes a finding in a visible case, with `audit`'s entry in the same transaction.
pub async fn write(
    state: &AppState,
    caller: &Caller,
    audit: Audit<'_>,
    case: &Case,
    req: FindingRequest,
) -> ApiResult<Finding> {
    caller.require(Action::WriteFinding)?;
    check_body(&req.body)?;
    if req.links.len() > MAX_LINKS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_LINKS} links, got {}",
            req.links.len()
        )));
    }
    check_target(state, case, &req.target, "`target`").await?;
    for (i, link) in req.links.iter().enumerate() {
        if link.target == FindingTarget::Case {
            return Err(ApiError::bad_request(format!(
                "`links[{i}]` must name a run or a model, not the case"
            )));
        }
        if let Some(s) = &link.section
            && (s.is_empty()
                || s.len() > MAX_SECTION_CHARS
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'))
        {
            return Err(ApiError::bad_request(format!(
                "`links[{i}].section` must be a report anchor of 1 to {MAX_SECTION_CHARS} characters a-z, 0-9, - and _"
            )));
        }
        check_target(state, case, &link.target, &format!("`links[{i}]`")).await?;
    }
    if let Some(old) = &req.supersedes {
        let Some(found) = state.store.finding(old).await?.filter(|f| f.case_id == case.id) else {
            return Err(ApiError::unprocessable(
                "not_in_case",
                format!("`supersedes` names finding {old}, which is not in case {}", case.id),
            ));
        };
        // A correction is about what the corrected finding was about, so whoever read the one reads the other.
        if found.target != req.target {
            return Err(ApiError::unprocessable(
                "target_changed",
                "a correction must have the target of the finding it corrects; write a new finding for another",
            ));
        }
    }
    let new = NewFinding {
        case_id: case.id.clone(),
        target: req.target,
        severity: req.severity,
        body: req.body,
        links: req.links,
        author: caller.user.id.clone(),
        org_id: caller.org.id.clone(),
        role: caller.role(),
        supersedes: req.supersedes,
    };
    let finding = audit
        .commit(
            state
                .store
                .create_finding_audited(new, |f| audit.entry(format!("finding/{}", f.id), Some(&case.id))),
        )
        .await
        .map_err(|e| match e {
            store::StoreError::Conflict(_) => {
                ApiError::conflict("that finding is already superseded; correct the finding that superseded it")
            }
            e => e.into(),
        })?;
    Ok(finding)
}

/// The findings of a visible case that the caller may read: all of them, except for vendors, who see the
/// findings about their own models and runs, with only the links to their own work. Corrections keep their
/// target, so a vendor who reads a finding also reads what superseded it.
pub async fn list(state: &AppState, caller: &Caller, case: &Case) -> ApiResult<Vec<Finding>> {
    let all = state.store.list_findings(&case.id).await?;
    if caller.role() != Role::Vendor {
        return Ok(all);
    }
    let models: std::collections::HashSet<_> = policy::visible_models(caller, state.store.list_models(&case.id).await?)
        .into_iter()
        .map(|m| m.id)
        .collect();
    let runs: std::collections::HashSet<_> = policy::runs_of_case(state, caller, case)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let sees = |t: &FindingTarget| match t {
        FindingTarget::Case => false,
        FindingTarget::Model(m) => models.contains(m),
        FindingTarget::Run(r) => runs.contains(r),
    };
    Ok(all
        .into_iter()
        .filter(|f| sees(&f.target))
        .map(|mut f| {
            // Evidence on another organisation's work is not named to a vendor.
            f.links.retain(|l| sees(&l.target));
            f
        })
        .collect())
}
