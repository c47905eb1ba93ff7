//! [`Store`]: the one interface to the metadata, whichever database holds it.

use std::path::Path;

use serde_json::Value;

use crate::audit::{AuditEntry, NewEntry, Verifier};
use crate::checkpoint::{AuditKey, Checkpoint, SignedCheckpoint, VerifierKey};
use crate::error::{Result, StoreError};
use crate::merkle::{self, Divergence, Frontier, Hash, audit_leaf};
use crate::meta::{
    AuditFilter, Case, Criteria, DocumentKind, Finding, Model, NewFinding, NewModel, NewRun, NewSession, Org, OrgKind,
    OrgLoad, Role, Run, RunState, StoredDocument, StoredSession, User,
};
use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::{CaseId, Digest, FindingId, ModelId, OrgId, RunId, Timestamp, Token, UserId};

/// The metadata store. Both variants run the same SQL (see `backend.rs`) and pass the same test suite; an enum
/// (behind a struct, so the backends stay private) rather than a trait object so callers get `Send` futures and no boxing.
///
/// The audit log is append-only through this API: there is deliberately no method that updates or deletes an
/// audit row.
#[derive(Debug, Clone)]
pub struct Store(Backend);

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

macro_rules! delegate {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match &$self.0 {
            Backend::Sqlite(s) => s.$method($($arg),*).await,
            Backend::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` and brings its schema up to date.
    pub async fn open_sqlite(path: &Path) -> Result<Self> {
        Ok(Self(Backend::Sqlite(SqliteStore::open(path).await?)))
    }

    /// Connects to PostgreSQL at `url` (`postgres://…`) and brings its schema up to date.
    pub async fn open_postgres(url: &str) -> Result<Self> {
        Ok(Self(Backend::Postgres(PgStore::open(url).await?)))
    }

    /// `"sqlite"` or `"postgres"`, for logs and metrics.
    pub fn backend(&self) -> &'static str {
        match self.0 {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Closes the connection pool, waiting for checked-out connections to come back.
    pub async fn close(&self) {
        delegate!(self.close())
    }

    // --- organisations and users ---

    /// Organisation names are unique: a duplicate is [`crate::StoreError::Conflict`].
    pub async fn create_org(&self, name: &str, kind: OrgKind) -> Result<Org> {
        delegate!(self.create_org(name, kind))
    }

    /// The organisation with this id, if any.
    pub async fn org(&self, id: &OrgId) -> Result<Option<Org>> {
        delegate!(self.org(id))
    }

    /// Every organisation, for the admin's listing.
    pub async fn list_orgs(&self) -> Result<Vec<Org>> {
        delegate!(self.list_orgs())
    }

    /// Creates a user and returns its bearer token. This is the only time the token exists: only its SHA-256 is
    /// stored, so a leaked database does not leak credentials.
    pub async fn create_user(&self, org: &OrgId, name: &str, role: Role) -> Result<(User, Token)> {
        delegate!(self.create_user(org, name, role))
    }

    /// The user with this id, if any.
    pub async fn user(&self, id: &UserId) -> Result<Option<User>> {
        delegate!(self.user(id))
    }

    /// The user a presented bearer token belongs to, if any.
    pub async fn user_by_token(&self, token: &str) -> Result<Option<User>> {
        delegate!(self.user_by_token(token))
    }

    /// Every user, for the admin's listing.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        delegate!(self.list_users())
    }

    // --- browser sessions ---

    /// Stores a new session and ends the user's older ones beyond `new.keep_per_user`, in one
    /// transaction, so nobody can hold unbounded sessions by logging in again and again.
    pub async fn create_session(&self, new: NewSession<'_>) -> Result<()> {
        delegate!(self.create_session(new))
    }

    /// The session stored under `key` (the SHA-256 of the cookie's value), with its user and
    /// org, whether or not it has expired: expiry is the caller's rule.
    pub async fn session(&self, key: &Digest) -> Result<Option<StoredSession>> {
        delegate!(self.session(key))
    }

    /// Records that the session was used at `at` (never moves `seen_at` backwards).
    pub async fn touch_session(&self, key: &Digest, at: &Timestamp) -> Result<()> {
        delegate!(self.touch_session(key, at))
    }

    /// [`Store::create_session`] and the request's audit entry, in one transaction.
    pub async fn create_session_audited(&self, new: NewSession<'_>, entry: NewEntry) -> Result<()> {
        delegate!(self.create_session_audited(new, entry))
    }

    /// Ends one session; whether it existed.
    pub async fn end_session(&self, key: &Digest) -> Result<bool> {
        delegate!(self.end_session(key))
    }

    /// [`Store::end_session`] and the request's audit entry, in one transaction.
    pub async fn end_session_audited(&self, key: &Digest, entry: NewEntry) -> Result<bool> {
        delegate!(self.end_session_audited(key, entry))
    }

    /// Ends every session created before `created` or last seen before `seen`; how many.
    pub async fn end_sessions_before(&self, created: &Timestamp, seen: &Timestamp) -> Result<u64> {
        delegate!(self.end_sessions_before(created, seen))
    }

    // --- changes with their audit entry ---
    //
    // Every change a request makes goes through one of the `*_audited` methods: the change and its audit entry
    // commit in one transaction, so a crash (or a failed append) between them leaves neither. The plain methods
    // are for set-up outside any request (the demo seed, the `users` command, tests).

    // --- cases ---

    /// Opens a case with no members; the creator's organisation is added by the caller's rule.
    pub async fn create_case(&self, name: &str, created_by: &UserId) -> Result<Case> {
        delegate!(self.create_case(name, created_by))
    }

    /// A case with `members` in it and the audit entry `audit` makes from the new case, in one transaction.
    pub async fn create_case_audited(
        &self,
        name: &str,
        created_by: &UserId,
        members: &[OrgId],
        audit: impl FnOnce(&Case) -> NewEntry + Send,
    ) -> Result<Case> {
        delegate!(self.create_case_audited(name, created_by, members, audit))
    }

    /// The case with this id, if any.
    pub async fn case(&self, id: &CaseId) -> Result<Option<Case>> {
        delegate!(self.case(id))
    }

    /// Every case; who may see which is the service's rule.
    pub async fn list_cases(&self) -> Result<Vec<Case>> {
        delegate!(self.list_cases())
    }

    /// Adds `org` to `case`; adding an existing member is a no-op.
    pub async fn add_case_member(&self, case: &CaseId, org: &OrgId) -> Result<()> {
        delegate!(self.add_case_member(case, org))
    }

    /// [`Store::add_case_member`] and the request's audit entry, in one transaction.
    pub async fn add_case_member_audited(&self, case: &CaseId, org: &OrgId, entry: NewEntry) -> Result<()> {
        delegate!(self.add_case_member_audited(case, org, entry))
    }

    /// The organisations taking part in a case.
    pub async fn case_members(&self, case: &CaseId) -> Result<Vec<OrgId>> {
        delegate!(self.case_members(case))
    }

    /// The cases `org` is a member of.
    pub async fn cases_of_org(&self, org: &OrgId) -> Result<Vec<Case>> {
        delegate!(self.cases_of_org(org))
    }

    /// Whether the organisation takes part in the case, the check behind every case-scoped route.
    pub async fn is_member(&self, case: &CaseId, org: &OrgId) -> Result<bool> {
        delegate!(self.is_member(case, org))
    }

    /// Fixes (or replaces) the criteria of a case.
    pub async fn set_criteria(&self, case: &CaseId, json: &Value, fixed_by: &UserId) -> Result<Criteria> {
        delegate!(self.set_criteria(case, json, fixed_by))
    }

    /// [`Store::set_criteria`] and the request's audit entry, in one transaction.
    pub async fn set_criteria_audited(
        &self,
        case: &CaseId,
        json: &Value,
        fixed_by: &UserId,
        entry: NewEntry,
    ) -> Result<Criteria> {
        delegate!(self.set_criteria_audited(case, json, fixed_by, entry))
    }

    /// The criteria fixed for a case, if they have been.
    pub async fn criteria(&self, case: &CaseId) -> Result<Option<Criteria>> {
        delegate!(self.criteria(case))
    }

    // --- models ---

    /// Stores an uploaded model and gives it an id.
    pub async fn create_model(&self, new: NewModel) -> Result<Model> {
        delegate!(self.create_model(new))
    }

    /// A model and the audit entry `audit` makes from it, in one transaction.
    pub async fn create_model_audited(
        &self,
        new: NewModel,
        audit: impl FnOnce(&Model) -> NewEntry + Send,
    ) -> Result<Model> {
        delegate!(self.create_model_audited(new, audit))
    }

    /// The model with this id, if any.
    pub async fn model(&self, id: &ModelId) -> Result<Option<Model>> {
        delegate!(self.model(id))
    }

    /// The models of a case.
    pub async fn list_models(&self, case: &CaseId) -> Result<Vec<Model>> {
        delegate!(self.list_models(case))
    }

    // --- runs ---

    /// Records a run in state `queued`.
    pub async fn create_run(&self, new: NewRun) -> Result<Run> {
        delegate!(self.create_run(new))
    }

    /// A queued run and the audit entry `audit` makes from it, in one transaction.
    pub async fn create_run_audited(&self, new: NewRun, audit: impl FnOnce(&Run) -> NewEntry + Send) -> Result<Run> {
        delegate!(self.create_run_audited(new, audit))
    }

    /// The run with this id, if any.
    pub async fn run(&self, id: &RunId) -> Result<Option<Run>> {
        delegate!(self.run(id))
    }

    /// The runs of a case.
    pub async fn list_runs(&self, case: &CaseId) -> Result<Vec<Run>> {
        delegate!(self.list_runs(case))
    }

    /// How many runs are in each state (states with none are left out).
    pub async fn count_runs_by_state(&self) -> Result<Vec<(RunState, u64)>> {
        delegate!(self.count_runs_by_state())
    }

    /// Atomically moves the next queued run to `running` and returns it; concurrent callers (threads,
    /// processes, hosts on PostgreSQL) never get the same run.
    ///
    /// Fair across organisations: the oldest queued run among the organisations with the fewest running runs,
    /// skipping organisations that already have `max_running_per_org` running (on PostgreSQL, two processes
    /// claiming at the same instant may each see the other's claim uncommitted and exceed it by one).
    pub async fn claim_next_queued(&self, max_running_per_org: u64) -> Result<Option<Run>> {
        delegate!(self.claim_next_queued(max_running_per_org))
    }

    /// What one organisation has waiting and running, for its limits.
    pub async fn org_load(&self, org: &OrgId) -> Result<OrgLoad> {
        delegate!(self.org_load(org))
    }

    /// Records how many rows a running run has scored (at most its total).
    pub async fn update_progress(&self, id: &RunId, rows: u64) -> Result<()> {
        delegate!(self.update_progress(id, rows))
    }

    /// `running` → `succeeded`, with the report blob.
    pub async fn finish_run(&self, id: &RunId, report: &Digest) -> Result<Run> {
        delegate!(self.finish_run(id, report))
    }

    /// `running` → `failed`, with why.
    pub async fn fail_run(&self, id: &RunId, cause: &str) -> Result<Run> {
        delegate!(self.fail_run(id, cause))
    }

    /// `queued` or `running` → `cancelled`, with why (e.g. who cancelled it).
    pub async fn cancel_run(&self, id: &RunId, cause: &str) -> Result<Run> {
        delegate!(self.cancel_run(id, cause))
    }

    /// [`Store::cancel_run`] and the request's audit entry, in one transaction: a refused transition writes
    /// neither.
    pub async fn cancel_run_audited(&self, id: &RunId, cause: &str, entry: NewEntry) -> Result<Run> {
        delegate!(self.cancel_run_audited(id, cause, entry))
    }

    /// Start-up recovery: every run still `running` was orphaned by a previous process, so it becomes `failed`
    /// with `cause`. Returns the runs it marked. Call before starting workers.
    pub async fn mark_interrupted_runs(&self, cause: &str) -> Result<Vec<RunId>> {
        delegate!(self.mark_interrupted_runs(cause))
    }

    // --- audit ---

    /// Appends `new` to the audit chain. Reading the last entry and inserting the new one happen in one
    /// serialised transaction, so concurrent appends never fork the chain.
    pub async fn append_audit(&self, new: NewEntry) -> Result<AuditEntry> {
        delegate!(self.append_audit(new))
    }

    /// The entries matching `filter`, oldest first.
    pub async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        delegate!(self.list_audit(filter))
    }

    /// The last entry, to be recorded elsewhere so a truncated chain can be told.
    pub async fn audit_head(&self) -> Result<Option<AuditEntry>> {
        delegate!(self.audit_head())
    }

    /// At most `limit` entries with `seq` above `after`, oldest first: the chain read page by page (keyset, so
    /// each page costs the same however deep it is).
    pub async fn audit_page(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        delegate!(self.audit_page(after, limit))
    }

    /// Verifies the whole chain in pages of [`VERIFY_PAGE`] entries, holding one page at a time (constant
    /// memory, however long the chain), and returns how many entries verified, the last of them and the Merkle
    /// root over them; or [`crate::StoreError::ChainBroken`] naming the first break. Entries appended while it runs
    /// are checked too (the chain only grows at its end).
    pub async fn check_audit(&self) -> Result<Verified> {
        self.check_audit_against(&[]).await
    }

    /// [`Store::check_audit`], and also that the log extends every checkpoint in `pins` (opened, so their
    /// signatures already checked): the tree over its first `size` entries must have the checkpoint's root. A
    /// chain can't see its tail cut, cut and continued, or the whole database put back to an older copy; this
    /// can, as [`crate::StoreError::LogDiverges`].
    pub async fn check_audit_against(&self, pins: &[Checkpoint]) -> Result<Verified> {
        let mut pins: Vec<Checkpoint> = pins.to_vec();
        pins.sort_by_key(|c| c.size);
        let mut state = TreeCheck {
            verifier: Verifier::new(),
            tree: Frontier::default(),
            pins: pins.into_iter().collect(),
        };
        // A checkpoint of the empty log pins nothing but must still be met.
        state.meet_pins()?;
        let mut after = i64::MIN;
        loop {
            let page = self.audit_page(after, VERIFY_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            let full = page.len() == VERIFY_PAGE as usize;
            // Hashing a page is CPU work: off the async threads.
            state = tokio::task::spawn_blocking(move || state.push_page(&page).map(|()| state))
                .await
                .map_err(|e| StoreError::corrupt("audit verification", e))??;
            if !full {
                break;
            }
        }
        if let Some(c) = state.pins.front() {
            return Err(Divergence::Shorter {
                checkpoint_size: c.size,
                time: c.time.to_string(),
                log_size: state.tree.size(),
            }
            .into());
        }
        Ok(Verified {
            entries: state.verifier.entries(),
            head: state.verifier.head().map(|(seq, hash)| (seq, hash.to_owned())),
            root: state.tree.root(),
        })
    }

    /// The leaves of the first `size` entries (all, for `None`), after verifying their chain: what inclusion and
    /// consistency proofs are made from. 32 bytes an entry.
    pub async fn audit_leaves(&self, size: Option<u64>) -> Result<Vec<Hash>> {
        let mut verifier = Verifier::new();
        let mut leaves = Vec::new();
        let mut after = i64::MIN;
        let want = size.unwrap_or(u64::MAX);
        while (leaves.len() as u64) < want {
            let page = self.audit_page(after, VERIFY_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            let full = page.len() == VERIFY_PAGE as usize;
            for e in &page {
                if leaves.len() as u64 == want {
                    break;
                }
                verifier.push(e)?;
                leaves.push(audit_leaf(&e.hash).ok_or_else(|| StoreError::corrupt("audit hash", &e.hash))?);
            }
            if !full {
                break;
            }
        }
        Ok(leaves)
    }

    /// Verifies the chain, and that it extends every checkpoint this key signed that the database holds and
    /// every one in `pins` (the caller's own record of what it signed, kept outside the database); only then
    /// signs its tree head with `key` and stores the checkpoint. So a log cut back or continued with forged
    /// entries is never signed as if it were the real one: the refusal is
    /// [`crate::StoreError::LogDiverges`]. A stored row that claims this key and does not verify is
    /// [`crate::StoreError::Corrupt`]. Returns the checkpoint, for the caller to keep outside the database too.
    pub async fn take_checkpoint(&self, key: &AuditKey, pins: &[Checkpoint]) -> Result<SignedCheckpoint> {
        let (mut all, _) = self.checkpoints_of(&key.verifier(), CHECKPOINT_PINS).await?;
        all.extend_from_slice(pins);
        let v = self.check_audit_against(&all).await?;
        let signed = key.sign(v.entries, v.root, Timestamp::now());
        self.add_checkpoint(v.entries, &signed.checkpoint.time, &signed.text)
            .await?;
        Ok(signed)
    }

    /// A finding and the audit entry `audit` makes from it, in one transaction. Findings are never changed or
    /// deleted; a correction names the finding it supersedes, once ([`crate::StoreError::Conflict`] the second
    /// time).
    pub async fn create_finding_audited(
        &self,
        new: NewFinding,
        audit: impl FnOnce(&Finding) -> NewEntry + Send,
    ) -> Result<Finding> {
        delegate!(self.create_finding_audited(new, audit))
    }

    /// Every finding of a case, oldest first; who may see which is the service's rule.
    pub async fn list_findings(&self, case: &CaseId) -> Result<Vec<Finding>> {
        delegate!(self.list_findings(case))
    }

    /// Saves a new version of a case's document (its canonical JSON, checked by the caller) with its audit
    /// entry, in one transaction; the version is one more than the newest of its kind. Of two saves at once
    /// one is refused, never both stored as the same version.
    pub async fn save_document_audited(
        &self,
        case: &CaseId,
        kind: DocumentKind,
        body: &str,
        saved_by: &UserId,
        audit: impl FnOnce(&StoredDocument) -> NewEntry + Send,
    ) -> Result<StoredDocument> {
        delegate!(self.save_document_audited(case, kind, body, saved_by, audit))
    }

    /// A case's document of `kind`: the given version, or the newest (the one in force). A row whose text no
    /// longer hashes to its stored SHA-256 is [`crate::StoreError::Corrupt`].
    pub async fn document(
        &self,
        case: &CaseId,
        kind: DocumentKind,
        version: Option<u64>,
    ) -> Result<Option<StoredDocument>> {
        delegate!(self.document(case, kind, version))
    }

    /// The finding with this id, if any.
    pub async fn finding(&self, id: &FindingId) -> Result<Option<Finding>> {
        delegate!(self.finding(id))
    }

    /// The newest `limit` stored checkpoints opened with `verifier`, and how many of those rows are another
    /// key's (another host's that does not share this key): those claim nothing in this key's name and are
    /// skipped. A row that names this key and does not verify was written by someone else:
    /// [`crate::StoreError::Corrupt`] with `what` = `"audit checkpoint"`.
    pub async fn checkpoints_of(&self, verifier: &VerifierKey, limit: u32) -> Result<(Vec<Checkpoint>, u64)> {
        let mut pins = Vec::new();
        let mut foreign = 0;
        for text in self.checkpoints(limit).await? {
            match verifier.open(&text) {
                Ok(c) => pins.push(c),
                Err(crate::CheckpointError::OtherKey { .. }) => foreign += 1,
                Err(e) => return Err(StoreError::corrupt("audit checkpoint", e)),
            }
        }
        Ok((pins, foreign))
    }

    /// Stores a signed checkpoint's text (see [`crate::AuditKey::sign`]).
    pub async fn add_checkpoint(&self, size: u64, time: &Timestamp, note: &str) -> Result<()> {
        delegate!(self.add_checkpoint(size, time, note))
    }

    /// The texts of the newest `limit` stored checkpoints, newest first. Unverified: open each with the
    /// sandbox's [`crate::VerifierKey`].
    pub async fn checkpoints(&self, limit: u32) -> Result<Vec<String>> {
        delegate!(self.checkpoints(limit))
    }

    /// Verifies the whole chain (see [`Store::check_audit`]) and returns its length.
    pub async fn verify_audit(&self) -> Result<u64> {
        Ok(self.check_audit().await?.entries)
    }
}

/// How many of the newest stored checkpoints [`Store::take_checkpoint`] checks the log against before signing.
pub const CHECKPOINT_PINS: u32 = 100;

/// How many entries [`Store::check_audit`] reads at a time.
pub const VERIFY_PAGE: u32 = 1000;

/// A chain that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Entries checked.
    pub entries: u64,
    /// The last entry checked, as `(seq, hash)`; `None` for an empty chain.
    pub head: Option<(i64, String)>,
    /// The Merkle root over the entries checked (the empty tree's for none).
    pub root: Hash,
}

/// What [`Store::check_audit_against`] carries from page to page.
struct TreeCheck {
    verifier: Verifier,
    tree: Frontier,
    /// Checkpoints not yet reached, smallest first.
    pins: std::collections::VecDeque<Checkpoint>,
}

impl TreeCheck {
    fn push_page(&mut self, page: &[AuditEntry]) -> Result<()> {
        for e in page {
            self.verifier.push(e)?;
            self.tree
                .push(audit_leaf(&e.hash).ok_or_else(|| StoreError::corrupt("audit hash", &e.hash))?);
            self.meet_pins()?;
        }
        Ok(())
    }

    /// Compares the tree with every checkpoint of its current size.
    fn meet_pins(&mut self) -> Result<()> {
        while let Some(c) = self.pins.front() {
            if c.size != self.tree.size() {
                break;
            }
            let root = self.tree.root();
            if root != c.root {
                return Err(Divergence::Rewritten {
                    checkpoint_size: c.size,
                    time: c.time.to_string(),
                    checkpoint_root: merkle::to_hex(&c.root),
                    log_root: merkle::to_hex(&root),
                }
                .into());
            }
            self.pins.pop_front();
        }
        Ok(())
    }
}
