//! Around every routed request: a request id, the caller from the bearer token, the audit
//! entry, and the request metrics.
//!
//! Audit rule: every request that may change state (any method but GET/HEAD/OPTIONS) and every
//! read by an advisor gets one entry, whatever its outcome, including refusals; a request
//! with a wrong token is recorded as `anonymous`.
//!
//! Who writes it: a handler that changes something writes the entry itself, in the same
//! database transaction as the change (from the [`AuditContext`] this middleware puts into the
//! request, through [`Audit::commit`]), so a crash between the two cannot leave a change
//! without its entry. Everything else (refusals, failures, advisors' reads: nothing changed)
//! is appended here after the handler. Handlers may name the object and case such an entry
//! concerns by putting [`AuditObject`] / [`AuditCase`] into the response's extensions.
//!
//! Callers without valid credentials are rate-limited per peer address, and their repeated
//! refusals are counted rather than each written ([`anonymous`]).

pub mod anonymous;

use crate::cache::Ttl;
use crate::error::ApiError;
use crate::policy::Caller;
use crate::state::AppState;
use crate::web::session::Session;
use anonymous::{Note, Peer};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use store::NewEntry;
use store::Role;
use store::{CaseId, StoreError, Timestamp};

/// The id of one request, also sent back as `x-request-id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The object an audit entry is about, when it is not the request path (e.g. a created id).
#[derive(Debug, Clone)]
pub struct AuditObject(pub String);

/// The case an audit entry concerns.
#[derive(Debug, Clone)]
pub struct AuditCase(pub String);

/// What a handler needs to write its change's audit entry itself, in the change's own
/// transaction: who asks, the action (`METHOD route`) and the request id. Put into every
/// request's extensions by [`around`]; take it as an extractor.
#[derive(Debug, Clone)]
pub struct AuditContext {
    caller: Option<Caller>,
    action: String,
    request_id: String,
    /// Set once a change has committed with this request's entry, so [`around`] does not
    /// append a second one.
    written: Arc<AtomicBool>,
}

impl AuditContext {
    /// The entry of a change whose handler answers `outcome` when it succeeds.
    pub fn on_success(&self, outcome: StatusCode) -> Audit<'_> {
        Audit {
            ctx: self,
            outcome,
            actor: None,
        }
    }

    fn written(&self) -> bool {
        self.written.load(Ordering::SeqCst)
    }
}

/// The audit entry one change commits with: the request's context and the status its handler
/// answers on success (201 from the API, 303 from a page, ...).
#[derive(Debug, Clone, Copy)]
pub struct Audit<'a> {
    ctx: &'a AuditContext,
    outcome: StatusCode,
    actor: Option<&'a Caller>,
}

impl<'a> Audit<'a> {
    /// By someone the request itself establishes (a login), not the request's caller.
    pub fn by(self, actor: &'a Caller) -> Self {
        Self {
            actor: Some(actor),
            ..self
        }
    }

    /// The entry, naming the object and case the change concerns.
    pub fn entry(&self, object: impl Into<String>, case: Option<&CaseId>) -> NewEntry {
        entry_for(
            self.actor.or(self.ctx.caller.as_ref()),
            self.ctx.action.clone(),
            object.into(),
            self.outcome,
            &self.ctx.request_id,
            case.map(|c| c.as_str().to_owned()),
        )
    }

    /// Awaits the store call that commits the change together with [`Audit::entry`]; when it
    /// succeeds, the middleware appends nothing more for this request.
    pub async fn commit<T>(&self, change: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        let done = change.await?;
        self.ctx.written.store(true, Ordering::SeqCst);
        Ok(done)
    }
}

/// An audit entry made now.
fn entry_for(
    caller: Option<&Caller>,
    action: String,
    object: String,
    outcome: StatusCode,
    request_id: &str,
    case_id: Option<String>,
) -> NewEntry {
    NewEntry {
        time: Timestamp::now().as_str().to_owned(),
        actor: caller.map_or_else(|| "anonymous".to_owned(), |c| c.user.id.as_str().to_owned()),
        org: caller.map_or_else(String::new, |c| c.org.id.as_str().to_owned()),
        role: caller.map_or_else(String::new, |c| c.role().as_str().to_owned()),
        action,
        object,
        outcome: outcome.as_u16().to_string(),
        request_id: request_id.to_owned(),
        case_id,
    }
}

/// Which face of the service a request came to, and so how its caller is known, whether its
/// anonymous use is rate-limited and which of its requests the audit log records. Each face's
/// sub-router has its own [`around`] layer with its own `Face`: nothing here looks at paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Face {
    who: Who,
    limit: Limit,
    /// Requests that may change state (any method but GET/HEAD/OPTIONS) are audited.
    audit_changes: bool,
    /// Advisors' reads are audited: their inspection is itself on the record.
    audit_advisor_reads: bool,
    /// How the face's refusals look.
    errors: Errors,
}

