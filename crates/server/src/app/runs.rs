//! Runs: queued after the checks, cancelled, and their stored reports read back typed and
//! rendered.

use crate::app::cases::{check_criteria, criteria_of};
use crate::error::{ApiError, ApiResult};
use crate::middleware::Audit;
use crate::policy::{self, Action, Caller};
use crate::runner::{RunParams, StoredReport};
use crate::state::AppState;
use axum::http::StatusCode;
use evaluate::EvaluateError;
use serde::Deserialize;
use serde_json::{Value, json};
use store::{Case, NewRun, Run, RunState};
use synth::{Counterfactual, DatasetSpec, Split};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "NewRun")]
#[serde(deny_unknown_fields)]
/// A run to start: which model, on how many synthetic citizens of its scenario, with which bias.
pub struct RunRequest {
    /// A model the caller can see.
    pub model_id: String,
    /// If given, must be the model's scenario.
    pub scenario: Option<String>,
    /// Citizens of the test split, 1 to the server's limit.
    #[serde(default = "default_rows")]
    pub rows: u64,
    /// The generator's seed: the same seed gives the same citizens.
    #[serde(default)]
    pub seed: u64,
    /// Bias knobs as `name=value` (e.g. `label_bias=0.2`), at most 20.
    #[serde(default)]
    pub bias: Vec<String>,
    /// `origin` or `sex`: also score each citizen's counterfactual twin.
    pub counterfactual: Option<String>,
    /// Criteria of this run instead of the case's (authorities and admins only).
    #[schemars(with = "Option<Vec<fairness::Criterion>>")]
    pub criteria: Option<Vec<Value>>,
    /// Skip the explanation stage (permutation importance and partial dependence), which runs
    /// by default.
    #[serde(default)]
    pub no_explain: bool,
    /// The explanation stage's options instead of the defaults (5000 rows, the default
    /// repeats): `rows` 1 to 100000, `repeats` 2 to 1000, the rows explained (at most the run's)
    /// × `repeats` at most 250000, at most 64 `dependence` columns.
    /// Not together with `no_explain`.
    pub explain: Option<evaluate::ExplainOptions>,
    /// Skip the causal-path stage (path-specific twins), which runs by default.
    #[serde(default)]
    pub no_paths: bool,
    /// The causal-path stage's options instead of the defaults (paths `total`, `proxy`,
    /// `mediated` on the first 20000 citizens, the scenario's proxies): `rows` 1 to
    /// 100000, 1 to 8 distinct `paths` (`through` and `hold` name 1 to 64 columns), at most
    /// 64 `proxies`. Column names are 1 to 64 letters, digits, `_`, `-` or `.`. Not together
    /// with `no_paths`.
    pub paths: Option<evaluate::PathOptions>,
    /// Skip the perturbation and recourse stages (each input moved by its stated measurement
    /// error; the smallest change of an actionable input that changes an unfavourable decision),
    /// which run by default. The stability check runs in every run regardless.
    #[serde(default)]
    pub no_robustness: bool,
    /// The perturbation and recourse stages' options instead of the defaults (5000 rows, scale
    /// 1): `rows` 1 to 65536, `scale` 0 to 10 (0 moves nothing; a criterion on robustness is
    /// judged only at scale 1). Not together with `no_robustness`.
    pub robustness: Option<evaluate::RobustnessOptions>,
    /// Also evaluate the model on the shift grid (populations with one setting changed from the
    /// run's: proxy strength, label bias rate, representation factor, each region), which is off
    /// unless given: `rows` citizens per population, 1 to 200000 and at most the server's run
    /// limit; `axes` (default all) from `proxy_strength`, `label_rate`, `representation_factor`,
    /// `region`. Like the other stages' extra scoring, it is bounded per run (at most 11
    /// populations of `rows`) rather than counted in the organisation's queued rows.
    pub shift: Option<evaluate::ShiftOptions>,
}

fn default_rows() -> u64 {
    100_000
}

/// The most rows the explanation stage may explain.
pub const MAX_EXPLAIN_ROWS: usize = 100_000;
/// The most permutations per column the explanation stage may make (as the evaluation checks).
pub const MAX_EXPLAIN_REPEATS: usize = 1000;
/// The most rows explained (`explain.rows`, at most the run's `rows`) × `explain.repeats` of one
/// run: the importance stage scores that many rows for each input column, outside the
/// organisation's queued-rows quota, so many rows and many repeats together are refused (the
/// default is 5,000 × 5, a tenth of this).
pub const MAX_EXPLAIN_ROW_REPEATS: usize = 250_000;
/// The most paths one run measures: the evaluation's own bound.
pub const MAX_PATHS: usize = evaluate::MAX_PATHS;
/// The most columns a path, the proxies or the partial-dependence list may name.
pub const MAX_STAGE_COLUMNS: usize = 64;
/// The longest column name a stage's options may carry.
pub const MAX_COLUMN_CHARS: usize = 64;

