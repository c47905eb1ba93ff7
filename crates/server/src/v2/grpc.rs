//! The Open Inference Protocol over gRPC (KServe V2, `inference.GRPCInferenceService`): the same
//! models, tokens, roles, limits and batcher as `/v2` over HTTP, on its own port
//! (`serve --grpc-bind`).
//!
//! A call's token is its `authorization` metadata (`Bearer TOKEN`); who may call a model is who
//! may see it, and an address without valid credentials takes from the same anonymous rate as on
//! HTTP. Inputs come as `raw_input_contents` (one little-endian buffer per input, as
//! tritonclient sends them) or as typed `contents`; both are turned into the same raw bytes and
//! checked by the same code as the HTTP binary extension. Answers always carry
//! `raw_output_contents` (tritonclient's `as_numpy` reads only those). Refusals are the HTTP
//! refusals' gRPC codes ([`code`]) with the same message. Every stream counts against the
//! process's and its address's caps ([`Limited`]), so HTTP/2's many streams per connection give a
//! client no more than HTTP/1's connections would.

use super::{Output, Tensor, V2Error, V2Result, bad, binary, find, manifest_of, metadata, score, served, to_batch};
use crate::connections::{Holding, PerAddress};
use crate::middleware;
use crate::middleware::anonymous::Peer;
use crate::policy::Caller;
use crate::state::AppState;
use arrow::array::{Array, Int64Array, StringArray};
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};

/// The protocol's messages and service, generated from `proto/inference.proto` by `build.rs`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    tonic::include_proto!("inference");
}

use pb::grpc_inference_service_server::{GrpcInferenceService, GrpcInferenceServiceServer};

/// Longest request `id` echoed back, bytes.
pub const MAX_ID_BYTES: usize = 1024;

/// The gRPC code of a refusal that HTTP answers with `status`: tritonclient and grpcio show the
/// code and the message, so the message is the HTTP one and the code says the same thing.
pub fn code(status: StatusCode) -> tonic::Code {
    use tonic::Code;
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => Code::InvalidArgument,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::NotFound,
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::TOO_MANY_REQUESTS => Code::ResourceExhausted,
        StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
        StatusCode::NOT_IMPLEMENTED => Code::Unimplemented,
        StatusCode::GATEWAY_TIMEOUT | StatusCode::REQUEST_TIMEOUT => Code::DeadlineExceeded,
        _ => Code::Internal,
    }
}

impl From<V2Error> for Status {
    fn from(e: V2Error) -> Self {
        Status::new(code(e.0), super::capped(e.1))
    }
}

/// The service for `state`, behind [`Limited`].
pub fn service(state: AppState) -> Limited {
    let limits = state.config.connections;
    let inner = GrpcInferenceServiceServer::new(Grpc { state: state.clone() })
        // Also bounds what a gzip or deflate message may inflate to.
        .max_decoding_message_size(state.config.max_body_bytes)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
        .accept_compressed(tonic::codec::CompressionEncoding::Deflate)
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .send_compressed(tonic::codec::CompressionEncoding::Deflate);
    Limited {
        inner,
        state,
        streams: Arc::new(Semaphore::new(limits.max_connections.max(1))),
        per_address: PerAddress::default(),
        per_address_cap: limits.max_connections_per_address,
    }
}

/// The gRPC service behind the checks that must come before a message is read, as the HTTP
/// middleware's come before a body is: every call counts against the process's and its address's
/// stream caps (as many as connections, so HTTP/2's streams give a client no more than HTTP/1's
/// connections would); a call to a model needs a caller from its `authorization` metadata, and an
/// inference call a place in its caller's in-flight limit; a call without valid credentials takes
/// from its address's anonymous rate. A refused call is answered at once, its message never read
/// or inflated. The caps and the place are held until the answer has been sent.
#[derive(Clone)]
pub struct Limited {
    inner: GrpcInferenceServiceServer<Grpc>,
    state: AppState,
    streams: Arc<Semaphore>,
    per_address: PerAddress,
    per_address_cap: usize,
}

type Answer = axum::http::Response<tonic::body::Body>;

