//! The backend-independent test suite: every backend's test file instantiates it with `suite!(fresh)`, where
//! `fresh()` yields a [`Fixture`] on an empty, migrated database.

#![allow(dead_code)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;
use store::{
    AuditFilter, BreakKind, CaseId, Digest, NewEntry, NewModel, NewRun, NewSession, OrgId, OrgKind, Role, RunId,
    RunState, Store, StoreError, Timestamp, UserId,
};

/// A store plus a side channel that bypasses it, to tamper with rows as an attacker with database access would.
pub struct Fixture {
    pub store: Store,
    pub raw: Raw,
    /// Whatever must outlive the test (a temporary directory, a database name).
    pub keep: Box<dyn std::any::Any + Send>,
}

pub enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    pub async fn exec(&self, sql: &'static str) {
        match self {
            Raw::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
            Raw::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// From now on every insert into the audit table fails, as a full disk or a lost
    /// connection would make the append after a change fail.
    pub async fn refuse_audit_inserts(&self) {
        match self {
            Raw::Sqlite(_) => {
                self.exec("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit refused'); END")
                    .await
            }
            Raw::Postgres(_) => {
                self.exec(concat!(
                    "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS ",
                    "$$ BEGIN RAISE EXCEPTION 'audit refused'; END $$"
                ))
                .await;
                self.exec("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION refuse_audit()")
                    .await;
            }
        }
    }

    pub async fn allow_audit_inserts(&self) {
        match self {
            Raw::Sqlite(_) => self.exec("DROP TRIGGER refuse_audit").await,
            Raw::Postgres(_) => self.exec("DROP TRIGGER refuse_audit ON audit").await,
        }
    }

    /// Inserts already chained entries directly, many per statement: a long chain in seconds.
    pub async fn insert_audit(&self, entries: &[store::AuditEntry]) {
        for chunk in entries.chunks(1000) {
            macro_rules! insert {
                ($db:ty, $pool:expr) => {{
                    let mut b = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO audit (seq, time, actor, org, role, action, object, outcome, request_id, case_id, prev_hash, hash) ",
                    );
                    b.push_values(chunk, |mut row, e| {
                        row.push_bind(e.seq)
                            .push_bind(e.time.clone())
                            .push_bind(e.actor.clone())
                            .push_bind(e.org.clone())
                            .push_bind(e.role.clone())
                            .push_bind(e.action.clone())
                            .push_bind(e.object.clone())
                            .push_bind(e.outcome.clone())
                            .push_bind(e.request_id.clone())
                            .push_bind(e.case_id.clone())
                            .push_bind(e.prev_hash.clone())
                            .push_bind(e.hash.clone());
                    });
                    b.build().execute($pool).await.unwrap();
                }};
            }
            match self {
                Raw::Sqlite(p) => insert!(sqlx::Sqlite, p),
                Raw::Postgres(p) => insert!(sqlx::Postgres, p),
            }
        }
    }

    /// How many audit entries carry `request_id`.
    pub async fn entries_of(&self, request_id: &str) -> i64 {
        let sql = "SELECT COUNT(*) FROM audit WHERE request_id = $1";
        match self {
            Raw::Sqlite(p) => sqlx::query_scalar(sql).bind(request_id).fetch_one(p).await.unwrap(),
            Raw::Postgres(p) => sqlx::query_scalar(sql).bind(request_id).fetch_one(p).await.unwrap(),
        }
    }

    /// How many rows `table` holds.
    pub async fn count(&self, table: &'static str) -> i64 {
        let sql = match table {
            "cases" => "SELECT COUNT(*) FROM cases",
            "case_members" => "SELECT COUNT(*) FROM case_members",
            "criteria" => "SELECT COUNT(*) FROM criteria",
            "models" => "SELECT COUNT(*) FROM models",
            "runs" => "SELECT COUNT(*) FROM runs",
            "sessions" => "SELECT COUNT(*) FROM sessions",
            "audit" => "SELECT COUNT(*) FROM audit",
            "case_documents" => "SELECT COUNT(*) FROM case_documents",
            other => panic!("no table {other}"),
        };
        match self {
            Raw::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            Raw::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }
}

/// One `#[tokio::test]` per case below, each on a fresh database from `$fresh`.
macro_rules! suite {
    ($fresh:path) => {
        $crate::common::suite!(@tests $fresh;
            orgs_users_and_tokens, cases_membership_and_criteria, model_and_run_lifecycle, interrupted_runs_marked,
            concurrent_claims_take_each_run_once, concurrent_audit_appends_form_one_chain, audit_filters,
            audit_row_edited_in_database, audit_row_deleted_in_database, audit_rows_swapped_in_database,
            browser_sessions, claims_are_fair_across_organisations, every_audited_change_commits_with_exactly_its_entry,
            a_change_whose_audit_entry_fails_is_not_stored, concurrent_audited_changes_form_one_chain,
            a_long_chain_verifies_page_by_page_and_names_a_break_in_the_middle,
            a_name_and_version_are_an_organisations_once_per_case,
            a_cut_tail_is_found_by_a_checkpoint_and_not_by_the_chain,
            a_forged_continuation_is_found_by_a_checkpoint_and_not_by_the_chain,
            a_log_that_grew_after_a_checkpoint_still_meets_it,
            findings_are_kept_as_written_and_corrected_once_each,
            checklist_versions_are_kept_and_a_changed_row_is_refused);
    };
    (@tests $fresh:path; $($case:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture = $fresh().await;
                $crate::common::$case(&fixture).await;
                fixture.store.close().await;
            }
        )+
    };
}
pub(crate) use suite;

struct World {
    vendor: OrgId,
    authority: OrgId,
    vendor_user: UserId,
    authority_user: UserId,
    case: CaseId,
}