/// A 400 naming the field that was refused.
fn refuse(field: &str, message: String) -> ApiError {
    ApiError::bad_request(format!("{field}: {message}")).with_details(json!({ "field": field }))
}

/// Refuses a list of column names longer than [`MAX_STAGE_COLUMNS`] or a name that is empty,
/// longer than [`MAX_COLUMN_CHARS`] or has a character a column name never has.
fn check_columns(field: &str, columns: &[String]) -> ApiResult<()> {
    if columns.len() > MAX_STAGE_COLUMNS {
        return Err(refuse(
            field,
            format!("at most {MAX_STAGE_COLUMNS} columns, got {}", columns.len()),
        ));
    }
    for c in columns {
        let shown: String = c.chars().take(30).collect();
        if c.is_empty() || c.chars().count() > MAX_COLUMN_CHARS {
            return Err(refuse(
                field,
                format!(
                    "a column name must be 1 to {MAX_COLUMN_CHARS} characters, got {} ({shown:?}…)",
                    c.chars().count()
                ),
            ));
        }
        if !c
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.'))
        {
            return Err(refuse(
                field,
                format!("column {shown:?}: a column name has only letters, digits, '_', '-' and '.'"),
            ));
        }
    }
    Ok(())
}

/// The analysis stages `body` asks for, bounded: `None` skips a stage, a stage not mentioned
/// runs with its defaults (as `evaluate::Request::new` sets them). Refuses (400, naming the
/// field) options out of range, so no run is queued that could only fail or run unbounded.
pub fn stages(body: &RunRequest) -> ApiResult<(Option<evaluate::ExplainOptions>, Option<evaluate::PathOptions>)> {
    let explain = match (body.no_explain, &body.explain) {
        (true, Some(_)) => {
            return Err(refuse("explain", "give explain or no_explain, not both".into()));
        }
        (true, None) => None,
        (false, given) => {
            let o = given.clone().unwrap_or_default();
            if !(1..=MAX_EXPLAIN_ROWS).contains(&o.rows) {
                return Err(refuse(
                    "explain.rows",
                    format!("must be in 1..={MAX_EXPLAIN_ROWS}, got {}", o.rows),
                ));
            }
            if !(2..=MAX_EXPLAIN_REPEATS).contains(&o.repeats) {
                return Err(refuse(
                    "explain.repeats",
                    format!(
                        "must be in 2..={MAX_EXPLAIN_REPEATS} (an interval needs two), got {}",
                        o.repeats
                    ),
                ));
            }
            // The stage explains at most the run's own rows.
            let explained = o.rows.min(usize::try_from(body.rows).unwrap_or(usize::MAX));
            if explained.saturating_mul(o.repeats) > MAX_EXPLAIN_ROW_REPEATS {
                return Err(refuse(
                    "explain.repeats",
                    format!(
                        "rows explained × repeats must be at most {MAX_EXPLAIN_ROW_REPEATS} (each input column \
                         is scored that many times), got {explained} × {}; ask for fewer rows or repeats",
                        o.repeats
                    ),
                ));
            }
            if let Some(d) = &o.dependence {
                check_columns("explain.dependence", d)?;
            }
            Some(o)
        }
    };
    let paths = match (body.no_paths, &body.paths) {
        (true, Some(_)) => return Err(refuse("paths", "give paths or no_paths, not both".into())),
        (true, None) => None,
        (false, given) => {
            let o = given.clone().unwrap_or_default();
            if !(1..=evaluate::MAX_PATH_ROWS).contains(&o.rows) {
                return Err(refuse(
                    "paths.rows",
                    format!("must be in 1..={}, got {}", evaluate::MAX_PATH_ROWS, o.rows),
                ));
            }
            if o.paths.is_empty() || o.paths.len() > MAX_PATHS {
                return Err(refuse(
                    "paths.paths",
                    format!(
                        "name 1 to {MAX_PATHS} paths (total, proxy, mediated, through, hold), got {}",
                        o.paths.len()
                    ),
                ));
            }
            for p in &o.paths {
                if let synth::Path::Through(c) | synth::Path::Hold(c) = p {
                    check_columns("paths.paths", c)?;
                    if c.is_empty() {
                        return Err(refuse(
                            "paths.paths",
                            "through and hold name at least one column".into(),
                        ));
                    }
                }
            }
            let mut names: Vec<String> = o.paths.iter().map(synth::Path::name).collect();
            names.sort();
            if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
                return Err(refuse("paths.paths", format!("path {} is asked for twice", w[0])));
            }
            if let Some(p) = &o.proxies {
                check_columns("paths.proxies", p)?;
            }
            Some(o)
        }
    };
    Ok((explain, paths))
}

