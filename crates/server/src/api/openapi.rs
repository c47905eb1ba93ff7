//! The OpenAPI document, generated from the code: every operation from its handler's
//! `#[utoipa::path]` (through `utoipa-axum`, which also registers the route, so the router and
//! the document cannot list different routes), every schema from the Rust type that is sent or
//! received.
//!
//! Schemas come from `schemars`, the schema library of the whole workspace (the run record,
//! criteria, manifests and dataset specs derive it in their own crates); [`schema!`] presents
//! such a type to utoipa without converting it, so the document holds exactly the JSON Schema
//! that `record.schema.json` and the crates' own tests check. OpenAPI 3.1 speaks JSON Schema
//! 2020-12, the dialect schemars writes.

use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{Object, Schema, SchemaType};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr};

/// Where schemars puts the definitions a schema refers to: the document's components.
const DEFINITIONS: &str = "/components/schemas";

/// `T`'s schema and the definitions it refers to, each as utoipa holds schemas.
pub fn bridged<T: schemars::JsonSchema>() -> (RefOr<Schema>, Vec<(String, RefOr<Schema>)>) {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.definitions_path = DEFINITIONS.into();
    settings.meta_schema = None;
    let mut root = settings.into_generator().into_root_schema_for::<T>().to_value();
    // As a definition of its own name it carries no title, so it has none at the root either:
    // the same type is then the same schema wherever it is met.
    if let Some(o) = root.as_object_mut() {
        o.remove("title");
    }
    let definitions = root
        .as_object_mut()
        .and_then(|o| o.remove("components"))
        .and_then(|mut c| c.get_mut("schemas").map(serde_json::Value::take))
        .and_then(|s| match s {
            serde_json::Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default();
    let definitions = definitions.into_iter().map(|(name, s)| (name, raw(s))).collect();
    (raw(root), definitions)
}

/// Writes the boolean schemas of properties, items and alternatives as objects (`true` as `{}`,
/// `false` as `{"not": {}}`): JSON Schema allows both, but OpenAPI tools (openapi-python-client
/// among them) read only the objects. The meaning is the same.
fn objects_for_booleans(schema: &mut serde_json::Value) {
    use serde_json::Value;
    let fix = |v: &mut Value| match v {
        Value::Bool(true) => *v = serde_json::json!({}),
        Value::Bool(false) => *v = serde_json::json!({"not": {}}),
        other => objects_for_booleans(other),
    };
    let Value::Object(map) = schema else { return };
    for (key, v) in map.iter_mut() {
        match (key.as_str(), v) {
            ("properties" | "patternProperties" | "$defs", Value::Object(m)) => m.values_mut().for_each(fix),
            ("anyOf" | "oneOf" | "allOf" | "prefixItems", Value::Array(a)) => a.iter_mut().for_each(fix),
            ("items" | "not" | "if" | "then" | "else" | "contains", v) => fix(v),
            ("additionalProperties", v @ Value::Object(_)) => objects_for_booleans(v),
            _ => {}
        }
    }
}

/// A JSON Schema carried as it is: every keyword rides in the schema object's flattened
/// extensions, so it serializes to exactly the JSON schemars wrote (nothing is translated,
/// so nothing can be lost).
fn raw(mut schema: serde_json::Value) -> RefOr<Schema> {
    objects_for_booleans(&mut schema);
    let keywords = match schema {
        serde_json::Value::Object(map) => map,
        // `true` accepts anything; `false` nothing.
        serde_json::Value::Bool(true) => serde_json::Map::new(),
        _ => serde_json::Map::from_iter([("not".to_owned(), serde_json::json!({}))]),
    };
    let mut object = Object::builder().schema_type(SchemaType::AnyValue).build();
    object.extensions = Some(Extensions::from_iter(keywords));
    RefOr::T(Schema::Object(object))
}

/// Declares `$local` as the OpenAPI face of the schemars type `$ty`: usable as `body = $local`
/// and as a parameter's type in `#[utoipa::path]`.
macro_rules! schema {
    ($($(#[$doc:meta])* $local:ident = $ty:ty;)+) => {$(
        $(#[$doc])*
        pub struct $local;

        impl utoipa::PartialSchema for $local {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::api::openapi::bridged::<$ty>().0
            }
        }

        impl utoipa::ToSchema for $local {
            fn name() -> std::borrow::Cow<'static, str> {
                <$ty as schemars::JsonSchema>::schema_name()
            }

            fn schemas(out: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
                out.extend($crate::api::openapi::bridged::<$ty>().1);
            }
        }
    )+
        /// Every schema the types above bring into the document, as each brings it; the
        /// document keeps one per name, so two types of one name would silently become one.
        #[cfg(test)]
        pub fn definitions() -> Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)> {
            let mut out = Vec::new();
            $(
                out.push((
                    <$local as utoipa::ToSchema>::name().into_owned(),
                    <$local as utoipa::PartialSchema>::schema(),
                ));
                <$local as utoipa::ToSchema>::schemas(&mut out);
            )+
            out
        }
    };
}
pub(crate) use schema;

/// The document's parts that belong to no one operation: what the service is, how callers
/// authenticate, and the tags.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Sandkasse API",
        version = "1.0.0",
        description = "A regulatory sandbox for AI in the Danish public sector. Vendors upload ONNX models to cases; \
authorities fix evaluation criteria and start runs on synthetic citizens; Datatilsynet's advisors read everything; \
admins may do everything.\n\nRoles: `vendor`, `authority`, `advisor` (reads everything, changes nothing), `admin`. \
An object of another organisation's case is answered 404, not 403; 403 means the caller's role may never do this.\n\n\
Every response carries an `x-request-id` header. API errors are `{\"error\": {\"code\", \"message\", \"details\"}}`; \
the Open Inference Protocol's errors are `{\"error\": \"...\"}` as that protocol says.\n\n\
Da: En regulatorisk sandkasse for kunstig intelligens i den offentlige sektor. Leverandører lægger ONNX-modeller op i \
sager; myndigheder fastlægger kriterierne og starter kørsler på syntetiske borgere; Datatilsynets rådgivere kan læse alt."
    ),
    modifiers(&Security),
    components(schemas(crate::api::schemas::Error, crate::api::schemas::V2Error)),
    tags(
        (name = "service", description = "Health and metrics."),
        (name = "identity", description = "Who is asking."),
        (name = "scenarios", description = "The synthetic populations and their training data."),
        (name = "cases", description = "Cases, their members and criteria."),
        (name = "models", description = "Uploaded models and their inspection."),
        (name = "runs", description = "Evaluation runs and their reports."),
        (name = "findings", description = "Findings and notes on a case, its models and runs: written by advisors and authorities, never changed, read by vendors on their own work."),
        (name = "audit", description = "The audit log (advisors and admins): its entries, its verification, signed checkpoints and Merkle proofs."),
        (name = "inference", description = "The Open Inference Protocol (KServe V2) for uploaded models."),
    )
)]
pub struct Base;

/// The security schemes the operations name.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut user = Http::new(HttpAuthScheme::Bearer);
        user.description = Some("A user's token: `Authorization: Bearer <64 hex characters>`.".to_owned());
        components.add_security_scheme("token", SecurityScheme::Http(user));
        let mut metrics = Http::new(HttpAuthScheme::Bearer);
        metrics.description = Some(
            "The metrics token (`--metrics-token`); without it `/metrics` leaves out per-model series.".to_owned(),
        );
        components.add_security_scheme("metrics_token", SecurityScheme::Http(metrics));
    }
}
