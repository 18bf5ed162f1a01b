//! The proxy's own HTTP client: one `reqwest::Client` for the whole process that never
//! follows redirects, never decompresses (bodies pass through byte for byte with their
//! `Content-Encoding`), with a connect timeout, an idle-read timeout and a time limit for the
//! answer's headers, but none on the whole exchange so long streams pass.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::Response;
use tether_core::secret::AccessToken;
use url::Url;

use super::body::{OutgoingBody, response_body};
use super::headers::response_headers;
use super::problem::ProxyError;
use crate::auth::SFDC_SESSION;
use crate::error::error_chain;

/// Size limits and timeouts of the proxy (settings `proxy_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyLimits {
    /// Largest request body forwarded.
    pub max_request_bytes: u64,
    /// Largest response body passed back.
    pub max_response_bytes: u64,
    /// Request bodies up to this size (and of known size) are buffered so the request can be
    /// retried after a refresh; larger ones stream and are not retried.
    pub replay_max_bytes: u64,
    /// Largest 401 body read to tell Salesforce's session errors apart.
    pub error_body_max_bytes: u64,
    /// Connecting to the provider.
    pub connect_timeout: Duration,
    /// From sending the request (upload included) to the answer's headers.
    pub response_timeout: Duration,
    /// Longest pause between two reads of the answer's body.
    pub read_timeout: Duration,
    /// Refuse requests whose `Host` does not name tether.
    pub check_host: bool,
}

impl Default for ProxyLimits {
    fn default() -> Self {
        Self {
            max_request_bytes: 256 * 1024 * 1024,
            max_response_bytes: 1024 * 1024 * 1024,
            replay_max_bytes: 1024 * 1024,
            error_body_max_bytes: 64 * 1024,
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(120),
            read_timeout: Duration::from_secs(60),
            check_host: true,
        }
    }
}

/// One attempt of a proxied request.
#[derive(Debug)]
pub struct Outgoing<'a> {
    pub method: &'a Method,
    pub url: &'a Url,
    /// Already filtered ([`super::headers::request_headers`]).
    pub headers: &'a HeaderMap,
    pub token: &'a AccessToken,
}

/// The process's proxy client; cheap to clone.
#[derive(Debug, Clone)]
pub struct ProxyClient {
    /// The client, or why it could not be built (reported on use as a 500 and logged once).
    http: Result<reqwest::Client, String>,
    limits: ProxyLimits,
}

impl ProxyClient {
    /// Builds the client for `limits`.
    pub fn new(limits: ProxyLimits) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(limits.connect_timeout)
            .read_timeout(limits.read_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| {
                tracing::error!(error = %e, "the proxy's HTTP client could not start");
                e.to_string()
            });
        Self { http, limits }
    }

    /// The limits it enforces.
    pub fn limits(&self) -> &ProxyLimits {
        &self.limits
    }

    /// Sends one attempt and returns the answer with its body unread.
    pub async fn send(
        &self,
        out: Outgoing<'_>,
        body: &mut OutgoingBody,
    ) -> Result<reqwest::Response, ProxyError> {
        let client = self
            .http
            .as_ref()
            .map_err(|e| ProxyError::Client(e.clone()))?;
        let replayable = body.is_replayable();
        let payload = body.attempt().ok_or(ProxyError::NotReplayable)?;
        let mut headers = out.headers.clone();
        if replayable {
            // reqwest sets the length of an in-memory body itself.
            headers.remove(header::CONTENT_LENGTH);
        }
        let bearer = HeaderValue::from_str(&format!("Bearer {}", out.token.expose()))
            .map_err(|_| ProxyError::Client("the access token is not a valid header".into()))?;
        headers.insert(header::AUTHORIZATION, bearer);
        if out.url.path().starts_with("/services/async/") {
            // The Bulk API 1.0 authenticates only through X-SFDC-Session (the client's copy,
            // a tether API key, was dropped with the other request-only headers).
            let session = HeaderValue::from_str(out.token.expose())
                .map_err(|_| ProxyError::Client("the access token is not a valid header".into()))?;
            headers.insert(SFDC_SESSION, session);
        }
        let request = client
            .request(out.method.clone(), out.url.clone())
            .headers(headers)
            .body(payload)
            .send();
        let answer = tokio::time::timeout(self.limits.response_timeout, request).await;
        match answer {
            Err(_) => Err(ProxyError::Timeout {
                seconds: self.limits.response_timeout.as_secs(),
                setting: "proxy_response_timeout_seconds",
            }),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(_)) if body.exceeded() => Err(ProxyError::RequestTooLarge {
                limit: body.limit(),
            }),
            Ok(Err(err)) => Err(self.transport_error(err)),
        }
    }

    fn transport_error(&self, err: reqwest::Error) -> ProxyError {
        if err.is_timeout() {
            return ProxyError::Timeout {
                seconds: self.limits.connect_timeout.as_secs(),
                setting: "proxy_connect_timeout_seconds",
            };
        }
        ProxyError::Unreachable(error_chain(&err.without_url()))
    }

    /// The answer as the client's response: status and headers kept (minus hop-by-hop),
    /// body streamed and stopped past `max_response_bytes`.
    pub fn stream_back(&self, response: reqwest::Response) -> Result<Response, ProxyError> {
        let limit = self.limits.max_response_bytes;
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(ProxyError::ResponseTooLarge { limit });
        }
        let status = response.status();
        let headers = response_headers(response.headers());
        let mut out = Response::new(response_body(response, limit));
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }

    /// One attempt, streamed back: what the proxy does for any answer but a 401.
    pub async fn forward(
        &self,
        out: Outgoing<'_>,
        body: &mut OutgoingBody,
    ) -> Result<Response, ProxyError> {
        let response = self.send(out, body).await?;
        self.stream_back(response)
    }
}

#[cfg(test)]
mod tests;