/// The service's methods, as its paths name them; anything else is `Other` (tonic answers it
/// UNIMPLEMENTED) and is treated as a call to a model, so an unknown method costs an
/// anonymous caller its rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    ServerLive,
    ServerReady,
    ServerMetadata,
    ModelReady,
    ModelMetadata,
    ModelInfer,
    Other,
}

impl Method {
    fn of(path: &str) -> Self {
        match path.strip_prefix("/inference.GRPCInferenceService/") {
            Some("ServerLive") => Self::ServerLive,
            Some("ServerReady") => Self::ServerReady,
            Some("ServerMetadata") => Self::ServerMetadata,
            Some("ModelReady") => Self::ModelReady,
            Some("ModelMetadata") => Self::ModelMetadata,
            Some("ModelInfer") => Self::ModelInfer,
            _ => Self::Other,
        }
    }

    /// The label metrics and audit entries use: the method's path, never a caller's.
    fn path(self) -> &'static str {
        match self {
            Self::ServerLive => "/inference.GRPCInferenceService/ServerLive",
            Self::ServerReady => "/inference.GRPCInferenceService/ServerReady",
            Self::ServerMetadata => "/inference.GRPCInferenceService/ServerMetadata",
            Self::ModelReady => "/inference.GRPCInferenceService/ModelReady",
            Self::ModelMetadata => "/inference.GRPCInferenceService/ModelMetadata",
            Self::ModelInfer => "/inference.GRPCInferenceService/ModelInfer",
            Self::Other => "/inference.GRPCInferenceService/other",
        }
    }
}

impl<B> tower_service::Service<axum::http::Request<B>> for Limited
where
    B: hyper::body::Body<Data = hyper::body::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = Answer;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: axum::http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let method = Method::of(req.uri().path());
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        let own = match peer {
            Some(p) => self.per_address.enter(p.ip(), self.per_address_cap),
            // Every served connection has its peer; a request without one is refused (fail closed).
            None => None,
        };
        let state = self.state.clone();
        let (Some(own), Ok(slot)) = (own, self.streams.clone().try_acquire_owned()) else {
            let e = V2Error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many calls in flight from this address or on this server; retry shortly".into(),
            );
            return Box::pin(std::future::ready(Ok(refuse(&state, method, started, e))));
        };
        if req.method() != axum::http::Method::POST
            || !req
                .headers()
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/grpc"))
        {
            let e = bad("a gRPC call is a POST with content-type application/grpc");
            return Box::pin(std::future::ready(Ok(refuse(&state, method, started, e))));
        }
        let origin = Origin::of(peer, req.headers());
        let mut inner = self.inner.clone();
        Box::pin(async move {
            let mut place = None;
            match method {
                Method::ServerLive | Method::ServerReady => {}
                Method::ServerMetadata => {
                    // Public, as `GET /v2` is: credentials ignored, the anonymous rate applies.
                    if let Err(wait) = state.anonymous.take(origin.peer) {
                        let (e, _) = middleware::anonymous::too_many(wait);
                        return Ok(refuse(&state, method, started, V2Error(e.status, e.message)));
                    }
                }
                Method::ModelReady | Method::ModelMetadata | Method::ModelInfer | Method::Other => {
                    let caller = match caller(&state, &origin).await {
                        Ok(c) => c,
                        Err(e) => return Ok(refuse(&state, method, started, e)),
                    };
                    if method == Method::ModelInfer {
                        let user = caller.user.id.as_str().to_owned();
                        match state.in_flight.enter(user, state.models.config().per_caller) {
                            Ok(p) => place = Some(p),
                            Err(e) => {
                                if caller.role() == store::Role::Advisor {
                                    let object = "(refused before its message was read)";
                                    let action = format!("gRPC {}", method.path());
                                    middleware::audit_advisor_read(&state, &caller, &action, object, e.0).await;
                                }
                                return Ok(refuse(&state, method, started, e));
                            }
                        }
                    }
                    req.extensions_mut().insert(caller);
                }
            }
            // The caller's deadline (`grpc-timeout`), when it gave one: past it nobody waits for the
            // answer, so the call stops and its place is given back.
            let answer = match deadline(req.headers()) {
                Some(limit) => match tokio::time::timeout(limit, tower_service::Service::call(&mut inner, req)).await {
                    Ok(answer) => answer?,
                    Err(_) => {
                        let e = V2Error(
                            StatusCode::GATEWAY_TIMEOUT,
                            format!("the call's deadline of {limit:?} (grpc-timeout) passed"),
                        );
                        return Ok(refuse(&state, method, started, e));
                    }
                },
                None => tower_service::Service::call(&mut inner, req).await?,
            };
            // The caps and the caller's place last until the answer is sent.
            Ok(answer.map(|body| tonic::body::Body::new(Holding::new(body, (own, slot, place)))))
        })
    }
}