/// The shape of a face's error answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Errors {
    /// `{"error": {"code", "message", "details"}}` (the pages draw their own on top).
    Api,
    /// The Open Inference Protocol's `{"error": "..."}`, which its clients read.
    Protocol,
}

/// How a face knows its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// `Authorization: Bearer TOKEN` (the API never takes the cookie, so it needs no CSRF defence).
    Bearer,
    /// The pages' session cookie; a request with an `Authorization` header is never a session's
    /// and is judged by its token instead.
    Session,
    /// Nobody: the face takes no user's credentials and ignores any sent (public documents and
    /// probes; `/metrics` has its own token).
    Nobody,
}

/// Whether a face's anonymous use is rate-limited per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    Anonymous,
    /// Health probes and the pages' static assets: an orchestrator must see a live service as
    /// live whoever else shares its address, and neither reads the database nor writes the audit log.
    Unlimited,
    /// A monitor that holds the metrics token is not an anonymous caller: its scrapes are never held
    /// back by anonymous traffic from its address (a proxy, a shared host).
    UnlessMetricsToken,
}

impl Face {
    /// The JSON API under `/api/v1`.
    pub const API: Face = Face {
        who: Who::Bearer,
        limit: Limit::Anonymous,
        audit_changes: true,
        audit_advisor_reads: true,
        errors: Errors::Api,
    };
    /// What anyone may read: the OpenAPI document, the inference server's metadata. Credentials
    /// sent along are ignored, not judged.
    pub const PUBLIC: Face = Face {
        who: Who::Nobody,
        limit: Limit::Anonymous,
        audit_changes: true,
        audit_advisor_reads: false,
        errors: Errors::Api,
    };
    /// The same for the Open Inference Protocol's public routes.
    pub const PUBLIC_INFERENCE: Face = Face {
        errors: Errors::Protocol,
        ..Face::PUBLIC
    };
    /// The pages under `/ui`.
    pub const PAGES: Face = Face {
        who: Who::Session,
        limit: Limit::Anonymous,
        audit_changes: true,
        audit_advisor_reads: true,
        errors: Errors::Api,
    };
    /// The pages' static assets.
    pub const ASSETS: Face = Face {
        who: Who::Session,
        limit: Limit::Unlimited,
        audit_changes: true,
        audit_advisor_reads: false,
        errors: Errors::Api,
    };
    /// Live inference under `/v2`: a read, whatever its method.
    pub const INFERENCE: Face = Face {
        who: Who::Bearer,
        limit: Limit::Anonymous,
        audit_changes: false,
        audit_advisor_reads: true,
        errors: Errors::Protocol,
    };
    /// Health probes (`/healthz`): anyone's, never rate-limited, credentials ignored.
    pub const HEALTH: Face = Face {
        who: Who::Nobody,
        limit: Limit::Unlimited,
        audit_changes: false,
        audit_advisor_reads: false,
        errors: Errors::Api,
    };
    /// The Open Inference Protocol's health probes.
    pub const INFERENCE_HEALTH: Face = Face {
        errors: Errors::Protocol,
        ..Face::HEALTH
    };
    /// `/metrics`, with the metrics token rather than a user's.
    pub const METRICS: Face = Face {
        who: Who::Nobody,
        limit: Limit::UnlessMetricsToken,
        audit_changes: true,
        audit_advisor_reads: false,
        errors: Errors::Api,
    };

    /// A refusal of this face, in its shape.
    fn refuse(self, e: ApiError) -> Response {
        match self.errors {
            Errors::Api => e.into_response(),
            Errors::Protocol => {
                (e.status, axum::Json(crate::v2::types::V2ErrorBody { error: e.message })).into_response()
            }
        }
    }

    /// The anonymous rate limit's refusal, in this face's shape, with `Retry-After`.
    fn too_many(self, wait: std::time::Duration) -> Response {
        let (e, retry) = anonymous::too_many(wait);
        let mut r = self.refuse(e);
        r.headers_mut().insert(axum::http::header::RETRY_AFTER, retry);
        r
    }
}

/// A response that also tells the audit log which case it concerns.
pub fn in_case(case: &store::Case, response: impl IntoResponse) -> Response {
    let mut r = response.into_response();
    r.extensions_mut().insert(AuditCase(case.id.as_str().to_owned()));
    r
}

fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    bearer_value(headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?)
}

