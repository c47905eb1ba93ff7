//! Building a case's exit report from the store, for one reader: everything is read through the same rules as
//! the case's other views (a vendor reads its own models and runs, the findings on them, the plan and the
//! checklist with only its own work named), so the report never shows a reader more than the pages would.

use super::*;
use crate::app;
use crate::error::{ApiError, ApiResult};
use crate::policy::{self, Caller};
use crate::state::AppState;
use std::collections::{BTreeMap, HashMap};
use store::{AuditFilter, Case, Role, Run, RunState};

/// Most runs one exit report lists (the newest); the count of the others is given.
pub const MAX_RUNS: usize = 500;

/// Resamples behind each comparison's intervals in an exit report.
pub const RESAMPLES: usize = 1000;

/// The exit report of a visible case as `caller` may read it, listing its newest [`MAX_RUNS`] runs. For oversight
/// and the case's authority it signs a new audit checkpoint when the newest one does not cover every entry of the
/// case written so far; a vendor's report stands on the newest checkpoint as it is.
pub async fn for_caller(state: &AppState, caller: &Caller, case_id: &str) -> ApiResult<(ExitReport, Case)> {
    build(state, caller, case_id, MAX_RUNS).await
}

async fn build(state: &AppState, caller: &Caller, case_id: &str, max_runs: usize) -> ApiResult<(ExitReport, Case)> {
    let case = policy::case(state, caller, case_id).await?;
    let store = &state.store;
    let mut names = Names::default();

    let participants = app::cases::members_of(store, &case)
        .await?
        .into_iter()
        .map(|o| ParticipantInfo {
            organisation: o.name,
            kind: o.kind.as_str().to_owned(),
        })
        .collect();
    let opened_by = names.org_of_user(state, &case.created_by).await?;
    let plan = app::plan::load(state, caller, &case, None)
        .await?
        .map(|(plan, s)| PlanInForce {
            version: s.version,
            sha256: s.sha256.to_string(),
            saved_at: s.saved_at.to_string(),
            plan,
        });
    let criteria = app::cases::criteria_of(state, &case)
        .await?
        .iter()
        .map(|c| c.describe_with_bound())
        .collect();

    let models = policy::visible_models(caller, store.list_models(&case.id).await?);
    let model_names: HashMap<String, String> = models
        .iter()
        .map(|m| (m.id.to_string(), format!("{} {}", m.name, m.version)))
        .collect();
    let mut model_infos = Vec::with_capacity(models.len());
    for m in &models {
        model_infos.push(ModelInfo {
            id: m.id.to_string(),
            name: format!("{} {}", m.name, m.version),
            organisation: names.org(state, &m.org_id).await?,
            scenario: m.scenario.clone(),
            model_sha256: m.model_sha256.to_string(),
            manifest_sha256: m.manifest_sha256.to_string(),
            uploaded_at: m.created_at.to_string(),
        });
    }

    let mut runs = policy::runs_of_case(state, caller, &case).await?;
    runs.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.as_str().cmp(b.id.as_str())));
    let runs_not_listed = runs.len().saturating_sub(max_runs);
    let runs: Vec<Run> = runs.split_off(runs_not_listed);
    let mut run_infos = Vec::with_capacity(runs.len());
    // Succeeded runs with their records, newest first for the leaderboard.
    let mut succeeded: Vec<(Run, evaluate::RunRecord, bool)> = Vec::new();
    for run in &runs {
        let params: crate::RunParams = serde_json::from_value(run.params.clone())
            .map_err(|e| ApiError::internal(format!("run {}: its stored parameters do not read: {e}", run.id)))?;
        let mut info = RunInfo {
            id: run.id.to_string(),
            model_id: run.model_id.to_string(),
            model: model_names
                .get(run.model_id.as_str())
                .cloned()
                .unwrap_or_else(|| run.model_id.to_string()),
            state: run.state.as_str().to_owned(),
            started_by: names.user(state, &run.created_by).await?,
            created_at: run.created_at.to_string(),
            finished_at: run.finished_at.as_ref().map(|t| t.to_string()),
            cause: run.cause.clone(),
            plan_version: params.plan_version,
            rows: run.total_rows,
            scenario: params.dataset.scenario.clone(),
            seed: params.dataset.seed,
            record_sha256: run.report_sha256.as_ref().map(|d| d.to_string()),
            result: None,
        };
        if run.state == RunState::Succeeded {
            let stored = app::runs::load_report(state, run).await?;
            info.result = Some(result_of(&stored.record));
            succeeded.push((run.clone(), stored.record, stored.scores_sha256.is_some()));
        }
        run_infos.push(info);
    }
    succeeded.reverse();
    let isolation = isolation_of(run_infos.iter().filter_map(|r| r.result.as_ref()));
    let leaderboard = app::compare::rank(succeeded.iter().map(|(run, record, _)| (run, record)));
    let (comparisons, not_compared) = compare_on_each_dataset(state, caller, &case, &succeeded).await;

    let findings = findings_of(state, caller, &case, &mut names).await?;
    let checklist = checklist_of(app::checklist::load(state, caller, &case, None).await?);
    let checkpoint = covering_checkpoint(state, caller, &case).await?;

    let report = ExitReport {
        format: FORMAT.to_owned(),
        case: CaseInfo {
            id: case.id.to_string(),
            name: case.name.clone(),
            opened_by,
            opened_at: case.created_at.to_string(),
        },
        generated_at: store::Timestamp::now().to_string(),
        reader: Reader {
            name: caller.user.name.clone(),
            organisation: caller.org.name.clone(),
            role: caller.role().as_str().to_owned(),
        },
        complete: caller.role() != Role::Vendor && runs_not_listed == 0,
        sandbox_version: env!("CARGO_PKG_VERSION").to_owned(),
        participants,
        plan,
        criteria,
        models: model_infos,
        runs: run_infos,
        runs_not_listed,
        isolation,
        leaderboard,
        comparisons,
        not_compared,
        findings,
        checklist,
        checkpoint,
    };
    Ok((report, case))
}

