//! The Open Inference Protocol (KServe V2, REST) for uploaded models.
//!
//! A model's name is its id; its version is the manifest's. Its inputs are the scenario
//! columns its manifest uses, each a tensor of shape `[N]` (or `[N, 1]`): numbers as FP32,
//! FP64, INT8–64, UINT8–64 or BOOL, categories as BYTES. Its outputs are `label` (INT64, or
//! BYTES for text classes) and `probability` (FP32, the positive class). The sandbox builds
//! the model's own tensors from those columns exactly as in an evaluation run, in the same
//! isolated workers. Who may call a model is who may see it. Errors are `{"error": "..."}`.

use crate::policy::{self, Caller};
use crate::serving::{ColumnInput, ServeFailure, Served};
use crate::state::AppState;
use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// An error in the protocol's shape.
pub struct V2Error(StatusCode, String);

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

fn bad(message: impl Into<String>) -> V2Error {
    V2Error(StatusCode::BAD_REQUEST, message.into())
}

type V2Result<T> = Result<T, V2Error>;

pub async fn live() -> Json<Value> {
    Json(json!({"live": true}))
}

pub async fn ready(State(state): State<AppState>) -> Response {
    match state.store.count_runs_by_state().await {
        Ok(_) => Json(json!({"ready": true})).into_response(),
        Err(e) => V2Error(StatusCode::SERVICE_UNAVAILABLE, format!("the database: {e}")).into_response(),
    }
}

pub async fn server_metadata() -> Json<Value> {
    Json(json!({"name": "sandkasse", "version": env!("CARGO_PKG_VERSION"), "extensions": []}))
}

/// The model, if the caller may see it and the version (when given) is its version.
async fn find(
    state: &AppState,
    caller: Option<Caller>,
    name: &str,
    version: Option<&str>,
) -> V2Result<store::meta::Model> {
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

fn metadata(model: &store::meta::Model, inputs: &[ColumnInput], text_labels: bool) -> Value {
    let tensor = |name: &str, datatype: &str| json!({"name": name, "datatype": datatype, "shape": [-1]});
    json!({
        "name": model.id,
        "versions": [model.version],
        "platform": "onnxruntime_onnx",
        "inputs": inputs.iter().map(|c| tensor(&c.name, if c.text { "BYTES" } else { "FP32" })).collect::<Vec<_>>(),
        "outputs": [tensor("label", if text_labels { "BYTES" } else { "INT64" }), tensor("probability", "FP32")],
    })
}

/// The caller from the request's extensions (set by the middleware), if any.
pub struct MaybeCaller(Option<Caller>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for MaybeCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeCaller(parts.extensions.get::<Caller>().cloned()))
    }
}

async fn served(state: &AppState, model: &store::meta::Model) -> V2Result<Arc<Served>> {
    state
        .models
        .get(model, &state.blobs, &state.config.worker)
        .await
        .map_err(|e| {
            V2Error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the model could not be started: {e}"),
            )
        })
}

pub async fn model_metadata(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(name): Path<String>,
) -> V2Result<Json<Value>> {
    versioned_metadata(State(state), MaybeCaller(caller), Path((name, None))).await
}

pub async fn model_version_metadata(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path((name, version)): Path<(String, String)>,
) -> V2Result<Json<Value>> {
    versioned_metadata(State(state), MaybeCaller(caller), Path((name, Some(version)))).await
}

async fn versioned_metadata(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path((name, version)): Path<(String, Option<String>)>,
) -> V2Result<Json<Value>> {
    let model = find(&state, caller, &name, version.as_deref()).await?;
    let manifest = manifest_of(&state, &model).await?;
    let inputs = crate::serving::column_inputs(&manifest);
    let text = matches!(manifest.output.positive_class, inference::manifest::ClassValue::Text(_));
    Ok(Json(metadata(&model, &inputs, text)))
}