async fn world(s: &Store) -> World {
    let vendor = s.create_org("Acme Scoring", OrgKind::Vendor).await.unwrap().id;
    let authority = s.create_org("Udbetaling Danmark", OrgKind::Authority).await.unwrap().id;
    let (vu, _) = s.create_user(&vendor, "vera", Role::Vendor).await.unwrap();
    let (au, _) = s.create_user(&authority, "anders", Role::Authority).await.unwrap();
    let case = s.create_case("Boligstøtte 2026", &au.id).await.unwrap().id;
    s.add_case_member(&case, &vendor).await.unwrap();
    s.add_case_member(&case, &authority).await.unwrap();
    World {
        vendor,
        authority,
        vendor_user: vu.id,
        authority_user: au.id,
        case,
    }
}

async fn new_run(s: &Store, w: &World, total_rows: u64) -> RunId {
    new_run_for(s, w, &w.vendor, &w.vendor_user, total_rows).await
}

async fn new_run_for(s: &Store, w: &World, org: &OrgId, user: &UserId, total_rows: u64) -> RunId {
    let model = s
        .create_model(NewModel {
            case_id: w.case.clone(),
            org_id: w.vendor.clone(),
            name: "credit".into(),
            version: fresh_version(),
            scenario: "housing".into(),
            model_sha256: Digest::of(b"onnx"),
            manifest_sha256: Digest::of(b"manifest"),
            inspection: json!({"ok": true}),
        })
        .await
        .unwrap();
    let run = s
        .create_run(NewRun {
            case_id: w.case.clone(),
            model_id: model.id,
            org_id: org.clone(),
            created_by: user.clone(),
            params: json!({"rows": total_rows, "seed": 7}),
            total_rows,
        })
        .await
        .unwrap();
    run.id
}

fn entry(i: usize, case: Option<&CaseId>, actor: &str) -> NewEntry {
    NewEntry {
        time: Timestamp::parse(&format!("2026-03-01T10:{:02}:{:02}Z", i / 60, i % 60))
            .unwrap()
            .to_string(),
        actor: actor.into(),
        org: "org".into(),
        role: "vendor".into(),
        action: "run.create".into(),
        object: format!("run/{i}"),
        outcome: "ok".into(),
        request_id: format!("req-{i}"),
        case_id: case.map(|c| c.to_string()),
    }
}

async fn append_n(s: &Store, n: usize) {
    for i in 0..n {
        s.append_audit(entry(i, None, "vera")).await.unwrap();
    }
}

fn chain_break(r: Result<u64, StoreError>) -> (BreakKind, i64) {
    match r {
        Err(StoreError::ChainBroken(b)) => (b.kind, b.seq),
        other => panic!("expected a chain break, got {other:?}"),
    }
}

pub async fn browser_sessions(f: &Fixture) {
    let s = &f.store;
    let org = s.create_org("Datatilsynet", OrgKind::Advisor).await.unwrap();
    let (ada, _) = s.create_user(&org.id, "ada", Role::Advisor).await.unwrap();
    let (bo, _) = s.create_user(&org.id, "bo", Role::Advisor).await.unwrap();
    let key = |n: u32| Digest::of(format!("cookie {n}").as_bytes());
    let keys: Vec<Digest> = (0..6).map(key).collect();
    let csrf: Vec<String> = (0..6).map(|n| format!("secret {n}")).collect();
    let new = |n: usize, user: &'static str| NewSession {
        key: &keys[n],
        user: if user == "ada" { &ada.id } else { &bo.id },
        csrf: &csrf[n],
        keep_per_user: 3,
    };
    s.create_session(new(5, "bo")).await.unwrap();
    for n in 0..5 {
        s.create_session(new(n, "ada")).await.unwrap();
        // Distinct creation times, so "oldest" is well defined.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    for (n, key) in keys.iter().enumerate().take(2) {
        assert_eq!(s.session(key).await.unwrap(), None, "ada's oldest session {n} ended");
    }
    for n in 2..5 {
        let got = s.session(&keys[n]).await.unwrap().expect("one of ada's newest three");
        assert_eq!((&got.user, &got.org, got.csrf.as_str()), (&ada, &org, csrf[n].as_str()));
        assert_eq!(got.created_at, got.seen_at);
    }
    assert_eq!(
        s.session(&keys[5]).await.unwrap().map(|x| x.user),
        Some(bo.clone()),
        "bo's is untouched"
    );

    // Touching moves `seen_at` forward, never back.
    let first = s.session(&keys[4]).await.unwrap().unwrap();
    let later = Timestamp::now();
    s.touch_session(&keys[4], &later).await.unwrap();
    s.touch_session(&keys[4], &first.created_at).await.unwrap();
    let touched = s.session(&keys[4]).await.unwrap().unwrap();
    assert_eq!((touched.seen_at, touched.created_at), (later, first.created_at));

    // A cookie value is never stored twice; a session needs a real user.
    assert!(matches!(
        s.create_session(new(4, "ada")).await,
        Err(StoreError::Conflict(_))
    ));
    let ghost = UserId::generate();
    let orphan = NewSession {
        key: &keys[0],
        user: &ghost,
        csrf: "x",
        keep_per_user: 3,
    };
    assert!(matches!(
        s.create_session(orphan).await,
        Err(StoreError::MissingReference(_))
    ));

    assert!(s.end_session(&keys[4]).await.unwrap());
    assert!(!s.end_session(&keys[4]).await.unwrap(), "already ended");
    assert_eq!(s.session(&keys[4]).await.unwrap(), None);

    // Expiry: bo's session is old, ada's session 2 has been idle; session 3 is neither.
    f.raw
        .exec(
            "UPDATE sessions SET created_at = '2020-01-01T00:00:00.000000Z' \
             WHERE user_id IN (SELECT id FROM users WHERE name = 'bo')",
        )
        .await;
    f.raw
        .exec("UPDATE sessions SET seen_at = '2020-01-01T00:00:00.000000Z' WHERE csrf = 'secret 2'")
        .await;
    let cut = Timestamp::parse("2021-01-01T00:00:00Z").unwrap();
    assert_eq!(s.end_sessions_before(&cut, &cut).await.unwrap(), 2);
    assert_eq!(s.session(&keys[5]).await.unwrap(), None);
    assert_eq!(s.session(&keys[2]).await.unwrap(), None);
    assert!(s.session(&keys[3]).await.unwrap().is_some());
    assert_eq!(s.end_sessions_before(&cut, &cut).await.unwrap(), 0);
}

