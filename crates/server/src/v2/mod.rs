//! The Open Inference Protocol (KServe V2, REST) for uploaded models.
//!
//! A model's name is its id; its version is the manifest's. Its inputs are the scenario
//! columns its manifest uses, each a tensor of shape `[N]` (or `[N, 1]`): numbers as FP32,
//! FP64, INT8–64, UINT8–64 or BOOL, categories as BYTES. Its outputs are `label` (INT64, or
//! BYTES for text classes) and `probability` (FP32, the positive class). The sandbox builds
//! the model's own tensors from those columns exactly as in an evaluation run, in the same
//! isolated workers. Who may call a model is who may see it. Errors are `{"error": "..."}`,
//! for every path under `/v2` (see [`unrouted`] for the ones this server does not have).
//! Requests and answers may be compressed (`encoding`) and may carry tensors as raw bytes
//! (`binary`), as tritonclient sends and reads them.

mod binary;
mod encoding;
pub mod grpc;
pub mod types;
mod wire;

use crate::cache::Ttl;
use crate::policy::{self, Caller};
use crate::serving::{ColumnInput, Lease, ServeFailure, Served, StartError};
use crate::state::AppState;
use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// An error in the protocol's shape.
#[derive(Debug)]
pub struct V2Error(StatusCode, String);

/// Longest error message sent, bytes: messages quote what a caller sent (names, shapes), and a
/// small compressed request must not buy a megabyte of error.
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// `message` cut to [`MAX_MESSAGE_BYTES`] at a character boundary, marked when cut.
fn capped(mut message: String) -> String {
    if message.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES - 3;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str("...");
    }
    message
}

/// A shape as a message shows it: at most 8 dimensions, then how many there are.
fn shape_text(shape: &[i64]) -> String {
    if shape.len() <= 8 {
        format!("{shape:?}")
    } else {
        format!("{:?} and {} more dimensions", &shape[..8], shape.len() - 8)
    }
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        let mut response = (self.0, Json(types::V2ErrorBody { error: capped(self.1) })).into_response();
        // Busy, not broken: a client should come back shortly.
        if matches!(self.0, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

fn bad(message: impl Into<String>) -> V2Error {
    V2Error(StatusCode::BAD_REQUEST, message.into())
}

type V2Result<T> = Result<T, V2Error>;

#[utoipa::path(
    get,
    operation_id = "v2Live", path = "/v2/health/live", tag = "inference", responses(
    (status = 200, description = "The server is live.", body = crate::api::schemas::Live)
))]
pub async fn live() -> Json<types::Live> {
    Json(types::Live { live: true })
}

#[utoipa::path(
    get,
    operation_id = "v2Ready", path = "/v2/health/ready", tag = "inference", responses(
    (status = 200, description = "The server and its database are ready.", body = crate::api::schemas::Ready),
    (status = 503, description = "The database does not answer.", body = crate::api::schemas::V2Error)
))]
pub async fn ready(State(state): State<AppState>) -> Response {
    match state.store.count_runs_by_state().await {
        Ok(_) => Json(types::Ready { ready: true }).into_response(),
        Err(e) => V2Error(StatusCode::SERVICE_UNAVAILABLE, format!("the database: {e}")).into_response(),
    }
}

#[utoipa::path(
    get,
    operation_id = "v2ServerMetadata", path = "/v2", tag = "inference", responses(
    (status = 200, description = "The server's name and version.", body = crate::api::schemas::ServerMetadata),
    (status = 429, description = "Too many anonymous requests from this address.", body = crate::api::schemas::V2Error)
))]
pub async fn server_metadata() -> Json<types::ServerMetadata> {
    Json(types::ServerMetadata {
        name: "sandkasse".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        extensions: vec!["binary_tensor_data".to_owned()],
    })
}