/// The perturbation stage `body` asks for, bounded: `None` skips it, not mentioned it runs with
/// its defaults. Refuses (400, naming the field) options out of range.
pub fn robustness_stage(body: &RunRequest) -> ApiResult<Option<evaluate::RobustnessOptions>> {
    match (body.no_robustness, &body.robustness) {
        (true, Some(_)) => Err(refuse(
            "robustness",
            "give robustness or no_robustness, not both".into(),
        )),
        (true, None) => Ok(None),
        (false, given) => {
            let o = given.clone().unwrap_or_default();
            if !(1..=evaluate::MAX_ROBUSTNESS_ROWS).contains(&o.rows) {
                return Err(refuse(
                    "robustness.rows",
                    format!("must be in 1..={}, got {}", evaluate::MAX_ROBUSTNESS_ROWS, o.rows),
                ));
            }
            if !(o.scale.is_finite() && (0.0..=10.0).contains(&o.scale)) {
                return Err(refuse(
                    "robustness.scale",
                    format!(
                        "must be 0 to 10 (1 is the scenario's stated measurement error), got {}",
                        o.scale
                    ),
                ));
            }
            Ok(Some(o))
        }
    }
}

/// The shift grid `body` asks for, bounded: off unless given. Refuses (400, naming the field)
/// rows out of range (at most [`evaluate::MAX_SHIFT_ROWS`] and the server's run limit), no axis,
/// or an axis twice.
pub fn shift_stage(state: &AppState, body: &RunRequest) -> ApiResult<Option<evaluate::ShiftOptions>> {
    let Some(o) = &body.shift else { return Ok(None) };
    let limit = (evaluate::MAX_SHIFT_ROWS as u64).min(state.config.max_run_rows);
    if o.rows == 0 || o.rows as u64 > limit {
        return Err(refuse("shift.rows", format!("must be in 1..={limit}, got {}", o.rows)));
    }
    evaluate::check_shift(Some(o), None, &[]).map_err(|e| refuse("shift.axes", e.to_string()))?;
    Ok(Some(o.clone()))
}