pub async fn orgs_users_and_tokens(f: &Fixture) {
    let s = &f.store;
    let org = s.create_org("Acme Scoring", OrgKind::Vendor).await.unwrap();
    assert_eq!(s.org(&org.id).await.unwrap(), Some(org.clone()));
    assert!(matches!(
        s.create_org("Acme Scoring", OrgKind::Advisor).await,
        Err(StoreError::Conflict(_))
    ));
    let (user, token) = s.create_user(&org.id, "vera", Role::Vendor).await.unwrap();
    assert_eq!(token.expose().len(), 64);
    assert_eq!(s.user_by_token(token.expose()).await.unwrap(), Some(user.clone()));
    assert_eq!(s.user(&user.id).await.unwrap(), Some(user.clone()));
    let mut wrong = token.expose().to_owned();
    wrong.replace_range(0..1, if wrong.starts_with('0') { "1" } else { "0" });
    assert_eq!(s.user_by_token(&wrong).await.unwrap(), None);
    assert_eq!(s.user_by_token("").await.unwrap(), None);
    // The stored hash is not a token: presenting it must not authenticate.
    let hash = Digest::of(token.expose().as_bytes());
    assert_eq!(s.user_by_token(hash.as_str()).await.unwrap(), None);
    let (second, token2) = s.create_user(&org.id, "vilhelm", Role::Vendor).await.unwrap();
    assert_ne!(token.expose(), token2.expose());
    assert_eq!(s.list_users().await.unwrap().len(), 2);
    assert_eq!(
        s.user_by_token(token2.expose()).await.unwrap().map(|u| u.id),
        Some(second.id)
    );
    let ghost = OrgId::generate();
    assert!(matches!(
        s.create_user(&ghost, "x", Role::Admin).await,
        Err(StoreError::MissingReference(_))
    ));
    assert_eq!(s.org(&ghost).await.unwrap(), None);
    assert_eq!(s.list_orgs().await.unwrap(), vec![org]);
}

pub async fn cases_membership_and_criteria(f: &Fixture) {
    let s = &f.store;
    let w = world(s).await;
    let other = s.create_org("Other Vendor", OrgKind::Vendor).await.unwrap().id;
    s.add_case_member(&w.case, &w.vendor).await.unwrap(); // idempotent
    let mut expected = vec![w.vendor.clone(), w.authority.clone()];
    expected.sort();
    assert_eq!(s.case_members(&w.case).await.unwrap(), expected);
    assert!(s.is_member(&w.case, &w.vendor).await.unwrap());
    assert!(!s.is_member(&w.case, &other).await.unwrap());
    assert_eq!(s.cases_of_org(&w.vendor).await.unwrap().len(), 1);
    assert!(s.cases_of_org(&other).await.unwrap().is_empty());
    let case = s.case(&w.case).await.unwrap().unwrap();
    assert_eq!(
        (case.name.as_str(), &case.created_by),
        ("Boligstøtte 2026", &w.authority_user)
    );
    assert_eq!(s.list_cases().await.unwrap(), vec![case]);
    assert_eq!(s.case(&CaseId::generate()).await.unwrap(), None);
    assert!(matches!(
        s.add_case_member(&CaseId::generate(), &other).await,
        Err(StoreError::MissingReference(_))
    ));

    assert_eq!(s.criteria(&w.case).await.unwrap(), None);
    let c = s
        .set_criteria(&w.case, &json!({"max_dp_gap": 0.1}), &w.authority_user)
        .await
        .unwrap();
    assert_eq!(s.criteria(&w.case).await.unwrap(), Some(c));
    let c2 = s
        .set_criteria(&w.case, &json!({"max_dp_gap": 0.05}), &w.authority_user)
        .await
        .unwrap();
    assert_eq!(s.criteria(&w.case).await.unwrap().unwrap().json, c2.json);
}