/// The token of an `authorization` value `Bearer TOKEN` (the scheme in any case).
fn bearer_value(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub async fn around(State((state, face)): State<(AppState, Face)>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = RequestId(store::RunId::generate().as_str().to_owned());
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let path = req.uri().path().chars().take(300).collect::<String>();
    let peer = Peer::of(req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0));
    // `/metrics` takes the metrics token, not a user's: its header is not a user's login.
    let has_header = req.headers().contains_key(axum::http::header::AUTHORIZATION) && face.who != Who::Nobody;
    let unlimited = match face.limit {
        Limit::Anonymous => false,
        Limit::Unlimited => true,
        Limit::UnlessMetricsToken => {
            crate::metrics::token_matches(state.config.metrics_token.as_deref(), req.headers())
        }
    };
    let changes = face.audit_changes && !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    // An address already over its anonymous rate is refused before its credentials cost a database
    // query (a flood of wrong tokens would otherwise be one query each); only a caller whose token
    // was recently found valid passes.
    if !unlimited
        && let Some(wait) = state.anonymous.throttled(peer)
        && match bearer(req.headers()) {
            Some(token) => state.callers.known_invalid(token),
            None => crate::web::session::cookie(req.headers()).is_none(),
        }
    {
        if changes {
            // Counted into the address's summary entry, never written one by one.
            let _ = state.anonymous.refused(
                peer,
                &format!("{method} {route}"),
                axum::http::StatusCode::TOO_MANY_REQUESTS,
            );
        }
        return finish(&state, face.too_many(wait), &request_id, &route, &method, started);
    }
    let caller = match authenticate(&state, req.headers(), face.who).await {
        Ok((session, caller)) => {
            if let Some(s) = session {
                req.extensions_mut().insert(s);
            }
            caller
        }
        Err(e) => {
            let resp = face.refuse(ApiError::from(e));
            return finish(&state, resp, &request_id, &route, &method, started);
        }
    };
    // Authenticated callers are never held back by others' anonymous traffic from their address.
    let limited = if caller.is_none() && !unlimited {
        state.anonymous.take(peer).err()
    } else {
        None
    };
    let context = AuditContext {
        caller: caller.clone(),
        action: format!("{method} {route}"),
        request_id: request_id.0.clone(),
        written: Arc::default(),
    };
    let response = if let Some(wait) = limited {
        face.too_many(wait)
    } else if has_header && caller.is_none() {
        face.refuse(ApiError::unauthorized("the bearer token is not valid"))
    } else {
        if let Some(c) = &caller {
            req.extensions_mut().insert(c.clone());
        }
        req.extensions_mut().insert(request_id.clone());
        req.extensions_mut().insert(context.clone());
        next.run(req).await
    };
    let advisor_read = face.audit_advisor_reads && caller.as_ref().is_some_and(|c| c.role() == Role::Advisor);
    if (changes || advisor_read) && !context.written() {
        let status = response.status();
        // An anonymous refusal is written in full only if it is its address's first in a while.
        let write = caller.is_some()
            || !status.is_client_error()
            || state.anonymous.refused(peer, &context.action, status) == Note::Write;
        if write {
            let object = response
                .extensions()
                .get::<AuditObject>()
                .map_or_else(|| path.clone(), |o| o.0.clone());
            let case_id = response.extensions().get::<AuditCase>().map(|c| c.0.clone());
            let entry = entry_for(
                caller.as_ref(),
                context.action.clone(),
                object,
                status,
                &request_id.0,
                case_id,
            );
            if let Err(e) = state.store.append_audit(entry).await {
                tracing::error!(error = %e, request_id = %request_id.0, "appending the audit entry failed");
                state.metrics.audit_failure(&context.action);
            }
        }
    }
    finish(&state, response, &request_id, &route, &method, started)
}

/// Who is asking, the way the face knows it (see [`Who`]).
async fn authenticate(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    who: Who,
) -> Result<(Option<Session>, Option<Caller>), store::StoreError> {
    if who == Who::Nobody {
        return Ok((None, None));
    }
    if !headers.contains_key(axum::http::header::AUTHORIZATION) && who == Who::Session {
        let Some(id) = crate::web::session::cookie(headers) else {
            return Ok((None, None));
        };
        let session = crate::web::session::find(&state.store, id).await?;
        let caller = session.as_ref().map(|s| s.caller.clone());
        return Ok((session, caller));
    }
    let Some(token) = bearer(headers).filter(|t| t.len() <= MAX_TOKEN_CHARS) else {
        return Ok((None, None));
    };
    Ok((None, token_caller(state, token).await?))
}

/// Longer "tokens" are nobody's, and are not looked up.
const MAX_TOKEN_CHARS: usize = 200;

