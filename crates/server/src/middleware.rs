//! Around every routed request: a request id, the caller from the bearer token, the audit
//! entry, and the request metrics.
//!
//! Audit rule: every request that may change state (any method but GET/HEAD/OPTIONS) and every
//! read by an advisor appends one entry, whatever its outcome, including refusals; a request
//! with a wrong token is recorded as `anonymous`. Handlers may name the object and case an
//! entry concerns by putting [`AuditObject`] / [`AuditCase`] into the response's extensions.

use crate::error::ApiError;
use crate::policy::Caller;
use crate::state::AppState;
use crate::web::session::Session;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;
use store::Timestamp;
use store::audit::NewEntry;
use store::meta::Role;

/// The id of one request, also sent back as `x-request-id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The object an audit entry is about, when it is not the request path (e.g. a created id).
#[derive(Debug, Clone)]
pub struct AuditObject(pub String);

/// The case an audit entry concerns.
#[derive(Debug, Clone)]
pub struct AuditCase(pub String);

/// Who an audit entry is by, when the request only established it (a login).
#[derive(Debug, Clone)]
pub struct AuditActor(pub Caller);

fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub async fn around(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = RequestId(store::RunId::generate().as_str().to_owned());
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let path = req.uri().path().chars().take(300).collect::<String>();
    // `/metrics` takes the metrics token, not a user's: its header is not a user's login.
    let has_header = req.headers().contains_key(axum::http::header::AUTHORIZATION) && route != "/metrics";
    let caller = match authenticate(&state, req.headers(), &route).await {
        Ok((session, caller)) => {
            if let Some(s) = session {
                req.extensions_mut().insert(s);
            }
            caller
        }
        Err(e) => {
            let resp = ApiError::from(e).into_response();
            return finish(&state, resp, &request_id, &route, &method, started);
        }
    };
    let response = if has_header && caller.is_none() {
        ApiError::unauthorized("the bearer token is not valid").into_response()
    } else {
        if let Some(c) = &caller {
            req.extensions_mut().insert(c.clone());
        }
        req.extensions_mut().insert(request_id.clone());
        next.run(req).await
    };
    // Live inference (`/v2/...`) is a read, whatever its method.
    let changes = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) && !route.starts_with("/v2/");
    let advisor_read = caller.as_ref().is_some_and(|c| c.role() == Role::Advisor) && !route.starts_with("/ui/assets");
    if changes || advisor_read {
        let caller = response
            .extensions()
            .get::<AuditActor>()
            .map(|a| a.0.clone())
            .or(caller);
        let object = response
            .extensions()
            .get::<AuditObject>()
            .map_or_else(|| path.clone(), |o| o.0.clone());
        let case_id = response.extensions().get::<AuditCase>().map(|c| c.0.clone());
        let entry = NewEntry {
            time: Timestamp::now().as_str().to_owned(),
            actor: caller
                .as_ref()
                .map_or_else(|| "anonymous".to_owned(), |c| c.user.id.as_str().to_owned()),
            org: caller
                .as_ref()
                .map_or_else(String::new, |c| c.org.id.as_str().to_owned()),
            role: caller
                .as_ref()
                .map_or_else(String::new, |c| c.role().as_str().to_owned()),
            action: format!("{method} {route}"),
            object,
            outcome: response.status().as_u16().to_string(),
            request_id: request_id.0.clone(),
            case_id,
        };
        if let Err(e) = state.store.append_audit(entry).await {
            tracing::error!(error = %e, request_id = %request_id.0, "appending the audit entry failed");
            state.metrics.audit_failure(&format!("{method} {route}"));
        }
    }
    finish(&state, response, &request_id, &route, &method, started)
}

/// Who is asking: under `/ui` the session of the cookie (the pages never take a bearer
/// token), elsewhere the caller of the bearer token (the API never takes the cookie, so it
/// needs no CSRF defence). A request with an `Authorization` header is never a session's.
async fn authenticate(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    route: &str,
) -> Result<(Option<Session>, Option<Caller>), store::StoreError> {
    if !headers.contains_key(axum::http::header::AUTHORIZATION) && route.starts_with("/ui") {
        let Some(id) = crate::web::session::cookie(headers) else {
            return Ok((None, None));
        };
        let session = crate::web::session::find(&state.store, id).await?;
        let caller = session.as_ref().map(|s| s.caller.clone());
        return Ok((session, caller));
    }
    let Some(token) = bearer(headers).filter(|t| t.len() <= 200 && route != "/metrics") else {
        return Ok((None, None));
    };
    if let Some(c) = state.callers.get(token) {
        return Ok((None, Some(c)));
    }
    let caller = lookup(state, token).await?;
    if let Some(c) = &caller {
        state.callers.put(token, c.clone());
    }
    Ok((None, caller))
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
/// ever are). Bounded: a full cache is emptied.
#[derive(Default)]
pub struct CallerCache(std::sync::Mutex<std::collections::HashMap<String, (Caller, Instant)>>);

const CALLER_TTL: std::time::Duration = std::time::Duration::from_secs(30);
const CALLER_CACHE_MAX: usize = 10_000;

impl CallerCache {
    fn key(token: &str) -> String {
        store::Digest::of(token.as_bytes()).as_str().to_owned()
    }

    fn get(&self, token: &str) -> Option<Caller> {
        let map = self.0.lock().ok()?;
        map.get(&Self::key(token))
            .filter(|(_, at)| at.elapsed() < CALLER_TTL)
            .map(|(c, _)| c.clone())
    }

    fn put(&self, token: &str, caller: Caller) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= CALLER_CACHE_MAX {
                map.clear();
            }
            map.insert(Self::key(token), (caller, Instant::now()));
        }
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