/// The model, if the caller may see it and the version (when given) is its version.
async fn find(
    state: &AppState,
    caller: Option<Caller>,
    name: &str,
    version: Option<&str>,
) -> V2Result<Arc<store::Model>> {
    let caller = caller.ok_or_else(|| {
        V2Error(
            StatusCode::UNAUTHORIZED,
            "this endpoint needs `Authorization: Bearer TOKEN`".into(),
        )
    })?;
    let unknown = || {
        V2Error(
            StatusCode::NOT_FOUND,
            format!("unknown model {:?}", name.chars().take(80).collect::<String>()),
        )
    };
    let key = (caller.user.id.as_str().to_owned(), name.to_owned());
    let model = match state.visible_models.get(&key) {
        Some(m) => m,
        None => {
            let (model, _) = policy::model(state, &caller, name).await.map_err(|_| unknown())?;
            let model = Arc::new(model);
            state.visible_models.put(key, model.clone());
            model
        }
    };
    if let Some(v) = version
        && v != model.version
    {
        return Err(V2Error(
            StatusCode::NOT_FOUND,
            format!(
                "model {name} has no version {:?}",
                v.chars().take(40).collect::<String>()
            ),
        ));
    }
    Ok(model)
}

fn metadata(model: &store::Model, inputs: &[ColumnInput], text_labels: bool) -> types::ModelMetadata {
    let tensor = |name: &str, datatype: &str| types::TensorMetadata {
        name: name.to_owned(),
        datatype: datatype.to_owned(),
        shape: vec![-1],
    };
    types::ModelMetadata {
        name: model.id.as_str().to_owned(),
        versions: vec![model.version.clone()],
        platform: "onnxruntime_onnx".to_owned(),
        inputs: inputs.iter().map(|c| tensor(&c.name, c.protocol_datatype())).collect(),
        outputs: vec![
            tensor("label", if text_labels { "BYTES" } else { "INT64" }),
            tensor("probability", "FP32"),
        ],
    }
}

/// Path parameters, refused in the protocol's shape (axum's own rejection is plain text, which
/// tritonclient cannot read).
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<S> for Path<T> {
    type Rejection = V2Error;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, V2Error> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e| V2Error(e.status(), format!("the path: {}", e.body_text())))
    }
}

/// The answer for a path or method under `/v2` that no route takes (the router's fallbacks
/// call it): the protocol's error shape, so that tritonclient raises its own exception with
/// the message. Triton's extensions that this server does not implement are named as such.
pub fn unrouted(method: &axum::http::Method, path: &str, method_allowed: bool) -> Response {
    const TRITON: &[(&str, &str)] = &[
        ("/v2/repository", "the model repository extension"),
        ("/stats", "the statistics extension"),
        ("/v2/trace", "the trace extension"),
        ("/v2/logging", "the logging extension"),
        ("/v2/systemsharedmemory", "the system shared memory extension"),
        ("/v2/cudasharedmemory", "the CUDA shared memory extension"),
        ("/config", "the model configuration extension"),
        ("/generate", "the generate extension"),
    ];
    let shown = path.chars().take(120).collect::<String>();
    let e = if !method_allowed {
        V2Error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{shown} does not take {method}"),
        )
    } else if let Some((_, what)) = TRITON.iter().find(|(p, _)| {
        if p.starts_with("/v2/") {
            path.starts_with(p)
        } else {
            path.ends_with(p) || path.contains(&format!("{p}/"))
        }
    }) {
        V2Error(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "{shown}: this server does not implement {what}; it serves health, metadata and infer (extensions: binary_tensor_data)"
            ),
        )
    } else {
        V2Error(
            StatusCode::NOT_FOUND,
            format!(
                "no endpoint {shown}; this server serves /v2, /v2/health/live, /v2/health/ready, /v2/models/MODEL[/versions/VERSION][/ready|/infer]"
            ),
        )
    };
    let mut r = e.into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(store::RunId::generate().as_str()) {
        r.headers_mut().insert("x-request-id", v);
    }
    r
}

/// The caller from the request's extensions (set by the middleware), if any.
pub struct MaybeCaller(Option<Caller>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for MaybeCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeCaller(parts.extensions.get::<Caller>().cloned()))
    }
}