/// The exit report of a case as the operator reads it, for its evidence bundle (`sandkasse evidence export`): the
/// whole case with every run, named as read by "the Sandkasse operator", who has no account in the store.
pub async fn for_operator(state: &AppState, case_id: &store::CaseId) -> ApiResult<ExitReport> {
    let org = store::Org {
        id: store::OrgId::generate(),
        name: "Sandkasse (operatør / operator)".to_owned(),
        kind: store::OrgKind::Admin,
    };
    let caller = Caller {
        user: store::User {
            id: store::UserId::generate(),
            org_id: org.id.clone(),
            name: "sandkasse evidence export".to_owned(),
            role: Role::Admin,
            created_at: store::Timestamp::now(),
        },
        org,
    };
    Ok(build(state, &caller, case_id.as_str(), usize::MAX).await?.0)
}

/// Names of users and organisations, each read once.
#[derive(Default)]
struct Names {
    users: HashMap<String, (String, String)>,
    orgs: HashMap<String, String>,
}

impl Names {
    async fn org(&mut self, state: &AppState, id: &store::OrgId) -> ApiResult<String> {
        if let Some(n) = self.orgs.get(id.as_str()) {
            return Ok(n.clone());
        }
        let name = state.store.org(id).await?.map_or_else(|| id.to_string(), |o| o.name);
        self.orgs.insert(id.to_string(), name.clone());
        Ok(name)
    }

    /// The user's name and organisation's name.
    async fn person(&mut self, state: &AppState, id: &store::UserId) -> ApiResult<(String, String)> {
        if let Some(p) = self.users.get(id.as_str()) {
            return Ok(p.clone());
        }
        let p = match state.store.user(id).await? {
            Some(u) => {
                let org = self.org(state, &u.org_id).await?;
                (u.name, org)
            }
            None => (id.to_string(), String::new()),
        };
        self.users.insert(id.to_string(), p.clone());
        Ok(p)
    }

    async fn user(&mut self, state: &AppState, id: &store::UserId) -> ApiResult<String> {
        Ok(self.person(state, id).await?.0)
    }

