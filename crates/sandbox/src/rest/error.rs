//! Salesforce REST error responses: a status plus a JSON array of `{message, errorCode}`.
//!
//! The texts are the ones Salesforce sends (salesforce.md section 6); tether's diagnosis reads
//! them, so they must stay byte for byte.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One element of a Salesforce REST error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorItem {
    pub message: String,
    #[serde(rename = "errorCode")]
    pub error_code: String,
}

/// A REST API error as Salesforce answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    pub status: StatusCode,
    pub items: Vec<ErrorItem>,
}

impl RestError {
    fn one(status: StatusCode, error_code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            items: vec![ErrorItem {
                message: message.into(),
                error_code: error_code.to_owned(),
            }],
        }
    }

    /// 401: the access token expired or was revoked; refreshing fixes it.
    pub fn session_expired() -> Self {
        Self::one(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        )
    }

    /// 401: a policy (Block, IP restriction) refuses this session; refreshing does not fix it.
    pub fn session_not_valid_for_rest() -> Self {
        Self::one(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "This session is not valid for use with the REST API",
        )
    }

    /// 403: the org's daily API request limit is used up.
    pub fn request_limit_exceeded() -> Self {
        Self::one(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        )
    }

    /// 403: the org (or the user's profile) has no API access.
    pub fn api_disabled() -> Self {
        Self::one(
            StatusCode::FORBIDDEN,
            "API_DISABLED_FOR_ORG",
            "The REST API is not enabled for this Organization.",
        )
    }

    /// 404: no such resource or record.
    pub fn not_found() -> Self {
        Self::one(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
    }

    /// 400 with an arbitrary Salesforce error code (`MALFORMED_QUERY`, `INVALID_FIELD`, ...).
    pub fn bad_request(error_code: &str, message: impl Into<String>) -> Self {
        Self::one(StatusCode::BAD_REQUEST, error_code, message)
    }

    /// Any status with one error item; for injected faults and rarer errors.
    pub fn with_status(status: StatusCode, error_code: &str, message: impl Into<String>) -> Self {
        Self::one(status, error_code, message)
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        (self.status, Json(self.items)).into_response()
    }
}