async fn manifest_of(state: &AppState, model: &store::meta::Model) -> V2Result<inference::manifest::Manifest> {
    let blobs = state.blobs.clone();
    let digest = model.manifest_sha256.clone();
    let text = tokio::task::spawn_blocking(move || blobs.get(&digest))
        .await
        .map_err(|e| V2Error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| V2Error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    inference::manifest::Manifest::parse(&String::from_utf8_lossy(&text))
        .map_err(|e| V2Error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

pub async fn model_ready(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(name): Path<String>,
) -> V2Result<Json<Value>> {
    let model = find(&state, caller, &name, None).await?;
    served(&state, &model).await?;
    Ok(Json(json!({"name": model.id, "ready": true})))
}

pub async fn model_version_ready(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path((name, version)): Path<(String, String)>,
) -> V2Result<Json<Value>> {
    let model = find(&state, caller, &name, Some(&version)).await?;
    served(&state, &model).await?;
    Ok(Json(json!({"name": model.id, "ready": true})))
}

#[derive(Debug, Deserialize)]
struct InferRequest {
    #[serde(default)]
    id: Option<String>,
    inputs: Vec<InputTensor>,
    #[serde(default)]
    outputs: Option<Vec<RequestedOutput>>,
    #[serde(default)]
    #[allow(dead_code)]
    parameters: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct InputTensor {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    data: Value,
    #[serde(default)]
    #[allow(dead_code)]
    parameters: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct RequestedOutput {
    name: String,
}

pub async fn infer(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    run_infer(state, caller, name, None, body).await
}

pub async fn infer_version(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path((name, version)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    run_infer(state, caller, name, Some(version), body).await
}

async fn run_infer(
    state: AppState,
    caller: Option<Caller>,
    name: String,
    version: Option<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let model_label = name.chars().take(40).collect::<String>();
    let result = infer_inner(&state, caller, &name, version.as_deref(), body).await;
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
    body: Result<Bytes, BytesRejection>,
) -> V2Result<(Response, usize, f64, f64)> {
    let model = find(state, caller, name, version).await?;
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
    let request: InferRequest =
        serde_json::from_slice(&body).map_err(|e| bad(format!("the request is not a valid inference request: {e}")))?;
    let served = served(state, &model).await?;
    let batch = to_batch(&served, &request.inputs, state.models.config().max_request_rows)?;
    let rows = batch.num_rows();
    let wanted: Vec<String> = match &request.outputs {
        None => vec!["label".into(), "probability".into()],
        Some(list) => {
            for o in list {
                if o.name != "label" && o.name != "probability" {
                    return Err(bad(format!(
                        "unknown output {:?}; the outputs are label and probability",
                        o.name.chars().take(40).collect::<String>()
                    )));
                }
            }
            list.iter().map(|o| o.name.clone()).collect()
        }
    };
    let scored = served.score(batch).await.map_err(|e| match e {
        ServeFailure::Overloaded(m) => V2Error(StatusCode::SERVICE_UNAVAILABLE, m),
        ServeFailure::Model(m) => V2Error(StatusCode::INTERNAL_SERVER_ERROR, format!("the model failed: {m}")),
    })?;
    let mut outputs = Vec::new();
    for w in &wanted {
        if w == "label" {
            outputs.push(label_tensor(&scored.label, rows)?);
        } else {
            let data: Vec<Value> = scored.probability.values().iter().map(|&p| json!(p)).collect();
            outputs.push(json!({"name": "probability", "datatype": "FP32", "shape": [rows], "data": data}));
        }
    }
    let mut answer = json!({"model_name": model.id, "model_version": model.version, "outputs": outputs});
    if let Some(id) = request.id {
        answer["id"] = json!(id);
    }
    Ok((
        Json(answer).into_response(),
        rows,
        scored.queue.as_secs_f64(),
        scored.compute.as_secs_f64(),
    ))
}

fn label_tensor(label: &ArrayRef, rows: usize) -> V2Result<Value> {
    if let Some(a) = label.as_any().downcast_ref::<Int64Array>() {
        return Ok(json!({"name": "label", "datatype": "INT64", "shape": [rows], "data": a.values().to_vec()}));
    }
    if let Some(a) = label.as_any().downcast_ref::<StringArray>() {
        let data: Vec<&str> = (0..a.len()).map(|i| a.value(i)).collect();
        return Ok(json!({"name": "label", "datatype": "BYTES", "shape": [rows], "data": data}));
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

/// Checks the request's tensors against the model's inputs and builds one record batch.
fn to_batch(served: &Served, inputs: &[InputTensor], max_rows: usize) -> V2Result<RecordBatch> {
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
        let mut found = inputs.iter().filter(|t| t.name == c.name);
        let t = found
            .next()
            .ok_or_else(|| bad(format!("input {:?} is missing", c.name)))?;
        if found.next().is_some() {
            return Err(bad(format!("input {:?} is given twice", c.name)));
        }
        let n = match t.shape.as_slice() {
            [n] | [n, 1] if *n >= 1 => *n as usize,
            other => {
                return Err(bad(format!(
                    "input {:?} has shape {other:?}; it must be [N] or [N, 1] with N >= 1",
                    c.name
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
        let mut values = Vec::with_capacity(n);
        flatten(&t.data, &mut values, n + 1)?;
        if values.len() != n {
            return Err(bad(format!(
                "input {:?} has shape {:?} but {} values",
                c.name,
                t.shape,
                values.len()
            )));
        }
        let array: ArrayRef = if c.text {
            if t.datatype != "BYTES" {
                return Err(bad(format!(
                    "input {:?} is a category: its datatype must be BYTES, not {}",
                    c.name, t.datatype
                )));
            }
            let strings: Option<Vec<&str>> = values.iter().map(|v| v.as_str()).collect();
            let strings = strings.ok_or_else(|| bad(format!("input {:?} must hold strings", c.name)))?;
            Arc::new(StringArray::from(strings))
        } else {
            if !NUMERIC.contains(&t.datatype.as_str()) {
                return Err(bad(format!(
                    "input {:?} is a number: its datatype must be one of {}, not {}",
                    c.name,
                    NUMERIC.join(", "),
                    t.datatype.chars().take(20).collect::<String>()
                )));
            }
            let numbers: Option<Vec<f64>> = values
                .iter()
                .map(|v| match v {
                    Value::Bool(b) => Some(f64::from(u8::from(*b))),
                    other => other.as_f64().filter(|x| x.is_finite()),
                })
                .collect();
            let numbers =
                numbers.ok_or_else(|| bad(format!("input {:?} must hold finite numbers ({})", c.name, t.datatype)))?;
            Arc::new(Float64Array::from(numbers))
        };
        columns.push(array);
    }
    RecordBatch::try_new(served.schema.clone(), columns).map_err(|e| bad(e.to_string()))
}

/// Models a user was recently allowed to see, so a busy client's requests cost no database
/// query. Only grants are cached and nothing can revoke one (members are never removed from
/// a case, models never move), and entries expire after 30 seconds. Bounded: a full cache is
/// emptied.
#[derive(Default)]
pub struct VisibleCache(std::sync::Mutex<VisibleMap>);

type VisibleMap = std::collections::HashMap<(String, String), (store::meta::Model, std::time::Instant)>;

impl VisibleCache {
    fn get(&self, key: &(String, String)) -> Option<store::meta::Model> {
        let map = self.0.lock().ok()?;
        map.get(key)
            .filter(|(_, at)| at.elapsed() < std::time::Duration::from_secs(30))
            .map(|(m, _)| m.clone())
    }

    fn put(&self, key: (String, String), model: store::meta::Model) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= 10_000 {
                map.clear();
            }
            map.insert(key, (model, std::time::Instant::now()));
        }
    }
}
