//! The HTTP error boundary: every failure of an API handler becomes one [`ApiError`], answered
//! as an RFC 9457 problem document (`application/problem+json`).
//!
//! Policy: 4xx bodies say exactly what the caller did wrong; 5xx bodies say only that tether
//! failed, and the cause is logged once here, never sent. No variant carries a secret.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tether_core::cause::Cause;
use tether_core::diagnosis::Diagnosis;
use tether_store::StoreError;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::{Response as ApiResponse, ResponseBuilder};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoResponses, ToSchema};

use crate::service::ServiceError;
use crate::tokens::TokenError;

/// A 5xx cause: logged with its source chain, never sent.
pub type InternalCause = Box<dyn std::error::Error + Send + Sync>;

/// Where problem types live.
const PROBLEM_BASE: &str = "https://tether.dev/problems/";

/// An API failure, with the status each variant answers.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `unauthorized`: no, malformed or unknown API key.
    #[error("a valid API key is required: send Authorization: Bearer <api key>")]
    Unauthorized,
    /// 404 `not-found`.
    #[error("{0} not found")]
    NotFound(String),
    /// 404 `not-found`: no route has this path.
    #[error("no route has this path: the API's paths start with /v1 (docs/api.md lists them)")]
    NoRoute,
    /// 400 `invalid-request`: a parameter or body the caller must fix.
    #[error("{0}")]
    InvalidRequest(String),
    /// 409 `conflict`.
    #[error("{0}")]
    Conflict(String),
    /// 405 `method-not-allowed`: the route exists, not with this method.
    #[error("this route does not accept the method {0}")]
    MethodNotAllowed(String),
    /// 415 `unsupported-media-type`: a body that must be JSON was sent as something else.
    #[error("send the body as JSON with Content-Type: application/json")]
    UnsupportedMediaType,
    /// 413 `payload-too-large`: the body is over the limit.
    #[error("the request body is larger than the limit of {limit_bytes} bytes")]
    PayloadTooLarge { limit_bytes: usize },
    /// 504 `timeout`: the request took longer than tether allows.
    #[error("the request took longer than {seconds} seconds")]
    Timeout { seconds: u64 },
    /// 409 `connection-expired`: a person must act (reconnect, or fix what the diagnosis
    /// names).
    #[error("the connection has expired: {status_reason}; reconnect it")]
    ConnectionExpired {
        status_reason: Cause,
        diagnosis: Option<Box<Diagnosis>>,
    },
    /// 409 `conflict`: the connection was disconnected through tether.
    #[error("the connection was disconnected; create a new one")]
    Disconnected,
    /// 422 `provider-refused`: Salesforce refused what the caller handed over (an imported
    /// refresh token); nothing was stored.
    #[error("{detail}")]
    ProviderRefused {
        detail: String,
        status_reason: Cause,
        diagnosis: Box<Diagnosis>,
    },
    /// 503 `provider-unavailable` with `Retry-After`.
    #[error("{detail}")]
    ProviderUnavailable {
        detail: String,
        retry_after_seconds: u64,
        status_reason: Option<Cause>,
        diagnosis: Option<Box<Diagnosis>>,
    },
    /// 503 `not-ready`: this process cannot serve (`/readyz`): the database does not answer,
    /// or the keyring does not fit the database's master keys. The detail names key ids,
    /// which are public names, never keys.
    #[error("{0}")]
    NotReady(String),
    /// 500: tether's own failure; details are logged, not sent.
    #[error("internal error")]
    Internal(#[source] InternalCause),
}

