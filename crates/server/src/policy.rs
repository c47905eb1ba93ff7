//! Who may see and do what. Every handler states its rule through these functions.
//!
//! Visibility comes first and answers 404: an object of a case the caller's organisation is
//! not in (or, for vendors, another organisation's model or run) does not exist for them.
//! Permission comes second and answers 403: the caller can see the object but their role may
//! not do this to it.

use crate::error::ApiError;
use crate::state::AppState;
use store::{Case, Model, Org, Role, Run, User};
use store::{CaseId, ModelId, RunId};

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub org: Org,
}

impl Caller {
    pub fn role(&self) -> Role {
        self.user.role
    }

    /// Advisors and admins see every case.
    pub fn sees_everything(&self) -> bool {
        matches!(self.role(), Role::Advisor | Role::Admin)
    }

    /// Whether the caller's role may do `action` (to objects they can see).
    pub fn may(&self, action: Action) -> bool {
        action.roles().contains(&self.role())
    }

    /// 403 unless the caller's role may do `action`, naming the roles that may.
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        if self.may(action) {
            Ok(())
        } else {
            let names: Vec<&str> = action.roles().iter().map(|r| r.as_str()).collect();
            Err(ApiError::forbidden(format!(
                "{} is for the roles {}; you are {}",
                action.what(),
                names.join(", "),
                self.role()
            )))
        }
    }
}

/// Everything a role may or may not do, beyond seeing. Each face (API, pages, live
/// inference) asks [`Caller::require`] with one of these, so a rule is written once, here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Open a case (with the caller's organisation in it).
    OpenCase,
    /// Add a member organisation to a visible case.
    AddMember,
    /// Fix a visible case's criteria before its runs.
    FixCriteria,
    /// Give one run criteria of its own instead of the case's.
    SetRunCriteria,
    /// Upload a model into a case the caller's organisation is in.
    UploadModel,
    /// Start a run on a visible model.
    StartRun,
    /// Download a scenario's training data.
    DownloadData,
    /// Read the audit log.
    ReadAudit,
    /// Verify the audit log's chain.
    VerifyAudit,
    /// Have the sandbox sign a checkpoint of the audit log now.
    CheckpointAudit,
    /// Write a finding or note on a visible case, its models or runs (the advisor's one write).
    WriteFinding,
    /// Re-execute a visible succeeded run and compare its findings with the stored ones (changes
    /// no data: the new record is compared and dropped).
    ReplayRun,
    /// Save a new version of a visible case's requirements checklist (the authority answers for it, with all
    /// of the case's work in view; vendors read it, advisors review it through findings).
    AnswerChecklist,
    /// Save a new version of a visible case's sandbox plan.
    EditPlan,
    /// Read a case's public summary before it is published: it counts every vendor's results, so a vendor
    /// would read its competitors' there.
    ReadSummaryDraft,
}

impl Action {
    /// The roles that may do it. Advisors inspect and change nothing; vendors bring models and
    /// train on synthetic data; authorities own cases and their criteria; admins run the service.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Action::OpenCase | Action::AddMember | Action::FixCriteria | Action::SetRunCriteria => {
                &[Role::Authority, Role::Admin]
            }
            Action::UploadModel => &[Role::Vendor],
            Action::StartRun => &[Role::Vendor, Role::Authority, Role::Admin],
            Action::DownloadData => &[Role::Vendor, Role::Admin],
            Action::ReadAudit | Action::VerifyAudit | Action::CheckpointAudit => &[Role::Advisor, Role::Admin],
            Action::WriteFinding => &[Role::Advisor, Role::Authority],
            Action::ReplayRun => &[Role::Advisor, Role::Admin],
            Action::AnswerChecklist => &[Role::Authority, Role::Admin],
            Action::EditPlan => &[Role::Authority, Role::Admin],
            Action::ReadSummaryDraft => &[Role::Authority, Role::Advisor, Role::Admin],
        }
    }

    /// The action in a refusal's words.
    fn what(self) -> &'static str {
        match self {
            Action::OpenCase => "creating a case",
            Action::AddMember => "adding members to a case",
            Action::FixCriteria => "fixing criteria",
            Action::SetRunCriteria => "setting criteria for a run",
            Action::UploadModel => "uploading a model",
            Action::StartRun => "starting a run",
            Action::DownloadData => "downloading training data",
            Action::ReadAudit => "reading the audit log",
            Action::VerifyAudit => "verifying the audit log",
            Action::CheckpointAudit => "taking a checkpoint of the audit log",
            Action::ReplayRun => "replaying a run",
            Action::AnswerChecklist => "answering the requirements checklist",
            Action::EditPlan => "writing the sandbox plan",
            Action::WriteFinding => "writing findings",
            Action::ReadSummaryDraft => "reading the public summary before it is published",
        }
    }
}

