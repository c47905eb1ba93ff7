//! Who may see and do what. Every handler states its rule through these functions.
//!
//! Visibility comes first and answers 404: an object of a case the caller's organisation is
//! not in (or, for vendors, another organisation's model or run) does not exist for them.
//! Permission comes second and answers 403: the caller can see the object but their role may
//! not do this to it.

use crate::error::ApiError;
use crate::state::AppState;
use store::meta::{Case, Model, Org, Role, Run, User};
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

    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role], what: &str) -> Result<(), ApiError> {
        if roles.contains(&self.role()) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::forbidden(format!(
                "{what} is for the roles {}; you are {}",
                names.join(", "),
                self.role()
            )))
        }
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
