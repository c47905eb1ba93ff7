//! Comparing a case's runs: paired comparisons of runs on the same dataset
//! ([`evaluate::compare_runs`]) and the case's leaderboard (every succeeded run's model against
//! the criteria it was judged by). Both only read: whoever sees the runs may compare them.

use crate::app::runs::load_report;
use crate::error::{ApiError, ApiResult};
use crate::policy::{self, Caller};
use crate::state::AppState;
use evaluate::{CompareError, RunComparison};
use store::{Case, RunState};

/// Comparisons computed at once in this process: each generates its dataset again.
static COMPARISONS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Most bootstrap resamples a caller may ask a comparison for.
pub const MAX_COMPARE_RESAMPLES: usize = 10_000;

/// Most runs a leaderboard reads (the newest succeeded ones).
pub const MAX_LEADERBOARD_RUNS: usize = 500;

/// The runs of a comparison, as a caller names them: `a,b,c`.
pub fn parse_runs(text: &str) -> ApiResult<Vec<String>> {
    let ids: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !(2..=evaluate::MAX_COMPARED_RUNS).contains(&ids.len()) {
        return Err(ApiError::bad_request(format!(
            "`runs` names {} runs; a comparison takes 2 to {} run ids separated by commas, the baseline first",
            ids.len(),
            evaluate::MAX_COMPARED_RUNS
        )));
    }
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) {
            return Err(ApiError::bad_request(format!(
                "`runs` names run {} twice; name each run once",
                id.chars().take(64).collect::<String>()
            )));
        }
    }
    Ok(ids)
}

/// Compares runs of a visible case, the first as the baseline.
pub async fn compare(
    state: &AppState,
    caller: &Caller,
    case_id: &str,
    ids: &[String],
    resamples: Option<usize>,
) -> ApiResult<(RunComparison, Case)> {
    let case = policy::case(state, caller, case_id).await?;
    let resamples = resamples.unwrap_or(evaluate::COMPARE_RESAMPLES);
    if resamples > MAX_COMPARE_RESAMPLES {
        return Err(ApiError::bad_request(format!(
            "`resamples` is {resamples}; at most {MAX_COMPARE_RESAMPLES}"
        )));
    }
    // Every run must be visible (404) before any is judged by its state (409).
    let mut runs = Vec::with_capacity(ids.len());
    for id in ids {
        runs.push(policy::run(state, caller, id).await?.0);
    }
    let mut loaded = Vec::with_capacity(ids.len());
    for run in runs {
        if run.case_id != case.id {
            return Err(ApiError::bad_request(format!(
                "run {} is not in case {}; compare runs of one case",
                run.id, case.id
            )));
        }
        if run.state != RunState::Succeeded {
            return Err(ApiError::conflict(format!(
                "run {} is {}; only succeeded runs compare",
                run.id, run.state
            )));
        }
        let report = load_report(state, &run).await?;
        let Some(scores) = report.scores_sha256.clone() else {
            return Err(ApiError::conflict(format!(
                "run {} was stored before runs kept each row's probability, so its rows cannot be paired; \
                 start it again to compare it",
                run.id
            )));
        };
        let digest: store::Digest = scores
            .parse()
            .map_err(|_| ApiError::internal(format!("run {}: its probabilities' hash does not read", run.id)))?;
        loaded.push((run.id.to_string(), report.record, digest));
    }
    // The slot is held by the blocking work itself, so a caller that goes away does not free it early.
    let turn = COMPARISONS
        .acquire()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let blobs = state.blobs.clone();
    let outcome = tokio::task::spawn_blocking(move || -> ApiResult<Result<RunComparison, CompareError>> {
        let _turn = turn;
        let mut scores = Vec::with_capacity(loaded.len());
        for (_, _, digest) in &loaded {
            scores.push(evaluate::decode_scores(&blobs.get(digest)?).map_err(|e| ApiError::internal(e.to_string()))?);
        }
        let compared: Vec<evaluate::Compared<'_>> = loaded
            .iter()
            .zip(&scores)
            .map(|((name, record, _), scores)| evaluate::Compared {
                name: name.clone(),
                record,
                scores,
            })
            .collect();
        Ok(evaluate::compare_runs(&compared, resamples, 0.95))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    match outcome {
        Ok(c) => Ok((c, case)),
        Err(
            e @ (CompareError::DifferentDatasets { .. }
            | CompareError::Regenerated { .. }
            | CompareError::Scores { .. }),
        ) => Err(ApiError::conflict(e.to_string())),
        Err(e @ CompareError::Count(_)) => Err(ApiError::bad_request(e.to_string())),
        Err(e) => Err(ApiError::internal(e.to_string())),
    }
}

/// One succeeded run on a case's leaderboard.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct LeaderboardRow {
    /// The run.
    pub run: String,
    /// Its model's id.
    pub model_id: String,
    /// The model's name and version (from its manifest).
    pub model: String,
    /// SHA-256 of the model's bytes.
    pub model_sha256: String,
    /// SHA-256 of the dataset it scored: rows with the same hash compare as paired samples.
    pub dataset_sha256: String,
    /// Citizens scored (twins included).
    pub rows: u64,
    /// Its verdict on each of the leaderboard's criteria, in their order (`pass`, `fail`,
    /// `inconclusive`); `None` where the run was not judged by it.
    pub verdicts: Vec<Option<String>>,
    /// Criteria passed.
    pub passed: usize,
    /// Criteria failed.
    pub failed: usize,
}

/// Every succeeded run of a case against the criteria any of them was judged by.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Leaderboard {
    /// The criteria, in words, in the order the runs first met them.
    pub criteria: Vec<String>,
    /// The runs, most criteria passed first, then fewest failed, then newest.
    pub rows: Vec<LeaderboardRow>,
}

