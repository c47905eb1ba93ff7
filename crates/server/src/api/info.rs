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

#[utoipa::path(
    get,
    operation_id = "health", path = "/healthz", tag = "service", responses(
    (status = 200, description = "The service and its database answer.", body = crate::api::schemas::Health),
    (status = 500, description = "The database does not answer.", body = crate::api::schemas::Error)
))]
pub async fn health(State(state): State<AppState>) -> ApiResult<Json<super::views::Health>> {
    state.store.count_runs_by_state().await?;
    Ok(Json(super::views::Health {
        status: "ok".to_owned(),
        database: state.store.backend().to_owned(),
    }))
}

#[utoipa::path(
    get,
    operation_id = "metrics", path = "/metrics", tag = "service", security((), ("metrics_token" = [])), responses(
    (status = 200, description = "Prometheus text exposition.", body = String, content_type = "text/plain"),
    (status = 429, description = "Too many anonymous requests from this address.", body = crate::api::schemas::Error),
    (status = 500, description = "The database does not answer.", body = crate::api::schemas::Error)
))]
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

/// The OpenAPI document, made once.
static OPENAPI: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// This document.
#[utoipa::path(
    get,
    operation_id = "openapi", path = "/api/v1/openapi.json", tag = "service", responses(
    (status = 200, description = "The OpenAPI 3.1 document of this API.", body = Object),
    (status = 429, description = "Too many anonymous requests from this address.", body = crate::api::schemas::Error),
    (status = 500, description = "The document could not be written.", body = crate::api::schemas::Error)
))]
pub async fn openapi() -> ApiResult<Response> {
    let text = match OPENAPI.get() {
        Some(t) => t,
        None => {
            let t =
                super::document_json().map_err(|e| ApiError::internal(format!("writing the OpenAPI document: {e}")))?;
            OPENAPI.get_or_init(|| t)
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], text.clone()).into_response())
}

#[utoipa::path(
    get,
    operation_id = "me",
    path = "/api/v1/me",
    tag = "identity",
    security(("token" = [])),
    responses(
        (status = 200, description = "The caller and their organisation.", body = crate::api::schemas::Me),
        crate::api::schemas::CallerRefusals
    )
)]
pub async fn me(caller: Caller) -> Json<super::views::Me> {
    Json(super::views::Me {
        user: caller.user,
        org: caller.org,
    })
}

#[utoipa::path(
    get,
    operation_id = "listScenarios",
    path = "/api/v1/scenarios",
    tag = "scenarios",
    security(("token" = [])),
    responses(
        (status = 200, description = "Every scenario.", body = Vec<crate::api::schemas::Scenario>),
        crate::api::schemas::CallerRefusals
    )
)]
pub async fn scenarios(_: Caller) -> ApiResult<Json<Vec<super::views::ScenarioView>>> {
    Ok(Json(super::views::scenarios()?))
}

#[utoipa::path(
    get,
    operation_id = "getScenario",
    path = "/api/v1/scenarios/{scenario}",
    tag = "scenarios",
    params(("scenario" = String, Path, description = "The scenario's name, e.g. `unemployment-risk`.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The scenario.", body = crate::api::schemas::Scenario),
        crate::api::schemas::ReadRefusals
    )
)]
pub async fn scenario(_: Caller, Path(name): Path<String>) -> ApiResult<Json<super::views::ScenarioView>> {
    super::views::scenarios()?
        .into_iter()
        .find(|s| s.name == name)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("scenario", &name))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
