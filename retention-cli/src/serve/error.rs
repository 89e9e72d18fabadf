//! The server's error answers: `{"error": {"code": "...", "message": "..."}}` with a stable
//! [`Code`] per kind of failure, each code with its one HTTP status. A failure of the server's own
//! ([`ApiError::internal`]) is written to the server's log and never shown to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use retention_core::error::{Spelling, respell};
use serde_json::json;

/// How answers write the core's names: a field or parameter quoted as it is (`'cv'`), an
/// operation as the operator's command.
struct Fields;

impl Spelling for Fields {
    fn spell(&self, name: &str) -> Option<String> {
        Some(if name.contains(' ') {
            format!("`retention {name}`")
        } else {
            format!("'{name}'")
        })
    }
}

/// A core text (an error's reason) in the answers' words.
pub(super) fn text(core: &str) -> String {
    respell(core, &Fields)
}

/// The kinds of failure a client is told about, each with its stable `code` and its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// 500: the server failed (the detail is in its log only).
    Internal,
    /// 503: no champion model is loaded, or the database did not answer.
    NotReady,
    /// 503: the request ran out of time.
    Timeout,
    /// 503: a connection past `--max-connections` asked for more than a health check.
    Overloaded,
    /// 413: the body is larger than the endpoint accepts.
    PayloadTooLarge,
    /// 413: more customers than `--max-batch`.
    BatchTooLarge,
    /// 400: the body could not be read.
    InvalidBody,
    /// 400: the query string is wrong.
    InvalidQuery,
    /// 400: the body is not JSON.
    InvalidJson,
    /// 400: the body is not CSV with a header row.
    InvalidCsv,
    /// 404: no such endpoint.
    NotFound,
    /// 405: the endpoint does not take that method.
    MethodNotAllowed,
    /// 401: no API key was sent.
    MissingApiKey,
    /// 401: the API key is unknown or revoked.
    InvalidApiKey,
    /// 422: a field the model needs is missing.
    MissingField,
    /// 422: a field's value cannot be used.
    InvalidValue,
    /// 422: a customer or a batch is not of the accepted shape.
    InvalidRecord,
    /// 422: a customer has more fields than accepted.
    TooManyFields,
    /// 422: a field name or value is longer than accepted.
    FieldTooLong,
}

impl Code {
    /// The code as the JSON answer writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Internal => "internal",
            Code::NotReady => "not_ready",
            Code::Timeout => "timeout",
            Code::Overloaded => "overloaded",
            Code::PayloadTooLarge => "payload_too_large",
            Code::BatchTooLarge => "batch_too_large",
            Code::InvalidBody => "invalid_body",
            Code::InvalidQuery => "invalid_query",
            Code::InvalidJson => "invalid_json",
            Code::InvalidCsv => "invalid_csv",
            Code::NotFound => "not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::MissingApiKey => "missing_api_key",
            Code::InvalidApiKey => "invalid_api_key",
            Code::MissingField => "missing_field",
            Code::InvalidValue => "invalid_value",
            Code::InvalidRecord => "invalid_record",
            Code::TooManyFields => "too_many_fields",
            Code::FieldTooLong => "field_too_long",
        }
    }

    /// The HTTP status this code is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::NotReady | Code::Timeout | Code::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Code::PayloadTooLarge | Code::BatchTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::InvalidBody | Code::InvalidQuery | Code::InvalidJson | Code::InvalidCsv => {
                StatusCode::BAD_REQUEST
            }
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::MissingApiKey | Code::InvalidApiKey => StatusCode::UNAUTHORIZED,
            Code::MissingField
            | Code::InvalidValue
            | Code::InvalidRecord
            | Code::TooManyFields
            | Code::FieldTooLong => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// The status, always `code`'s.
    pub(super) status: StatusCode,
    pub(super) code: Code,
    pub(super) message: String,
}

impl ApiError {
    /// An answer of `code` (and its status) saying `message`.
    pub(super) fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            status: code.status(),
            code,
            message: message.into(),
        }
    }

    /// A failure of the server's own: the detail goes to the server's log, the client is told
    /// only that it happened.
    pub(super) fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(target: "retention::serve", error = %detail, "answering a request failed");
        Self::new(
            Code::Internal,
            "the server failed to answer this request; the detail is in its log",
        )
    }

    /// No champion is loaded.
    pub(super) fn not_ready() -> Self {
        Self::new(
            Code::NotReady,
            "no champion model is loaded: promote a version with `retention model promote`",
        )
    }

    /// The request was abandoned before its work ended.
    pub(super) fn cancelled() -> Self {
        Self::new(Code::Timeout, "the request ran out of time")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code.as_str(), "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use retention_core::error::mention;

    #[test]
    fn core_names_are_quoted_fields_and_operations_commands() {
        let reason = format!(
            "pass {} or run {}",
            mention("categorical"),
            mention("model promote")
        );
        assert_eq!(
            text(&reason),
            "pass 'categorical' or run `retention model promote`"
        );
    }
}
