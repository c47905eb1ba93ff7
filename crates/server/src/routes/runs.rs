//! Runs: created queued, executed by the runner, read with their progress and report.

use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Query};
use crate::middleware::{Audit, AuditContext};
use crate::policy::{self, Caller};
use crate::routes::cases::{in_case, parse_criteria};
use crate::runner::{RunParams, StoredReport};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use store::meta::{NewRun, Role, Run, RunState};
use synth::{Counterfactual, DatasetSpec, Split};

/// A run as the API shows it: the stored run plus its progress as a fraction.
fn run_json(run: &Run) -> Value {
    let mut v = serde_json::to_value(run).unwrap_or(Value::Null);
    let progress = if run.total_rows == 0 {
        0.0
    } else {
        run.progress_rows as f64 / run.total_rows as f64
    };
    v["progress"] = json!(progress);
    v
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRunBody {
    pub model_id: String,
    pub scenario: Option<String>,
    #[serde(default = "default_rows")]
    pub rows: u64,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub bias: Vec<String>,
    pub counterfactual: Option<String>,
    pub criteria: Option<Vec<Value>>,
}

fn default_rows() -> u64 {
    100_000
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    audit: AuditContext,
    Json(body): Json<NewRunBody>,
) -> ApiResult<Response> {
    let (run, case) = start(&state, &caller, audit.on_success(StatusCode::CREATED), &body).await?;
    Ok(in_case(&case, (StatusCode::CREATED, axum::Json(run_json(&run)))))
}

/// Who may start runs (on models they can see).
pub const STARTS_RUNS: &[Role] = &[Role::Vendor, Role::Authority, Role::Admin];

/// Queues a run (with `audit`'s entry) after the same checks for the API and the pages.
pub async fn start(
    state: &AppState,
    caller: &Caller,
    audit: Audit<'_>,
    body: &NewRunBody,
) -> ApiResult<(Run, store::meta::Case)> {
    let (model, case) = policy::model(state, caller, &body.model_id).await?;
    caller.require(STARTS_RUNS, "starting a run")?;
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
            caller.require(&[Role::Authority, Role::Admin], "setting criteria for a run")?;
            parse_criteria(list)?
        }
        None => match state.store.criteria(&case.id).await? {
            Some(c) => serde_json::from_value(c.json)
                .map_err(|e| ApiError::internal(format!("the case's stored criteria: {e}")))?,
            None => Vec::new(),
        },
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

pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let (run, case) = policy::run(&state, &caller, &id).await?;
    Ok(in_case(&case, axum::Json(run_json(&run))))
}

/// The runs of one visible case that the caller may see.
pub async fn visible_runs(state: &AppState, caller: &Caller, case: &store::meta::Case) -> ApiResult<Vec<Run>> {
    let runs = state.store.list_runs(&case.id).await?;
    if caller.role() != Role::Vendor {
        return Ok(runs);
    }
    let mine: std::collections::HashSet<_> = policy::visible_models(caller, state.store.list_models(&case.id).await?)
        .into_iter()
        .map(|m| m.id)
        .collect();
    Ok(runs
        .into_iter()
        .filter(|r| r.org_id == caller.org.id || mine.contains(&r.model_id))
        .collect())
}

pub async fn list_case(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let case = policy::case(&state, &caller, &id).await?;
    let runs: Vec<Value> = visible_runs(&state, &caller, &case)
        .await?
        .iter()
        .map(run_json)
        .collect();
    Ok(in_case(&case, axum::Json(runs)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    case: Option<String>,
    state: Option<String>,
}

pub async fn list(State(state): State<AppState>, caller: Caller, Query(q): Query<ListQuery>) -> ApiResult<Response> {
    let want = q
        .state
        .as_deref()
        .map(RunState::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let cases = match &q.case {
        Some(id) => vec![policy::case(&state, &caller, id).await?],
        None => policy::cases(&state, &caller).await?,
    };
    let mut out = Vec::new();
    for case in &cases {
        for run in visible_runs(&state, &caller, case).await? {
            if want.is_none_or(|w| w == run.state) {
                out.push(run_json(&run));
            }
        }
    }
    let mut r = axum::Json(out).into_response();
    if let [case] = cases.as_slice() {
        r.extensions_mut()
            .insert(crate::middleware::AuditCase(case.id.as_str().to_owned()));
    }
    Ok(r)
}

pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    audit: AuditContext,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (cancelled, case) = cancel_run(&state, &caller, audit.on_success(StatusCode::OK), &id).await?;
    Ok(in_case(&case, axum::Json(run_json(&cancelled))))
}

/// Whether the caller's role lets them cancel `run` (which they can see).
pub fn may_cancel(caller: &Caller, run: &Run) -> bool {
    match caller.role() {
        Role::Admin | Role::Authority => true,
        Role::Vendor => run.org_id == caller.org.id,
        Role::Advisor => false,
    }
}

/// Cancels a run (with `audit`'s entry) after the same checks for the API and the pages.
pub async fn cancel_run(
    state: &AppState,
    caller: &Caller,
    audit: Audit<'_>,
    id: &str,
) -> ApiResult<(Run, store::meta::Case)> {
    let (run, case) = policy::run(state, caller, id).await?;
    if !may_cancel(caller, &run) {
        return Err(ApiError::forbidden(if caller.role() == Role::Advisor {
            "advisors change nothing"
        } else {
            "only the organisation that started a run may cancel it"
        }));
    }
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

async fn stored_report(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<(StoredReport, store::meta::Case, Run)> {
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

async fn load_report(state: &AppState, run: &Run) -> ApiResult<StoredReport> {
    let digest = report_digest(run)?;
    let blobs = state.blobs.clone();
    let bytes = tokio::task::spawn_blocking(move || blobs.get(&digest))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    StoredReport::from_slice(&bytes).map_err(|e| ApiError::internal(format!("the stored report: {e}")))
}

pub async fn report(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let (report, case, _) = stored_report(&state, &caller, &id).await?;
    Ok(in_case(&case, axum::Json(report.record)))
}

pub async fn report_md(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let (report, case, _) = stored_report(&state, &caller, &id).await?;
    Ok(in_case(
        &case,
        (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            report.markdown,
        ),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HtmlQuery {
    lang: Option<String>,
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

/// The report as one self-contained HTML page, in Danish or English (`?lang=da|en`).
pub async fn report_html(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<HtmlQuery>,
) -> ApiResult<Response> {
    let lang = report_lang(q.lang.as_deref())?;
    let (html, case) = render_report(&state, &caller, &id, lang).await?;
    Ok(in_case(&case, html_report_response(html)))
}

/// A report page with a policy that lets it run no script and load nothing.
pub fn html_report_response(html: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
            ),
        ],
        html,
    )
        .into_response()
}

/// The stored report of a visible run, rendered as one HTML page.
pub async fn render_report(
    state: &AppState,
    caller: &Caller,
    id: &str,
    lang: htmlreport::Lang,
) -> ApiResult<(String, store::meta::Case)> {
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