/// The model's workers, started if need be. Budget and isolation refusals are the server's
/// state, not the model's fault: 503 (try again later / ask the operator); the rest are 500.
async fn served(state: &AppState, model: &store::Model) -> V2Result<Lease> {
    state
        .models
        .get(model, &state.blobs, &state.config.worker)
        .await
        .map_err(|e| match e {
            StartError::Budget(m) => V2Error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the model cannot be started now: {m}"),
            ),
            StartError::Worker(w) => match w.as_ref() {
                // Fail closed: an isolation layer is missing and the operator did not allow it.
                // The server's state, not the model's fault.
                e @ inference::WorkerError::Isolation { .. } => V2Error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the model cannot be served on this server: {e}"),
                ),
                other => V2Error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the model could not be started: {other}"),
                ),
            },
            StartError::Model(m) => V2Error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the model could not be started: {m}"),
            ),
        })
}

#[utoipa::path(
    get,
    operation_id = "v2ModelMetadata",
    path = "/v2/models/{model}",
    tag = "inference",
    params(("model" = String, Path, description = "The model's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The model's inputs and outputs.", body = crate::api::schemas::ModelMetadata),
        crate::api::schemas::V2ReadRefusals
    )
)]
pub async fn model_metadata(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(name): Path<String>,
) -> V2Result<Json<types::ModelMetadata>> {
    versioned_metadata(State(state), MaybeCaller(caller), Path((name, None))).await
}

#[utoipa::path(
    get,
    operation_id = "v2ModelVersionMetadata",
    path = "/v2/models/{model}/versions/{version}",
    tag = "inference",
    params(("model" = String, Path, description = "The model's id."), ("version" = String, Path, description = "The model's version, from its manifest.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The model's inputs and outputs.", body = crate::api::schemas::ModelMetadata),
        crate::api::schemas::V2ReadRefusals
    )
)]
pub async fn model_version_metadata(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path((name, version)): Path<(String, String)>,
) -> V2Result<Json<types::ModelMetadata>> {
    versioned_metadata(State(state), MaybeCaller(caller), Path((name, Some(version)))).await
}

async fn versioned_metadata(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path((name, version)): Path<(String, Option<String>)>,
) -> V2Result<Json<types::ModelMetadata>> {
    let model = find(&state, caller, &name, version.as_deref()).await?;
    let manifest = manifest_of(&state, &model).await?;
    let inputs = crate::serving::column_inputs(&manifest);
    let text = manifest.output.text_labels();
    Ok(Json(metadata(&model, &inputs, text)))
}

async fn manifest_of(state: &AppState, model: &store::Model) -> V2Result<inference::Manifest> {
    let blobs = state.blobs.clone();
    let digest = model.manifest_sha256.clone();
    let text = tokio::task::spawn_blocking(move || blobs.get(&digest))
        .await
        .map_err(|e| V2Error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| V2Error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    inference::Manifest::parse(&String::from_utf8_lossy(&text))
        .map_err(|e| V2Error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

#[utoipa::path(
    get,
    operation_id = "v2ModelReady",
    path = "/v2/models/{model}/ready",
    tag = "inference",
    params(("model" = String, Path, description = "The model's id.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The model's workers are started.", body = crate::api::schemas::ModelReady),
        crate::api::schemas::V2ReadyRefusals
    )
)]
pub async fn model_ready(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(name): Path<String>,
) -> V2Result<Json<types::ModelReady>> {
    let model = find(&state, caller, &name, None).await?;
    served(&state, &model).await?;
    Ok(Json(types::ModelReady {
        name: model.id.as_str().to_owned(),
        ready: true,
    }))
}

#[utoipa::path(
    get,
    operation_id = "v2ModelVersionReady",
    path = "/v2/models/{model}/versions/{version}/ready",
    tag = "inference",
    params(("model" = String, Path, description = "The model's id."), ("version" = String, Path, description = "The model's version, from its manifest.")),
    security(("token" = [])),
    responses(
        (status = 200, description = "The model's workers are started.", body = crate::api::schemas::ModelReady),
        crate::api::schemas::V2ReadyRefusals
    )
)]
pub async fn model_version_ready(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path((name, version)): Path<(String, String)>,
) -> V2Result<Json<types::ModelReady>> {
    let model = find(&state, caller, &name, Some(&version)).await?;
    served(&state, &model).await?;
    Ok(Json(types::ModelReady {
        name: model.id.as_str().to_owned(),
        ready: true,
    }))
}