/// Refuses (422) a `recourse_gap` criterion the run could only find inconclusive: the model's
/// scenario declares nothing to act on, or its manifest reads none of it. Reads the manifest only
/// when there is such a criterion.
async fn check_recourse(state: &AppState, model: &store::Model, criteria: &[fairness::Criterion]) -> ApiResult<()> {
    if !criteria
        .iter()
        .any(|c| c.metric == fairness::CriterionMetric::RecourseGap)
    {
        return Ok(());
    }
    let blobs = state.blobs.clone();
    let digest = model.manifest_sha256.clone();
    let bytes = tokio::task::spawn_blocking(move || blobs.get(&digest))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(format!("the model's manifest: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| ApiError::internal(format!("the model's manifest: {e}")))?;
    let manifest =
        inference::Manifest::parse(&text).map_err(|e| ApiError::internal(format!("the model's manifest: {e}")))?;
    evaluate::check_recourse(criteria, &model.scenario, &manifest.columns())
        .map_err(|e| ApiError::unprocessable("invalid_criteria", e.to_string()))
}

/// Refuses (422) paths the scenario's causal graph does not have, and criteria naming a path
/// the run does not measure: either run could only fail.
fn check_paths(
    spec: &DatasetSpec,
    paths: Option<&evaluate::PathOptions>,
    criteria: &[fairness::Criterion],
) -> ApiResult<()> {
    evaluate::check_paths(paths, spec, criteria).map_err(|e| match e {
        EvaluateError::Paths(m) => ApiError::unprocessable("invalid_paths", format!("causal paths: {m}")),
        other => ApiError::unprocessable("invalid_paths", other.to_string()),
    })
}

/// Queues a run (with `audit`'s entry) after the same checks for the API and the pages.
pub async fn start(state: &AppState, caller: &Caller, audit: Audit<'_>, body: &RunRequest) -> ApiResult<(Run, Case)> {
    let (model, case) = policy::model(state, caller, &body.model_id).await?;
    caller.require(Action::StartRun)?;
    if let Some(s) = &body.scenario
        && *s != model.scenario
    {
        return Err(ApiError::unprocessable(
            "scenario_mismatch",
            format!("the model is for scenario {:?}, not {:?}", model.scenario, s),
        ));
    }
    if body.rows == 0 || body.rows > state.config.max_run_rows {
        return Err(ApiError::bad_request(format!(
            "rows must be in 1..={}, got {}",
            state.config.max_run_rows, body.rows
        )));
    }
    if body.bias.len() > 20 {
        return Err(ApiError::bad_request("at most 20 bias settings"));
    }
    let (explain, paths) = stages(body)?;
    let robustness = robustness_stage(body)?;
    let criteria = match &body.criteria {
        Some(list) => {
            caller.require(Action::SetRunCriteria)?;
            check_criteria(list)?
        }
        None => criteria_of(state, &case).await?,
    };
    let bad = |e: synth::SynthError| ApiError::unprocessable("invalid_dataset", e.to_string());
    let mut spec = DatasetSpec::new(&model.scenario, body.rows, body.seed).map_err(bad)?;
    spec.apply_bias_args(&body.bias).map_err(bad)?;
    spec.split = Split::Test;
    if let Some(attr) = &body.counterfactual {
        spec.counterfactual = Some(Counterfactual::parse(attr).map_err(bad)?);
    }
    let total_rows = synth::Generator::new(spec.clone()).map_err(bad)?.output_rows();
    check_paths(&spec, paths.as_ref(), &criteria)?;
    evaluate::check_robustness(robustness.as_ref(), &criteria)
        .map_err(|e| ApiError::unprocessable("invalid_criteria", e.to_string()))?;
    check_recourse(state, &model, &criteria).await?;
    let shift = shift_stage(state, body)?;
    evaluate::check_shift(shift.as_ref(), Some(&spec), &criteria)
        .map_err(|e| ApiError::unprocessable("invalid_criteria", e.to_string()))?;
    check_org_limits(state, caller, total_rows).await?;
    let params = RunParams {
        dataset: spec,
        criteria,
        bootstrap: state.config.bootstrap,
        explain,
        paths,
        robustness,
        shift,
        plan_version: crate::app::plan::version_in_force(state, &case).await?,
    };
    let new = NewRun {
        case_id: case.id.clone(),
        model_id: model.id.clone(),
        org_id: caller.org.id.clone(),
        created_by: caller.user.id.clone(),
        params: serde_json::to_value(&params).map_err(|e| ApiError::internal(e.to_string()))?,
        total_rows,
    };
    let run = audit
        .commit(
            state
                .store
                .create_run_audited(new, |r| audit.entry(format!("run {}", r.id), Some(&case.id))),
        )
        .await?;
    state.runner.wake();
    Ok((run, case))
}

/// Refuses (429) a run that would take the caller's organisation over its queue limits, naming the limit.
///
/// Counted before the insert, so two requests of one organisation at the same instant may both pass: the
/// bound is exceeded by at most the number of requests in flight, not without limit.
async fn check_org_limits(state: &AppState, caller: &Caller, total_rows: u64) -> ApiResult<()> {
    let limits = state.config.org_limits;
    let load = state.store.org_load(&caller.org.id).await?;
    let refuse = |what: String| {
        Err(
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "org_limit", what).with_details(json!({
                "queued_runs": load.queued_runs,
                "queued_rows": load.queued_rows,
                "running_runs": load.running_runs,
                "max_queued_runs": limits.queued_runs,
                "max_queued_rows": limits.queued_rows,
            })),
        )
    };
    if load.queued_runs >= limits.queued_runs {
        return refuse(format!(
            "{} already has {} runs queued, the most one organisation may have waiting ({}); \
             wait for some to start or cancel some",
            caller.org.name, load.queued_runs, limits.queued_runs
        ));
    }
    if load.queued_rows.saturating_add(total_rows) > limits.queued_rows {
        return refuse(format!(
            "{} has {} citizens in queued runs; {} more would exceed the most one organisation may have \
             waiting ({}); wait for some to start or ask for fewer rows",
            caller.org.name, load.queued_rows, total_rows, limits.queued_rows
        ));
    }
    Ok(())
}

/// Cancels a run (with `audit`'s entry) after the same checks for the API and the pages.
pub async fn cancel(state: &AppState, caller: &Caller, audit: Audit<'_>, id: &str) -> ApiResult<(Run, Case)> {
    let (run, case) = policy::run(state, caller, id).await?;
    policy::require_cancel(caller, &run)?;
    if run.state.is_terminal() {
        return Err(ApiError::conflict(format!("the run is already {}", run.state)));
    }
    let cause = format!("cancelled by {} ({})", caller.user.name, caller.org.name);
    let entry = audit.entry(format!("run {}", run.id), Some(&case.id));
    let cancelled = audit
        .commit(state.store.cancel_run_audited(&run.id, &cause, entry))
        .await?;
    state.runner.cancel(&run.id);
    Ok((cancelled, case))
}

/// The stored report of a visible run, read back typed, with the run and its case.
pub async fn stored_report(state: &AppState, caller: &Caller, id: &str) -> ApiResult<(StoredReport, Case, Run)> {
    let (run, case) = policy::run(state, caller, id).await?;
    let report = load_report(state, &run).await?;
    Ok((report, case, run))
}

/// The digest of a run's report: only a succeeded run has one.
fn report_digest(run: &Run) -> ApiResult<store::Digest> {
    run.report_sha256
        .clone()
        .ok_or_else(|| ApiError::conflict(format!("the run is {}; only a succeeded run has a report", run.state)))
}

pub async fn load_report(state: &AppState, run: &Run) -> ApiResult<StoredReport> {
    let digest = report_digest(run)?;
    let blobs = state.blobs.clone();
    let bytes = tokio::task::spawn_blocking(move || blobs.get(&digest))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    StoredReport::from_slice(&bytes).map_err(|e| ApiError::internal(format!("the stored report: {e}")))
}

/// A report's language from `?lang=` (English when not given).
pub fn report_lang(lang: Option<&str>) -> ApiResult<htmlreport::Lang> {
    match lang {
        None => Ok(htmlreport::Lang::En),
        Some(l) => htmlreport::Lang::parse(l).ok_or_else(|| {
            ApiError::bad_request(format!(
                "`lang` must be da or en, got {:?}",
                l.chars().take(20).collect::<String>()
            ))
        }),
    }
}

/// The stored report of a visible run, rendered as one HTML page.
pub async fn render_report(
    state: &AppState,
    caller: &Caller,
    id: &str,
    lang: htmlreport::Lang,
) -> ApiResult<(String, Case)> {
    let (run, case) = policy::run(state, caller, id).await?;
    let digest = report_digest(&run)?;
    if let Some(html) = state.reports.get(digest.as_str(), id, lang) {
        return Ok((html.to_string(), case));
    }
    let report = load_report(state, &run).await?;
    let requested_by = state.store.user(&run.created_by).await?.map(|u| u.name);
    let meta = htmlreport::Meta {
        run_id: Some(id.to_owned()),
        requested_by,
        case_name: Some(case.name.clone()),
    };
    let html: std::sync::Arc<str> =
        tokio::task::spawn_blocking(move || htmlreport::render(&report.record, lang, &meta))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .into();
    state.reports.put(digest.as_str(), id, lang, html.clone());
    Ok((html.to_string(), case))
}

/// Replays at once in this process: each holds a run's workers, inside the memory budget.
static REPLAYS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Sets a replay's cancel flag when the request that asked for it is dropped (the caller went
/// away), so its workers do not score on for nobody.
struct CancelOnDrop(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Replays a visible succeeded run for an advisor or admin (see [`crate::replay`]): one at a
/// time per process, its workers inside the memory budget, under the run deadline.
pub async fn replay(state: &AppState, caller: &Caller, id: &str) -> ApiResult<(crate::replay::Replay, Case)> {
    let (run, case) = policy::run(state, caller, id).await?;
    caller.require(policy::Action::ReplayRun)?;
    if run.state != RunState::Succeeded {
        return Err(ApiError::conflict(format!(
            "the run is {}; only a succeeded run has a record to replay",
            run.state
        )));
    }
    let busy = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "another replay is running in this process, or runs hold the memory its workers need; try again later",
        )
    };
    // The slot and the memory are held by the task that runs the replay, not by this request: a caller that goes
    // away cancels the replay (its workers are killed at the next check), and the slot is free only once they are.
    let turn = REPLAYS.try_acquire().map_err(|_| busy())?;
    let memory = crate::runner::reserve_run(state).await.map_err(|e| match e {
        crate::runner::RunBudget::Never(reason) => ApiError::conflict(reason),
        crate::runner::RunBudget::NotNow => busy(),
    })?;
    let cancel = CancelOnDrop(std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)));
    let config = crate::replay::ReplayConfig {
        worker: state.config.worker.clone(),
        // As many workers as the memory was reserved for (the report does not depend on their number).
        workers: Some(state.config.workers_per_run),
        deadline: Some(state.config.run_deadline),
    };
    let task = {
        let (state, flag) = (state.clone(), cancel.0.clone());
        tokio::spawn(async move {
            let outcome = crate::replay::replay(&state.store, &state.blobs, &config, &run, flag).await;
            drop((turn, memory));
            outcome
        })
    };
    let replay = task
        .await
        .map_err(|e| ApiError::internal(format!("the replay's task failed: {e}")))?
        .map_err(|e| match e {
            // About the run and its evidence: the caller is told why.
            crate::replay::ReplayError::NotSucceeded(_)
            | crate::replay::ReplayError::ModelGone(_)
            | crate::replay::ReplayError::ModelMismatch { .. } => ApiError::conflict(e.to_string()),
            // The service could not finish it now (workers, deadline, shutdown): another time may.
            crate::replay::ReplayError::Evaluate(
                EvaluateError::Worker(_)
                | EvaluateError::Deadline { .. }
                | EvaluateError::Cancelled
                | EvaluateError::Store(_),
            ) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string()),
            crate::replay::ReplayError::Evaluate(_) => ApiError::conflict(e.to_string()),
            crate::replay::ReplayError::Store(e) => e.into(),
            crate::replay::ReplayError::Blob(e) => e.into(),
            crate::replay::ReplayError::Stored(m) => ApiError::internal(m),
        })?;
    drop(cancel);
    Ok((replay, case))
}

