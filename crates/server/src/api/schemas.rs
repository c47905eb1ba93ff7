//! The types the API sends and receives, as the OpenAPI document names them.

use super::openapi::schema;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{Content, Ref, RefOr};

schema! {
    /// The run record: what was run, with which hashes and seeds, and what it found.
    RunRecord = evaluate::RunRecord;
    Replay = crate::replay::Replay;
    RunComparison = evaluate::RunComparison;
    Leaderboard = crate::app::compare::Leaderboard;
    ExitReport = crate::exit::ExitReport;
    PublicSummary = crate::exit::public::PublicSummary;
    Checklist = checklist::Checklist;
    ChecklistView = crate::api::checklist::ChecklistView;
    SandboxPlan = crate::app::plan::Plan;
    PlanView = crate::api::plan::PlanView;
    Case = super::views::CaseView;
    Criteria = super::views::CriteriaView;
    Run = super::views::RunView;
    Me = super::views::Me;
    Scenario = super::views::ScenarioView;
    AuditPage = super::views::AuditPage;
    ChainView = super::views::ChainView;
    AuditCheckpoint = super::views::CheckpointView;
    Finding = super::views::FindingView;
    NewFinding = crate::app::findings::FindingRequest;
    AuditKey = super::views::AuditKeyView;
    AuditInclusionProof = super::views::InclusionView;
    AuditConsistencyProof = super::views::ConsistencyView;
    Health = super::views::Health;
    Org = store::Org;
    Model = store::Model;
    NewCase = super::cases::NewCase;
    NewMember = super::cases::NewMember;
    SetCriteria = super::cases::SetCriteria;
    NewRun = crate::app::runs::RunRequest;
    Error = crate::error::ErrorBody;
    CaseId = store::CaseId;
    ModelId = store::ModelId;
    RunId = store::RunId;
    V2Error = crate::v2::types::V2ErrorBody;
    InferRequest = crate::v2::types::InferRequest;
    InferResponse = crate::v2::types::InferResponse;
    ModelMetadata = crate::v2::types::ModelMetadata;
    ServerMetadata = crate::v2::types::ServerMetadata;
    Live = crate::v2::types::Live;
    Ready = crate::v2::types::Ready;
    ModelReady = crate::v2::types::ModelReady;
    /// What static inspection found in a model: its graph's inputs, outputs, operators and size.
    Inspection = inference::Summary;
}

/// The body of a model upload: the ONNX file and its manifest, as `multipart/form-data`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ModelUpload {
    /// The ONNX model file.
    #[schema(value_type = String, format = Binary)]
    model: Vec<u8>,
    /// The manifest, TOML or JSON: which scenario columns the model reads and how. At most
    /// 256 KiB (`inference::MAX_MANIFEST_BYTES`, the one limit of every way in); a larger
    /// part is refused with 413. Leave it out to have one drafted from the model's input and
    /// output names (then `name`, `version` and `scenario` are required); a draft that cannot
    /// map an input is refused with 422 naming it.
    #[schema(max_length = 262144)]
    manifest: Option<String>,
    /// Without a manifest: the model's name.
    #[schema(max_length = 200)]
    name: Option<String>,
    /// Without a manifest: the model's version.
    #[schema(max_length = 200)]
    version: Option<String>,
    /// Without a manifest: the scenario the model reads.
    #[schema(max_length = 200)]
    scenario: Option<String>,
    /// Without a manifest: the columns of a wide input in order (the training frame's
    /// `X.columns`), separated by commas or newlines.
    #[schema(max_length = 1048576)]
    feature_names: Option<String>,
    /// Without a manifest: the class that counts as a positive decision (default 1).
    #[schema(max_length = 200)]
    positive_class: Option<String>,
    /// Without a manifest: decide positive when P(positive class) >= threshold (default 0.5).
    #[schema(max_length = 200)]
    threshold: Option<String>,
}

/// Bytes sent as they are (a Parquet file, an ONNX model).
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                utoipa::openapi::schema::KnownFormat::Binary,
            )))
            .into()
    }
}

impl utoipa::ToSchema for Binary {}

