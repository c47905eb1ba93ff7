//! The metadata operations, written once and instantiated for each sqlx backend.
//!
//! SQLite and PostgreSQL both accept `$n` placeholders, `RETURNING`, `ON CONFLICT DO NOTHING` and the same
//! column types (TEXT, BIGINT), so one body of SQL serves both; what differs (how to serialise writers, how to
//! claim a queued run) is in each backend's [`Dialect`]. sqlx has no practical trait for "any database's query
//! result", hence a macro rather than generics.

/// The few statements that differ between backends.
pub(crate) struct Dialect {
    /// Starts a transaction that holds the write lock from its first statement.
    pub begin_write: &'static str,
    /// Run right after `begin_write` before appending to the audit chain, if the backend needs it.
    pub lock_audit: Option<&'static str>,
    /// Moves the next queued run to `running` (binding `$1` = started_at, `$2` = the most runs one organisation
    /// may have running) and returns it: [`claim_next_sql!`] with the backend's row lock.
    pub claim_next: &'static str,
}

/// The claim, fair across organisations: among queued runs of organisations below `$2` running runs, the oldest
/// of those whose organisation has the fewest running. So one organisation's long queue cannot keep another's
/// first run waiting, and no organisation holds more than `$2` slots. `$lock` is what the backend needs to
/// let concurrent claimers take different rows (PostgreSQL: `FOR UPDATE OF q SKIP LOCKED`).
macro_rules! claim_next_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE runs SET state = 'running', started_at = $1 WHERE state = 'queued' AND id = (",
            "SELECT q.id FROM runs q WHERE q.state = 'queued' AND ",
            "(SELECT COUNT(*) FROM runs r WHERE r.org_id = q.org_id AND r.state = 'running') < $2 ",
            "ORDER BY (SELECT COUNT(*) FROM runs r WHERE r.org_id = q.org_id AND r.state = 'running'), ",
            "q.created_at, q.id LIMIT 1 ",
            $lock,
            ") RETURNING ",
            $crate::rows::run_cols!()
        )
    };
}
pub(crate) use claim_next_sql;