pub async fn model_and_run_lifecycle(f: &Fixture) {
    let s = &f.store;
    let w = world(s).await;
    let run = new_run(s, &w, 1000).await;
    let r = s.run(&run).await.unwrap().unwrap();
    assert_eq!((r.state, r.progress_rows, r.total_rows), (RunState::Queued, 0, 1000));
    let models = s.list_models(&w.case).await.unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(
        s.model(&models[0].id).await.unwrap().unwrap().inspection,
        json!({"ok": true})
    );

    let report = Digest::of(b"report");
    let illegal = |e: StoreError, from, to| match e {
        StoreError::IllegalTransition {
            run: id,
            from: f,
            to: t,
        } if id == run && f == from && t == to => {}
        other => panic!("expected {from} -> {to} refused, got {other:?}"),
    };
    illegal(
        s.finish_run(&run, &report).await.unwrap_err(),
        RunState::Queued,
        RunState::Succeeded,
    );
    illegal(
        s.fail_run(&run, "x").await.unwrap_err(),
        RunState::Queued,
        RunState::Failed,
    );
    assert!(matches!(
        s.update_progress(&run, 1).await,
        Err(StoreError::IllegalTransition { .. })
    ));

    let claimed = s.claim_next_queued(u64::MAX).await.unwrap().unwrap();
    assert_eq!((claimed.id.clone(), claimed.state), (run.clone(), RunState::Running));
    assert!(claimed.started_at.is_some());
    assert_eq!(s.claim_next_queued(u64::MAX).await.unwrap(), None);

    s.update_progress(&run, 400).await.unwrap();
    assert_eq!(s.run(&run).await.unwrap().unwrap().progress_rows, 400);
    assert!(matches!(
        s.update_progress(&run, 1001).await,
        Err(StoreError::ProgressOutOfRange { total: 1000, .. })
    ));

    let done = s.finish_run(&run, &report).await.unwrap();
    assert_eq!(
        (done.state, done.progress_rows, done.report_sha256),
        (RunState::Succeeded, 1000, Some(report.clone()))
    );
    assert!(done.finished_at.is_some());
    illegal(
        s.cancel_run(&run, "too late").await.unwrap_err(),
        RunState::Succeeded,
        RunState::Cancelled,
    );
    illegal(
        s.fail_run(&run, "x").await.unwrap_err(),
        RunState::Succeeded,
        RunState::Failed,
    );

    let queued = new_run(s, &w, 10).await;
    let c = s.cancel_run(&queued, "cancelled by vera").await.unwrap();
    assert_eq!(
        (c.state, c.cause.as_deref()),
        (RunState::Cancelled, Some("cancelled by vera"))
    );
    let running = new_run(s, &w, 10).await;
    assert_eq!(s.claim_next_queued(u64::MAX).await.unwrap().unwrap().id, running);
    let failed = s.fail_run(&running, "model crashed").await.unwrap();
    assert_eq!(
        (failed.state, failed.cause.as_deref()),
        (RunState::Failed, Some("model crashed"))
    );

    let ghost = RunId::generate();
    assert!(matches!(
        s.cancel_run(&ghost, "x").await,
        Err(StoreError::NotFound { kind: "run", .. })
    ));
    assert!(matches!(
        s.update_progress(&ghost, 1).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(s.list_runs(&w.case).await.unwrap().len(), 3);
    let mut counts = s.count_runs_by_state().await.unwrap();
    counts.sort_by_key(|(st, _)| st.as_str());
    assert_eq!(
        counts,
        vec![
            (RunState::Cancelled, 1),
            (RunState::Failed, 1),
            (RunState::Succeeded, 1)
        ]
    );
}

pub async fn interrupted_runs_marked(f: &Fixture) {
    let s = &f.store;
    let w = world(s).await;
    let a = new_run(s, &w, 5).await;
    let b = new_run(s, &w, 5).await;
    let c = new_run(s, &w, 5).await;
    s.claim_next_queued(u64::MAX).await.unwrap().unwrap();
    s.claim_next_queued(u64::MAX).await.unwrap().unwrap();
    let mut marked = s
        .mark_interrupted_runs("server restarted during the run")
        .await
        .unwrap();
    marked.sort();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(marked, expected);
    for id in [&a, &b] {
        let r = s.run(id).await.unwrap().unwrap();
        assert_eq!(
            (r.state, r.cause.as_deref()),
            (RunState::Failed, Some("server restarted during the run"))
        );
    }
    assert_eq!(s.run(&c).await.unwrap().unwrap().state, RunState::Queued);
    assert!(s.mark_interrupted_runs("again").await.unwrap().is_empty());
}

pub async fn concurrent_claims_take_each_run_once(f: &Fixture) {
    let s = &f.store;
    let w = world(s).await;
    let mut all = HashSet::new();
    for _ in 0..40 {
        all.insert(new_run(s, &w, 1).await);
    }
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(r) = s.claim_next_queued(u64::MAX).await.unwrap() {
                    assert_eq!(r.state, RunState::Running);
                    mine.push(r.id);
                }
                mine
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap());
    }
    assert_eq!(claimed.len(), 40, "every run claimed exactly once");
    assert_eq!(claimed.into_iter().collect::<HashSet<_>>(), all);
}