/// The `grpc-timeout` a call carries (`1..8` digits and a unit, H M S m u n), if any and valid.
fn deadline(headers: &axum::http::HeaderMap) -> Option<std::time::Duration> {
    use std::time::Duration;
    let v = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// A refusal before the method ran, answered at once and counted in the request metrics.
fn refuse(state: &AppState, method: Method, started: Instant, e: V2Error) -> Answer {
    state
        .metrics
        .request(method.path(), "POST", e.0.as_u16(), started.elapsed().as_secs_f64());
    Status::from(e).into_http()
}

/// The caller of a call to a model, refused as `/v2` refuses; a call without a token is refused
/// in gRPC's terms (metadata, not a header).
async fn caller(state: &AppState, origin: &Origin) -> V2Result<Caller> {
    let caller = middleware::inference_caller(state, origin.peer, origin.authorization.as_deref())
        .await
        .map_err(|e| V2Error(e.status, e.message))?;
    caller.ok_or_else(|| {
        V2Error(
            StatusCode::UNAUTHORIZED,
            "this call needs the metadata `authorization: Bearer TOKEN`".into(),
        )
    })
}

/// The methods. The caller of a call to a model is in its extensions, put there by [`Limited`].
pub struct Grpc {
    state: AppState,
}

/// What a call's headers and connection say about who calls.
struct Origin {
    peer: Peer,
    authorization: Option<String>,
}

impl Origin {
    fn of(peer: Option<SocketAddr>, headers: &axum::http::HeaderMap) -> Self {
        // Longer values name nobody (tokens are 200 characters at most); cut before keeping it.
        let authorization = headers.get(axum::http::header::AUTHORIZATION).map(|v| {
            v.to_str()
                .map_or_else(|_| "invalid".to_owned(), |s| s.chars().take(256).collect())
        });
        Self {
            peer: Peer::of(peer),
            authorization,
        }
    }
}

impl Grpc {
    /// The caller [`Limited`] found, taken out of the call (a method without one was not routed
    /// through it: refused).
    fn caller<T>(request: &mut Request<T>) -> V2Result<Caller> {
        request.extensions_mut().remove::<Caller>().ok_or_else(|| {
            V2Error(
                StatusCode::UNAUTHORIZED,
                "this call needs the metadata `authorization: Bearer TOKEN`".into(),
            )
        })
    }

    /// Records a finished call (the request metrics, and an advisor's read of the model `name` in
    /// the audit log) and answers it.
    async fn finish<T>(
        &self,
        method: Method,
        advisor: Option<&Caller>,
        name: &str,
        started: Instant,
        result: V2Result<T>,
    ) -> Result<Response<T>, Status> {
        let status = result.as_ref().map_or_else(|e| e.0, |_| StatusCode::OK);
        let path = method.path();
        self.state
            .metrics
            .request(path, "POST", status.as_u16(), started.elapsed().as_secs_f64());
        if let Some(c) = advisor {
            middleware::audit_advisor_read(&self.state, c, &format!("gRPC {path}"), &shown(name), status).await;
        }
        result.map(Response::new).map_err(Status::from)
    }
}

/// The caller, when an advisor: only their calls are audited, so only theirs are kept past the
/// method's own use.
fn advisor(caller: &V2Result<Caller>) -> Option<Caller> {
    caller
        .as_ref()
        .ok()
        .filter(|c| c.role() == store::Role::Advisor)
        .cloned()
}

/// A model's name as the audit log may show it.
fn shown(name: &str) -> String {
    name.chars().take(80).collect()
}

#[tonic::async_trait]
impl GrpcInferenceService for Grpc {
    async fn server_live(&self, _: Request<pb::ServerLiveRequest>) -> Result<Response<pb::ServerLiveResponse>, Status> {
        Ok(Response::new(pb::ServerLiveResponse { live: true }))
    }

    async fn server_ready(
        &self,
        _: Request<pb::ServerReadyRequest>,
    ) -> Result<Response<pb::ServerReadyResponse>, Status> {
        match self.state.store.count_runs_by_state().await {
            Ok(_) => Ok(Response::new(pb::ServerReadyResponse { ready: true })),
            Err(e) => Err(Status::from(V2Error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the database: {e}"),
            ))),
        }
    }

    async fn server_metadata(
        &self,
        _: Request<pb::ServerMetadataRequest>,
    ) -> Result<Response<pb::ServerMetadataResponse>, Status> {
        let m = super::server_metadata().await.0;
        Ok(Response::new(pb::ServerMetadataResponse {
            name: m.name,
            version: m.version,
            extensions: m.extensions,
        }))
    }

    async fn model_ready(
        &self,
        mut request: Request<pb::ModelReadyRequest>,
    ) -> Result<Response<pb::ModelReadyResponse>, Status> {
        let started = Instant::now();
        let caller = Self::caller(&mut request);
        let req = request.into_inner();
        let advisor = advisor(&caller);
        let result = async {
            let version = (!req.version.is_empty()).then_some(req.version.as_str());
            let model = find(&self.state, Some(caller?), &req.name, version).await?;
            served(&self.state, &model).await?;
            Ok(pb::ModelReadyResponse { ready: true })
        }
        .await;
        self.finish(Method::ModelReady, advisor.as_ref(), &req.name, started, result)
            .await
    }

    async fn model_metadata(
        &self,
        mut request: Request<pb::ModelMetadataRequest>,
    ) -> Result<Response<pb::ModelMetadataResponse>, Status> {
        let started = Instant::now();
        let caller = Self::caller(&mut request);
        let req = request.into_inner();
        let advisor = advisor(&caller);
        let result = async {
            let version = (!req.version.is_empty()).then_some(req.version.as_str());
            let model = find(&self.state, Some(caller?), &req.name, version).await?;
            let manifest = manifest_of(&self.state, &model).await?;
            let inputs = crate::serving::column_inputs(&manifest);
            let text = manifest.output.text_labels();
            Ok(model_metadata(metadata(&model, &inputs, text)))
        }
        .await;
        self.finish(Method::ModelMetadata, advisor.as_ref(), &req.name, started, result)
            .await
    }

    async fn model_infer(
        &self,
        mut request: Request<pb::ModelInferRequest>,
    ) -> Result<Response<pb::ModelInferResponse>, Status> {
        let started = Instant::now();
        let caller = Self::caller(&mut request);
        let req = request.into_inner();
        let advisor = advisor(&caller);
        // Only a model the caller may see is counted under its id: a name a caller chose must not
        // add label values to the metrics (nor tell which ids exist).
        let mut found: Option<String> = None;
        let result = match caller {
            Ok(c) => infer(&self.state, c, &req, &mut found).await,
            Err(e) => Err(e),
        };
        let label = found.as_deref().unwrap_or("unknown");
        let result = match result {
            Ok((answer, rows, queue, compute)) => {
                self.state.metrics.inference(label, rows, queue, compute);
                Ok(answer)
            }
            Err(e) => {
                self.state.metrics.inference_failure(label, e.0.as_u16());
                Err(e)
            }
        };
        self.finish(Method::ModelInfer, advisor.as_ref(), &req.model_name, started, result)
            .await
    }
}