#[utoipa::path(
    post,
    operation_id = "v2Infer",
    path = "/v2/models/{model}/infer",
    tag = "inference",
    params(("model" = String, Path, description = "The model's id.")),
    request_body = crate::api::schemas::InferRequest,
    security(("token" = [])),
    responses(
        (status = 200, description = "The scores.", body = crate::api::schemas::InferResponse),
        crate::api::schemas::V2InferRefusals
    )
)]
pub async fn infer(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    run_infer(state, caller, name, None, headers, body).await
}

#[utoipa::path(
    post,
    operation_id = "v2InferVersion",
    path = "/v2/models/{model}/versions/{version}/infer",
    tag = "inference",
    params(("model" = String, Path, description = "The model's id."), ("version" = String, Path, description = "The model's version, from its manifest.")),
    request_body = crate::api::schemas::InferRequest,
    security(("token" = [])),
    responses(
        (status = 200, description = "The scores.", body = crate::api::schemas::InferResponse),
        crate::api::schemas::V2InferRefusals
    )
)]
pub async fn infer_version(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    run_infer(state, caller, name, Some(version), headers, body).await
}

async fn run_infer(
    state: AppState,
    caller: Option<Caller>,
    name: String,
    version: Option<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let model_label = name.chars().take(40).collect::<String>();
    let result = infer_inner(&state, caller, &name, version.as_deref(), &headers, body).await;
    match result {
        Ok((response, rows, queue, compute)) => {
            state.metrics.inference(&model_label, rows, queue, compute);
            response
        }
        Err(e) => {
            // Names the caller may not see are not counted per model: callers choose them, and
            // they must not add label values (or learn which ids exist).
            let label = if matches!(e.0, StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED) {
                "unknown"
            } else {
                model_label.as_str()
            };
            state.metrics.inference_failure(label, e.0.as_u16());
            e.into_response()
        }
    }
}

