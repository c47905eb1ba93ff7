//! Turning database rows into entities, shared by both backends.
//!
//! Every stored value is parsed back into its validated type; a row that doesn't parse is reported as
//! [`StoreError::Corrupt`] naming the column, never silently patched.

use serde_json::Value;

use crate::audit::AuditEntry;
use crate::error::{Result, StoreError};
use crate::meta::{
    Case, Criteria, DocumentKind, Finding, FindingTarget, Model, Org, OrgKind, Role, Run, RunState, Severity,
    StoredDocument, StoredSession, User,
};
use crate::{CaseId, Digest, FindingId, ModelId, OrgId, RunId, Timestamp, UserId};

// Column lists are macros, not consts, so `concat!` can build `&'static str` queries from them: sqlx only accepts
// static SQL without an explicit "this is safe" assertion, and no query here is ever built from input.
macro_rules! org_cols {
    () => {
        "id, name, kind"
    };
}
macro_rules! finding_cols {
    () => {
        "id, case_id, target_kind, target_id, severity, body, links_json, author, org_id, role, created_at, supersedes"
    };
}
macro_rules! document_cols {
    () => {
        "case_id, kind, version, body, sha256, saved_by, saved_at"
    };
}
macro_rules! user_cols {
    () => {
        "id, org_id, name, role, created_at"
    };
}
macro_rules! case_cols {
    () => {
        "id, name, created_by, created_at"
    };
}
macro_rules! model_cols {
    () => {
        "id, case_id, org_id, name, version, scenario, model_sha256, manifest_sha256, inspection_json, created_at"
    };
}
macro_rules! run_cols {
    () => {
        "id, case_id, model_id, org_id, created_by, params_json, state, progress_rows, total_rows, cause, \
         report_sha256, created_at, started_at, finished_at"
    };
}
macro_rules! criteria_cols {
    () => {
        "case_id, json, fixed_by, fixed_at"
    };
}
macro_rules! audit_cols {
    () => {
        "seq, time, actor, org, role, action, object, outcome, request_id, case_id, prev_hash, hash"
    };
}
pub(crate) use {
    audit_cols, case_cols, criteria_cols, document_cols, finding_cols, model_cols, org_cols, run_cols, user_cols,
};