fn model_metadata(m: super::types::ModelMetadata) -> pb::ModelMetadataResponse {
    let tensor = |t: super::types::TensorMetadata| pb::model_metadata_response::TensorMetadata {
        name: t.name,
        datatype: t.datatype,
        shape: t.shape,
    };
    pb::ModelMetadataResponse {
        name: m.name,
        versions: m.versions,
        platform: m.platform,
        inputs: m.inputs.into_iter().map(tensor).collect(),
        outputs: m.outputs.into_iter().map(tensor).collect(),
    }
}

/// Scores a request: the answer, its rows, and its queue and compute seconds. `found` is set to
/// the model's id once the caller is known to see it. The caller's in-flight place is taken by
/// [`Limited`], before the message was read.
async fn infer(
    state: &AppState,
    caller: Caller,
    req: &pb::ModelInferRequest,
    found: &mut Option<String>,
) -> V2Result<(pb::ModelInferResponse, usize, f64, f64)> {
    let version = (!req.model_version.is_empty()).then_some(req.model_version.as_str());
    let model = find(state, Some(caller), &req.model_name, version).await?;
    *found = Some(model.id.as_str().to_owned());
    if req.id.len() > MAX_ID_BYTES {
        return Err(bad(format!(
            "the request id is {} bytes, over the limit of {MAX_ID_BYTES}",
            req.id.len()
        )));
    }
    let wanted = requested_outputs(&req.outputs)?;
    let raw = input_bytes(req)?;
    let tensors: Vec<Tensor<'_>> = req
        .inputs
        .iter()
        .zip(&raw)
        .map(|(t, r)| Tensor {
            name: &t.name,
            shape: &t.shape,
            datatype: &t.datatype,
            data: binary::InputData::Binary(r),
        })
        .collect();
    let served = served(state, &model).await?;
    let batch = to_batch(&served, &tensors, state.models.config().max_request_rows)?;
    let rows = batch.num_rows();
    let scored = score(&served, batch).await?;
    super::check_labels(&scored.label)?;
    let rows_i64 = i64::try_from(rows).map_err(|_| bad("too many rows"))?;
    let mut outputs = Vec::with_capacity(wanted.len());
    let mut raw_output_contents = Vec::with_capacity(wanted.len());
    for w in wanted {
        let (name, datatype, bytes) = match w {
            Output::Probability => {
                let mut b = Vec::with_capacity(rows * 4);
                for p in scored.probability.values() {
                    b.extend_from_slice(&p.to_le_bytes());
                }
                ("probability", "FP32", b)
            }
            Output::Label => label_bytes(&scored.label)?,
        };
        outputs.push(pb::model_infer_response::InferOutputTensor {
            name: name.to_owned(),
            datatype: datatype.to_owned(),
            shape: vec![rows_i64],
            parameters: Default::default(),
            contents: None,
        });
        raw_output_contents.push(bytes.into());
    }
    let answer = pb::ModelInferResponse {
        model_name: model.id.as_str().to_owned(),
        model_version: model.version.clone(),
        id: req.id.clone(),
        parameters: Default::default(),
        outputs,
        raw_output_contents,
    };
    Ok((answer, rows, scored.queue.as_secs_f64(), scored.compute.as_secs_f64()))
}

