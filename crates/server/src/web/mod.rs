//! The pages people use in a browser, under `/ui`: server-rendered HTML (maud), no script.
//!
//! The pages are a second face of the same service, not a second service: every read goes
//! through `policy` and every change through the same functions the API handlers call, and
//! the same middleware audits them. What differs is authentication (a session cookie from
//! [`session`] instead of a bearer token, only under `/ui`), CSRF checks on every form, and
//! errors as pages instead of JSON.

mod audit;
mod auth;
mod cases;
mod compare;
mod exit;
mod findings;
pub mod lang;
pub mod layout;
mod runs;
pub mod session;
pub mod text;

use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use layout::Nav;
use maud::html;
pub use session::Session;
use text::{T, Words};

/// `(method, path)` of every page route.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/ui"),
    ("GET", "/ui/assets/style.css"),
    ("GET", "/ui/login"),
    ("POST", "/ui/login"),
    ("GET", "/ui/lang/{lang}"),
    ("POST", "/ui/logout"),
    ("GET", "/ui/cases"),
    ("POST", "/ui/cases"),
    ("GET", "/ui/cases/{case}"),
    ("POST", "/ui/cases/{case}/criteria"),
    ("POST", "/ui/cases/{case}/findings"),
    ("GET", "/ui/cases/{case}/compare"),
    ("GET", "/ui/cases/{case}/exit-report"),
    ("GET", "/ui/cases/{case}/public-summary"),
    ("GET", "/ui/cases/{case}/upload"),
    ("POST", "/ui/cases/{case}/models"),
    ("GET", "/ui/models/{model}"),
    ("GET", "/ui/runs"),
    ("POST", "/ui/runs"),
    ("GET", "/ui/runs/{run}"),
    ("POST", "/ui/runs/{run}/cancel"),
    ("POST", "/ui/runs/{run}/replay"),
    ("GET", "/ui/runs/{run}/report"),
    ("GET", "/ui/audit"),
];

/// The pages' routes and, apart, their static assets (which are not rate-limited or audited
/// as reads), each to be put behind its face's middleware.
pub fn routers(upload_limit: usize) -> (Router<AppState>, Router<AppState>) {
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/ui/cases") }))
        .route("/ui", get(|| async { Redirect::to("/ui/cases") }))
        .route("/ui/login", get(auth::login_page).post(auth::login))
        .route("/ui/logout", post(auth::logout))
        .route("/ui/lang/{lang}", get(lang::switch))
        .route("/ui/cases", get(cases::list).post(cases::create))
        .route("/ui/cases/{case}", get(cases::show))
        .route("/ui/cases/{case}/criteria", post(cases::set_criteria))
        .route("/ui/cases/{case}/findings", post(findings::create))
        .route("/ui/cases/{case}/compare", get(compare::show))
        .route("/ui/cases/{case}/exit-report", get(exit::report))
        .route("/ui/cases/{case}/public-summary", get(exit::summary))
        .route("/ui/cases/{case}/upload", get(cases::upload_page))
        .route(
            "/ui/cases/{case}/models",
            post(cases::upload).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/ui/models/{model}", get(cases::model))
        .route("/ui/runs", get(runs::list).post(runs::create))
        .route("/ui/runs/{run}", get(runs::show))
        .route("/ui/runs/{run}/cancel", post(runs::cancel))
        .route("/ui/runs/{run}/replay", post(runs::replay))
        .route("/ui/runs/{run}/report", get(runs::report))
        .route("/ui/audit", get(audit::list));
    let assets = Router::new().route("/ui/assets/style.css", get(style));
    let framed = |r: Router<AppState>| {
        r.layer(axum::middleware::from_fn(framed_errors))
            .layer(axum::middleware::map_response(page_headers))
    };
    (framed(pages), framed(assets))
}

/// What every page's answer carries: a policy that allows no script and only our own
/// stylesheet, no framing, no caching of what a role saw, and no referrer with ids in it to
/// other sites.
async fn page_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Not `no-referrer`: with it, browsers send `Origin: null` on form posts, which the
    // same-site check must refuse.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        layout::STYLE,
    )
        .into_response()
}

/// A page that needs a logged-in browser; without one the browser is sent to the login
/// page, which brings it back afterwards.
impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        if let Some(s) = parts.extensions.get::<Session>() {
            return Ok(s.clone());
        }
        if parts.method != axum::http::Method::GET {
            // A post without a session did nothing; say so (and so does the audit entry).
            return Err(PageError(ApiError::unauthorized(
                "you are not logged in (or your session ended); log in and try again",
            ))
            .into_response());
        }
        let back = parts.uri.path_and_query().map_or("/ui/cases", |p| p.as_str());
        let to = format!("/ui/login?next={}", encode(back));
        Err(Redirect::to(&to).into_response())
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Session>().cloned())
    }
}