async fn infer_inner(
    state: &AppState,
    caller: Option<Caller>,
    name: &str,
    version: Option<&str>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> V2Result<(Response, usize, f64, f64)> {
    let user = caller.as_ref().map(|c| c.user.id.as_str().to_owned());
    let model = find(state, caller, name, version).await?;
    let _slot = match user {
        Some(u) => Some(state.in_flight.enter(u, state.models.config().per_caller)?),
        None => None,
    };
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            V2Error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is over the size limit".into(),
            )
        } else {
            bad(format!("reading the body: {}", e.body_text()))
        }
    })?;
    let body = match encoding::request_coding(headers)? {
        None => body,
        Some(coding) => {
            // Bounded by the body limit, so it may run here; off the runtime's threads all the same.
            let limit = state.config.max_body_bytes;
            tokio::task::spawn_blocking(move || encoding::inflate(coding, &body, limit))
                .await
                .map_err(|e| V2Error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??
                .into()
        }
    };
    let (header, binary) = binary::split(headers, &body)?;
    let request: types::InferRequest = serde_json::from_slice(header).map_err(|e| {
        // serde quotes the offending value whole; a gzip of a few KB can make it 1 MiB.
        let said: String = e.to_string().chars().take(300).collect();
        bad(format!("the request is not a valid inference request: {said}"))
    })?;
    let all_binary = binary::flag(request.parameters.as_ref(), "binary_data_output", "the request")?.unwrap_or(false);
    let wanted = requested_outputs(request.outputs.as_deref(), all_binary)?;
    let data = binary::inputs(&request.inputs, binary)?;
    let tensors: Vec<Tensor<'_>> = request
        .inputs
        .iter()
        .zip(data)
        .map(|(t, data)| Tensor {
            name: &t.name,
            shape: &t.shape,
            datatype: &t.datatype,
            data,
        })
        .collect();
    let served = served(state, &model).await?;
    let batch = to_batch(&served, &tensors, state.models.config().max_request_rows)?;
    let rows = batch.num_rows();
    let scored = score(&served, batch).await?;
    let id_len = request.id.as_deref().map_or(0, str::len);
    let names = model.id.as_str().len() + model.version.len() + id_len;
    let outputs_only: Vec<Output> = wanted.iter().map(|w| w.0).collect();
    let bound = response_bound(rows, &outputs_only, served.text_labels, names);
    check_labels(&scored.label)?;
    let mut outputs = Vec::new();
    let mut raw = Vec::new();
    for &(w, as_binary) in &wanted {
        let mut tensor = match w {
            Output::Label => label_tensor(&scored.label, rows)?,
            Output::Probability => types::OutputTensor {
                name: "probability".to_owned(),
                datatype: "FP32".to_owned(),
                shape: vec![rows],
                data: Some(types::OutputData::Numbers(
                    scored.probability.values().iter().map(|&p| f64::from(p)).collect(),
                )),
                parameters: None,
            },
        };
        if as_binary {
            let before = raw.len();
            match w {
                Output::Probability => {
                    for p in scored.probability.values() {
                        raw.extend_from_slice(&p.to_le_bytes());
                    }
                }
                Output::Label => match tensor.data.as_ref() {
                    Some(types::OutputData::Integers(v)) => {
                        for x in v {
                            raw.extend_from_slice(&x.to_le_bytes());
                        }
                    }
                    Some(types::OutputData::Text(v)) => binary::encode_strings(v.iter().map(String::as_str), &mut raw)?,
                    _ => {}
                },
            }
            tensor.data = None;
            tensor.parameters = Some(types::OutputParameters {
                binary_data_size: raw.len() - before,
            });
        }
        outputs.push(tensor);
    }
    let answer = types::InferResponse {
        model_name: model.id.as_str().to_owned(),
        model_version: model.version.clone(),
        id: request.id,
        outputs,
    };
    let mut bytes = serde_json::to_vec(&answer)
        .map_err(|e| V2Error(StatusCode::INTERNAL_SERVER_ERROR, format!("encoding the answer: {e}")))?;
    let header_len = bytes.len();
    bytes.extend_from_slice(&raw);
    if bytes.len() > bound {
        return Err(V2Error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "the answer would be {} bytes, over the {bound} bytes {rows} rows may take",
                bytes.len()
            ),
        ));
    }
    let mut response = if raw.is_empty() {
        ([(axum::http::header::CONTENT_TYPE, "application/json")], Bytes::new()).into_response()
    } else {
        (
            [
                (axum::http::header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                (
                    axum::http::HeaderName::from_static(binary::HEADER),
                    header_len.to_string(),
                ),
            ],
            Bytes::new(),
        )
            .into_response()
    };
    response.headers_mut().insert(
        axum::http::header::VARY,
        axum::http::HeaderValue::from_static("accept-encoding"),
    );
    let bytes = match encoding::accepted(headers) {
        Some(coding) => {
            response.headers_mut().insert(
                axum::http::header::CONTENT_ENCODING,
                axum::http::HeaderValue::from_static(coding.name()),
            );
            // A few rows' answer (under 1 KiB) costs microseconds to compress; a large one (up to the row
            // cap) would hold a runtime thread for milliseconds, so it goes to the blocking pool.
            if bytes.len() <= 1 << 10 {
                encoding::compress(coding, &bytes)?
            } else {
                tokio::task::spawn_blocking(move || encoding::compress(coding, &bytes))
                    .await
                    .map_err(|e| V2Error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??
            }
        }
        None => bytes,
    };
    *response.body_mut() = axum::body::Body::from(bytes);
    Ok((response, rows, scored.queue.as_secs_f64(), scored.compute.as_secs_f64()))
}

/// Scores `batch` on the model's workers: a full queue is the server's state (503, come back
/// shortly), anything else the model's failure.
async fn score(served: &Served, batch: RecordBatch) -> V2Result<crate::serving::Scored> {
    served.score(batch).await.map_err(|e| match e {
        ServeFailure::Overloaded(m) => V2Error(StatusCode::SERVICE_UNAVAILABLE, m),
        ServeFailure::Model(m) => V2Error(StatusCode::INTERNAL_SERVER_ERROR, format!("the model failed: {m}")),
    })
}

/// An output a request may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Label,
    Probability,
}