/// The label output: INT64 little-endian, or BYTES (each a 4-byte length and its UTF-8).
fn label_bytes(label: &arrow::array::ArrayRef) -> V2Result<(&'static str, &'static str, Vec<u8>)> {
    if let Some(a) = label.as_any().downcast_ref::<Int64Array>() {
        let mut b = Vec::with_capacity(a.len() * 8);
        for x in a.values() {
            b.extend_from_slice(&x.to_le_bytes());
        }
        return Ok(("label", "INT64", b));
    }
    if let Some(a) = label.as_any().downcast_ref::<StringArray>() {
        let mut b = Vec::new();
        binary::encode_strings((0..a.len()).map(|i| a.value(i)), &mut b)?;
        return Ok(("label", "BYTES", b));
    }
    Err(V2Error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the worker sent labels of an unexpected type".into(),
    ))
}

/// The outputs asked for (both when none are named), each at most once. Output parameters
/// (Triton's `binary_data`, `classification`) are ignored: over gRPC every output is raw bytes.
fn requested_outputs(list: &[pb::model_infer_request::InferRequestedOutputTensor]) -> V2Result<Vec<Output>> {
    if list.is_empty() {
        return Ok(vec![Output::Label, Output::Probability]);
    }
    let mut wanted = Vec::with_capacity(2);
    for o in list {
        let output = Output::named(&o.name, wanted.iter().copied())?;
        wanted.push(output);
    }
    Ok(wanted)
}