/// The three column types the schema uses, read the same way from either backend's rows.
pub(crate) trait RowExt {
    fn text(&self, col: &'static str) -> Result<String>;
    fn opt_text(&self, col: &'static str) -> Result<Option<String>>;
    fn int(&self, col: &'static str) -> Result<i64>;
}

macro_rules! impl_row_ext {
    ($row:ty) => {
        impl RowExt for $row {
            fn text(&self, col: &'static str) -> Result<String> {
                sqlx::Row::try_get(self, col).map_err(StoreError::from)
            }
            fn opt_text(&self, col: &'static str) -> Result<Option<String>> {
                sqlx::Row::try_get(self, col).map_err(StoreError::from)
            }
            fn int(&self, col: &'static str) -> Result<i64> {
                sqlx::Row::try_get(self, col).map_err(StoreError::from)
            }
        }
    };
}
impl_row_ext!(sqlx::sqlite::SqliteRow);
impl_row_ext!(sqlx::postgres::PgRow);

fn digest(col: &'static str, s: String) -> Result<Digest> {
    Digest::parse(&s).map_err(|e| StoreError::corrupt(col, e))
}

fn time(col: &'static str, s: String) -> Result<Timestamp> {
    Timestamp::parse(&s).map_err(|e| StoreError::corrupt(col, e))
}

fn opt_time(col: &'static str, s: Option<String>) -> Result<Option<Timestamp>> {
    s.map(|s| time(col, s)).transpose()
}

fn json(col: &'static str, s: String) -> Result<Value> {
    serde_json::from_str(&s).map_err(|e| StoreError::corrupt(col, e))
}

fn count(col: &'static str, n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| StoreError::corrupt(col, format!("negative count {n}")))
}

/// Counts are `u64` in Rust and `BIGINT` in the database.
pub(crate) fn to_db_count(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| StoreError::corrupt("count", format!("{n} does not fit a BIGINT")))
}

pub(crate) fn org(r: &impl RowExt) -> Result<Org> {
    Ok(Org {
        id: OrgId::parse(&r.text("id")?)?,
        name: r.text("name")?,
        kind: OrgKind::parse(&r.text("kind")?).map_err(|e| StoreError::corrupt("kind", e))?,
    })
}

/// A session joined with its user (the user's own column names) and org (`org_name`,
/// `org_kind`).
pub(crate) fn session(r: &impl RowExt) -> Result<StoredSession> {
    let user = user(r)?;
    Ok(StoredSession {
        org: Org {
            id: user.org_id.clone(),
            name: r.text("org_name")?,
            kind: OrgKind::parse(&r.text("org_kind")?).map_err(|e| StoreError::corrupt("kind", e))?,
        },
        user,
        csrf: r.text("csrf")?,
        created_at: time("session_created_at", r.text("session_created_at")?)?,
        seen_at: time("seen_at", r.text("seen_at")?)?,
    })
}

pub(crate) fn user(r: &impl RowExt) -> Result<User> {
    Ok(User {
        id: UserId::parse(&r.text("id")?)?,
        org_id: OrgId::parse(&r.text("org_id")?)?,
        name: r.text("name")?,
        role: Role::parse(&r.text("role")?).map_err(|e| StoreError::corrupt("role", e))?,
        created_at: time("created_at", r.text("created_at")?)?,
    })
}

pub(crate) fn case(r: &impl RowExt) -> Result<Case> {
    Ok(Case {
        id: CaseId::parse(&r.text("id")?)?,
        name: r.text("name")?,
        created_by: UserId::parse(&r.text("created_by")?)?,
        created_at: time("created_at", r.text("created_at")?)?,
    })
}

/// A finding's target as stored: a kind word and an id (empty for the case itself).
pub(crate) fn target_parts(t: &FindingTarget) -> (&'static str, &str) {
    match t {
        FindingTarget::Case => ("case", ""),
        FindingTarget::Model(m) => ("model", m.as_str()),
        FindingTarget::Run(r) => ("run", r.as_str()),
    }
}

pub(crate) fn document(r: &impl RowExt) -> Result<StoredDocument> {
    let body = r.text("body")?;
    let sha256 = Digest::parse(&r.text("sha256")?).map_err(|e| StoreError::corrupt("document sha256", e))?;
    // The text must still be what was saved.
    if Digest::of(body.as_bytes()) != sha256 {
        return Err(StoreError::corrupt(
            "document body",
            "it does not hash to its stored sha256",
        ));
    }
    let kind = match r.text("kind")?.as_str() {
        "plan" => DocumentKind::Plan,
        "checklist" => DocumentKind::Checklist,
        other => return Err(StoreError::corrupt("document kind", other)),
    };
    Ok(StoredDocument {
        case_id: CaseId::parse(&r.text("case_id")?)?,
        kind,
        version: u64::try_from(r.int("version")?).map_err(|e| StoreError::corrupt("document version", e))?,
        body,
        sha256,
        saved_by: UserId::parse(&r.text("saved_by")?)?,
        saved_at: time("saved_at", r.text("saved_at")?)?,
    })
}

pub(crate) fn finding(r: &impl RowExt) -> Result<Finding> {
    let kind = r.text("target_kind")?;
    let id = r.text("target_id")?;
    let target = match kind.as_str() {
        "case" => FindingTarget::Case,
        "model" => FindingTarget::Model(ModelId::parse(&id)?),
        "run" => FindingTarget::Run(RunId::parse(&id)?),
        _ => return Err(StoreError::corrupt("target_kind", kind)),
    };
    Ok(Finding {
        id: FindingId::parse(&r.text("id")?)?,
        case_id: CaseId::parse(&r.text("case_id")?)?,
        target,
        severity: Severity::parse(&r.text("severity")?).map_err(|e| StoreError::corrupt("severity", e))?,
        body: r.text("body")?,
        links: serde_json::from_str(&r.text("links_json")?).map_err(|e| StoreError::corrupt("links_json", e))?,
        author: UserId::parse(&r.text("author")?)?,
        org_id: OrgId::parse(&r.text("org_id")?)?,
        role: Role::parse(&r.text("role")?).map_err(|e| StoreError::corrupt("role", e))?,
        created_at: time("created_at", r.text("created_at")?)?,
        supersedes: r.opt_text("supersedes")?.map(|s| FindingId::parse(&s)).transpose()?,
    })
}

pub(crate) fn model(r: &impl RowExt) -> Result<Model> {
    Ok(Model {
        id: ModelId::parse(&r.text("id")?)?,
        case_id: CaseId::parse(&r.text("case_id")?)?,
        org_id: OrgId::parse(&r.text("org_id")?)?,
        name: r.text("name")?,
        version: r.text("version")?,
        scenario: r.text("scenario")?,
        model_sha256: digest("model_sha256", r.text("model_sha256")?)?,
        manifest_sha256: digest("manifest_sha256", r.text("manifest_sha256")?)?,
        inspection: json("inspection_json", r.text("inspection_json")?)?,
        created_at: time("created_at", r.text("created_at")?)?,
    })
}

pub(crate) fn run(r: &impl RowExt) -> Result<Run> {
    Ok(Run {
        id: RunId::parse(&r.text("id")?)?,
        case_id: CaseId::parse(&r.text("case_id")?)?,
        model_id: ModelId::parse(&r.text("model_id")?)?,
        org_id: OrgId::parse(&r.text("org_id")?)?,
        created_by: UserId::parse(&r.text("created_by")?)?,
        params: json("params_json", r.text("params_json")?)?,
        state: RunState::parse(&r.text("state")?).map_err(|e| StoreError::corrupt("state", e))?,
        progress_rows: count("progress_rows", r.int("progress_rows")?)?,
        total_rows: count("total_rows", r.int("total_rows")?)?,
        cause: r.opt_text("cause")?,
        report_sha256: r
            .opt_text("report_sha256")?
            .map(|s| digest("report_sha256", s))
            .transpose()?,
        created_at: time("created_at", r.text("created_at")?)?,
        started_at: opt_time("started_at", r.opt_text("started_at")?)?,
        finished_at: opt_time("finished_at", r.opt_text("finished_at")?)?,
    })
}

pub(crate) fn criteria(r: &impl RowExt) -> Result<Criteria> {
    Ok(Criteria {
        case_id: CaseId::parse(&r.text("case_id")?)?,
        json: json("json", r.text("json")?)?,
        fixed_by: UserId::parse(&r.text("fixed_by")?)?,
        fixed_at: time("fixed_at", r.text("fixed_at")?)?,
    })
}

/// Audit rows are loaded as they are, unvalidated: judging them is [`crate::audit::Verifier`]'s job.
pub(crate) fn audit(r: &impl RowExt) -> Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.int("seq")?,
        time: r.text("time")?,
        actor: r.text("actor")?,
        org: r.text("org")?,
        role: r.text("role")?,
        action: r.text("action")?,
        object: r.text("object")?,
        outcome: r.text("outcome")?,
        request_id: r.text("request_id")?,
        case_id: r.opt_text("case_id")?,
        prev_hash: r.text("prev_hash")?,
        hash: r.text("hash")?,
    })
}