///
/// In the training layout: integers as int64, the outcomes as 0/1 int64, categories as their
/// text (the data dictionary lists each one's values in order), yes/no inputs as booleans;
/// the types scikit-learn with skl2onnx, XGBoost and LightGBM export from without recasting.
///
/// A download holds one of the download slots from generation to its last byte, which bounds the disk the
/// temporary files take. A client that accepts no bytes for `download_idle_timeout` loses its download: the
/// file is closed (and with it gone from the disk) and the slot freed, whatever the connection does after.
/// A client that goes away while the file is generated stops the generation.
#[utoipa::path(
    get,
    operation_id = "downloadDataset",
    path = "/api/v1/scenarios/{scenario}/dataset",
    tag = "scenarios",
    params(("scenario" = String, Path, description = "The scenario's name."), DatasetQuery),
    security(("token" = [])),
    responses(
        (status = 200, description = "The `train` split as Parquet.", body = crate::api::schemas::Binary, content_type = "application/vnd.apache.parquet"),
        crate::api::schemas::DownloadRefusals
    )
)]
pub async fn dataset(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<DatasetQuery>,
) -> ApiResult<Response> {
    caller.require(crate::policy::Action::DownloadData)?;
    if q.rows == 0 || q.rows > state.config.max_dataset_rows {
        return Err(ApiError::bad_request(format!(
            "rows must be in 1..={}, got {}",
            state.config.max_dataset_rows, q.rows
        )));
    }
    let mut spec =
        synth::DatasetSpec::new(&name, q.rows, q.seed).map_err(|_| ApiError::not_found("scenario", &name))?;
    spec.split = synth::Split::Train;
    let slot = DownloadSlot::acquire(&state).await?;
    let tmp_dir = state.config.data_dir.join("tmp");
    let cancel = slot.cancel.clone();
    let file = tokio::task::spawn_blocking(move || -> Result<std::fs::File, String> {
        std::fs::create_dir_all(&tmp_dir).map_err(|e| e.to_string())?;
        let path = tmp_dir.join(format!("{}.parquet", store::RunId::generate()));
        let generator = synth::Generator::new(spec).map_err(|e| e.to_string())?.for_training();
        let written = synth::write_dataset(&generator, &path, synth::Format::Parquet, 1, &|_| {}, &cancel);
        let opened = written
            .map_err(|e| e.to_string())
            .and_then(|_| std::fs::File::open(&path).map_err(|e| e.to_string()));
        let _ = std::fs::remove_file(&path);
        opened
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| ApiError::internal(format!("generating the dataset: {e}")))?;
    let body = download::stream(
        tokio::fs::File::from_std(file),
        slot,
        state.config.download_idle_timeout,
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/vnd.apache.parquet".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}-train-{}-{}.parquet\"", q.rows, q.seed),
            ),
        ],
        Body::new(body),
    )
        .into_response())
}

/// One of the download slots, held from generation to the last byte sent; dropping it frees the slot and
/// stops a generation still under way.
pub struct DownloadSlot {
    state: AppState,
    cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl DownloadSlot {
    async fn acquire(state: &AppState) -> ApiResult<Self> {
        let permit = state
            .downloads
            .acquire()
            .await
            .map_err(|_| ApiError::internal("shutting down"))?;
        // Given back in `drop`, which may run in the task that streams the file, after this handler returned.
        permit.forget();
        Ok(Self {
            state: state.clone(),
            cancel: Default::default(),
        })
    }
}

impl Drop for DownloadSlot {
    fn drop(&mut self) {
        self.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        self.state.downloads.add_permits(1);
    }
}

mod download {
    //! A file sent as a response body by a task that gives up when the client stops taking bytes.

    use super::DownloadSlot;
    use axum::body::Bytes;
    use hyper::body::Frame;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Poll};
    use std::time::Duration;
    use tokio::io::AsyncReadExt;
    use tokio::sync::mpsc;

    const CHUNK: usize = 64 << 10;

    /// The download stalled: the client accepted no bytes for the idle timeout, or reading the file failed.
    #[derive(Debug, thiserror::Error)]
    #[error("the download was stopped: {0}")]
    pub struct Stopped(String);

    /// Sends `file` chunk by chunk; if a chunk waits more than `idle` for the client, the file and `slot` are
    /// dropped at once and the body ends with an error (so the client sees a broken, not a short, download).
    pub fn stream(mut file: tokio::fs::File, slot: DownloadSlot, idle: Duration) -> ChannelBody {
        let (tx, rx) = mpsc::channel::<Result<Bytes, Stopped>>(1);
        let complete = Arc::new(AtomicBool::new(false));
        let done = complete.clone();
        tokio::spawn(async move {
            let _slot = slot;
            loop {
                let mut buf = Vec::with_capacity(CHUNK);
                let chunk = match (&mut file).take(CHUNK as u64).read_to_end(&mut buf).await {
                    Ok(0) => {
                        done.store(true, Ordering::Release);
                        return;
                    }
                    Ok(_) => Ok(Bytes::from(buf)),
                    Err(e) => Err(Stopped(format!("reading the generated file: {e}"))),
                };
                let failed = chunk.is_err();
                match tx.send_timeout(chunk, idle).await {
                    Ok(()) if !failed => {}
                    Ok(()) => return,
                    Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                        tracing::info!(idle_secs = idle.as_secs_f64(), "a dataset download stalled: dropped");
                        return;
                    }
                    Err(mpsc::error::SendTimeoutError::Closed(_)) => return,
                }
            }
        });
        ChannelBody { rx, complete }
    }

    /// The receiving end: the chunks, then the end if the sender finished, else an error.
    pub struct ChannelBody {
        rx: mpsc::Receiver<Result<Bytes, Stopped>>,
        complete: Arc<AtomicBool>,
    }

    impl hyper::body::Body for ChannelBody {
        type Data = Bytes;
        type Error = Stopped;

        fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Stopped>>> {
            match self.rx.poll_recv(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Some(r)) => Poll::Ready(Some(r.map(Frame::data))),
                Poll::Ready(None) if self.complete.load(Ordering::Acquire) => Poll::Ready(None),
                Poll::Ready(None) => Poll::Ready(Some(Err(Stopped("the client stopped reading".into())))),
            }
        }
    }
}