    async fn org_of_user(&mut self, state: &AppState, id: &store::UserId) -> ApiResult<String> {
        Ok(self.person(state, id).await?.1)
    }
}

/// What a succeeded run's record says, for the report.
pub(crate) fn result_of(record: &evaluate::RunRecord) -> RunResult {
    let p = &record.provenance;
    RunResult {
        model_sha256: p.model_sha256.clone(),
        dataset_sha256: p.dataset_sha256.clone(),
        dataset_rows: p.dataset_rows,
        sandbox_version: p.sandbox_version.clone(),
        onnxruntime_version: p.onnxruntime_version.clone(),
        isolation_active: p
            .isolation
            .iter()
            .filter(|l| l.active)
            .map(|l| l.layer.clone())
            .collect(),
        isolation_missing: p
            .isolation
            .iter()
            .filter(|l| !l.active)
            .map(|l| format!("{}: {}", l.layer, l.detail))
            .collect(),
        isolation_allowed_missing: p.isolation_allowed_missing.clone(),
        verdicts: record
            .verdicts
            .iter()
            .map(|v| VerdictInfo {
                criterion: v.criterion.describe_with_bound(),
                verdict: v.verdict.as_str().to_owned(),
            })
            .collect(),
    }
}

/// The layers in force in every run, and those some run lacked.
fn isolation_of<'a>(results: impl Iterator<Item = &'a RunResult>) -> IsolationSummary {
    let mut active: BTreeMap<&str, usize> = BTreeMap::new();
    let mut missing: BTreeMap<String, usize> = BTreeMap::new();
    let mut runs = 0;
    let mut allowed = false;
    for r in results {
        runs += 1;
        for l in &r.isolation_active {
            *active.entry(l.as_str()).or_default() += 1;
        }
        for l in &r.isolation_missing {
            let layer = l.split(':').next().unwrap_or(l).to_owned();
            *missing.entry(layer).or_default() += 1;
        }
        allowed |= r.isolation_allowed_missing.as_ref().is_some_and(|a| !a.is_empty());
    }
    // A layer active in some runs only is missing in the others.
    for (layer, n) in &active {
        if *n < runs {
            let entry = missing.entry((*layer).to_owned()).or_default();
            *entry = (*entry).max(runs - n);
        }
    }
    IsolationSummary {
        in_every_run: active
            .into_iter()
            .filter(|(_, n)| *n == runs)
            .map(|(l, _)| l.to_owned())
            .collect(),
        missing: missing
            .into_iter()
            .map(|(layer, runs)| MissingLayer { layer, runs })
            .collect(),
        operator_allowed_missing: allowed,
    }
}

/// For each dataset scored by two or more succeeded runs (given newest first), its newest runs compared as
/// paired samples, the oldest of them the baseline; at most [`MAX_COMPARISONS`] datasets, the most recently
/// scored first. What could not be compared is said, not dropped.
async fn compare_on_each_dataset(
    state: &AppState,
    caller: &Caller,
    case: &Case,
    succeeded: &[(Run, evaluate::RunRecord, bool)],
) -> (Vec<evaluate::RunComparison>, Vec<String>) {
    let mut datasets: Vec<(&str, Vec<&Run>, usize)> = Vec::new();
    for (run, record, has_scores) in succeeded {
        let d = record.provenance.dataset_sha256.as_str();
        let k = match datasets.iter().position(|(h, _, _)| *h == d) {
            Some(k) => k,
            None => {
                datasets.push((d, Vec::new(), 0));
                datasets.len() - 1
            }
        };
        if *has_scores {
            datasets[k].1.push(run);
        } else {
            datasets[k].2 += 1;
        }
    }
    let mut comparisons = Vec::new();
    let mut not_compared = Vec::new();
    for (dataset, mut runs, without_scores) in datasets {
        if without_scores > 0 && runs.len() + without_scores >= 2 {
            not_compared.push(format!(
                "dataset {dataset}: {without_scores} run(s) stored before runs kept each row's probability cannot be paired"
            ));
        }
        if runs.len() < 2 {
            continue;
        }
        if comparisons.len() == MAX_COMPARISONS {
            not_compared.push(format!(
                "dataset {dataset}: {} runs not compared; an exit report compares the runs of at most {MAX_COMPARISONS} datasets (compare them at /api/v1/cases/{}/comparison)",
                runs.len(),
                case.id
            ));
            continue;
        }
        runs.truncate(evaluate::MAX_COMPARED_RUNS);
        runs.reverse();
        let ids: Vec<String> = runs.iter().map(|r| r.id.to_string()).collect();
        match app::compare::compare(state, caller, case.id.as_str(), &ids, Some(RESAMPLES)).await {
            Ok((c, _)) => comparisons.push(c),
            Err(e) => not_compared.push(format!("dataset {dataset}: {}", e.message)),
        }
    }
    (comparisons, not_compared)
}