impl Output {
    /// The output called `name`, unless it is unknown or already among `wanted`.
    fn named(name: &str, mut wanted: impl Iterator<Item = Output>) -> V2Result<Output> {
        let output = match name {
            "label" => Output::Label,
            "probability" => Output::Probability,
            other => {
                return Err(bad(format!(
                    "unknown output {:?}; the outputs are label and probability",
                    other.chars().take(40).collect::<String>()
                )));
            }
        };
        if wanted.any(|w| w == output) {
            return Err(bad(format!(
                "output {name:?} is requested twice; name each output at most once"
            )));
        }
        Ok(output)
    }
}

/// The outputs asked for (both when none are named), each at most once: a request naming one
/// output thousands of times would otherwise make a small request return a huge answer. Each
/// with whether it goes as raw bytes: its own `binary_data` parameter, else the request's
/// `binary_data_output`.
fn requested_outputs(list: Option<&[types::RequestedOutput]>, all_binary: bool) -> V2Result<Vec<(Output, bool)>> {
    let Some(list) = list else {
        return Ok(vec![(Output::Label, all_binary), (Output::Probability, all_binary)]);
    };
    let mut wanted: Vec<(Output, bool)> = Vec::with_capacity(2);
    for o in list {
        let output = Output::named(&o.name, wanted.iter().map(|w| w.0))?;
        let as_binary = binary::flag(o.parameters.as_ref(), "binary_data", &format!("output {:?}", o.name))?;
        wanted.push((output, as_binary.unwrap_or(all_binary)));
    }
    Ok(wanted)
}

/// Longest string label the worker side passes on, bytes.
pub const MAX_LABEL_BYTES: usize = 256;

/// The most bytes an answer of `rows` rows with `outputs` can take: a fixed part (with the
/// caller's id and the model's name and version, each JSON-escaped at worst 6 bytes a byte)
/// plus, per row and output, the longest JSON value: an INT64 label 20 characters, a string
/// label `MAX_LABEL_BYTES` escaped and quoted, a probability 24 (an f64's longest shortest
/// round-trip form), each with its comma.
fn response_bound(rows: usize, outputs: &[Output], text_labels: bool, names: usize) -> usize {
    let per_row: usize = outputs
        .iter()
        .map(|o| match o {
            Output::Label if text_labels => MAX_LABEL_BYTES * 6 + 2 + 1,
            Output::Label => 20 + 1,
            Output::Probability => 24 + 1,
        })
        .sum();
    1024 + names.saturating_mul(6) + outputs.len() * 128 + rows.saturating_mul(per_row)
}

/// Refuses string labels over [`MAX_LABEL_BYTES`] (the worker side caps them; this holds the
/// answer's bound even if it did not).
fn check_labels(label: &ArrayRef) -> V2Result<()> {
    if let Some(a) = label.as_any().downcast_ref::<StringArray>()
        && let Some(i) = (0..a.len()).find(|&i| a.value(i).len() > MAX_LABEL_BYTES)
    {
        return Err(V2Error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "the model's label for row {i} is {} bytes, over the limit of {MAX_LABEL_BYTES}",
                a.value(i).len()
            ),
        ));
    }
    Ok(())
}

fn label_tensor(label: &ArrayRef, rows: usize) -> V2Result<types::OutputTensor> {
    let tensor = |datatype: &str, data| types::OutputTensor {
        name: "label".to_owned(),
        datatype: datatype.to_owned(),
        shape: vec![rows],
        data,
        parameters: None,
    };
    if let Some(a) = label.as_any().downcast_ref::<Int64Array>() {
        return Ok(tensor("INT64", Some(types::OutputData::Integers(a.values().to_vec()))));
    }
    if let Some(a) = label.as_any().downcast_ref::<StringArray>() {
        let data = (0..a.len()).map(|i| a.value(i).to_owned()).collect();
        return Ok(tensor("BYTES", Some(types::OutputData::Text(data))));
    }
    Err(V2Error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the worker sent labels of an unexpected type".into(),
    ))
}

const NUMERIC: &[&str] = &[
    "FP32", "FP64", "FP16", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "BOOL",
];

/// Flattens nested JSON arrays (the protocol allows row-major nesting) into `out`.
fn flatten<'a>(v: &'a Value, out: &mut Vec<&'a Value>, limit: usize) -> V2Result<()> {
    match v {
        Value::Array(items) => {
            for i in items {
                flatten(i, out, limit)?;
            }
        }
        other => {
            if out.len() >= limit {
                return Err(bad(format!("more than {limit} values")));
            }
            out.push(other);
        }
    }
    Ok(())
}

