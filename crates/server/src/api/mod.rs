//! The JSON API under `/api/v1`, plus `/healthz` and `/metrics`: one face of the service.
//!
//! Handlers read the request, call `app` (which asks `policy`), and write typed answers
//! (`views`). Every route is listed here and in `openapi.json`; a test checks the two agree.

mod audit;
mod cases;
mod info;
mod models;
pub(crate) mod runs;
mod views;

use crate::error::ApiError;
use crate::middleware::Face;
use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

/// `(method, path)` of every route, in the router's own syntax.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/scenarios"),
    ("GET", "/api/v1/scenarios/{scenario}"),
    ("GET", "/api/v1/scenarios/{scenario}/dataset"),
    ("GET", "/api/v1/cases"),
    ("POST", "/api/v1/cases"),
    ("GET", "/api/v1/cases/{case}"),
    ("GET", "/api/v1/cases/{case}/members"),
    ("POST", "/api/v1/cases/{case}/members"),
    ("GET", "/api/v1/cases/{case}/criteria"),
    ("PUT", "/api/v1/cases/{case}/criteria"),
    ("GET", "/api/v1/cases/{case}/models"),
    ("POST", "/api/v1/cases/{case}/models"),
    ("GET", "/api/v1/models/{model}"),
    ("GET", "/api/v1/models/{model}/inspection"),
    ("GET", "/api/v1/cases/{case}/runs"),
    ("GET", "/api/v1/runs"),
    ("POST", "/api/v1/runs"),
    ("GET", "/api/v1/runs/{run}"),
    ("POST", "/api/v1/runs/{run}/cancel"),
    ("GET", "/api/v1/runs/{run}/report"),
    ("GET", "/api/v1/runs/{run}/report.md"),
    ("GET", "/api/v1/runs/{run}/report.html"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/audit/verify"),
    ("GET", "/v2/health/live"),
    ("GET", "/v2/health/ready"),
    ("GET", "/v2"),
    ("GET", "/v2/models/{model}"),
    ("GET", "/v2/models/{model}/versions/{version}"),
    ("GET", "/v2/models/{model}/ready"),
    ("GET", "/v2/models/{model}/versions/{version}/ready"),
    ("POST", "/v2/models/{model}/infer"),
    ("POST", "/v2/models/{model}/versions/{version}/infer"),
];

/// The service's router: each face a sub-router behind its own [`Face`] layer.
pub fn router(state: AppState) -> Router {
    let upload_limit = (state.config.max_model_bytes + state.config.max_manifest_bytes + (64 << 10)) as usize;
    let layer = |face: Face| axum::middleware::from_fn_with_state((state.clone(), face), crate::middleware::around);
    let (pages, assets) = crate::web::routers(upload_limit);
    Router::new()
        .merge(api(upload_limit).route_layer(layer(Face::API)))
        .merge(
            Router::new()
                .route("/healthz", get(info::health))
                .merge(crate::v2::health())
                .route_layer(layer(Face::HEALTH)),
        )
        .merge(
            Router::new()
                .route("/metrics", get(info::metrics))
                .route_layer(layer(Face::METRICS)),
        )
        .merge(crate::v2::router().route_layer(layer(Face::INFERENCE)))
        .merge(pages.route_layer(layer(Face::PAGES)))
        .merge(assets.route_layer(layer(Face::ASSETS)))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// The JSON API's routes.
fn api(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(info::openapi))
        .route("/api/v1/me", get(info::me))
        .route("/api/v1/scenarios", get(info::scenarios))
        .route("/api/v1/scenarios/{scenario}", get(info::scenario))
        .route("/api/v1/scenarios/{scenario}/dataset", get(info::dataset))
        .route("/api/v1/cases", get(cases::list).post(cases::create))
        .route("/api/v1/cases/{case}", get(cases::get))
        .route(
            "/api/v1/cases/{case}/members",
            get(cases::members).post(cases::add_member),
        )
        .route(
            "/api/v1/cases/{case}/criteria",
            get(cases::criteria).put(cases::set_criteria),
        )
        .route(
            "/api/v1/cases/{case}/models",
            get(models::list)
                .post(models::upload)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/v1/models/{model}", get(models::get))
        .route("/api/v1/models/{model}/inspection", get(models::inspection))
        .route("/api/v1/cases/{case}/runs", get(runs::list_case))
        .route("/api/v1/runs", get(runs::list).post(runs::create))
        .route("/api/v1/runs/{run}", get(runs::get))
        .route("/api/v1/runs/{run}/cancel", post(runs::cancel))
        .route("/api/v1/runs/{run}/report", get(runs::report))
        .route("/api/v1/runs/{run}/report.md", get(runs::report_md))
        .route("/api/v1/runs/{run}/report.html", get(runs::report_html))
        .route("/api/v1/audit", get(audit::list))
        .route("/api/v1/audit/verify", get(audit::verify))
}

/// Answers outside the routes get a request id too.
fn with_request_id(e: ApiError) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut r = e.into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(store::RunId::generate().as_str()) {
        r.headers_mut().insert("x-request-id", v);
    }
    r
}

async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    if uri.path().starts_with("/ui/") {
        // People at the pages get a page.
        use axum::response::IntoResponse;
        let mut r = crate::web::PageError(ApiError::not_found("page", uri.path())).into_response();
        if let Ok(v) = axum::http::HeaderValue::from_str(store::RunId::generate().as_str()) {
            r.headers_mut().insert("x-request-id", v);
        }
        return r;
    }
    with_request_id(ApiError::not_found("endpoint", uri.path()))
}

async fn method_not_allowed() -> axum::response::Response {
    with_request_id(ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    ))
}