/// The findings the reader may see, with their authors and what supersedes each.
async fn findings_of(state: &AppState, caller: &Caller, case: &Case, names: &mut Names) -> ApiResult<Vec<FindingInfo>> {
    let findings = app::findings::list(state, caller, case).await?;
    let superseded: HashMap<String, String> = findings
        .iter()
        .filter_map(|f| f.supersedes.as_ref().map(|old| (old.to_string(), f.id.to_string())))
        .collect();
    let mut out = Vec::with_capacity(findings.len());
    for f in findings {
        let (author, organisation) = names.person(state, &f.author).await?;
        out.push(FindingInfo {
            superseded_by: superseded.get(f.id.as_str()).cloned(),
            author,
            organisation,
            finding: f,
        });
    }
    Ok(out)
}

fn checklist_of(loaded: app::checklist::Loaded) -> ChecklistInForce {
    let list = &loaded.checklist;
    ChecklistInForce {
        version: loaded.stored.as_ref().map_or(0, |s| s.version),
        sha256: loaded.stored.as_ref().map(|s| s.sha256.to_string()),
        catalogue_version: list.catalogue_version().to_owned(),
        summary: list.summary(),
        items: list
            .items()
            .iter()
            .map(|item| {
                let r = item.requirement().requirement();
                ChecklistRow {
                    id: r.id.as_str().to_owned(),
                    article: [r.article.da.to_owned(), r.article.en.to_owned()],
                    title: [r.title.da.to_owned(), r.title.en.to_owned()],
                    status: item.status().as_str().to_owned(),
                    answer: item.answer().to_owned(),
                    evidence: item.evidence().iter().map(|l| l.to_string()).collect(),
                }
            })
            .collect(),
    }
}

/// The newest signed checkpoint if it covers the case's newest audit entry, else a new one.
pub(super) async fn covering_checkpoint(state: &AppState, caller: &Caller, case: &Case) -> ApiResult<CheckpointInfo> {
    // A vendor reads the newest checkpoint as it is: signing one is for oversight (a vendor could otherwise
    // make the sandbox verify and sign the whole log on every request), and when the case's entries were last
    // written would tell a vendor when the others act in the case.
    let vendor = caller.role() == Role::Vendor;
    let newest = if vendor {
        None
    } else {
        state
            .store
            .list_audit(&AuditFilter {
                case: Some(case.id.clone()),
                limit: 1,
                newest_first: true,
                ..AuditFilter::default()
            })
            .await?
            .first()
            .map(|e| e.seq.max(0) as u64)
    };
    let latest = app::audit::latest_checkpoint(state).await?;
    let signed = match latest {
        Some(c) if vendor || c.checkpoint.size >= newest.unwrap_or(0) => c,
        _ => app::audit::take_checkpoint(state).await?,
    };
    let c = &signed.checkpoint;
    Ok(CheckpointInfo {
        origin: c.origin.clone(),
        size: c.size,
        root: store::merkle::to_hex(&c.root),
        time: c.time.to_string(),
        case_entries_up_to: newest,
        note: signed.text.clone(),
        public_key: state.audit_key.verifier().to_string(),
    })
}