/// Percent-encodes everything but unreserved characters.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A form's post is ours: same site, and the session's CSRF secret repeated.
pub fn check_form(headers: &HeaderMap, session: &Session, csrf: &str) -> Result<(), PageError> {
    if session::same_origin(headers) && session::secrets_equal(csrf, &session.csrf) {
        Ok(())
    } else {
        Err(PageError(ApiError::forbidden(
            "this form did not come from this site or has expired; reload the page and try again",
        )))
    }
}

/// A form whose only field is the CSRF secret (logout, cancel). Missing is refused as
/// wrong, with 403, by [`check_form`].
#[derive(Debug, serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// An error shown as a page, with the API's status, code and message.
#[derive(Debug)]
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<store::StoreError> for PageError {
    fn from(e: store::StoreError) -> Self {
        Self(e.into())
    }
}

/// An error page's content, kept on the response so [`framed_errors`] can draw it again
/// inside the caller's navigation.
#[derive(Clone)]
struct Shown {
    status: StatusCode,
    code: &'static str,
    message: String,
}

/// Error pages are drawn without knowing who asked; this draws them again in the caller's
/// language and, with a session, with its navigation and logout, so a refusal is not a dead
/// end. The answer keeps its status, headers and extensions; only the page changes.
async fn framed_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let session = req.extensions().get::<Session>().cloned();
    let words = Words::of(req.method(), req.uri(), req.headers());
    let response = next.run(req).await;
    match response.extensions().get::<Shown>().cloned() {
        Some(shown) => {
            let (parts, _) = response.into_parts();
            let page = error_page(&words, &shown, session.as_ref()).into_response();
            Response::from_parts(parts, page.into_body())
        }
        None => response,
    }
}

fn error_page(w: &Words, e: &Shown, session: Option<&Session>) -> maud::Markup {
    let title = w.t(match e.status {
        StatusCode::FORBIDDEN => T::NotAllowed,
        StatusCode::NOT_FOUND => T::NotFound,
        StatusCode::UNAUTHORIZED => T::NotLoggedIn,
        s if s.is_client_error() => T::CannotDoThat,
        _ => T::SomethingWentWrong,
    });
    layout::page(
        w,
        title,
        session,
        Nav::None,
        None,
        html! {
            h1 #error-title { (title) }
            div.notice.bad #error {
                p { strong { (e.status.as_u16()) " " (e.code) } }
                p #error-message { (layout::user(&e.message, layout::TEXT_CHARS)) }
            }
            @if e.status == StatusCode::UNAUTHORIZED {
                p { a href="/ui/login" { (w.t(T::LogIn)) } }
            } @else {
                p { a href="/ui/cases" { (w.t(T::BackToCases)) } }
            }
        },
    )
}

/// The page for an address under `/ui/` that is no page, in the browser's language (the
/// router's fallback, outside the pages' own layers, calls this).
pub fn not_found_page(uri: &axum::http::Uri, headers: &HeaderMap) -> Response {
    let words = Words::of(&axum::http::Method::GET, uri, headers);
    let mut r = PageError(ApiError::not_found("page", uri.path())).into_response();
    if let Some(shown) = r.extensions().get::<Shown>().cloned() {
        let (parts, _) = r.into_parts();
        r = Response::from_parts(parts, error_page(&words, &shown, None).into_response().into_body());
    }
    r
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let shown = Shown {
            status: self.0.status,
            code: self.0.code,
            message: self.0.message,
        };
        let mut r = (shown.status, error_page(&Words::default(), &shown, None)).into_response();
        r.extensions_mut().insert(shown);
        r
    }
}

pub type PageResult<T = Response> = Result<T, PageError>;

/// A form rejected by axum (wrong content type, missing or malformed field), as a page.
fn bad_form(e: impl std::fmt::Display) -> PageError {
    PageError(ApiError::bad_request(format!("the form: {e}")))
}

/// A query string axum could not read (unknown field, wrong type), as a page.
fn bad_query(e: axum::extract::rejection::QueryRejection) -> PageError {
    PageError(ApiError::bad_request(format!("the address's query: {}", e.body_text())))
}

/// Where to go after a successful post.
fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}