/// Each input's raw little-endian bytes, in the order of `inputs`: its `raw_input_contents`
/// entry (checked against its shape and datatype), or its typed `contents` encoded as the same
/// bytes. A request uses one or the other for all its inputs, as the protocol says.
fn input_bytes(req: &pb::ModelInferRequest) -> V2Result<Vec<Cow<'_, [u8]>>> {
    if !req.raw_input_contents.is_empty() {
        if req.raw_input_contents.len() != req.inputs.len() {
            return Err(bad(format!(
                "raw_input_contents has {} entries for {} inputs; give one entry per input, in the order of `inputs`",
                req.raw_input_contents.len(),
                req.inputs.len()
            )));
        }
        return req
            .inputs
            .iter()
            .zip(&req.raw_input_contents)
            .map(|(t, raw)| {
                let name = short(&t.name);
                if t.contents.is_some() {
                    return Err(bad(format!(
                        "input {name:?} has contents, but the request has raw_input_contents; give every input one way"
                    )));
                }
                binary::check_size(&name, &t.datatype, &t.shape, raw.len(), "raw content size")?;
                Ok(Cow::Borrowed(raw.as_ref()))
            })
            .collect();
    }
    req.inputs.iter().map(|t| contents_bytes(t).map(Cow::Owned)).collect()
}

/// Appends each value's little-endian bytes in the tensor's datatype (`bytes` is `None` for a value
/// that does not fit it, refused with `range`).
fn put<S: Copy + std::fmt::Display, const N: usize>(
    out: &mut Vec<u8>,
    values: &[S],
    bytes: impl Fn(S) -> Option<[u8; N]>,
    range: impl Fn(usize, &dyn std::fmt::Display) -> V2Error,
) -> V2Result<()> {
    for (i, &v) in values.iter().enumerate() {
        out.extend_from_slice(&bytes(v).ok_or_else(|| range(i, &v))?);
    }
    Ok(())
}

fn short(name: &str) -> String {
    name.chars().take(40).collect()
}