/// The caller a bearer token belongs to, from the cache or the database (and cached).
async fn token_caller(state: &AppState, token: &str) -> Result<Option<Caller>, store::StoreError> {
    if let Some(c) = state.callers.get(token) {
        return Ok(Some(c));
    }
    let caller = lookup(state, token).await?;
    match &caller {
        Some(c) => state.callers.put(token, c.clone()),
        None => state.callers.put_invalid(token),
    }
    Ok(caller)
}

/// The caller of a live-inference request that does not come through the router (the gRPC port), by the
/// steps [`around`] takes for [`Face::INFERENCE`], so both ports refuse alike: an address over its
/// anonymous rate is refused before its token costs a query (unless the token was recently found valid);
/// a request without a valid caller takes from its address's anonymous rate; an `authorization` value
/// that names nobody is refused. `authorization` is the whole value (`Bearer TOKEN`).
pub(crate) async fn inference_caller(
    state: &AppState,
    peer: Peer,
    authorization: Option<&str>,
) -> Result<Option<Caller>, ApiError> {
    let token = authorization.and_then(bearer_value);
    if let Some(wait) = state.anonymous.throttled(peer)
        && token.is_none_or(|t| state.callers.known_invalid(t))
    {
        return Err(anonymous::too_many(wait).0);
    }
    let caller = match token.filter(|t| t.len() <= MAX_TOKEN_CHARS) {
        Some(t) => token_caller(state, t).await.map_err(ApiError::from)?,
        None => None,
    };
    if caller.is_none()
        && let Err(wait) = state.anonymous.take(peer)
    {
        return Err(anonymous::too_many(wait).0);
    }
    if authorization.is_some() && caller.is_none() {
        return Err(ApiError::unauthorized("the bearer token is not valid"));
    }
    Ok(caller)
}

/// Appends the audit entry of a read by an advisor outside the router (the gRPC port), as [`around`] does
/// for the faces that audit advisors' reads: what the supervisor looked at is on record.
pub(crate) async fn audit_advisor_read(
    state: &AppState,
    caller: &Caller,
    action: &str,
    object: &str,
    outcome: StatusCode,
) {
    if caller.role() != Role::Advisor {
        return;
    }
    let request_id = store::RunId::generate();
    let entry = entry_for(
        Some(caller),
        action.to_owned(),
        object.to_owned(),
        outcome,
        request_id.as_str(),
        None,
    );
    if let Err(e) = state.store.append_audit(entry).await {
        tracing::error!(error = %e, request_id = %request_id.as_str(), "appending the audit entry failed");
        state.metrics.audit_failure(action);
    }
}

pub(crate) async fn lookup(state: &AppState, token: &str) -> Result<Option<Caller>, store::StoreError> {
    let Some(user) = state.store.user_by_token(token).await? else {
        return Ok(None);
    };
    Ok(state.store.org(&user.org_id).await?.map(|org| Caller { user, org }))
}

/// Callers of recently seen tokens, so a busy client does not cost two queries per request.
/// Keyed by the token's SHA-256; an entry lives 30 seconds (users are never removed or
/// changed in place, so a cached caller cannot outlive its rights by more than that if they
/// ever are). `None` remembers a token that belongs to nobody.
pub struct CallerCache(Ttl<String, Option<Caller>>);

impl Default for CallerCache {
    fn default() -> Self {
        Self(Ttl::new(std::time::Duration::from_secs(30), 10_000))
    }
}

impl CallerCache {
    fn key(token: &str) -> String {
        store::Digest::of(token.as_bytes()).as_str().to_owned()
    }

    fn get(&self, token: &str) -> Option<Caller> {
        self.0.get(&Self::key(token)).flatten()
    }

    /// Whether `token` was looked up recently and belongs to nobody: tokens are random, so
    /// one that was wrong stays wrong, and a flood of it need not cost a query each.
    fn known_invalid(&self, token: &str) -> bool {
        matches!(self.0.get(&Self::key(token)), Some(None))
    }

    fn put(&self, token: &str, caller: Caller) {
        self.0.put(Self::key(token), Some(caller));
    }

    fn put_invalid(&self, token: &str) {
        self.0.put(Self::key(token), None);
    }
}

fn finish(
    state: &AppState,
    mut response: Response,
    request_id: &RequestId,
    route: &str,
    method: &Method,
    started: Instant,
) -> Response {
    if let Ok(v) = HeaderValue::from_str(&request_id.0) {
        response.headers_mut().insert("x-request-id", v);
    }
    state.metrics.request(
        route,
        method.as_str(),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// The request's audit context; every routed request has one (500 if the middleware is missing).
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for AuditContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<AuditContext>()
            .cloned()
            .ok_or_else(|| ApiError::internal("the request has no audit context: the audit middleware is missing"))
    }
}

/// The caller, or 401: for handlers of endpoints that need one.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("this endpoint needs `Authorization: Bearer TOKEN`"))
    }
}
