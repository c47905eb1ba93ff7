//! What the API answers, as types: each view says exactly which fields a response has, so the
//! OpenAPI document describes them from the code and a field cannot drift from its schema.

use crate::app;
use crate::error::ApiResult;
use fairness::criteria::Criterion;
use serde::Serialize;
use store::meta::{Case, Criteria, Org, Run, User};
use store::{CaseId, Store, Timestamp, UserId};

/// A case with its member organisations.
#[derive(Debug, Serialize)]
pub struct CaseView {
    pub id: CaseId,
    pub name: String,
    pub created_by: UserId,
    pub created_at: Timestamp,
    /// The organisations in the case, by name.
    pub members: Vec<Org>,
}

impl CaseView {
    pub async fn of(store: &Store, case: Case) -> ApiResult<Self> {
        let members = app::cases::members_of(store, &case).await?;
        Ok(Self {
            id: case.id,
            name: case.name,
            created_by: case.created_by,
            created_at: case.created_at,
            members,
        })
    }
}

/// A case's criteria, as fixed, by whom and when.
#[derive(Debug, Serialize)]
pub struct CriteriaView {
    pub case_id: CaseId,
    pub criteria: Vec<Criterion>,
    pub fixed_by: UserId,
    pub fixed_at: Timestamp,
}

impl CriteriaView {
    pub fn of(c: Criteria) -> ApiResult<Self> {
        Ok(Self {
            criteria: app::cases::typed_criteria(&c)?,
            case_id: c.case_id,
            fixed_by: c.fixed_by,
            fixed_at: c.fixed_at,
        })
    }
}

/// A run as stored, with its progress as a fraction of its rows.
#[derive(Debug, Serialize)]
pub struct RunView {
    #[serde(flatten)]
    pub run: Run,
    /// `progress_rows / total_rows`, 0 before the run knows its rows.
    pub progress: f64,
}

impl From<Run> for RunView {
    fn from(run: Run) -> Self {
        let progress = if run.total_rows == 0 {
            0.0
        } else {
            run.progress_rows as f64 / run.total_rows as f64
        };
        Self { run, progress }
    }
}

/// Who is asking.
#[derive(Debug, Serialize)]
pub struct Me {
    pub user: User,
    pub org: Org,
}
