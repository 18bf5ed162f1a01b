//! What the proxy answers when it does not pass the provider's answer through: every failure
//! is an RFC 9457 problem document, like the rest of the API. Token errors (unknown or
//! expired connection, provider down) reuse [`ApiError`]; the proxy adds its own codes:
//!
//! | variant | status | problem code |
//! |---|---|---|
//! | `Path` | 400 | `invalid-request` |
//! | `ClientBody` | 400 | `invalid-request` |
//! | `RequestTooLarge` | 413 | `request-too-large` |
//! | `SessionRefused` | 401 | `session-refused` (with `status_reason`, `diagnosis`, `provider_errors`) |
//! | `ResponseTooLarge` | 502 | `provider-response-too-large` |
//! | `Unreachable` | 502 | `provider-unreachable` |
//! | `HostNotAllowed` | 502 | `provider-host-not-allowed` |
//! | `Timeout` | 504 | `provider-timeout` |
//! | `NotReplayable`, `Client` | 500 | `internal` (logged, not sent) |

use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::path::PathError;
use crate::error::{ApiError, INTERNAL_DETAIL, ProblemType, problem_answer};

/// A proxy failure.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("could not read the request body: {0}")]
    ClientBody(String),
    #[error(
        "the request body is larger than the proxy allows ({limit} bytes; setting proxy_max_request_bytes)"
    )]
    RequestTooLarge { limit: u64 },
    /// "This session is not valid for use with the REST API", after tether's one diagnostic
    /// refresh; `detail` says what that refresh found.
    #[error("{detail}")]
    SessionRefused {
        detail: String,
        status_reason: tether_core::cause::Cause,
        diagnosis: Option<Box<tether_core::diagnosis::Diagnosis>>,
        provider_errors: Value,
    },
    #[error(
        "the provider's answer is larger than the proxy allows ({limit} bytes; setting proxy_max_response_bytes)"
    )]
    ResponseTooLarge { limit: u64 },
    #[error("could not reach the provider: {0}")]
    Unreachable(String),
    #[error(
        "the connection's instance_url host {0:?} is not an allowed provider host (setting extra_provider_hosts); tether did not send the request"
    )]
    HostNotAllowed(String),
    #[error("the provider did not answer within {seconds} s (setting {setting})")]
    Timeout { seconds: u64, setting: &'static str },
    #[error(
        "tether holds this connection's session: do not log in through the proxy (SOAP login); give the client the tether API key as its session id"
    )]
    SoapLogin,
    #[error("a streamed request body cannot be sent twice")]
    NotReplayable,
    #[error("the proxy's HTTP client could not start: {0}")]
    Client(String),
}

impl ProxyError {
    /// The kind of problem this failure answers.
    fn problem_type(&self) -> ProblemType {
        match self {
            ProxyError::Api(_)
            | ProxyError::Path(_)
            | ProxyError::ClientBody(_)
            | ProxyError::SoapLogin => ProblemType::INVALID_REQUEST,
            ProxyError::RequestTooLarge { .. } => ProblemType::REQUEST_TOO_LARGE,
            ProxyError::SessionRefused { .. } => ProblemType::SESSION_REFUSED,
            ProxyError::ResponseTooLarge { .. } => ProblemType::PROVIDER_RESPONSE_TOO_LARGE,
            ProxyError::Unreachable(_) => ProblemType::PROVIDER_UNREACHABLE,
            ProxyError::HostNotAllowed(_) => ProblemType::PROVIDER_HOST_NOT_ALLOWED,
            ProxyError::Timeout { .. } => ProblemType::PROVIDER_TIMEOUT,
            ProxyError::NotReplayable | ProxyError::Client(_) => ProblemType::INTERNAL,
        }
    }

    /// The problem's answer; a 5xx is logged here and its cause not sent.
    fn answer(&self) -> Response {
        let problem = self.problem_type();
        let detail = if problem == ProblemType::INTERNAL {
            tracing::error!(error = %self, "proxy failed");
            INTERNAL_DETAIL.to_owned()
        } else {
            self.to_string()
        };
        let mut members = Map::new();
        if let ProxyError::SessionRefused {
            status_reason,
            detail: _,
            diagnosis,
            provider_errors,
        } = self
        {
            members.insert("status_reason".to_owned(), json!(status_reason));
            members.insert("diagnosis".to_owned(), json!(diagnosis));
            members.insert("provider_errors".to_owned(), provider_errors.clone());
        }
        problem_answer(problem, detail, members)
    }
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        match self {
            ProxyError::Api(err) => err.into_response(),
            ProxyError::Path(err) => ApiError::InvalidRequest(err.to_string()).into_response(),
            other => other.answer(),
        }
    }
}