macro_rules! sql_backend {
    ($store:ident, $db:ty, $dialect:expr) => {
        use $crate::audit::{self, AuditEntry, NewEntry};
        use $crate::error::{Result, StoreError};
        use $crate::meta::{
            AuditFilter, Case, Criteria, DocumentKind, Finding, Model, NewFinding, NewModel, NewRun, NewSession, Org, OrgKind,
            OrgLoad, Role, Run, RunState, StoredDocument, StoredSession, User,
        };
        use $crate::rows::{self, *};
        use $crate::{CaseId, Digest, FindingId, ModelId, OrgId, RunId, Timestamp, Token, UserId};

        type Q<'q> = sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments>;

        fn q(sql: &'static str) -> Q<'static> {
            sqlx::query::<$db>(sql)
        }

        fn not_found(kind: &'static str, id: &impl ToString) -> StoreError {
            StoreError::NotFound {
                kind,
                id: id.to_string(),
            }
        }

        impl $store {
            pub(crate) async fn create_org(&self, name: &str, kind: OrgKind) -> Result<Org> {
                let org = Org {
                    id: OrgId::generate(),
                    name: name.to_owned(),
                    kind,
                };
                q("INSERT INTO orgs (id, name, kind) VALUES ($1, $2, $3)")
                    .bind(org.id.as_str())
                    .bind(&org.name)
                    .bind(kind.as_str())
                    .execute(&self.pool)
                    .await?;
                Ok(org)
            }

            pub(crate) async fn org(&self, id: &OrgId) -> Result<Option<Org>> {
                let row = q(concat!("SELECT ", org_cols!(), " FROM orgs WHERE id = $1"))
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(rows::org).transpose()
            }

            pub(crate) async fn list_orgs(&self) -> Result<Vec<Org>> {
                let rows = q(concat!("SELECT ", org_cols!(), " FROM orgs ORDER BY name"))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(rows::org).collect()
            }

            pub(crate) async fn create_user(&self, org_id: &OrgId, name: &str, role: Role) -> Result<(User, Token)> {
                let token = Token::generate();
                let user = User {
                    id: UserId::generate(),
                    org_id: org_id.clone(),
                    name: name.to_owned(),
                    role,
                    created_at: Timestamp::now(),
                };
                q("INSERT INTO users (id, org_id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(user.id.as_str())
                    .bind(org_id.as_str())
                    .bind(&user.name)
                    .bind(role.as_str())
                    .bind(Token::hash_of(token.expose()))
                    .bind(user.created_at.as_str())
                    .execute(&self.pool)
                    .await?;
                Ok((user, token))
            }

            pub(crate) async fn user(&self, id: &UserId) -> Result<Option<User>> {
                let row = q(concat!("SELECT ", user_cols!(), " FROM users WHERE id = $1"))
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(rows::user).transpose()
            }

            pub(crate) async fn user_by_token(&self, token: &str) -> Result<Option<User>> {
                let row = q(concat!(
                    "SELECT ",
                    user_cols!(),
                    " FROM users WHERE token_hash = $1"
                ))
                .bind(Token::hash_of(token))
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(rows::user).transpose()
            }

            pub(crate) async fn create_session(&self, new: NewSession<'_>) -> Result<()> {
                let mut tx = self.pool.begin_with($dialect.begin_write).await?;
                insert_session(&mut tx, &new).await?;
                tx.commit().await?;
                Ok(())
            }

            /// [`Self::create_session`] and its audit entry, in one transaction.
            pub(crate) async fn create_session_audited(&self, new: NewSession<'_>, entry: NewEntry) -> Result<()> {
                let mut tx = self.begin_audited().await?;
                insert_session(&mut tx, &new).await?;
                commit_with(tx, entry).await?;
                Ok(())
            }

            pub(crate) async fn session(&self, key: &Digest) -> Result<Option<StoredSession>> {
                let row = q(concat!(
                    "SELECT s.csrf, s.created_at AS session_created_at, s.seen_at, ",
                    "u.id, u.org_id, u.name, u.role, u.created_at, o.name AS org_name, o.kind AS org_kind ",
                    "FROM sessions s JOIN users u ON u.id = s.user_id JOIN orgs o ON o.id = u.org_id ",
                    "WHERE s.key = $1"
                ))
                .bind(key.as_str())
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(rows::session).transpose()
            }

            pub(crate) async fn touch_session(&self, key: &Digest, at: &Timestamp) -> Result<()> {
                q("UPDATE sessions SET seen_at = $2 WHERE key = $1 AND seen_at < $2")
                    .bind(key.as_str())
                    .bind(at.as_str())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            pub(crate) async fn end_session(&self, key: &Digest) -> Result<bool> {
                let mut c = self.pool.acquire().await?;
                delete_session(&mut c, key).await
            }

            /// [`Self::end_session`] and its audit entry, in one transaction.
            pub(crate) async fn end_session_audited(&self, key: &Digest, entry: NewEntry) -> Result<bool> {
                let mut tx = self.begin_audited().await?;
                let ended = delete_session(&mut tx, key).await?;
                commit_with(tx, entry).await?;
                Ok(ended)
            }

            pub(crate) async fn end_sessions_before(&self, created: &Timestamp, seen: &Timestamp) -> Result<u64> {
                Ok(q("DELETE FROM sessions WHERE created_at < $1 OR seen_at < $2")
                    .bind(created.as_str())
                    .bind(seen.as_str())
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            pub(crate) async fn list_users(&self) -> Result<Vec<User>> {
                let rows = q(concat!(
                    "SELECT ",
                    user_cols!(),
                    " FROM users ORDER BY created_at, id"
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(rows::user).collect()
            }

            pub(crate) async fn create_case(&self, name: &str, created_by: &UserId) -> Result<Case> {
                let mut c = self.pool.acquire().await?;
                insert_case(&mut c, name, created_by).await
            }

            /// A case with its members and its audit entry (made from the new case), in one transaction.
            pub(crate) async fn create_case_audited(
                &self,
                name: &str,
                created_by: &UserId,
                members: &[OrgId],
                audit: impl FnOnce(&Case) -> NewEntry + Send,
            ) -> Result<Case> {
                let mut tx = self.begin_audited().await?;
                let case = insert_case(&mut tx, name, created_by).await?;
                for org in members {
                    insert_member(&mut tx, &case.id, org).await?;
                }
                commit_with(tx, audit(&case)).await?;
                Ok(case)
            }

            pub(crate) async fn case(&self, id: &CaseId) -> Result<Option<Case>> {
                let row = q(concat!("SELECT ", case_cols!(), " FROM cases WHERE id = $1"))
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(rows::case).transpose()
            }

            pub(crate) async fn list_cases(&self) -> Result<Vec<Case>> {
                let rows = q(concat!(
                    "SELECT ",
                    case_cols!(),
                    " FROM cases ORDER BY created_at, id"
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(rows::case).collect()
            }

            pub(crate) async fn add_case_member(&self, case: &CaseId, org: &OrgId) -> Result<()> {
                let mut c = self.pool.acquire().await?;
                insert_member(&mut c, case, org).await
            }

            /// [`Self::add_case_member`] and its audit entry, in one transaction.
            pub(crate) async fn add_case_member_audited(&self, case: &CaseId, org: &OrgId, entry: NewEntry) -> Result<()> {
                let mut tx = self.begin_audited().await?;
                insert_member(&mut tx, case, org).await?;
                commit_with(tx, entry).await?;
                Ok(())
            }

            pub(crate) async fn case_members(&self, case: &CaseId) -> Result<Vec<OrgId>> {
                let rows = q("SELECT org_id FROM case_members WHERE case_id = $1 ORDER BY org_id")
                    .bind(case.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| Ok(OrgId::parse(&r.text("org_id")?)?))
                    .collect()
            }

            pub(crate) async fn cases_of_org(&self, org: &OrgId) -> Result<Vec<Case>> {
                let rows = q(concat!(
                    "SELECT ",
                    case_cols!(),
                    " FROM cases WHERE id IN (SELECT case_id FROM case_members WHERE org_id = $1)",
                    " ORDER BY created_at, id"
                ))
                .bind(org.as_str())
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(rows::case).collect()
            }

            pub(crate) async fn is_member(&self, case: &CaseId, org: &OrgId) -> Result<bool> {
                let row = q("SELECT 1 AS one FROM case_members WHERE case_id = $1 AND org_id = $2")
                    .bind(case.as_str())
                    .bind(org.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.is_some())
            }

            pub(crate) async fn create_model(&self, new: NewModel) -> Result<Model> {
                let mut c = self.pool.acquire().await?;
                insert_model(&mut c, new).await
            }

            /// A model and its audit entry (made from the new model), in one transaction.
            pub(crate) async fn create_model_audited(
                &self,
                new: NewModel,
                audit: impl FnOnce(&Model) -> NewEntry + Send,
            ) -> Result<Model> {
                let mut tx = self.begin_audited().await?;
                let model = insert_model(&mut tx, new).await?;
                commit_with(tx, audit(&model)).await?;
                Ok(model)
            }

            pub(crate) async fn model(&self, id: &ModelId) -> Result<Option<Model>> {
                let row = q(concat!("SELECT ", model_cols!(), " FROM models WHERE id = $1"))
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(rows::model).transpose()
            }

            pub(crate) async fn list_models(&self, case: &CaseId) -> Result<Vec<Model>> {
                let rows = q(concat!(
                    "SELECT ",
                    model_cols!(),
                    " FROM models WHERE case_id = $1 ORDER BY created_at, id"
                ))
                .bind(case.as_str())
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(rows::model).collect()
            }

            pub(crate) async fn create_run(&self, new: NewRun) -> Result<Run> {
                let mut c = self.pool.acquire().await?;
                insert_run(&mut c, new).await
            }

            /// A queued run and its audit entry (made from the new run), in one transaction.
            pub(crate) async fn create_run_audited(
                &self,
                new: NewRun,
                audit: impl FnOnce(&Run) -> NewEntry + Send,
            ) -> Result<Run> {
                let mut tx = self.begin_audited().await?;
                let run = insert_run(&mut tx, new).await?;
                commit_with(tx, audit(&run)).await?;
                Ok(run)
            }

            pub(crate) async fn run(&self, id: &RunId) -> Result<Option<Run>> {
                let row = q(concat!("SELECT ", run_cols!(), " FROM runs WHERE id = $1"))
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(rows::run).transpose()
            }

            pub(crate) async fn list_runs(&self, case: &CaseId) -> Result<Vec<Run>> {
                let rows = q(concat!(
                    "SELECT ",
                    run_cols!(),
                    " FROM runs WHERE case_id = $1 ORDER BY created_at, id"
                ))
                .bind(case.as_str())
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(rows::run).collect()
            }

            pub(crate) async fn count_runs_by_state(&self) -> Result<Vec<(RunState, u64)>> {
                let rows = q("SELECT state, COUNT(*) AS n FROM runs GROUP BY state ORDER BY state")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        let state = RunState::parse(&r.text("state")?).map_err(|e| StoreError::corrupt("state", e))?;
                        let n = u64::try_from(r.int("n")?).map_err(|e| StoreError::corrupt("count", e))?;
                        Ok((state, n))
                    })
                    .collect()
            }

            pub(crate) async fn claim_next_queued(&self, max_running_per_org: u64) -> Result<Option<Run>> {
                let mut tx = self.pool.begin_with($dialect.begin_write).await?;
                let row = q($dialect.claim_next)
                    .bind(Timestamp::now().as_str())
                    .bind(i64::try_from(max_running_per_org).unwrap_or(i64::MAX))
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                row.as_ref().map(rows::run).transpose()
            }

            pub(crate) async fn org_load(&self, org: &OrgId) -> Result<OrgLoad> {
                let row = q(concat!(
                    // PostgreSQL sums BIGINT to NUMERIC: cast back.
                    "SELECT CAST(COALESCE(SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END), 0) AS BIGINT) AS queued_runs, ",
                    "CAST(COALESCE(SUM(CASE WHEN state = 'queued' THEN total_rows ELSE 0 END), 0) AS BIGINT) ",
                    "AS queued_rows, ",
                    "CAST(COALESCE(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END), 0) AS BIGINT) AS running_runs ",
                    "FROM runs WHERE org_id = $1 AND state IN ('queued', 'running')"
                ))
                .bind(org.as_str())
                .fetch_one(&self.pool)
                .await?;
                let n = |col: &'static str| -> Result<u64> {
                    u64::try_from(row.int(col)?).map_err(|e| StoreError::corrupt(col, e))
                };
                Ok(OrgLoad {
                    queued_runs: n("queued_runs")?,
                    queued_rows: n("queued_rows")?,
                    running_runs: n("running_runs")?,
                })
            }

            /// Explains why a conditional update touched no row.
            async fn refused(&self, id: &RunId, to: RunState) -> StoreError {
                match self.run(id).await {
                    Ok(Some(run)) => StoreError::IllegalTransition {
                        run: id.clone(),
                        from: run.state,
                        to,
                    },
                    Ok(None) => not_found("run", id),
                    Err(e) => e,
                }
            }

            /// The states `to` may be reached from, as the two values bound to `state IN ($a, $b)`.
            fn sources(to: RunState) -> (&'static str, &'static str) {
                let s = RunState::sources(to);
                match (s.first(), s.last()) {
                    (Some(a), Some(b)) => (a.as_str(), b.as_str()),
                    // Nothing leads here: bind a value no row holds.
                    _ => ("", ""),
                }
            }

            pub(crate) async fn update_progress(&self, id: &RunId, rows: u64) -> Result<()> {
                let done = q("UPDATE runs SET progress_rows = $2 WHERE id = $1 AND state = $3 AND $2 <= total_rows")
                    .bind(id.as_str())
                    .bind(to_db_count(rows)?)
                    .bind(RunState::Running.as_str())
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 1 {
                    return Ok(());
                }
                match self.run(id).await? {
                    None => Err(not_found("run", id)),
                    Some(run) if run.state == RunState::Running => Err(StoreError::ProgressOutOfRange {
                        run: id.clone(),
                        rows,
                        total: run.total_rows,
                    }),
                    Some(run) => Err(StoreError::IllegalTransition {
                        run: id.clone(),
                        from: run.state,
                        to: run.state,
                    }),
                }
            }

            pub(crate) async fn finish_run(&self, id: &RunId, report: &Digest) -> Result<Run> {
                let (a, b) = Self::sources(RunState::Succeeded);
                let row = q(concat!(
                    "UPDATE runs SET state = $2, report_sha256 = $3, finished_at = $4, progress_rows = total_rows ",
                    "WHERE id = $1 AND state IN ($5, $6) RETURNING ",
                    run_cols!()
                ))
                .bind(id.as_str())
                .bind(RunState::Succeeded.as_str())
                .bind(report.as_str())
                .bind(Timestamp::now().as_str())
                .bind(a)
                .bind(b)
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    Some(r) => rows::run(&r),
                    None => Err(self.refused(id, RunState::Succeeded).await),
                }
            }

            /// Moves a run to `failed` or `cancelled` with a cause.
            async fn end_run(&self, id: &RunId, to: RunState, cause: &str) -> Result<Run> {
                let mut c = self.pool.acquire().await?;
                let row = end_run_in(&mut c, id, to, cause).await?;
                drop(c);
                match row {
                    Some(run) => Ok(run),
                    None => Err(self.refused(id, to).await),
                }
            }

            pub(crate) async fn fail_run(&self, id: &RunId, cause: &str) -> Result<Run> {
                self.end_run(id, RunState::Failed, cause).await
            }

            pub(crate) async fn cancel_run(&self, id: &RunId, cause: &str) -> Result<Run> {
                self.end_run(id, RunState::Cancelled, cause).await
            }

            /// [`Self::cancel_run`] and its audit entry, in one transaction: a refused transition writes neither.
            pub(crate) async fn cancel_run_audited(&self, id: &RunId, cause: &str, entry: NewEntry) -> Result<Run> {
                let mut tx = self.begin_audited().await?;
                let Some(run) = end_run_in(&mut tx, id, RunState::Cancelled, cause).await? else {
                    drop(tx);
                    return Err(self.refused(id, RunState::Cancelled).await);
                };
                commit_with(tx, entry).await?;
                Ok(run)
            }

            pub(crate) async fn mark_interrupted_runs(&self, cause: &str) -> Result<Vec<RunId>> {
                let rows = q("UPDATE runs SET state = $1, cause = $2, finished_at = $3 WHERE state = $4 RETURNING id")
                    .bind(RunState::Failed.as_str())
                    .bind(cause)
                    .bind(Timestamp::now().as_str())
                    .bind(RunState::Running.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|r| Ok(RunId::parse(&r.text("id")?)?)).collect()
            }

            pub(crate) async fn set_criteria(
                &self,
                case: &CaseId,
                json: &serde_json::Value,
                fixed_by: &UserId,
            ) -> Result<Criteria> {
                let mut c = self.pool.acquire().await?;
                upsert_criteria(&mut c, case, json, fixed_by).await
            }

            /// [`Self::set_criteria`] and its audit entry, in one transaction.
            pub(crate) async fn set_criteria_audited(
                &self,
                case: &CaseId,
                json: &serde_json::Value,
                fixed_by: &UserId,
                entry: NewEntry,
            ) -> Result<Criteria> {
                let mut tx = self.begin_audited().await?;
                let criteria = upsert_criteria(&mut tx, case, json, fixed_by).await?;
                commit_with(tx, entry).await?;
                Ok(criteria)
            }

            pub(crate) async fn criteria(&self, case: &CaseId) -> Result<Option<Criteria>> {
                let row = q(concat!(
                    "SELECT ",
                    criteria_cols!(),
                    " FROM criteria WHERE case_id = $1"
                ))
                .bind(case.as_str())
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(rows::criteria).transpose()
            }

            /// Starts a write transaction that holds the audit chain's lock from its first statement, so the
            /// change it carries and the entry appended at its end are serialised with every other append: the
            /// lock is always taken before any row lock, so audited transactions cannot deadlock each other.
            async fn begin_audited(&self) -> Result<sqlx::Transaction<'static, $db>> {
                let mut tx = self.pool.begin_with($dialect.begin_write).await?;
                if let Some(lock) = $dialect.lock_audit {
                    q(lock).execute(&mut *tx).await?;
                }
                Ok(tx)
            }

            pub(crate) async fn append_audit(&self, new: NewEntry) -> Result<AuditEntry> {
                let mut tx = self.begin_audited().await?;
                let e = append_in(&mut tx, new).await?;
                tx.commit().await?;
                Ok(e)
            }

            pub(crate) async fn list_audit(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
                // The direction cannot be a parameter; the two texts differ only in it.
                let sql = if f.newest_first {
                    concat!(
                        "SELECT ",
                        audit_cols!(),
                        " FROM audit WHERE ($1 IS NULL OR case_id = $1) AND ($2 IS NULL OR actor = $2)",
                        " AND ($3 IS NULL OR time >= $3) AND ($4 IS NULL OR time < $4) ORDER BY seq DESC LIMIT $5 OFFSET $6"
                    )
                } else {
                    concat!(
                        "SELECT ",
                        audit_cols!(),
                        " FROM audit WHERE ($1 IS NULL OR case_id = $1) AND ($2 IS NULL OR actor = $2)",
                        " AND ($3 IS NULL OR time >= $3) AND ($4 IS NULL OR time < $4) ORDER BY seq LIMIT $5 OFFSET $6"
                    )
                };
                let rows = q(sql)
                .bind(f.case.as_ref().map(CaseId::as_str))
                .bind(f.actor.as_deref())
                .bind(f.from.as_ref().map(Timestamp::as_str))
                .bind(f.to.as_ref().map(Timestamp::as_str))
                .bind(i64::from(f.limit))
                .bind(to_db_count(f.offset)?)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(rows::audit).collect()
            }

            /// A finding and its audit entry (made from the new finding), in one transaction. A second correction
            /// of the same finding is a [`StoreError::Conflict`].
            pub(crate) async fn create_finding_audited(
                &self,
                new: NewFinding,
                audit: impl FnOnce(&Finding) -> NewEntry + Send,
            ) -> Result<Finding> {
                let finding = Finding {
                    id: FindingId::generate(),
                    case_id: new.case_id,
                    target: new.target,
                    severity: new.severity,
                    body: new.body,
                    links: new.links,
                    author: new.author,
                    org_id: new.org_id,
                    role: new.role,
                    created_at: Timestamp::now(),
                    supersedes: new.supersedes,
                };
                let (kind, target) = rows::target_parts(&finding.target);
                let links = serde_json::to_string(&finding.links).map_err(|e| StoreError::corrupt("links", e))?;
                let mut tx = self.begin_audited().await?;
                q(concat!("INSERT INTO findings (", finding_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"))
                    .bind(finding.id.as_str())
                    .bind(finding.case_id.as_str())
                    .bind(kind)
                    .bind(target)
                    .bind(finding.severity.as_str())
                    .bind(&finding.body)
                    .bind(links)
                    .bind(finding.author.as_str())
                    .bind(finding.org_id.as_str())
                    .bind(finding.role.as_str())
                    .bind(finding.created_at.as_str())
                    .bind(finding.supersedes.as_ref().map(FindingId::as_str))
                    .execute(&mut *tx)
                    .await?;
                commit_with(tx, audit(&finding)).await?;
                Ok(finding)
            }

            pub(crate) async fn list_findings(&self, case: &CaseId) -> Result<Vec<Finding>> {
                let rows = q(concat!(
                    "SELECT ",
                    finding_cols!(),
                    " FROM findings WHERE case_id = $1 ORDER BY created_at, id"
                ))
                .bind(case.as_str())
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(rows::finding).collect()
            }

            pub(crate) async fn finding(&self, id: &FindingId) -> Result<Option<Finding>> {
                let row = q(concat!("SELECT ", finding_cols!(), " FROM findings WHERE id = $1"))
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(rows::finding).transpose()
            }

            pub(crate) async fn save_document_audited(
                &self,
                case: &CaseId,
                kind: DocumentKind,
                body: &str,
                saved_by: &UserId,
                audit: impl FnOnce(&StoredDocument) -> NewEntry + Send,
            ) -> Result<StoredDocument> {
                let mut tx = self.begin_audited().await?;
                let row = q("SELECT COALESCE(MAX(version), 0) AS version FROM case_documents WHERE case_id = $1 AND kind = $2")
                    .bind(case.as_str())
                    .bind(kind.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                let last = u64::try_from(row.int("version")?).map_err(|e| StoreError::corrupt("document version", e))?;
                let saved = StoredDocument {
                    case_id: case.clone(),
                    kind,
                    version: last + 1,
                    body: body.to_owned(),
                    sha256: Digest::of(body.as_bytes()),
                    saved_by: saved_by.clone(),
                    saved_at: Timestamp::now(),
                };
                q(concat!("INSERT INTO case_documents (", document_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7)"))
                    .bind(saved.case_id.as_str())
                    .bind(kind.as_str())
                    .bind(saved.version as i64)
                    .bind(&saved.body)
                    .bind(saved.sha256.as_str())
                    .bind(saved.saved_by.as_str())
                    .bind(saved.saved_at.as_str())
                    .execute(&mut *tx)
                    .await?;
                commit_with(tx, audit(&saved)).await?;
                Ok(saved)
            }

            pub(crate) async fn document(
                &self,
                case: &CaseId,
                kind: DocumentKind,
                version: Option<u64>,
            ) -> Result<Option<StoredDocument>> {
                let row = match version {
                    Some(v) => {
                        q(concat!(
                            "SELECT ",
                            document_cols!(),
                            " FROM case_documents WHERE case_id = $1 AND kind = $2 AND version = $3"
                        ))
                        .bind(case.as_str())
                        .bind(kind.as_str())
                        .bind(i64::try_from(v).unwrap_or(i64::MAX))
                        .fetch_optional(&self.pool)
                        .await?
                    }
                    None => {
                        q(concat!(
                            "SELECT ",
                            document_cols!(),
                            " FROM case_documents WHERE case_id = $1 AND kind = $2 ORDER BY version DESC LIMIT 1"
                        ))
                        .bind(case.as_str())
                        .bind(kind.as_str())
                        .fetch_optional(&self.pool)
                        .await?
                    }
                };
                row.as_ref().map(rows::document).transpose()
            }

            pub(crate) async fn add_checkpoint(&self, size: u64, time: &Timestamp, note: &str) -> Result<()> {
                q("INSERT INTO audit_checkpoints (size, time, note) VALUES ($1, $2, $3)")
                    .bind(to_db_count(size)?)
                    .bind(time.as_str())
                    .bind(note)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            pub(crate) async fn checkpoints(&self, limit: u32) -> Result<Vec<String>> {
                let rows = q("SELECT note FROM audit_checkpoints ORDER BY id DESC LIMIT $1")
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|r| r.text("note")).collect()
            }

            pub(crate) async fn audit_head(&self) -> Result<Option<AuditEntry>> {
                let row = q(concat!("SELECT ", audit_cols!(), " FROM audit ORDER BY seq DESC LIMIT 1"))
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(rows::audit).transpose()
            }

            pub(crate) async fn audit_page(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>> {
                let rows = q(concat!(
                    "SELECT ",
                    audit_cols!(),
                    " FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2"
                ))
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(rows::audit).collect()
            }

            pub(crate) async fn close(&self) {
                self.pool.close().await;
            }
        }

        /// A connection or an open transaction: the helpers below run inside whichever they are given.
        type Conn = <$db as sqlx::Database>::Connection;

        /// Ends an audited change: appends its entry and commits both, so neither lands alone.
        async fn commit_with(mut tx: sqlx::Transaction<'static, $db>, entry: NewEntry) -> Result<()> {
            append_in(&mut tx, entry).await?;
            tx.commit().await?;
            Ok(())
        }

        /// Appends `new` after the chain's last entry, inside `tx`, which must have been started by
        /// `begin_audited` (so no other append can read the same last entry).
        async fn append_in(tx: &mut sqlx::Transaction<'static, $db>, new: NewEntry) -> Result<AuditEntry> {
            let last = q(concat!(
                "SELECT ",
                audit_cols!(),
                " FROM audit ORDER BY seq DESC LIMIT 1"
            ))
            .fetch_optional(&mut **tx)
            .await?;
            let last = last.as_ref().map(rows::audit).transpose()?;
            let e = audit::chain(last.as_ref(), new);
            q(concat!(
                "INSERT INTO audit (",
                audit_cols!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ))
            .bind(e.seq)
            .bind(&e.time)
            .bind(&e.actor)
            .bind(&e.org)
            .bind(&e.role)
            .bind(&e.action)
            .bind(&e.object)
            .bind(&e.outcome)
            .bind(&e.request_id)
            .bind(e.case_id.as_deref())
            .bind(&e.prev_hash)
            .bind(&e.hash)
            .execute(&mut **tx)
            .await?;
            Ok(e)
        }

        async fn insert_session(c: &mut Conn, new: &NewSession<'_>) -> Result<()> {
            let now = Timestamp::now();
            q("INSERT INTO sessions (key, user_id, csrf, created_at, seen_at) VALUES ($1, $2, $3, $4, $4)")
                .bind(new.key.as_str())
                .bind(new.user.as_str())
                .bind(new.csrf)
                .bind(now.as_str())
                .execute(&mut *c)
                .await?;
            q(concat!(
                "DELETE FROM sessions WHERE user_id = $1 AND key NOT IN ",
                "(SELECT key FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, key DESC LIMIT $2)"
            ))
            .bind(new.user.as_str())
            .bind(i64::from(new.keep_per_user))
            .execute(&mut *c)
            .await?;
            Ok(())
        }

        async fn delete_session(c: &mut Conn, key: &Digest) -> Result<bool> {
            let n = q("DELETE FROM sessions WHERE key = $1")
                .bind(key.as_str())
                .execute(&mut *c)
                .await?
                .rows_affected();
            Ok(n > 0)
        }

        async fn insert_case(c: &mut Conn, name: &str, created_by: &UserId) -> Result<Case> {
            let case = Case {
                id: CaseId::generate(),
                name: name.to_owned(),
                created_by: created_by.clone(),
                created_at: Timestamp::now(),
            };
            q("INSERT INTO cases (id, name, created_by, created_at) VALUES ($1, $2, $3, $4)")
                .bind(case.id.as_str())
                .bind(&case.name)
                .bind(created_by.as_str())
                .bind(case.created_at.as_str())
                .execute(&mut *c)
                .await?;
            Ok(case)
        }

        async fn insert_member(c: &mut Conn, case: &CaseId, org: &OrgId) -> Result<()> {
            q("INSERT INTO case_members (case_id, org_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(case.as_str())
                .bind(org.as_str())
                .execute(&mut *c)
                .await?;
            Ok(())
        }

        async fn upsert_criteria(
            c: &mut Conn,
            case: &CaseId,
            json: &serde_json::Value,
            fixed_by: &UserId,
        ) -> Result<Criteria> {
            let row = q(concat!(
                "INSERT INTO criteria (case_id, json, fixed_by, fixed_at) VALUES ($1, $2, $3, $4) ",
                "ON CONFLICT (case_id) DO UPDATE SET json = excluded.json, fixed_by = excluded.fixed_by, ",
                "fixed_at = excluded.fixed_at RETURNING ",
                criteria_cols!()
            ))
            .bind(case.as_str())
            .bind(json.to_string())
            .bind(fixed_by.as_str())
            .bind(Timestamp::now().as_str())
            .fetch_one(&mut *c)
            .await?;
            rows::criteria(&row)
        }

        /// Moves a run to `failed` or `cancelled` with a cause; `None` when it is not in a state that may.
        async fn end_run_in(c: &mut Conn, id: &RunId, to: RunState, cause: &str) -> Result<Option<Run>> {
            let (a, b) = $store::sources(to);
            let row = q(concat!(
                "UPDATE runs SET state = $2, cause = $3, finished_at = $4 WHERE id = $1 AND state IN ($5, $6) ",
                "RETURNING ",
                run_cols!()
            ))
            .bind(id.as_str())
            .bind(to.as_str())
            .bind(cause)
            .bind(Timestamp::now().as_str())
            .bind(a)
            .bind(b)
            .fetch_optional(&mut *c)
            .await?;
            row.as_ref().map(rows::run).transpose()
        }

        async fn insert_model(c: &mut Conn, new: NewModel) -> Result<Model> {
            let NewModel {
                case_id,
                org_id,
                name,
                version,
                scenario,
                model_sha256,
                manifest_sha256,
                inspection,
            } = new;
            // A name and version identify a vendor's model to people (reports, criteria,
            // comparisons): a second upload under both is refused, not stored beside the
            // first. Per vendor organisation: vendors in one case do not see each other's
            // models, and a refusal must not tell one what another uploaded. Audited writes
            // hold the audit lock, so two uploads cannot both pass this check.
            let taken = q(concat!(
                "SELECT ",
                model_cols!(),
                " FROM models WHERE case_id = $1 AND org_id = $2 AND name = $3 AND version = $4"
            ))
            .bind(case_id.as_str())
            .bind(org_id.as_str())
            .bind(&name)
            .bind(&version)
            .fetch_optional(&mut *c)
            .await?;
            if let Some(existing) = taken.as_ref().map(rows::model).transpose()? {
                let cut = |s: &str| s.chars().take(80).collect::<String>();
                return Err(StoreError::Conflict(format!(
                    "model {:?} version {:?} is already in this case from your organisation (id {}, uploaded {}); upload it under a new version",
                    cut(&name),
                    cut(&version),
                    existing.id.as_str(),
                    existing.created_at.as_str()
                )));
            }
            let model = Model {
                id: ModelId::generate(),
                case_id,
                org_id,
                name,
                version,
                scenario,
                model_sha256,
                manifest_sha256,
                inspection,
                created_at: Timestamp::now(),
            };
            q(concat!(
                "INSERT INTO models (",
                model_cols!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .bind(model.id.as_str())
            .bind(model.case_id.as_str())
            .bind(model.org_id.as_str())
            .bind(&model.name)
            .bind(&model.version)
            .bind(&model.scenario)
            .bind(model.model_sha256.as_str())
            .bind(model.manifest_sha256.as_str())
            .bind(model.inspection.to_string())
            .bind(model.created_at.as_str())
            .execute(&mut *c)
            .await?;
            Ok(model)
        }

        async fn insert_run(c: &mut Conn, new: NewRun) -> Result<Run> {
            let NewRun {
                case_id,
                model_id,
                org_id,
                created_by,
                params,
                total_rows,
            } = new;
            let run = Run {
                id: RunId::generate(),
                case_id,
                model_id,
                org_id,
                created_by,
                params,
                state: RunState::Queued,
                progress_rows: 0,
                total_rows,
                cause: None,
                report_sha256: None,
                created_at: Timestamp::now(),
                started_at: None,
                finished_at: None,
            };
            q(concat!(
                "INSERT INTO runs (id, case_id, model_id, org_id, created_by, params_json, state, progress_rows, ",
                "total_rows, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9)"
            ))
            .bind(run.id.as_str())
            .bind(run.case_id.as_str())
            .bind(run.model_id.as_str())
            .bind(run.org_id.as_str())
            .bind(run.created_by.as_str())
            .bind(run.params.to_string())
            .bind(run.state.as_str())
            .bind(to_db_count(total_rows)?)
            .bind(run.created_at.as_str())
            .execute(&mut *c)
            .await?;
            Ok(run)
        }
    };
}
pub(crate) use sql_backend;