/// One organisation queues many runs, then another queues one: with two slots, the second organisation's run is
/// claimed before the first's second run, and an organisation at its running limit gets no more slots.
pub async fn claims_are_fair_across_organisations(f: &Fixture) {
    let s = &f.store;
    let w = world(s).await;
    let other = s.create_org("Fjord AI", OrgKind::Vendor).await.unwrap().id;
    s.add_case_member(&w.case, &other).await.unwrap();
    let (ou, _) = s.create_user(&other, "frida", Role::Vendor).await.unwrap();
    let mut flood = Vec::new();
    for _ in 0..5 {
        flood.push(new_run(s, &w, 100).await);
        // Distinct creation times, so "oldest" is well defined whatever the clock's resolution.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let late = new_run_for(s, &w, &other, &ou.id, 100).await;
    assert_eq!(
        s.org_load(&w.vendor).await.unwrap(),
        store::OrgLoad {
            queued_runs: 5,
            queued_rows: 500,
            running_runs: 0
        }
    );

    // With no per-organisation cap: oldest first, then the organisation with none running.
    let first = s.claim_next_queued(u64::MAX).await.unwrap().unwrap();
    assert_eq!(first.id, flood[0]);
    let second = s.claim_next_queued(u64::MAX).await.unwrap().unwrap();
    assert_eq!(
        second.id, late,
        "the other organisation's run goes before the flood's second"
    );
    // Both have one running now: back to the oldest.
    assert_eq!(s.claim_next_queued(u64::MAX).await.unwrap().unwrap().id, flood[1]);
    assert_eq!(
        s.org_load(&w.vendor).await.unwrap(),
        store::OrgLoad {
            queued_runs: 3,
            queued_rows: 300,
            running_runs: 2
        }
    );

    // With a cap of two running per organisation, the flooding one (at two) gets nothing more.
    assert_eq!(s.claim_next_queued(2).await.unwrap(), None);
    s.fail_run(&flood[0], "done").await.unwrap();
    assert_eq!(s.claim_next_queued(2).await.unwrap().unwrap().id, flood[2]);
    assert_eq!(s.claim_next_queued(2).await.unwrap(), None);
    // A new organisation's run is claimed at once even so.
    let third = s.create_org("Tredje", OrgKind::Vendor).await.unwrap().id;
    let (tu, _) = s.create_user(&third, "tove", Role::Vendor).await.unwrap();
    let t = new_run_for(s, &w, &third, &tu.id, 1).await;
    assert_eq!(s.claim_next_queued(2).await.unwrap().unwrap().id, t);
    assert_eq!(s.org_load(&other).await.unwrap().running_runs, 1);
}

pub async fn concurrent_audit_appends_form_one_chain(f: &Fixture) {
    let s = &f.store;
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    s.append_audit(entry(i, None, &format!("task{t}"))).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(s.verify_audit().await.unwrap(), 200);
    let seqs: Vec<i64> = s.audit_page(0, 1000).await.unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
}

pub async fn audit_filters(f: &Fixture) {
    let s = &f.store;
    let (a, b) = (CaseId::generate(), CaseId::generate());
    for i in 0..10usize {
        let case = if i.is_multiple_of(2) { Some(&a) } else { Some(&b) };
        s.append_audit(entry(i, case, if i < 5 { "vera" } else { "anders" }))
            .await
            .unwrap();
    }
    s.append_audit(entry(10, None, "vera")).await.unwrap();
    let list = |f: AuditFilter| async move {
        s.list_audit(&f)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>()
    };
    let all = AuditFilter {
        limit: 100,
        ..Default::default()
    };
    assert_eq!(list(all.clone()).await, (1..=11).collect::<Vec<_>>());
    assert_eq!(
        list(AuditFilter {
            case: Some(a.clone()),
            ..all.clone()
        })
        .await,
        vec![1, 3, 5, 7, 9]
    );
    assert_eq!(
        list(AuditFilter {
            actor: Some("anders".into()),
            ..all.clone()
        })
        .await,
        vec![6, 7, 8, 9, 10]
    );
    assert_eq!(
        list(AuditFilter {
            case: Some(b.clone()),
            actor: Some("vera".into()),
            ..all.clone()
        })
        .await,
        vec![2, 4]
    );
    let from = Timestamp::parse("2026-03-01T10:00:03Z").ok();
    let to = Timestamp::parse("2026-03-01T10:00:06Z").ok();
    assert_eq!(
        list(AuditFilter {
            from,
            to,
            ..all.clone()
        })
        .await,
        vec![4, 5, 6]
    );
    assert_eq!(
        list(AuditFilter {
            limit: 3,
            offset: 2,
            ..all.clone()
        })
        .await,
        vec![3, 4, 5]
    );
    assert_eq!(
        list(AuditFilter {
            limit: 3,
            offset: 1,
            newest_first: true,
            actor: Some("anders".into()),
            ..all.clone()
        })
        .await,
        vec![9, 8, 7]
    );
    assert_eq!(list(AuditFilter { limit: 0, ..all }).await, Vec::<i64>::new());
    assert_eq!(s.verify_audit().await.unwrap(), 11);
    assert_eq!(s.audit_head().await.unwrap().map(|h| h.seq), Some(11));
}

pub async fn audit_row_edited_in_database(f: &Fixture) {
    append_n(&f.store, 5).await;
    assert_eq!(f.store.verify_audit().await.unwrap(), 5);
    f.raw.exec("UPDATE audit SET outcome = 'denied' WHERE seq = 3").await;
    assert_eq!(chain_break(f.store.verify_audit().await), (BreakKind::Edited, 3));
}

pub async fn audit_row_deleted_in_database(f: &Fixture) {
    append_n(&f.store, 5).await;
    f.raw.exec("DELETE FROM audit WHERE seq = 3").await;
    assert_eq!(chain_break(f.store.verify_audit().await), (BreakKind::Deleted, 3));
}

/// Rows are read back in `seq` order, so moving a row means rewriting its `seq`, which the hash covers: a swap in
/// the database shows as `Edited` at the first moved row (`Reordered` is for out-of-order exported lists).
pub async fn audit_rows_swapped_in_database(f: &Fixture) {
    append_n(&f.store, 5).await;
    f.raw.exec("UPDATE audit SET seq = -1 WHERE seq = 3").await;
    f.raw.exec("UPDATE audit SET seq = 3 WHERE seq = 4").await;
    f.raw.exec("UPDATE audit SET seq = 4 WHERE seq = -1").await;
    assert_eq!(chain_break(f.store.verify_audit().await), (BreakKind::Edited, 3));
}

/// A checkpoint as a verifier holds it: taken by the store, then opened from its text with the public key only.
async fn checkpoint(s: &Store, key: &store::AuditKey) -> store::Checkpoint {
    let signed = s.take_checkpoint(key, &[]).await.unwrap();
    key.verifier().open(&signed.text).unwrap()
}

fn divergence(r: Result<store::Verified, StoreError>) -> store::merkle::Divergence {
    match r {
        Err(StoreError::LogDiverges(d)) => d,
        other => panic!("expected the log to diverge from the checkpoint, got {other:?}"),
    }
}

/// Someone with the database deletes the newest entries: every remaining link is intact, so the chain alone
/// passes; the checkpoint taken before names it.
pub async fn a_cut_tail_is_found_by_a_checkpoint_and_not_by_the_chain(f: &Fixture) {
    let key = store::AuditKey::generate().unwrap();
    append_n(&f.store, 8).await;
    let pin = checkpoint(&f.store, &key).await;
    assert_eq!(pin.size, 8);
    f.raw.exec("DELETE FROM audit WHERE seq > 5").await;
    assert_eq!(
        f.store.verify_audit().await.unwrap(),
        5,
        "the chain alone does not see a cut tail"
    );
    let d = divergence(f.store.check_audit_against(std::slice::from_ref(&pin)).await);
    assert!(
        matches!(
            d,
            store::merkle::Divergence::Shorter {
                checkpoint_size: 8,
                log_size: 5,
                ..
            }
        ),
        "{d}"
    );
}

/// The tail is cut and the log continued through the store's own API with other entries, so it is again as long
/// as the checkpoint (and longer): the chain passes, the tree over the first eight entries differs.
pub async fn a_forged_continuation_is_found_by_a_checkpoint_and_not_by_the_chain(f: &Fixture) {
    let key = store::AuditKey::generate().unwrap();
    append_n(&f.store, 8).await;
    let pin = checkpoint(&f.store, &key).await;
    f.raw.exec("DELETE FROM audit WHERE seq > 5").await;
    for i in 0..4 {
        f.store.append_audit(entry(100 + i, None, "mallory")).await.unwrap();
    }
    assert_eq!(
        f.store.verify_audit().await.unwrap(),
        9,
        "the chain alone accepts the forged continuation"
    );
    let d = divergence(f.store.check_audit_against(std::slice::from_ref(&pin)).await);
    assert!(
        matches!(d, store::merkle::Divergence::Rewritten { checkpoint_size: 8, .. }),
        "{d}"
    );
    // Its stored copy of the checkpoint says the same, and so does every consistency proof from it.
    let leaves = f.store.audit_leaves(None).await.unwrap();
    let proof = store::merkle::consistency_proof(&leaves, 8).unwrap();
    let now = store::merkle::root(&leaves);
    assert!(!store::merkle::verify_consistency(8, 9, &pin.root, &now, &proof));
}

/// Growth is what a log does: a checkpoint taken before still holds, and a proof shows it.
pub async fn a_log_that_grew_after_a_checkpoint_still_meets_it(f: &Fixture) {
    let key = store::AuditKey::generate().unwrap();
    let empty = checkpoint(&f.store, &key).await;
    append_n(&f.store, 3).await;
    let early = checkpoint(&f.store, &key).await;
    append_n(&f.store, 4).await;
    let late = checkpoint(&f.store, &key).await;
    let v = f
        .store
        .check_audit_against(&[late.clone(), empty, early.clone()])
        .await
        .unwrap();
    assert_eq!((v.entries, v.root), (7, late.root));
    let leaves = f.store.audit_leaves(None).await.unwrap();
    assert_eq!(store::merkle::root(&leaves), late.root);
    let proof = store::merkle::consistency_proof(&leaves, 3).unwrap();
    assert!(store::merkle::verify_consistency(3, 7, &early.root, &late.root, &proof));
    assert_eq!(f.store.audit_leaves(Some(3)).await.unwrap(), leaves[..3].to_vec());
    // The store keeps the notes, newest first.
    let notes = f.store.checkpoints(10).await.unwrap();
    assert_eq!(notes.len(), 3);
    assert_eq!(key.verifier().open(&notes[0]).unwrap(), late);
}

/// A finding commits with its audit entry; a correction names what it supersedes and both stay; a second
/// correction of the same finding is refused, so corrections form a line; the stored finding reads back as
/// written, links and all.
pub async fn findings_are_kept_as_written_and_corrected_once_each(f: &Fixture) {
    let s = &f.store;
    let w = world(s).await;
    let run = new_run(s, &w, 10).await;
    let new = |target: store::FindingTarget, supersedes: Option<store::FindingId>| store::NewFinding {
        case_id: w.case.clone(),
        target,
        severity: store::Severity::Medium,
        body: "Selection rate for women is 0.71 of men's [0.66, 0.77].\nAsk for the training data's shares.".into(),
        links: vec![store::EvidenceLink {
            target: store::FindingTarget::Run(run.clone()),
            section: Some("fairness".into()),
        }],
        author: w.authority_user.clone(),
        org_id: w.authority.clone(),
        role: Role::Authority,
        supersedes,
    };
    let first = s
        .create_finding_audited(new(store::FindingTarget::Run(run.clone()), None), |fi| {
            request_entry("find-1", format!("finding/{}", fi.id), Some(&w.case))
        })
        .await
        .unwrap();
    assert_eq!(f.raw.entries_of("find-1").await, 1);
    let fix = s
        .create_finding_audited(new(store::FindingTarget::Case, Some(first.id.clone())), |fi| {
            request_entry("find-2", format!("finding/{}", fi.id), Some(&w.case))
        })
        .await
        .unwrap();
    let again = s
        .create_finding_audited(new(store::FindingTarget::Case, Some(first.id.clone())), |fi| {
            request_entry("find-3", format!("finding/{}", fi.id), Some(&w.case))
        })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(f.raw.entries_of("find-3").await, 0, "a refused finding leaves no entry");
    let all = s.list_findings(&w.case).await.unwrap();
    assert_eq!(all, vec![first.clone(), fix.clone()]);
    assert_eq!(s.finding(&first.id).await.unwrap(), Some(first));
    assert_eq!(fix.supersedes.as_ref(), Some(&all[0].id));
}

/// The entry a request with id `rid` commits with its change.
fn request_entry(rid: &str, object: String, case: Option<&CaseId>) -> NewEntry {
    NewEntry {
        time: Timestamp::now().to_string(),
        actor: "anders".into(),
        org: "org".into(),
        role: "authority".into(),
        action: "POST /test".into(),
        object,
        outcome: "201".into(),
        request_id: rid.into(),
        case_id: case.map(|c| c.to_string()),
    }
}

/// A version no other model of the suite has: a name and version are a vendor's once per case, so the
/// suite's many uploads of "credit" each take their own.
fn fresh_version() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("1.{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn new_model(w: &World) -> NewModel {
    NewModel {
        case_id: w.case.clone(),
        org_id: w.vendor.clone(),
        name: "credit".into(),
        version: fresh_version(),
        scenario: "housing".into(),
        model_sha256: Digest::of(b"onnx"),
        manifest_sha256: Digest::of(b"manifest"),
        inspection: json!({"ok": true}),
    }
}

fn new_run_of(w: &World, model: &store::ModelId) -> NewRun {
    NewRun {
        case_id: w.case.clone(),
        model_id: model.clone(),
        org_id: w.vendor.clone(),
        created_by: w.vendor_user.clone(),
        params: json!({"rows": 10}),
        total_rows: 10,
    }
}

pub async fn every_audited_change_commits_with_exactly_its_entry(f: &Fixture) {
    let s = &f.store;
    let w = world(s).await;
    let third = s.create_org("Tredje", OrgKind::Vendor).await.unwrap().id;
    let case = s
        .create_case_audited(
            "Ny sag",
            &w.authority_user,
            &[w.authority.clone(), w.vendor.clone()],
            |c| request_entry("r-case", format!("case {}", c.id), Some(&c.id)),
        )
        .await
        .unwrap();
    assert_eq!(s.case_members(&case.id).await.unwrap().len(), 2);
    s.add_case_member_audited(
        &case.id,
        &third,
        request_entry("r-member", "member".into(), Some(&case.id)),
    )
    .await
    .unwrap();
    s.set_criteria_audited(
        &w.case,
        &json!([]),
        &w.authority_user,
        request_entry("r-criteria", "c".into(), None),
    )
    .await
    .unwrap();
    let model = s
        .create_model_audited(new_model(&w), |m| {
            request_entry("r-model", format!("model {}", m.id), None)
        })
        .await
        .unwrap();
    let run = s
        .create_run_audited(new_run_of(&w, &model.id), |r| {
            request_entry("r-run", format!("run {}", r.id), None)
        })
        .await
        .unwrap();
    s.cancel_run_audited(&run.id, "by test", request_entry("r-cancel", "run".into(), None))
        .await
        .unwrap();
    // A refused transition writes neither the change nor the entry.
    let again = s
        .cancel_run_audited(&run.id, "again", request_entry("r-again", "run".into(), None))
        .await;
    assert!(matches!(again, Err(StoreError::IllegalTransition { .. })), "{again:?}");
    let key = Digest::of(b"cookie");
    let session = NewSession {
        key: &key,
        user: &w.authority_user,
        csrf: "x",
        keep_per_user: 5,
    };
    s.create_session_audited(session, request_entry("r-login", "session".into(), None))
        .await
        .unwrap();
    assert!(s.session(&key).await.unwrap().is_some());
    assert!(
        s.end_session_audited(&key, request_entry("r-logout", "session".into(), None))
            .await
            .unwrap()
    );
    for rid in [
        "r-case",
        "r-member",
        "r-criteria",
        "r-model",
        "r-run",
        "r-cancel",
        "r-login",
        "r-logout",
    ] {
        assert_eq!(f.raw.entries_of(rid).await, 1, "{rid}");
    }
    assert_eq!(f.raw.entries_of("r-again").await, 0);
    let page = s.audit_page(0, 100).await.unwrap();
    assert_eq!(
        page[0].object,
        format!("case {}", case.id),
        "the entry is made from the stored case"
    );
    assert_eq!(s.verify_audit().await.unwrap(), 8);
}

pub async fn a_change_whose_audit_entry_fails_is_not_stored(f: &Fixture) {
    let s = &f.store;
    let w = world(s).await;
    let model = s.create_model(new_model(&w)).await.unwrap();
    let run = s.create_run(new_run_of(&w, &model.id)).await.unwrap();
    let before: Vec<i64> = {
        let mut v = Vec::new();
        for t in [
            "cases",
            "case_members",
            "criteria",
            "models",
            "runs",
            "sessions",
            "audit",
        ] {
            v.push(f.raw.count(t).await);
        }
        v
    };
    f.raw.refuse_audit_inserts().await;
    let e = |rid: &str| request_entry(rid, "x".into(), None);
    assert!(
        s.create_case_audited("Ny sag", &w.authority_user, std::slice::from_ref(&w.vendor), |_| e("a"))
            .await
            .is_err()
    );
    let third = s.create_org("Tredje", OrgKind::Vendor).await.unwrap().id;
    assert!(s.add_case_member_audited(&w.case, &third, e("b")).await.is_err());
    assert!(
        s.set_criteria_audited(&w.case, &json!([]), &w.authority_user, e("c"))
            .await
            .is_err()
    );
    assert!(s.create_model_audited(new_model(&w), |_| e("d")).await.is_err());
    assert!(
        s.create_run_audited(new_run_of(&w, &model.id), |_| e("e"))
            .await
            .is_err()
    );
    assert!(s.cancel_run_audited(&run.id, "x", e("f")).await.is_err());
    let key = Digest::of(b"cookie");
    let session = NewSession {
        key: &key,
        user: &w.authority_user,
        csrf: "x",
        keep_per_user: 5,
    };
    assert!(s.create_session_audited(session, e("g")).await.is_err());
    let after: Vec<i64> = {
        let mut v = Vec::new();
        for t in [
            "cases",
            "case_members",
            "criteria",
            "models",
            "runs",
            "sessions",
            "audit",
        ] {
            v.push(f.raw.count(t).await);
        }
        v
    };
    assert_eq!(after, before, "a change was stored without its audit entry");
    assert_eq!(s.run(&run.id).await.unwrap().unwrap().state, RunState::Queued);
    // The old way, change then append, is what left cases without entries.
    let orphan = s.create_case("Forældreløs", &w.authority_user).await.unwrap();
    assert!(s.append_audit(e("h")).await.is_err());
    assert!(s.case(&orphan.id).await.unwrap().is_some());
    f.raw.allow_audit_inserts().await;
    s.create_model_audited(new_model(&w), |_| e("i")).await.unwrap();
    assert_eq!(s.verify_audit().await.unwrap(), 1);
}

pub async fn concurrent_audited_changes_form_one_chain(f: &Fixture) {
    let s = &f.store;
    let w = world(s).await;
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let (s, user, org) = (s.clone(), w.authority_user.clone(), w.authority.clone());
            tokio::spawn(async move {
                for i in 0..15 {
                    s.create_case_audited(&format!("sag {t}/{i}"), &user, std::slice::from_ref(&org), |c| {
                        request_entry(&format!("r-{t}-{i}"), format!("case {}", c.id), Some(&c.id))
                    })
                    .await
                    .unwrap();
                    s.append_audit(entry(i, None, "refusal")).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(s.verify_audit().await.unwrap(), 240);
    let page = s.audit_page(0, 1000).await.unwrap();
    for c in s.list_cases().await.unwrap().iter().filter(|c| c.id != w.case) {
        let object = format!("case {}", c.id);
        assert_eq!(page.iter().filter(|e| e.object == object).count(), 1, "{object}");
    }
}

pub async fn a_long_chain_verifies_page_by_page_and_names_a_break_in_the_middle(f: &Fixture) {
    const N: usize = 100_000;
    let mut chain: Vec<store::AuditEntry> = Vec::with_capacity(N);
    for i in 0..N {
        let e = store::chain(chain.last(), entry(i % 3600, None, "anonymous"));
        chain.push(e);
    }
    f.raw.insert_audit(&chain).await;
    drop(chain);
    let s = &f.store;
    let checked = s.check_audit().await.unwrap();
    assert_eq!(checked.entries, N as u64);
    assert_eq!(checked.head.as_ref().map(|h| h.0), Some(N as i64));
    assert_eq!(checked.head, s.audit_head().await.unwrap().map(|h| (h.seq, h.hash)));
    // An entry in the middle, edited, and one on a page boundary, deleted: each is named.
    f.raw
        .exec("UPDATE audit SET outcome = 'denied' WHERE seq = 50001")
        .await;
    assert_eq!(chain_break(s.verify_audit().await), (BreakKind::Edited, 50001));
    f.raw.exec("DELETE FROM audit WHERE seq = 3001").await;
    assert_eq!(chain_break(s.verify_audit().await), (BreakKind::Deleted, 3001));
    f.raw.exec("DELETE FROM audit WHERE seq = 1").await;
    assert_eq!(chain_break(s.verify_audit().await), (BreakKind::Deleted, 1));
}

/// A second upload under a name and version the organisation already used in the case is refused with
/// the first model's id, stores neither model nor audit entry; another organisation, another case or
/// another version may use the name.
pub async fn a_name_and_version_are_an_organisations_once_per_case(f: &Fixture) {
    let s = &f.store;
    let w = world(s).await;
    let named = |case: &CaseId, org: &OrgId, version: &str| NewModel {
        version: version.into(),
        case_id: case.clone(),
        org_id: org.clone(),
        ..new_model(&w)
    };
    let first = s
        .create_model_audited(named(&w.case, &w.vendor, "2.0"), |m| {
            request_entry("r-1", format!("model {}", m.id), None)
        })
        .await
        .unwrap();
    let (models, audit) = (f.raw.count("models").await, f.raw.count("audit").await);
    match s
        .create_model_audited(named(&w.case, &w.vendor, "2.0"), |_| {
            request_entry("r-2", "x".into(), None)
        })
        .await
    {
        Err(StoreError::Conflict(msg)) => {
            assert!(msg.contains(first.id.as_str()) && msg.contains("\"2.0\""), "{msg}")
        }
        other => panic!("a second credit 2.0 from the same organisation in the case was not refused: {other:?}"),
    }
    assert_eq!(
        (f.raw.count("models").await, f.raw.count("audit").await),
        (models, audit)
    );
    let other_case = s.create_case("Anden sag", &w.authority_user).await.unwrap().id;
    let rival = s.create_org("Rival Scoring", OrgKind::Vendor).await.unwrap().id;
    s.add_case_member(&w.case, &rival).await.unwrap();
    s.create_model(named(&other_case, &w.vendor, "2.0")).await.unwrap();
    s.create_model(named(&w.case, &rival, "2.0")).await.unwrap();
    s.create_model(named(&w.case, &w.vendor, "2.1")).await.unwrap();
    assert_eq!(f.raw.count("models").await, models + 3);
    assert_eq!(s.verify_audit().await.unwrap(), 1);
}

/// Each save of a case's document is a new version of its kind with its audit entry; every version stays
/// readable; a row whose text was changed in the database behind the service is refused as corrupt, not served.
pub async fn checklist_versions_are_kept_and_a_changed_row_is_refused(f: &Fixture) {
    use store::DocumentKind::{Checklist, Plan};
    let s = &f.store;
    let w = world(s).await;
    assert_eq!(s.document(&w.case, Checklist, None).await.unwrap(), None);
    let mut saved = Vec::new();
    for (kind, body, rid) in [
        (Checklist, "{\"v\": 1}\n", "check-1"),
        (Plan, "{\"p\": 1}\n", "plan-1"),
        (Checklist, "{\"v\": 2}\n", "check-2"),
    ] {
        let doc = s
            .save_document_audited(&w.case, kind, body, &w.vendor_user, |c| {
                request_entry(rid, format!("{} v{}", c.kind.as_str(), c.version), Some(&w.case))
            })
            .await
            .unwrap();
        saved.push(doc);
    }
    let (one, plan, two) = (saved[0].clone(), saved[1].clone(), saved[2].clone());
    assert_eq!(
        (one.version, plan.version, two.version),
        (1, 1, 2),
        "versions count per kind"
    );
    assert_eq!(two.sha256, store::Digest::of(b"{\"v\": 2}\n"));
    assert_eq!(f.raw.entries_of("check-2").await, 1);
    assert_eq!(s.document(&w.case, Checklist, None).await.unwrap(), Some(two.clone()));
    assert_eq!(s.document(&w.case, Checklist, Some(1)).await.unwrap(), Some(one));
    assert_eq!(s.document(&w.case, Plan, None).await.unwrap(), Some(plan));
    assert_eq!(s.document(&w.case, Checklist, Some(3)).await.unwrap(), None);
    f.raw
        .exec("UPDATE case_documents SET body = '{\"v\": 3}' WHERE kind = 'checklist' AND version = 2")
        .await;
    let changed = s.document(&w.case, Checklist, None).await;
    assert!(matches!(changed, Err(StoreError::Corrupt { .. })), "{changed:?}");
    assert_eq!(f.raw.count("case_documents").await, 3);
}