impl ApiError {
    /// A 500 caused by `err`.
    pub fn internal(err: impl Into<InternalCause>) -> Self {
        ApiError::Internal(err.into())
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict { what } => ApiError::Conflict(what),
            other => ApiError::internal(other),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::NotFound => ApiError::NotFound("connection".into()),
            TokenError::Expired { cause, diagnosis } => ApiError::ConnectionExpired {
                status_reason: cause,
                diagnosis,
            },
            TokenError::Disconnected => ApiError::Disconnected,
            TokenError::Unavailable {
                detail,
                retry_after_seconds,
                cause,
                diagnosis,
            } => ApiError::ProviderUnavailable {
                detail,
                retry_after_seconds,
                status_reason: cause,
                diagnosis,
            },
            other @ (TokenError::Store(_)
            | TokenError::ConnectorUrl(_)
            | TokenError::RefreshTaskFailed
            | TokenError::Signing(_)) => ApiError::internal(other),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::NotFound(what) => ApiError::NotFound(what),
            ServiceError::Invalid(why) => ApiError::InvalidRequest(why),
            ServiceError::Conflict(why) => ApiError::Conflict(why),
            ServiceError::ProviderRefused {
                detail,
                cause,
                diagnosis,
            } => ApiError::ProviderRefused {
                detail,
                status_reason: cause,
                diagnosis,
            },
            ServiceError::Token(err) => err.into(),
            ServiceError::Store(err) => err.into(),
        }
    }
}

impl ApiError {
    /// The kind of problem this failure answers.
    fn problem_type(&self) -> ProblemType {
        match self {
            ApiError::Unauthorized => ProblemType::UNAUTHORIZED,
            ApiError::NotFound(_) | ApiError::NoRoute => ProblemType::NOT_FOUND,
            ApiError::InvalidRequest(_) => ProblemType::INVALID_REQUEST,
            ApiError::Conflict(_) | ApiError::Disconnected => ProblemType::CONFLICT,
            ApiError::MethodNotAllowed(_) => ProblemType::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType => ProblemType::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge { .. } => ProblemType::PAYLOAD_TOO_LARGE,
            ApiError::Timeout { .. } => ProblemType::TIMEOUT,
            ApiError::ConnectionExpired { .. } => ProblemType::CONNECTION_EXPIRED,
            ApiError::ProviderRefused { .. } => ProblemType::PROVIDER_REFUSED,
            ApiError::ProviderUnavailable { .. } => ProblemType::PROVIDER_UNAVAILABLE,
            ApiError::NotReady(_) => ProblemType::NOT_READY,
            ApiError::Internal(_) => ProblemType::INTERNAL,
        }
    }

    /// The members a problem adds to the standard ones: the cause and the diagnosis of the
    /// problems that have them.
    fn extensions(&self) -> Map<String, Value> {
        let (status_reason, diagnosis) = match self {
            ApiError::ConnectionExpired {
                status_reason,
                diagnosis,
            } => (json!(status_reason), json!(diagnosis)),
            ApiError::ProviderUnavailable {
                status_reason,
                diagnosis,
                ..
            } => (json!(status_reason), json!(diagnosis)),
            ApiError::ProviderRefused {
                status_reason,
                diagnosis,
                ..
            } => (json!(status_reason), json!(diagnosis)),
            _ => return Map::new(),
        };
        Map::from_iter([
            ("status_reason".to_owned(), status_reason),
            ("diagnosis".to_owned(), diagnosis),
        ])
    }
}

/// The detail of every 5xx caused by tether itself: the cause is logged, never sent.
pub const INTERNAL_DETAIL: &str = "tether failed to handle this request; the error has been logged";

/// One kind of problem tether answers: its status, its `type` (`code` under
/// `https://tether.dev/problems/`) and its title. Every kind is one constant below, shared by
/// the API's and the proxy's failures, so one code always means one status and one title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemType {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
}