/// Whether the caller may cancel `run` (which they can see): authorities and admins any run,
/// vendors their organisation's, advisors none.
pub fn may_cancel(caller: &Caller, run: &Run) -> bool {
    match caller.role() {
        Role::Admin | Role::Authority => true,
        Role::Vendor => run.org_id == caller.org.id,
        Role::Advisor => false,
    }
}

/// 403 unless the caller may cancel `run`, saying why not.
pub fn require_cancel(caller: &Caller, run: &Run) -> Result<(), ApiError> {
    if may_cancel(caller, run) {
        Ok(())
    } else {
        Err(ApiError::forbidden(if caller.role() == Role::Advisor {
            "advisors change nothing"
        } else {
            "only the organisation that started a run may cancel it"
        }))
    }
}

/// Every case the caller may see: their organisation's, or all for advisors and admins.
pub async fn cases(state: &AppState, caller: &Caller) -> Result<Vec<Case>, ApiError> {
    Ok(if caller.sees_everything() {
        state.store.list_cases().await?
    } else {
        state.store.cases_of_org(&caller.org.id).await?
    })
}

/// The case, if the caller may see it.
pub async fn case(state: &AppState, caller: &Caller, id: &str) -> Result<Case, ApiError> {
    let nf = || ApiError::not_found("case", id);
    let id = CaseId::parse(id).map_err(|_| nf())?;
    let case = state.store.case(&id).await?.ok_or_else(nf)?;
    if caller.sees_everything() || state.store.is_member(&id, &caller.org.id).await? {
        Ok(case)
    } else {
        Err(nf())
    }
}

/// Whether a vendor's organisation owns `model`; other roles see every model of a visible case.
fn sees_model(caller: &Caller, model: &Model) -> bool {
    caller.role() != Role::Vendor || model.org_id == caller.org.id
}

/// The model and its case, if the caller may see the model.
pub async fn model(state: &AppState, caller: &Caller, id: &str) -> Result<(Model, Case), ApiError> {
    let nf = || ApiError::not_found("model", id);
    let mid = ModelId::parse(id).map_err(|_| nf())?;
    let model = state.store.model(&mid).await?.ok_or_else(nf)?;
    let case = case(state, caller, model.case_id.as_str()).await.map_err(|_| nf())?;
    if sees_model(caller, &model) {
        Ok((model, case))
    } else {
        Err(nf())
    }
}

/// Models of a visible case that the caller may see.
pub fn visible_models(caller: &Caller, models: Vec<Model>) -> Vec<Model> {
    models.into_iter().filter(|m| sees_model(caller, m)).collect()
}

/// Whether the caller sees `run`: vendors see runs on their models or started by them.
pub fn sees_run(caller: &Caller, run: &Run, model: &Model) -> bool {
    caller.role() != Role::Vendor || run.org_id == caller.org.id || model.org_id == caller.org.id
}

/// The run and its case, if the caller may see the run.
pub async fn run(state: &AppState, caller: &Caller, id: &str) -> Result<(Run, Case), ApiError> {
    let nf = || ApiError::not_found("run", id);
    let rid = RunId::parse(id).map_err(|_| nf())?;
    let run = state.store.run(&rid).await?.ok_or_else(nf)?;
    let case = case(state, caller, run.case_id.as_str()).await.map_err(|_| nf())?;
    // Only a vendor's view depends on whose model it is.
    if caller.role() == Role::Vendor && run.org_id != caller.org.id {
        let model = state.store.model(&run.model_id).await?.ok_or_else(nf)?;
        if !sees_run(caller, &run, &model) {
            return Err(nf());
        }
    }
    Ok((run, case))
}

/// The runs of a visible case that the caller may see.
pub async fn runs_of_case(state: &AppState, caller: &Caller, case: &Case) -> Result<Vec<Run>, ApiError> {
    let runs = state.store.list_runs(&case.id).await?;
    if caller.role() != Role::Vendor {
        return Ok(runs);
    }
    let mine: std::collections::HashSet<_> = visible_models(caller, state.store.list_models(&case.id).await?)
        .into_iter()
        .map(|m| m.id)
        .collect();
    Ok(runs
        .into_iter()
        .filter(|r| r.org_id == caller.org.id || mine.contains(&r.model_id))
        .collect())
}