#[cfg(test)]
mod tests {
    use super::*;
    use evaluate::{ExplainOptions, PathOptions};
    use synth::Path;

    fn body(extra: Value) -> RunRequest {
        let mut v = json!({ "model_id": "m" });
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    /// The refusal's status and message, which must name `field`.
    fn refused(extra: Value, field: &str) -> String {
        let e = stages(&body(extra.clone())).expect_err(&extra.to_string());
        assert_eq!(e.status, StatusCode::BAD_REQUEST, "{extra}");
        assert!(e.message.starts_with(&format!("{field}: ")), "{extra}: {}", e.message);
        e.message
    }

    fn worker() -> inference::WorkerConfig {
        crate::placeholder_worker()
    }

    /// The request a run of `body` executes, through its parameters as stored and read back.
    fn request_of(body: &RunRequest) -> evaluate::Request {
        let (explain, paths) = stages(body).unwrap();
        let params = RunParams {
            dataset: DatasetSpec::new("unemployment-risk", 100, 1).unwrap(),
            criteria: Vec::new(),
            bootstrap: 10,
            explain,
            paths,
            robustness: robustness_stage(body).unwrap(),
            shift: body.shift.clone(),
            plan_version: None,
        };
        let stored = serde_json::to_value(&params).unwrap();
        let replayed: RunParams = serde_json::from_value(stored).unwrap();
        replayed.request("m.onnx".into(), "m.toml".into(), worker())
    }

    #[test]
    fn the_perturbation_runs_by_default_and_is_skipped_or_bounded_as_asked() {
        let req = request_of(&body(json!({})));
        assert_eq!(req.robustness, Some(evaluate::RobustnessOptions::default()));
        let req = request_of(&body(json!({ "no_robustness": true })));
        assert_eq!(req.robustness, None);
        let req = request_of(&body(json!({ "robustness": { "rows": 300, "scale": 0.0 } })));
        assert_eq!(req.robustness.map(|o| (o.rows, o.scale)), Some((300, 0.0)));
        for (extra, field) in [
            (
                json!({ "no_robustness": true, "robustness": { "rows": 10, "scale": 1.0 } }),
                "robustness",
            ),
            (json!({ "robustness": { "rows": 0, "scale": 1.0 } }), "robustness.rows"),
            (
                json!({ "robustness": { "rows": 65537, "scale": 1.0 } }),
                "robustness.rows",
            ),
            (
                json!({ "robustness": { "rows": 10, "scale": 10.5 } }),
                "robustness.scale",
            ),
            (
                json!({ "robustness": { "rows": 10, "scale": -1.0 } }),
                "robustness.scale",
            ),
        ] {
            let e = robustness_stage(&body(extra.clone())).expect_err(&extra.to_string());
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{extra}");
            assert!(e.message.starts_with(&format!("{field}: ")), "{extra}: {}", e.message);
        }
        // Parameters stored before the stage existed ran without it, and say so.
        let old = json!({
            "dataset": DatasetSpec::new("unemployment-risk", 100, 1).unwrap(),
            "criteria": [],
            "bootstrap": 10,
        });
        let old: RunParams = serde_json::from_value(old).unwrap();
        assert_eq!(old.robustness, None);
    }

    #[test]
    fn the_shift_grid_is_off_unless_asked_and_bounded() {
        assert_eq!(request_of(&body(json!({}))).shift, None);
        let req = request_of(&body(json!({ "shift": { "rows": 500 } })));
        assert_eq!(
            req.shift,
            Some(evaluate::ShiftOptions {
                rows: 500,
                axes: evaluate::all_axes()
            })
        );
        let misspelt = serde_json::from_value::<evaluate::ShiftOptions>(json!({ "rows": 500, "axis": ["region"] }));
        assert!(misspelt.is_err(), "an unknown field is refused, not ignored");
        assert_eq!(
            evaluate::MAX_SHIFT_ROWS,
            200_000,
            "change the documentation of RunRequest's shift with the bound"
        );
    }

    /// The bounds `RunRequest`'s documentation (and so the OpenAPI document) states.
    #[test]
    fn the_documented_bounds_are_the_enforced_ones() {
        assert_eq!(
            (
                evaluate::MAX_PATH_ROWS,
                MAX_PATHS,
                MAX_EXPLAIN_ROWS,
                MAX_STAGE_COLUMNS,
                MAX_COLUMN_CHARS
            ),
            (100_000, 8, 100_000, 64, 64),
            "change the documentation of RunRequest's explain and paths with the bounds"
        );
        assert_eq!(evaluate::DEFAULT_PATH_ROWS, 20_000);
        assert_eq!(evaluate::DEFAULT_EXPLAIN_ROWS, 5000);
    }

    #[test]
    fn a_body_without_stage_options_runs_both_stages_with_their_defaults() {
        let req = request_of(&body(json!({})));
        assert_eq!(req.explain, Some(ExplainOptions::default()));
        assert_eq!(req.paths, Some(PathOptions::default()));
        assert_eq!(req.fairness.bootstrap, 10);
    }

    #[test]
    fn no_paths_gives_a_request_without_paths_and_no_explain_one_without_explanations() {
        let req = request_of(&body(json!({ "no_paths": true })));
        assert_eq!(req.paths, None);
        assert_eq!(req.explain, Some(ExplainOptions::default()));
        let req = request_of(&body(json!({ "no_explain": true })));
        assert_eq!(req.explain, None);
        assert_eq!(req.paths, Some(PathOptions::default()));
    }

    #[test]
    fn given_options_reach_the_request() {
        let req = request_of(&body(json!({
            "explain": { "rows": 300, "repeats": 4, "seed": 7, "dependence": ["age"] },
            "paths": {
                "attribute": "sex",
                "paths": ["total", { "through": ["education", "sector"] }, { "hold": ["region"] }],
                "proxies": ["municipality"],
                "rows": 500,
                "seed": 3
            }
        })));
        let explain = req.explain.unwrap();
        assert_eq!((explain.rows, explain.repeats, explain.seed), (300, 4, Some(7)));
        assert_eq!(explain.dependence, Some(vec!["age".to_owned()]));
        let paths = req.paths.unwrap();
        assert_eq!(paths.attribute, Some(Counterfactual::Sex));
        assert_eq!(
            paths.paths.iter().map(Path::name).collect::<Vec<_>>(),
            ["total", "through:education+sector", "hold:region"]
        );
        assert_eq!(paths.proxies, Some(vec!["municipality".to_owned()]));
        assert_eq!((paths.rows, paths.seed), (500, Some(3)));
    }

    #[test]
    fn path_rows_over_the_maximum_or_zero_are_refused_naming_the_field() {
        for rows in [0, evaluate::MAX_PATH_ROWS + 1] {
            let m = refused(json!({ "paths": { "paths": ["total"], "rows": rows } }), "paths.rows");
            assert!(m.contains(&format!("1..={}", evaluate::MAX_PATH_ROWS)), "{m}");
            assert!(m.contains(&rows.to_string()), "{m}");
        }
        let ok = stages(&body(
            json!({ "paths": { "paths": ["total"], "rows": evaluate::MAX_PATH_ROWS } }),
        ));
        assert!(ok.is_ok());
        let e = stages(&body(json!({ "paths": { "paths": ["total"], "rows": 0 } }))).unwrap_err();
        assert_eq!(e.details, json!({ "field": "paths.rows" }));
    }

    #[test]
    fn explain_options_out_of_range_are_refused_naming_the_field() {
        for rows in [0, MAX_EXPLAIN_ROWS + 1] {
            let m = refused(json!({ "explain": { "rows": rows, "repeats": 5 } }), "explain.rows");
            assert!(m.contains("1..=100000"), "{m}");
        }
        for repeats in [0, 1, 1001] {
            let m = refused(
                json!({ "explain": { "rows": 10, "repeats": repeats } }),
                "explain.repeats",
            );
            assert!(m.contains("2..=1000"), "{m}");
        }
        assert!(stages(&body(json!({ "explain": { "rows": 250, "repeats": 1000 } }))).is_ok());
        assert!(stages(&body(json!({ "explain": { "rows": MAX_EXPLAIN_ROWS, "repeats": 2 } }))).is_ok());
        // Many rows and many repeats together: the stage's scoring is bounded too.
        let m = refused(
            json!({ "explain": { "rows": MAX_EXPLAIN_ROWS, "repeats": 3 } }),
            "explain.repeats",
        );
        assert!(m.contains("100000 × 3"), "{m}");
        // A run of 1,000 citizens explains at most those.
        let small = json!({ "rows": 1000, "explain": { "rows": MAX_EXPLAIN_ROWS, "repeats": 250 } });
        assert!(stages(&body(small)).is_ok());
        let m = refused(
            json!({ "rows": 1000, "explain": { "rows": MAX_EXPLAIN_ROWS, "repeats": 251 } }),
            "explain.repeats",
        );
        assert!(m.contains("1000 × 251"), "{m}");
        assert!(stages(&body(json!({ "explain": { "rows": 1, "repeats": 2 } }))).is_ok());
    }

    #[test]
    fn a_stage_both_skipped_and_given_options_is_refused() {
        refused(
            json!({ "no_explain": true, "explain": { "rows": 10, "repeats": 5 } }),
            "explain",
        );
        refused(
            json!({ "no_paths": true, "paths": { "paths": ["total"], "rows": 10 } }),
            "paths",
        );
    }

    #[test]
    fn path_lists_are_bounded() {
        let many: Vec<Value> = (0..=MAX_PATHS)
            .map(|i| json!({ "through": [format!("c{i}")] }))
            .collect();
        let m = refused(json!({ "paths": { "paths": many, "rows": 10 } }), "paths.paths");
        assert!(m.contains("1 to 8 paths") && m.contains("got 9"), "{m}");
        refused(json!({ "paths": { "paths": [], "rows": 10 } }), "paths.paths");
        let m = refused(
            json!({ "paths": { "paths": ["proxy", "total", "proxy"], "rows": 10 } }),
            "paths.paths",
        );
        assert!(m.contains("proxy is asked for twice"), "{m}");
        refused(
            json!({ "paths": { "paths": [{ "hold": [] }], "rows": 10 } }),
            "paths.paths",
        );
        let columns: Vec<String> = (0..=MAX_STAGE_COLUMNS).map(|i| format!("c{i}")).collect();
        let m = refused(
            json!({ "paths": { "paths": [{ "through": columns }], "rows": 10 } }),
            "paths.paths",
        );
        assert!(m.contains("at most 64 columns, got 65"), "{m}");
        refused(
            json!({ "paths": { "paths": ["total"], "proxies": columns, "rows": 10 } }),
            "paths.proxies",
        );
        refused(
            json!({ "explain": { "rows": 10, "repeats": 5, "dependence": columns } }),
            "explain.dependence",
        );
    }

    /// A column name is data from the caller that ends up in records, reports and messages: an
    /// overlong one, or one with markup or control characters, is refused before it is stored,
    /// and the refusal does not echo it whole.
    #[test]
    fn an_overlong_or_odd_column_name_is_refused() {
        let long = "a".repeat(MAX_COLUMN_CHARS + 1);
        assert!(
            stages(&body(
                json!({ "paths": { "paths": [{ "through": ["a".repeat(64)] }], "rows": 10 } })
            ))
            .is_ok()
        );
        for (extra, field) in [
            (
                json!({ "paths": { "paths": [{ "through": [long] }], "rows": 10 } }),
                "paths.paths",
            ),
            (
                json!({ "paths": { "paths": [{ "hold": ["education", long] }], "rows": 10 } }),
                "paths.paths",
            ),
            (
                json!({ "paths": { "paths": ["total"], "proxies": [long], "rows": 10 } }),
                "paths.proxies",
            ),
            (
                json!({ "explain": { "rows": 10, "repeats": 5, "dependence": [long] } }),
                "explain.dependence",
            ),
        ] {
            let m = refused(extra, field);
            assert!(m.contains("1 to 64 characters, got 65"), "{m}");
            assert!(!m.contains(&long), "the refusal echoes the whole name: {m}");
        }
        let huge = "x".repeat(1 << 20);
        let m = refused(
            json!({ "paths": { "paths": ["total"], "proxies": [huge], "rows": 10 } }),
            "paths.proxies",
        );
        assert!(m.len() < 300, "{}", m.len());
        for odd in ["", "<script>", "a+b", "a,b", "a\u{0}b", "a\nb", "æble", "a b"] {
            refused(
                json!({ "paths": { "paths": [{ "through": [odd] }], "rows": 10 } }),
                "paths.paths",
            );
        }
    }

    #[test]
    fn stored_parameters_from_before_the_stages_load_as_those_runs_ran() {
        let spec = DatasetSpec::new("unemployment-risk", 100, 1).unwrap();
        let old = json!({ "dataset": spec, "criteria": [], "bootstrap": 200 });
        let p: RunParams = serde_json::from_value(old).unwrap();
        assert_eq!(p.explain, Some(ExplainOptions::default()));
        // They were queued before the path stage existed: it is not claimed for them.
        assert_eq!(p.paths, None);
        // A stage turned off stays off when the run is read back.
        let off = json!({ "dataset": spec, "criteria": [], "bootstrap": 200, "explain": null, "paths": null });
        let p: RunParams = serde_json::from_value(off).unwrap();
        assert_eq!((p.explain, p.paths), (None, None));
    }

    #[test]
    fn paths_the_scenario_lacks_and_criteria_on_unmeasured_paths_are_refused_before_queueing() {
        let spec = DatasetSpec::new("unemployment-risk", 100, 1).unwrap();
        let paths = |v: Value| serde_json::from_value::<PathOptions>(v).unwrap();
        check_paths(&spec, Some(&PathOptions::default()), &[]).unwrap();
        check_paths(&spec, None, &[]).unwrap();
        let through = paths(json!({ "paths": [{ "through": ["education"] }], "rows": 10 }));
        check_paths(&spec, Some(&through), &[]).unwrap();
        let e = check_paths(
            &spec,
            Some(&paths(json!({ "paths": [{ "hold": ["shoe_size"] }], "rows": 10 }))),
            &[],
        )
        .unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_paths"));
        assert!(e.message.contains("shoe_size"), "{}", e.message);
        let criteria = check_criteria(&[json!({
            "attribute": "origin", "metric": "flip_rate", "op": "<=", "threshold": 0.05, "path": "proxy"
        })])
        .unwrap();
        check_paths(&spec, Some(&PathOptions::default()), &criteria).unwrap();
        let e = check_paths(&spec, Some(&through), &criteria).unwrap_err();
        assert!(e.message.contains("it measures through:education"), "{}", e.message);
        let e = check_paths(&spec, None, &criteria).unwrap_err();
        assert!(e.message.contains("the path stage is off"), "{}", e.message);
        // A path of sex, while the stage changes origin (the default without sex twins).
        let of_sex = check_criteria(&[json!({
            "attribute": "sex", "metric": "flip_rate", "op": "<=", "threshold": 0.05, "path": "proxy"
        })])
        .unwrap();
        let e = check_paths(&spec, Some(&PathOptions::default()), &of_sex).unwrap_err();
        assert!(
            e.message.contains("path stage changes origin") && e.message.contains("\"sex\""),
            "{}",
            e.message
        );
        let sex_stage = paths(json!({ "attribute": "sex", "paths": ["proxy"], "rows": 10 }));
        check_paths(&spec, Some(&sex_stage), &of_sex).unwrap();
    }
}
