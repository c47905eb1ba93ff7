//! Runs: queued after the checks, cancelled, and their stored reports read back typed and
//! rendered.

use crate::app::cases::{check_criteria, criteria_of};
use crate::error::{ApiError, ApiResult};
use crate::middleware::Audit;
use crate::policy::{self, Action, Caller};
use crate::runner::{RunParams, StoredReport};
use crate::state::AppState;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use store::{Case, NewRun, Run};
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
}

fn default_rows() -> u64 {
    100_000
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
    check_org_limits(state, caller, total_rows).await?;
    let params = RunParams {
        dataset: spec,
        criteria,
        bootstrap: state.config.bootstrap,
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