/// What a refusal with `status` means, for the document.
fn refusal_text(status: u16) -> &'static str {
    match status {
        400 => "The request is malformed; the message names what and where.",
        401 => "No valid token.",
        403 => "The caller's role may not do this.",
        404 => "Not found, or not visible to the caller.",
        409 => "The object's state does not allow it.",
        413 => "The body is over its limit.",
        415 => "The body is not of the media type this operation takes.",
        422 => "The content was checked and refused; the message (and `details`) say why.",
        429 => {
            "Too many requests: the anonymous rate limit, the organisation's queue limits, or a caller's requests in flight."
        }
        503 => "It cannot be done now (memory budget, isolation); retry later.",
        _ => "The server failed; the message says where.",
    }
}

/// The refusals `statuses`, each with the error body `schema` names.
fn refusals(statuses: &[u16], schema: &str) -> std::collections::BTreeMap<String, RefOr<Response>> {
    statuses
        .iter()
        .map(|&status| {
            let content = Content::new(Some(Ref::from_schema_name(schema)));
            let response = ResponseBuilder::new()
                .description(refusal_text(status))
                .content("application/json", content)
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

/// Declares a set of refusals an operation may answer, for `responses(...)` in `#[utoipa::path]`:
/// each operation names its set instead of listing the same statuses and words again.
macro_rules! refusal_sets {
    ($($(#[$doc:meta])* $name:ident = $schema:literal [$($status:literal),+];)+) => {$(
        $(#[$doc])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<String, RefOr<Response>> {
                refusals(&[$($status),+], $schema)
            }
        }
    )+};
}

refusal_sets! {
    /// A list of what the caller may see.
    ListRefusals = "Error" [400, 401, 429, 500];
    /// Reading the caller's own identity or the catalogue.
    CallerRefusals = "Error" [401, 429, 500];
    /// Reading one object by its id.
    ReadRefusals = "Error" [400, 401, 404, 429, 500];
    /// Reading one object of a visible case that the caller's role may not read.
    RoleReadRefusals = "Error" [400, 401, 403, 404, 429, 500];
    /// Reading a run's report, which only a succeeded run has.
    ReportRefusals = "Error" [400, 401, 404, 409, 429, 500];
    /// Reading the audit log (advisors and admins).
    AuditRefusals = "Error" [400, 401, 403, 429, 500];
    /// Reading the newest audit checkpoint, which there may not be yet.
    CheckpointRefusals = "Error" [400, 401, 403, 404, 429, 500];
    /// Signing an audit checkpoint (advisors and admins).
    CheckpointCreateRefusals = "Error" [401, 403, 429, 500];
    /// Reading the audit key (anyone signed in).
    KeyRefusals = "Error" [401, 429, 500];
    /// Downloading training data.
    DownloadRefusals = "Error" [400, 401, 403, 404, 429, 500];
    /// Creating an object from a body.
    CreateRefusals = "Error" [400, 401, 403, 413, 415, 422, 429, 500];
    /// Changing an object of a visible case.
    ChangeRefusals = "Error" [400, 401, 403, 404, 409, 413, 415, 422, 429, 500];
    /// Cancelling a run.
    CancelRefusals = "Error" [400, 401, 403, 404, 409, 413, 429, 500];
    /// Replaying a run (advisors and admins).
    ReplayRefusals = "Error" [400, 401, 403, 404, 409, 413, 429, 500, 503];
    /// Reading what anyone may read (a published summary).
    PublicRefusals = "Error" [400, 404, 429, 500];
    /// Reading a served model's metadata.
    V2ReadRefusals = "V2Error" [401, 404, 429, 500];
    /// Asking whether a model is ready (which starts its workers).
    V2ReadyRefusals = "V2Error" [401, 404, 429, 500, 503];
    /// Scoring rows.
    V2InferRefusals = "V2Error" [400, 401, 404, 413, 429, 500, 503];
}

// The OpenAPI document states the manifest limit as a literal; it must be the one limit.
const _: () = assert!(inference::MAX_MANIFEST_BYTES == 262_144);
const _: () = assert!(crate::app::models::MAX_FEATURE_NAMES_PART == 1_048_576);
