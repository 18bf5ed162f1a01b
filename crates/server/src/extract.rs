//! Request extractors that turn malformed input into `invalid-request` problems instead of
//! axum's plain-text rejections.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use axum::http::StatusCode;

use crate::error::ApiError;

/// The largest API request body axum reads (its default body limit), in bytes.
pub const API_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// `Json<T>` whose rejection is a problem document.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// A JSON body that may be absent (no body or an empty body means `T::default()`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge {
                        limit_bytes: API_BODY_LIMIT,
                    }
                } else {
                    ApiError::InvalidRequest(format!("could not read the body: {e}"))
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(OptionalJson)
            .map_err(|e| ApiError::InvalidRequest(format!("the JSON body is invalid: {e}")))
    }
}

/// `Query<T>` whose rejection is a problem document.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge {
            limit_bytes: API_BODY_LIMIT,
        };
    }
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        other => {
            ApiError::InvalidRequest(format!("the JSON body is invalid: {}", other.body_text()))
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::InvalidRequest(format!("invalid query string: {}", rejection.body_text()))
}

/// Answers an error axum produced by itself (an unknown route, a method the route lacks, a
/// path it could not parse, a timeout) as a problem document like every other API error.
/// Responses that already have a content type other than `text/plain` pass untouched; the
/// proxy's answers never come here (the layer is not on its routes).
pub async fn bare_errors_as_problems(request: Request, next: axum::middleware::Next) -> Response {
    let method = request.method().clone();
    let for_people = is_page(request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    if for_people && status.is_client_error() && !matches!(status.as_u16(), 404 | 405) {
        // A form or link of the page that axum could not read: a page, not JSON.
        return crate::page::PageError::Invalid(format!(
            "tether could not read this request: {text}"
        ))
        .into_response();
    }
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NoRoute,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed(method.to_string()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge {
            limit_bytes: API_BODY_LIMIT,
        },
        StatusCode::GATEWAY_TIMEOUT | StatusCode::REQUEST_TIMEOUT => ApiError::Timeout {
            seconds: crate::REQUEST_TIMEOUT.as_secs(),
        },
        // A path axum could not decode (bad bytes): no such resource.
        _ if text.starts_with("Invalid URL") => ApiError::NotFound("no such resource".to_owned()),
        _ if text.contains("length limit exceeded") => ApiError::PayloadTooLarge {
            limit_bytes: API_BODY_LIMIT,
        },
        _ if status.is_client_error() => ApiError::InvalidRequest(if text.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("invalid request")
                .to_owned()
        } else {
            text
        }),
        _ => ApiError::internal(format!("{status} without a body: {text}")),
    };
    let mut answer = error.into_response();
    // Keep what the original answer said about the route (Allow on a 405).
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        answer.headers_mut().insert(header::ALLOW, allow.clone());
    }
    answer
}

/// Whether `path` is one of the pages people open in a browser (the connectors page, sign-in,
/// the connect link and callback), whose errors are pages; the API and the operations
/// endpoints answer problem documents.
fn is_page(path: &str) -> bool {
    let api = path.starts_with("/v1/") || path == "/v1";
    let ops = matches!(path, "/healthz" | "/readyz" | "/metrics" | "/openapi.json");
    !api && !ops
}