impl ProblemType {
    /// Every kind, as docs/api.md's tables of problem types list them.
    pub const ALL: [Self; 19] = [
        Self::INVALID_REQUEST,
        Self::UNAUTHORIZED,
        Self::NOT_FOUND,
        Self::METHOD_NOT_ALLOWED,
        Self::CONFLICT,
        Self::CONNECTION_EXPIRED,
        Self::PAYLOAD_TOO_LARGE,
        Self::UNSUPPORTED_MEDIA_TYPE,
        Self::PROVIDER_REFUSED,
        Self::PROVIDER_UNAVAILABLE,
        Self::INTERNAL,
        Self::NOT_READY,
        Self::TIMEOUT,
        Self::SESSION_REFUSED,
        Self::REQUEST_TOO_LARGE,
        Self::PROVIDER_HOST_NOT_ALLOWED,
        Self::PROVIDER_RESPONSE_TOO_LARGE,
        Self::PROVIDER_UNREACHABLE,
        Self::PROVIDER_TIMEOUT,
    ];

    const fn new(status: StatusCode, code: &'static str, title: &'static str) -> Self {
        Self {
            status,
            code,
            title,
        }
    }

    pub const UNAUTHORIZED: Self =
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized");
    pub const NOT_FOUND: Self = Self::new(StatusCode::NOT_FOUND, "not-found", "Not found");
    pub const INVALID_REQUEST: Self = Self::new(
        StatusCode::BAD_REQUEST,
        "invalid-request",
        "Invalid request",
    );
    pub const CONFLICT: Self = Self::new(StatusCode::CONFLICT, "conflict", "Conflict");
    pub const METHOD_NOT_ALLOWED: Self = Self::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
    );
    pub const UNSUPPORTED_MEDIA_TYPE: Self = Self::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        "Unsupported media type",
    );
    pub const PAYLOAD_TOO_LARGE: Self = Self::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "Payload too large",
    );
    pub const TIMEOUT: Self = Self::new(StatusCode::GATEWAY_TIMEOUT, "timeout", "Timeout");
    pub const CONNECTION_EXPIRED: Self = Self::new(
        StatusCode::CONFLICT,
        "connection-expired",
        "Connection Expired",
    );
    pub const PROVIDER_REFUSED: Self = Self::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "provider-refused",
        "Refused by the provider",
    );
    pub const PROVIDER_UNAVAILABLE: Self = Self::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "provider-unavailable",
        "Provider unavailable",
    );
    pub const NOT_READY: Self =
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "not-ready", "Not ready");
    pub const INTERNAL: Self = Self::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
    );
    // The proxy's own.
    pub const REQUEST_TOO_LARGE: Self = Self::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request-too-large",
        "Request too large",
    );
    pub const SESSION_REFUSED: Self = Self::new(
        StatusCode::UNAUTHORIZED,
        "session-refused",
        "Session refused by the provider",
    );
    pub const PROVIDER_RESPONSE_TOO_LARGE: Self = Self::new(
        StatusCode::BAD_GATEWAY,
        "provider-response-too-large",
        "Provider response too large",
    );
    pub const PROVIDER_UNREACHABLE: Self = Self::new(
        StatusCode::BAD_GATEWAY,
        "provider-unreachable",
        "Provider unreachable",
    );
    pub const PROVIDER_HOST_NOT_ALLOWED: Self = Self::new(
        StatusCode::BAD_GATEWAY,
        "provider-host-not-allowed",
        "Provider host not allowed",
    );
    pub const PROVIDER_TIMEOUT: Self = Self::new(
        StatusCode::GATEWAY_TIMEOUT,
        "provider-timeout",
        "Provider timeout",
    );
}

/// An RFC 9457 problem answer, `application/problem+json`: the problem's `type`, `title` and
/// `status`, its `detail`, and its own `members`. Every problem of the API and of the proxy
/// is answered here.
pub fn problem_answer(
    problem: ProblemType,
    detail: String,
    members: Map<String, Value>,
) -> Response {
    let status = problem.status;
    let mut body = json!({
        "type": format!("{PROBLEM_BASE}{}", problem.code),
        "title": problem.title,
        "status": status.as_u16(),
        "detail": detail,
    });
    if let Some(obj) = body.as_object_mut() {
        obj.extend(members);
    }
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem_type();
        let detail = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(error = %error_chain(cause.as_ref()), "request failed");
                INTERNAL_DETAIL.to_owned()
            }
            other => other.to_string(),
        };
        let mut response = problem_answer(problem, detail, self.extensions());
        let headers = response.headers_mut();
        if let ApiError::ProviderUnavailable {
            retry_after_seconds,
            ..
        } = self
        {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
        }
        if problem.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The problem document every [`ApiError`] answers, as the OpenAPI document describes it
