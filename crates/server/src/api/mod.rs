//! The JSON API under `/api/v1`, plus `/healthz` and `/metrics`: one face of the service.
//!
//! Handlers read the request, call `app` (which asks `policy`), and write typed answers
//! (`views`). Each handler's `#[utoipa::path]` both registers its route and documents it, so the
//! router and the OpenAPI document cannot disagree; `openapi.json` is that document's snapshot.

mod audit;
mod cases;
mod checklist;
mod compare;
mod exit;
mod findings;
mod info;
mod models;
pub(crate) mod openapi;
mod plan;
pub(crate) mod runs;
pub(crate) mod schemas;
mod views;

use crate::error::ApiError;
use crate::middleware::Face;
use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The service's router: each face a sub-router behind its own [`Face`] layer.
pub fn router(state: AppState) -> Router {
    let upload_limit = upload_limit(&state);
    let layer = |face: Face| axum::middleware::from_fn_with_state((state.clone(), face), crate::middleware::around);
    let faces = Faces::new(upload_limit);
    let (pages, assets) = crate::web::routers(upload_limit);
    let (documented, _) = OpenApiRouter::new()
        .merge(faces.api.route_layer(layer(Face::API)))
        .merge(faces.public.route_layer(layer(Face::PUBLIC)))
        .merge(faces.health.route_layer(layer(Face::HEALTH)))
        .merge(faces.metrics.route_layer(layer(Face::METRICS)))
        .merge(faces.inference.route_layer(layer(Face::INFERENCE)))
        .merge(faces.inference_public.route_layer(layer(Face::PUBLIC_INFERENCE)))
        .merge(faces.inference_health.route_layer(layer(Face::INFERENCE_HEALTH)))
        .split_for_parts();
    documented
        .merge(pages.route_layer(layer(Face::PAGES)))
        .merge(assets.route_layer(layer(Face::ASSETS)))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// The largest model upload: the model, the manifest and the multipart framing.
fn upload_limit(state: &AppState) -> usize {
    (state.config.max_model_bytes + state.config.max_manifest_bytes + (64 << 10)) as usize
}

/// The faces the OpenAPI document describes, each a router of annotated handlers.
struct Faces {
    api: OpenApiRouter<AppState>,
    public: OpenApiRouter<AppState>,
    health: OpenApiRouter<AppState>,
    metrics: OpenApiRouter<AppState>,
    inference: OpenApiRouter<AppState>,
    inference_public: OpenApiRouter<AppState>,
    inference_health: OpenApiRouter<AppState>,
}

impl Faces {
    fn new(upload_limit: usize) -> Self {
        let (schemas, paths, uploads) = routes!(models::list, models::upload);
        let uploads = uploads.layer(DefaultBodyLimit::max(upload_limit));
        let api = OpenApiRouter::with_openapi(openapi::Base::openapi())
            .routes(routes!(info::me))
            .routes(routes!(info::scenarios))
            .routes(routes!(info::scenario))
            .routes(routes!(info::dataset))
            .routes(routes!(cases::list, cases::create))
            .routes(routes!(cases::get))
            .routes(routes!(cases::members, cases::add_member))
            .routes(routes!(cases::criteria, cases::set_criteria))
            .routes((schemas, paths, uploads))
            .routes(routes!(models::get))
            .routes(routes!(models::inspection))
            .routes(routes!(models::manifest))
            .routes(routes!(runs::list_case))
            .routes(routes!(runs::list, runs::create))
            .routes(routes!(runs::get))
            .routes(routes!(runs::cancel))
            .routes(routes!(runs::replay))
            .routes(routes!(compare::comparison))
            .routes(routes!(compare::comparison_md))
            .routes(routes!(compare::leaderboard))
            .routes(routes!(exit::report))
            .routes(routes!(exit::report_html))
            .routes(routes!(exit::draft))
            .routes(routes!(checklist::get, checklist::save_json))
            .routes(routes!(checklist::get_csv, checklist::save_csv))
            .routes(routes!(checklist::schema))
            .routes(routes!(plan::get, plan::save))
            .routes(routes!(runs::report))
            .routes(routes!(runs::report_md))
            .routes(routes!(runs::report_html))
            .routes(routes!(findings::list, findings::create))
            .routes(routes!(audit::list))
            .routes(routes!(audit::verify))
            .routes(routes!(audit::checkpoint, audit::sign_checkpoint))
            .routes(routes!(audit::key))
            .routes(routes!(audit::inclusion))
            .routes(routes!(audit::consistency));
        Self {
            api,
            public: OpenApiRouter::new()
                .routes(routes!(info::openapi))
                .routes(routes!(exit::public))
                .routes(routes!(exit::public_html)),
            health: OpenApiRouter::new().routes(routes!(info::health)),
            metrics: OpenApiRouter::new().routes(routes!(info::metrics)),
            inference: crate::v2::router(),
            inference_public: crate::v2::public(),
            inference_health: crate::v2::health(),
        }
    }
}

/// The OpenAPI document of the JSON API, the probes and the Open Inference Protocol, made from
/// the same routers the service serves.
pub fn document() -> utoipa::openapi::OpenApi {
    let faces = Faces::new(0);
    OpenApiRouter::new()
        .merge(faces.api)
        .merge(faces.public)
        .merge(faces.health)
        .merge(faces.metrics)
        .merge(faces.inference_health)
        .merge(faces.inference_public)
        .merge(faces.inference)
        .into_openapi()
}

/// The document as JSON text, the same bytes every time: the schemas' keywords travel in maps
/// without an order, so the text is written from a sorted JSON value.
pub fn document_json() -> Result<String, serde_json::Error> {
    let value = serde_json::to_value(document())?;
    Ok(serde_json::to_string_pretty(&value)? + "\n")
}

/// `(METHOD, path)` of every documented route, read from the document: the list is derived,
/// never kept by hand.
pub fn routes() -> Vec<(String, String)> {
    let doc = document();
    let mut out = Vec::new();
    for (path, item) in doc.paths.paths.iter() {
        for (method, op) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("DELETE", &item.delete),
            ("PATCH", &item.patch),
        ] {
            if op.is_some() {
                out.push((method.to_owned(), path.clone()));
            }
        }
    }
    out
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

async fn not_found(
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    if is_v2(&uri) {
        return crate::v2::unrouted(&method, uri.path(), true);
    }
    if uri.path().starts_with("/ui/") {
        // People at the pages get a page, in their language.
        let mut r = crate::web::not_found_page(&uri, &headers);
        if let Ok(v) = axum::http::HeaderValue::from_str(store::RunId::generate().as_str()) {
            r.headers_mut().insert("x-request-id", v);
        }
        return r;
    }
    with_request_id(ApiError::not_found("endpoint", uri.path()))
}

/// Paths of the Open Inference Protocol, whose errors have its own shape.
fn is_v2(uri: &axum::http::Uri) -> bool {
    uri.path() == "/v2" || uri.path().starts_with("/v2/")
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> axum::response::Response {
    if is_v2(&uri) {
        return crate::v2::unrouted(&method, uri.path(), false);
    }
    with_request_id(ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    ))
}

#[cfg(test)]
mod tests {
    /// The committed `openapi.json` is the generated document: any change to a route, a
    /// parameter or a schema shows up here. `UPDATE_OPENAPI=1` writes it anew.
    #[test]
    fn the_openapi_document_is_the_committed_snapshot() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        let doc = super::document_json().unwrap();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &doc).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap();
        assert!(
            committed == doc,
            "openapi.json differs from the generated document; run UPDATE_OPENAPI=1 cargo test -p server and review the diff"
        );
    }

    /// No two types bring different schemas under one name.
    #[test]
    fn no_two_schemas_share_a_name() {
        let mut seen: std::collections::HashMap<String, serde_json::Value> = Default::default();
        for (name, schema) in super::schemas::definitions() {
            let json = serde_json::to_value(&schema).unwrap();
            if let Some(before) = seen.insert(name.clone(), json.clone()) {
                assert_eq!(before, json, "two different schemas are named {name}");
            }
        }
        assert!(seen.len() > 30);
    }

    /// Every `$ref` in the document names a schema the document has: a type presented to the
    /// document without its definitions would leave a client without them.
    #[test]
    fn every_reference_in_the_document_resolves() {
        let doc: serde_json::Value = serde_json::to_value(super::document()).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, x) in m {
                        if k == "$ref"
                            && let Some(r) = x.as_str()
                        {
                            out.push(r.to_owned());
                        }
                        walk(x, out);
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        let mut refs = Vec::new();
        walk(&doc, &mut refs);
        assert!(refs.len() > 20);
        for r in refs {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{r}"));
            assert!(schemas.contains_key(name), "{r} does not resolve");
        }
    }
}