/// One input tensor of a request, whichever transport brought it: its name, shape and datatype,
/// and its data (JSON values, or raw little-endian bytes already checked against the shape).
struct Tensor<'a> {
    name: &'a str,
    shape: &'a [i64],
    datatype: &'a str,
    data: binary::InputData<'a>,
}

/// Checks the request's tensors against the model's inputs and builds one record batch.
fn to_batch(served: &Served, inputs: &[Tensor<'_>], max_rows: usize) -> V2Result<RecordBatch> {
    for t in inputs {
        if !served.inputs.iter().any(|c| c.name == t.name) {
            let names: Vec<&str> = served.inputs.iter().map(|c| c.name.as_str()).collect();
            return Err(bad(format!(
                "unexpected input {:?}; the model's inputs are {}",
                t.name.chars().take(40).collect::<String>(),
                names.join(", ")
            )));
        }
    }
    let mut rows: Option<usize> = None;
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(served.inputs.len());
    for c in &served.inputs {
        let mut found = inputs.iter().filter(|t| t.name == c.name).map(|t| (t, &t.data));
        let (t, d) = found
            .next()
            .ok_or_else(|| bad(format!("input {:?} is missing", c.name)))?;
        if found.next().is_some() {
            return Err(bad(format!("input {:?} is given twice", c.name)));
        }
        let n = match t.shape {
            [n] | [n, 1] if *n >= 1 => *n as usize,
            other => {
                return Err(bad(format!(
                    "input {:?} has shape {}; it must be [N] or [N, 1] with N >= 1",
                    c.name,
                    shape_text(other)
                )));
            }
        };
        if n > max_rows {
            return Err(bad(format!(
                "input {:?} has {n} rows, over the limit of {max_rows}",
                c.name
            )));
        }
        if *rows.get_or_insert(n) != n {
            return Err(bad(format!(
                "input {:?} has {n} rows, the others {}",
                c.name,
                rows.unwrap_or(0)
            )));
        }
        let array: ArrayRef = if c.text {
            if t.datatype != "BYTES" {
                return Err(bad(format!(
                    "input {:?} is a category: its datatype must be BYTES, not {}",
                    c.name,
                    t.datatype.chars().take(20).collect::<String>()
                )));
            }
            let strings = match d {
                binary::InputData::Json(v) => json_values(v, &c.name, n)?
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<String>>>()
                    .ok_or_else(|| bad(format!("input {:?} must hold strings", c.name)))?,
                binary::InputData::Binary(bytes) => binary::strings(&c.name, bytes, n)?,
            };
            Arc::new(StringArray::from(strings))
        } else {
            if !NUMERIC.contains(&t.datatype) {
                return Err(bad(format!(
                    "input {:?} is a number: its datatype must be one of {}, not {}",
                    c.name,
                    NUMERIC.join(", "),
                    t.datatype.chars().take(20).collect::<String>()
                )));
            }
            let numbers = match d {
                binary::InputData::Json(v) => json_values(v, &c.name, n)?
                    .iter()
                    .map(|v| match v {
                        Value::Bool(b) => Some(f64::from(u8::from(*b))),
                        other => other.as_f64().filter(|x| x.is_finite()),
                    })
                    .collect::<Option<Vec<f64>>>()
                    .ok_or_else(|| bad(format!("input {:?} must hold finite numbers ({})", c.name, t.datatype)))?,
                // The size is already checked against the shape and the datatype.
                binary::InputData::Binary(bytes) => binary::numbers(&c.name, t.datatype, bytes)?,
            };
            typed(&c.name, &c.data_type, numbers)?
        };
        columns.push(array);
    }
    RecordBatch::try_new(served.schema.clone(), columns).map_err(|e| bad(e.to_string()))
}

/// A number input in its scenario column's type: whole numbers for an integer column, 0 and 1
/// for a yes/no column (a model declaring an integer or bool input must get exactly what a run
/// gives it, never a silently cut 73.6).
fn typed(name: &str, data_type: &arrow::datatypes::DataType, numbers: Vec<f64>) -> V2Result<ArrayRef> {
    use arrow::datatypes::DataType as D;
    let refuse = |i: usize, what: &str| bad(format!("input {name:?}, value {i}: {} is not {what}", numbers[i]));
    Ok(match data_type {
        D::Boolean => {
            if let Some(i) = numbers.iter().position(|x| *x != 0.0 && *x != 1.0) {
                return Err(refuse(i, "a yes/no value (0 or 1, false or true)"));
            }
            Arc::new(arrow::array::BooleanArray::from_iter(
                numbers.iter().map(|x| Some(*x == 1.0)),
            ))
        }
        D::Int64 => {
            if let Some(i) = numbers.iter().position(|x| x.fract() != 0.0) {
                return Err(refuse(i, "a whole number"));
            }
            // Beyond 2^53 a JSON number is no longer the integer that was meant.
            if let Some(i) = numbers.iter().position(|x| x.abs() > 9.0e15) {
                return Err(refuse(
                    i,
                    "within ±9·10^15, the largest whole numbers a request carries exactly",
                ));
            }
            Arc::new(arrow::array::Int64Array::from_iter_values(
                numbers.iter().map(|x| *x as i64),
            ))
        }
        _ => Arc::new(Float64Array::from(numbers)),
    })
}

/// A JSON input's `n` values, flattened; refuses another count.
fn json_values<'a>(data: &'a Value, name: &str, n: usize) -> V2Result<Vec<&'a Value>> {
    let mut values = Vec::with_capacity(n);
    flatten(data, &mut values, n + 1)?;
    if values.len() != n {
        return Err(bad(format!(
            "input {name:?} has shape [{n}] but {} values",
            values.len()
        )));
    }
    Ok(values)
}

