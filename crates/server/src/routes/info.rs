//! Health, metrics, the OpenAPI document, the caller, scenarios and training data.

use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::policy::Caller;
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use store::meta::Role;

pub async fn health(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    state.store.count_runs_by_state().await?;
    Ok(Json(json!({"status": "ok", "database": state.store.backend()})))
}

pub async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> ApiResult<Response> {
    let runs = state.store.count_runs_by_state().await?;
    let gauges = crate::metrics::Gauges {
        memory_budget_bytes: state.models.budget().total(),
        memory_reserved_bytes: state.models.budget().used(),
        live_models: state.models.loaded().await,
    };
    let per_model = crate::metrics::token_matches(state.config.metrics_token.as_deref(), &headers);
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(&runs, &gauges, per_model),
    )
        .into_response())
}

pub const OPENAPI: &str = include_str!("../../openapi.json");

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub async fn me(caller: Caller) -> Json<Value> {
    Json(json!({"user": caller.user, "org": caller.org}))
}

pub async fn scenarios(_: Caller) -> Json<Value> {
    Json(Value::Array(synth::scenario::catalogue()))
}

pub async fn scenario(_: Caller, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    synth::scenario::catalogue()
        .into_iter()
        .find(|s| s["name"] == name.as_str())
        .map(Json)
        .ok_or_else(|| ApiError::not_found("scenario", &name))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetQuery {
    #[serde(default = "default_rows")]
    rows: u64,
    #[serde(default)]
    seed: u64,
}

fn default_rows() -> u64 {
    10_000
}

/// The `train` split as Parquet, written to a temporary file and streamed from it (the file
/// is unlinked once open, so nothing is left behind whatever happens to the connection).
pub async fn dataset(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<DatasetQuery>,
) -> ApiResult<Response> {
    caller.require(&[Role::Vendor, Role::Admin], "downloading training data")?;
    if q.rows == 0 || q.rows > state.config.max_dataset_rows {
        return Err(ApiError::bad_request(format!(
            "rows must be in 1..={}, got {}",
            state.config.max_dataset_rows, q.rows
        )));
    }
    let mut spec =
        synth::DatasetSpec::new(&name, q.rows, q.seed).map_err(|_| ApiError::not_found("scenario", &name))?;
    spec.split = synth::Split::Train;
    let _permit = state
        .downloads
        .acquire()
        .await
        .map_err(|_| ApiError::internal("shutting down"))?;
    let tmp_dir = state.config.data_dir.join("tmp");
    let file = tokio::task::spawn_blocking(move || -> Result<std::fs::File, String> {
        std::fs::create_dir_all(&tmp_dir).map_err(|e| e.to_string())?;
        let path = tmp_dir.join(format!("{}.parquet", store::RunId::generate()));
        let generator = synth::Generator::new(spec).map_err(|e| e.to_string())?;
        let cancel = std::sync::atomic::AtomicBool::new(false);
        synth::write_dataset(&generator, &path, synth::Format::Parquet, 1, &|_| {}, &cancel)
            .map_err(|e| e.to_string())?;
        let file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
        let _ = std::fs::remove_file(&path);
        Ok(file)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| ApiError::internal(format!("generating the dataset: {e}")))?;
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    Ok((
        [
            (header::CONTENT_TYPE, "application/vnd.apache.parquet".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}-train-{}-{}.parquet\"", q.rows, q.seed),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