/// (`IntoResponse` above writes it); the proxy's problems (`proxy::problem`) share the shape.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `https://tether.dev/problems/` and the problem's code.
    #[serde(rename = "type")]
    #[schema(example = "https://tether.dev/problems/not-found")]
    pub type_url: String,
    /// The code's title, e.g. `Connection Expired`.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, in words (never a secret, never internals).
    pub detail: String,
    /// The cause code of `connection-expired`, `provider-refused`, `provider-unavailable`
    /// and the proxy's `session-refused`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable)]
    pub status_reason: Option<Cause>,
    /// The diagnosis of the same problems, when tether has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable)]
    pub diagnosis: Option<Diagnosis>,
}

/// The problems any `/v1` route may answer: no API key, and tether's own failure.
#[derive(Debug, utoipa::IntoResponses)]
pub enum CommonProblems {
    /// `unauthorized`: no, malformed or unknown API key (with `WWW-Authenticate: Bearer`).
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(#[to_schema] Problem),
    /// `internal`: tether failed; the cause is in its log.
    #[response(status = 500, content_type = "application/problem+json")]
    Internal(Problem),
}

/// The answer of one problem in the OpenAPI document: a [`Problem`] body as
/// `application/problem+json`, and what the problem means on the route.
pub fn problem_response(description: &str) -> RefOr<ApiResponse> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(Problem::name())))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", content)
        .into()
}

/// The responses of `problems`, each a status and what it means on the route, with the
/// [`CommonProblems`] every route answers (which a status of `problems` overrides).
pub fn problem_responses(problems: &[(u16, &str)]) -> BTreeMap<String, RefOr<ApiResponse>> {
    let mut responses = CommonProblems::responses();
    responses.extend(
        problems
            .iter()
            .map(|(status, description)| (status.to_string(), problem_response(description))),
    );
    responses
}

/// The problems one route answers, as a type its `#[utoipa::path]` names in `responses(...)`:
/// each a status and what it means on that route, besides the [`CommonProblems`] it includes
/// (a status listed here says what that one means on the route instead).
macro_rules! problems {
    ($(#[$doc:meta])* $name:ident { $($status:literal => $description:expr),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
            > {
                $crate::error::problem_responses(&[$(($status, $description)),+])
            }
        }
    };
}
pub(crate) use problems;

/// `404 not-found`, where the path names one thing.
pub const NOT_FOUND: &str = "`not-found`.";
/// `415 unsupported-media-type`, where the body must be JSON.
pub const NOT_JSON: &str = "`unsupported-media-type`: the body is not JSON.";

problems! {
    /// The problems of a route whose only own problem is that the thing it names is not there.
    NotFoundProblems { 404 => NOT_FOUND }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// An error and its sources, outermost first, for one log line or a message that says what
/// failed.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows `| status | `code` | title | ... |` of docs/api.md's problem tables.
    fn documented_problems() -> Vec<(u16, String, String)> {
        include_str!("../../../docs/api.md")
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let status = cells.get(1)?.parse().ok()?;
                let code = cells.get(2)?.strip_prefix('`')?.strip_suffix('`')?;
                Some((status, code.to_owned(), (*cells.get(3)?).to_owned()))
            })
            .collect()
    }

    #[test]
    fn the_api_reference_lists_every_problem_type_with_its_status_and_title_once() {
        let mut documented = documented_problems();
        let mut answered: Vec<(u16, String, String)> = ProblemType::ALL
            .iter()
            .map(|p| (p.status.as_u16(), p.code.to_owned(), p.title.to_owned()))
            .collect();
        documented.sort();
        answered.sort();
        assert_eq!(documented, answered);
    }
}
