//! The types the API sends and receives, as the OpenAPI document names them.

use super::openapi::schema;

schema! {
    /// The run record: what was run, with which hashes and seeds, and what it found.
    RunRecord = evaluate::RunRecord;
    Case = super::views::CaseView;
    Criteria = super::views::CriteriaView;
    Run = super::views::RunView;
    Me = super::views::Me;
    Scenario = super::views::ScenarioView;
    AuditPage = super::views::AuditPage;
    ChainView = super::views::ChainView;
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
    /// The manifest, TOML or JSON: which scenario columns the model reads and how.
    manifest: String,
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
