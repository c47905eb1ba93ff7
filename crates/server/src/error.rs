//! The one error shape of the API: `{"error": {"code", "message", "details"}}` with its status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use store::StoreError;

/// An error answer. `code` is a stable word for programs; `message` is for people.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// Also the answer for objects that exist but belong to another organisation, so their
    /// existence does not leak.
    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{kind} {:?} not found", truncate(id)),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

/// Ids echoed in messages are cut short: they come from the caller.
fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// What an error answer's body is.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "Error")]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// An error: a stable word for programs, a sentence for people, and details where there are some
/// (the findings of a rejected model, the limits of a refused run).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ErrorDetail {
    /// `bad_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`, `too_large`, `internal`, ...
    pub code: String,
    pub message: String,
    pub details: Value,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                details: self.details,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::NotFound { kind, id } => Self::not_found(kind, id),
            StoreError::IllegalTransition { .. } => Self::conflict(e.to_string()),
            StoreError::Conflict(_) => Self::conflict(e.to_string()),
            // A log that does not verify is a finding, not a fault of the service: said as it is.
            StoreError::ChainBroken(_) | StoreError::LogDiverges(_) => {
                Self::conflict(format!("the audit log does not verify: {e}"))
            }
            _ => {
                tracing::error!(error = %e, "store");
                Self::internal(format!("storage failed: {e}"))
            }
        }
    }
}

impl From<store::BlobError> for ApiError {
    fn from(e: store::BlobError) -> Self {
        tracing::error!(error = %e, "blobs");
        Self::internal(format!("blob storage failed: {e}"))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