/// An input's typed `contents` as the raw little-endian bytes of its datatype. The datatype's
/// own field must hold exactly the shape's elements and every other field must be empty; a
/// value that does not fit the datatype (300 as INT8) is refused, not wrapped.
fn contents_bytes(t: &pb::model_infer_request::InferInputTensor) -> V2Result<Vec<u8>> {
    let name = short(&t.name);
    let Some(c) = t.contents.as_ref() else {
        return Err(bad(format!(
            "input {name:?} has no contents and the request no raw_input_contents"
        )));
    };
    let n = binary::elements(&t.shape, &name)?;
    let fields = [
        ("bool_contents", c.bool_contents.len()),
        ("int_contents", c.int_contents.len()),
        ("int64_contents", c.int64_contents.len()),
        ("uint_contents", c.uint_contents.len()),
        ("uint64_contents", c.uint64_contents.len()),
        ("fp32_contents", c.fp32_contents.len()),
        ("fp64_contents", c.fp64_contents.len()),
        ("bytes_contents", c.bytes_contents.len()),
    ];
    let datatype = t.datatype.as_str();
    let used = match datatype {
        "BOOL" => "bool_contents",
        "INT8" | "INT16" | "INT32" => "int_contents",
        "INT64" => "int64_contents",
        "UINT8" | "UINT16" | "UINT32" => "uint_contents",
        "UINT64" => "uint64_contents",
        "FP32" => "fp32_contents",
        "FP64" => "fp64_contents",
        "BYTES" => "bytes_contents",
        other => {
            return Err(bad(format!(
                "input {name:?} has datatype {}, which contents cannot carry; send it as raw_input_contents",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    if let Some((field, _)) = fields.iter().find(|(f, len)| *len > 0 && *f != used) {
        return Err(bad(format!(
            "input {name:?} of {datatype} has values in {field}; a {datatype} tensor's values go in {used}"
        )));
    }
    let given = fields.iter().find(|(f, _)| *f == used).map_or(0, |(_, len)| *len);
    if given != n {
        return Err(bad(format!(
            "input {name:?} has shape {} ({n} elements) but {given} values in {used}",
            super::shape_text(&t.shape)
        )));
    }
    let range =
        |i: usize, v: &dyn std::fmt::Display| bad(format!("input {name:?}, value {i}: {v} does not fit {datatype}"));
    let mut out = Vec::with_capacity(n * binary::element_size(datatype).unwrap_or(8));
    let o = &mut out;
    match datatype {
        "BOOL" => o.extend(c.bool_contents.iter().map(|b| u8::from(*b))),
        "INT8" => put(o, &c.int_contents, |v| i8::try_from(v).ok().map(i8::to_le_bytes), range)?,
        "INT16" => put(
            o,
            &c.int_contents,
            |v| i16::try_from(v).ok().map(i16::to_le_bytes),
            range,
        )?,
        "INT32" => put(o, &c.int_contents, |v| Some(v.to_le_bytes()), range)?,
        "INT64" => put(o, &c.int64_contents, |v| Some(v.to_le_bytes()), range)?,
        "UINT8" => put(
            o,
            &c.uint_contents,
            |v| u8::try_from(v).ok().map(u8::to_le_bytes),
            range,
        )?,
        "UINT16" => put(
            o,
            &c.uint_contents,
            |v| u16::try_from(v).ok().map(u16::to_le_bytes),
            range,
        )?,
        "UINT32" => put(o, &c.uint_contents, |v| Some(v.to_le_bytes()), range)?,
        "UINT64" => put(o, &c.uint64_contents, |v| Some(v.to_le_bytes()), range)?,
        "FP32" => put(o, &c.fp32_contents, |v| Some(v.to_le_bytes()), range)?,
        "FP64" => put(o, &c.fp64_contents, |v| Some(v.to_le_bytes()), range)?,
        _ => {
            // BYTES: each element's length and bytes, as the binary extension has them; the reader
            // checks each element's length and UTF-8.
            for (i, s) in c.bytes_contents.iter().enumerate() {
                let len = u32::try_from(s.len()).map_err(|_| range(i, &"an element over 4 GiB"))?;
                o.extend_from_slice(&len.to_le_bytes());
                o.extend_from_slice(s);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::InferTensorContents;
    use pb::model_infer_request::InferInputTensor;

    fn input(name: &str, datatype: &str, shape: Vec<i64>, contents: Option<InferTensorContents>) -> InferInputTensor {
        InferInputTensor {
            name: name.into(),
            datatype: datatype.into(),
            shape,
            parameters: Default::default(),
            contents,
        }
    }

    /// Contents filled in by `f`.
    fn c(f: fn(&mut InferTensorContents)) -> Option<InferTensorContents> {
        let mut c = InferTensorContents::default();
        f(&mut c);
        Some(c)
    }

    fn message(e: V2Error) -> String {
        assert_eq!(e.0, StatusCode::BAD_REQUEST, "{}", e.1);
        e.1
    }

    #[test]
    fn a_callers_deadline_is_read_in_every_unit_and_nonsense_is_ignored() {
        use std::time::Duration;
        let d = |v: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert("grpc-timeout", v.parse().unwrap());
            deadline(&h)
        };
        assert_eq!(d("100m"), Some(Duration::from_millis(100)));
        assert_eq!(d("2S"), Some(Duration::from_secs(2)));
        assert_eq!(d("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(d("5000u"), Some(Duration::from_micros(5000)));
        assert_eq!(d("99999999n"), Some(Duration::from_nanos(99_999_999)));
        for nonsense in ["", "m", "100", "123456789S", "-1S", "1x", "1.5S"] {
            assert_eq!(d(nonsense), None, "{nonsense:?}");
        }
    }

    #[test]
    fn http_refusals_keep_their_meaning_as_grpc_codes() {
        use tonic::Code;
        assert_eq!(code(StatusCode::BAD_REQUEST), Code::InvalidArgument);
        assert_eq!(code(StatusCode::UNAUTHORIZED), Code::Unauthenticated);
        assert_eq!(code(StatusCode::NOT_FOUND), Code::NotFound);
        assert_eq!(code(StatusCode::TOO_MANY_REQUESTS), Code::ResourceExhausted);
        assert_eq!(code(StatusCode::PAYLOAD_TOO_LARGE), Code::ResourceExhausted);
        assert_eq!(code(StatusCode::SERVICE_UNAVAILABLE), Code::Unavailable);
        assert_eq!(code(StatusCode::INTERNAL_SERVER_ERROR), Code::Internal);
        let s = Status::from(V2Error(StatusCode::NOT_FOUND, "unknown model \"x\"".into()));
        assert_eq!((s.code(), s.message()), (Code::NotFound, "unknown model \"x\""));
    }

    #[test]
    fn typed_contents_become_the_raw_bytes_of_their_datatype() {
        let fp64 = input("age", "FP64", vec![2], c(|c| c.fp64_contents = vec![1.5, -2.0]));
        let want: Vec<u8> = [1.5f64, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(contents_bytes(&fp64).unwrap(), want);
        let int8 = input("n", "INT8", vec![2, 1], c(|c| c.int_contents = vec![-3, 7]));
        assert_eq!(contents_bytes(&int8).unwrap(), vec![0xfd, 7]);
        let boolean = input("b", "BOOL", vec![3], c(|c| c.bool_contents = vec![true, false, true]));
        assert_eq!(contents_bytes(&boolean).unwrap(), vec![1, 0, 1]);
        let text = input(
            "s",
            "BYTES",
            vec![2],
            c(|c| c.bytes_contents = vec!["ab".into(), "".into()]),
        );
        let bytes = contents_bytes(&text).unwrap();
        assert_eq!(bytes, vec![2, 0, 0, 0, b'a', b'b', 0, 0, 0, 0]);
        assert_eq!(binary::strings("s", &bytes, 2).unwrap(), vec!["ab", ""]);
    }

    #[test]
    fn contents_that_do_not_match_their_datatype_or_shape_are_refused() {
        let wide = input("n", "INT8", vec![1], c(|c| c.int_contents = vec![300]));
        assert!(message(contents_bytes(&wide).unwrap_err()).contains("300 does not fit INT8"));
        let count = input("age", "FP32", vec![3], c(|c| c.fp32_contents = vec![1.0, 2.0]));
        assert!(message(contents_bytes(&count).unwrap_err()).contains("(3 elements) but 2 values in fp32_contents"));
        let field = input("age", "FP32", vec![1], c(|c| c.fp64_contents = vec![1.0]));
        assert!(message(contents_bytes(&field).unwrap_err()).contains("has values in fp64_contents"));
        let none = input("age", "FP32", vec![1], None);
        assert!(message(contents_bytes(&none).unwrap_err()).contains("no contents"));
        let half = input("age", "FP16", vec![1], c(|c| c.fp32_contents = vec![1.0]));
        assert!(message(contents_bytes(&half).unwrap_err()).contains("send it as raw_input_contents"));
    }

    #[test]
    fn raw_contents_must_be_one_per_input_and_fit_the_shape() {
        let mut req = pb::ModelInferRequest {
            inputs: vec![
                input("age", "FP64", vec![2], None),
                input("edu", "BYTES", vec![1], None),
            ],
            raw_input_contents: vec![vec![0u8; 16].into()],
            ..Default::default()
        };
        assert!(message(input_bytes(&req).unwrap_err()).contains("1 entries for 2 inputs"));
        req.raw_input_contents = vec![vec![0u8; 15].into(), vec![1, 0, 0, 0, b'x'].into()];
        assert!(
            message(input_bytes(&req).unwrap_err())
                .contains("has raw content size 15, but shape [2] of FP64 takes 16 bytes")
        );
        req.raw_input_contents[0] = vec![0u8; 16].into();
        let raw = input_bytes(&req).unwrap();
        assert_eq!((raw[0].len(), raw[1].len()), (16, 5));
        req.inputs[1].contents = Some(InferTensorContents::default());
        assert!(message(input_bytes(&req).unwrap_err()).contains("give every input one way"));
    }

    #[test]
    fn outputs_are_named_once_each() {
        let o = |n: &str| pb::model_infer_request::InferRequestedOutputTensor {
            name: n.into(),
            parameters: Default::default(),
        };
        assert_eq!(
            requested_outputs(&[]).unwrap(),
            vec![Output::Label, Output::Probability]
        );
        assert_eq!(
            requested_outputs(&[o("probability")]).unwrap(),
            vec![Output::Probability]
        );
        assert!(message(requested_outputs(&[o("score")]).unwrap_err()).contains("unknown output \"score\""));
        assert!(message(requested_outputs(&[o("label"), o("label")]).unwrap_err()).contains("requested twice"));
    }
}