/// Most runs the case page's leaderboard reads on each view.
pub const PAGE_LEADERBOARD_RUNS: usize = 50;

/// The leaderboard of a visible case: the newest `limit` succeeded runs the caller may see.
pub async fn leaderboard(
    state: &AppState,
    caller: &Caller,
    case_id: &str,
    limit: usize,
) -> ApiResult<(Leaderboard, Case)> {
    let case = policy::case(state, caller, case_id).await?;
    let mut runs: Vec<store::Run> = policy::runs_of_case(state, caller, &case)
        .await?
        .into_iter()
        .filter(|r| r.state == RunState::Succeeded)
        .collect();
    runs.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    runs.truncate(limit.min(MAX_LEADERBOARD_RUNS));
    let mut records = Vec::with_capacity(runs.len());
    for run in &runs {
        records.push(load_report(state, run).await?.record);
    }
    let board = rank(runs.iter().zip(&records));
    Ok((board, case))
}

/// The leaderboard of succeeded runs given newest first, each with its record: every criterion any of them was
/// judged by, in the order first met, and the runs most criteria passed first, then fewest failed (stable, so
/// newest first among equals).
pub fn rank<'a>(runs: impl IntoIterator<Item = (&'a store::Run, &'a evaluate::RunRecord)>) -> Leaderboard {
    let mut criteria: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for (run, record) in runs {
        let mut verdicts: Vec<(usize, String)> = Vec::new();
        for v in &record.verdicts {
            let text = v.criterion.describe_with_bound();
            let k = match criteria.iter().position(|c| *c == text) {
                Some(k) => k,
                None => {
                    criteria.push(text);
                    criteria.len() - 1
                }
            };
            verdicts.push((k, v.verdict.as_str().to_owned()));
        }
        let p = &record.provenance;
        rows.push((
            LeaderboardRow {
                run: run.id.to_string(),
                model_id: run.model_id.to_string(),
                model: format!("{} {}", p.manifest.name, p.manifest.version),
                model_sha256: p.model_sha256.clone(),
                dataset_sha256: p.dataset_sha256.clone(),
                rows: p.dataset_rows,
                passed: verdicts.iter().filter(|(_, v)| v == "pass").count(),
                failed: verdicts.iter().filter(|(_, v)| v == "fail").count(),
                verdicts: Vec::new(),
            },
            verdicts,
        ));
    }
    let n = criteria.len();
    let mut rows: Vec<LeaderboardRow> = rows
        .into_iter()
        .map(|(mut row, verdicts)| {
            row.verdicts = vec![None; n];
            for (k, v) in verdicts {
                row.verdicts[k] = Some(v);
            }
            row
        })
        .collect();
    rows.sort_by(|a, b| b.passed.cmp(&a.passed).then(a.failed.cmp(&b.failed)));
    Leaderboard { criteria, rows }
}