/// Models a user was recently allowed to see, so a busy client's requests cost no database
/// query (shared, not copied: a model row carries its inspection summary). Only grants are cached and nothing can revoke one (members are never removed from
/// a case, models never move), and entries expire after 30 seconds. Bounded: a full cache is
/// emptied.
pub struct VisibleCache(Ttl<(String, String), Arc<store::Model>>);

impl Default for VisibleCache {
    fn default() -> Self {
        Self(Ttl::new(std::time::Duration::from_secs(30), 10_000))
    }
}

impl VisibleCache {
    fn get(&self, key: &(String, String)) -> Option<Arc<store::Model>> {
        self.0.get(key)
    }

    fn put(&self, key: (String, String), model: Arc<store::Model>) {
        self.0.put(key, model);
    }
}

/// The protocol's health probes, which need no model and no caller.
pub fn health() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(live)).routes(routes!(ready))
}

/// The protocol's public route: the server's metadata.
pub fn public() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(server_metadata))
}

/// The protocol's model routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(model_metadata))
        .routes(routes!(model_version_metadata))
        .routes(routes!(model_ready))
        .routes(routes!(model_version_ready))
        .routes(routes!(infer))
        .routes(routes!(infer_version))
}

/// Live inference requests in flight per user, so one caller cannot take every worker and
/// queue slot: beyond the limit a request is answered 429 with `Retry-After`. Cheap to clone.
#[derive(Default, Clone)]
pub struct PerCaller(Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>);

/// One request's place in [`PerCaller`], given back on drop (it may outlive the handler: over
/// gRPC it lasts until the answer is sent).
pub struct InFlight {
    map: PerCaller,
    user: String,
}

impl PerCaller {
    fn enter(&self, user: String, limit: usize) -> V2Result<InFlight> {
        let mut map = self
            .0
            .lock()
            .map_err(|_| V2Error(StatusCode::INTERNAL_SERVER_ERROR, "a lock was poisoned".into()))?;
        let n = map.entry(user.clone()).or_insert(0);
        if *n >= limit {
            return Err(V2Error(
                StatusCode::TOO_MANY_REQUESTS,
                format!("you have {limit} inference requests in flight, the most one user may; wait for an answer"),
            ));
        }
        *n += 1;
        Ok(InFlight {
            map: self.clone(),
            user,
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut map) = self.map.0.lock()
            && let Some(n) = map.get_mut(&self.user)
        {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.user);
            }
        }
    }
}
