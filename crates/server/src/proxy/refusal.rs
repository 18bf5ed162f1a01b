//! Salesforce's 401s seen through the proxy. Only a 401's body is read (at most
//! `error_body_max_bytes`); it decides what happens:
//! - `Session expired or invalid`: the access token died. tether reports it to the token
//!   service as rejected (the same single-flight refresh as the token endpoint) and, when the
//!   request body can be replayed, sends the request once more with the new token; a heal
//!   teaches the connector's access-token lifetime (`tokens::healed`);
//! - `This session is not valid for use with the REST API`: a Block, an IP restriction or
//!   Login Hours; one diagnostic refresh tells them apart ([`super::refused`]);
//! - anything else passes through as Salesforce sent it.
//!
//! Every proxied 401 is recorded in the connection's history (kind `proxied_401`).

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use tether_core::cause::Cause;
use tether_core::diagnosis::{Confidence, Diagnosis, diagnose};
use tether_core::event::{EventKind, Outcome};
use tether_core::refresh::ProviderError;
use tether_core::secret::AccessToken;
use tether_store::{Connection, NewEvent};

use super::Call;
use super::body::{OutgoingBody, read_bounded};
use super::headers::response_headers;
use super::problem::ProxyError;
use crate::error::ApiError;
use crate::service::events;

/// Salesforce's text for a dead access token.
pub const SESSION_EXPIRED: &str = "Session expired or invalid";
/// Salesforce's text for a session a policy refuses.
pub const NOT_VALID_FOR_REST: &str = "This session is not valid for use with the REST API";

/// What a 401 body says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    SessionExpired,
    NotValidForRest,
    Other,
}

#[derive(Debug, Deserialize)]
struct ErrorItem {
    message: Option<String>,
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
}

/// Reads a Salesforce REST error body (`[{"message", "errorCode"}]`), or a Bulk API 1.0 one
/// (`<exceptionCode>InvalidSessionId</exceptionCode>` in XML, or the same in JSON).
pub fn classify(body: &[u8]) -> Refusal {
    if bulk_invalid_session(body) {
        return Refusal::SessionExpired;
    }
    let items: Vec<ErrorItem> = serde_json::from_slice(body).unwrap_or_default();
    items
        .iter()
        .find_map(|item| match item.message.as_deref() {
            Some(SESSION_EXPIRED) => Some(Refusal::SessionExpired),
            Some(NOT_VALID_FOR_REST) => Some(Refusal::NotValidForRest),
            _ => None,
        })
        .unwrap_or(Refusal::Other)
}

#[derive(Debug, Deserialize)]
struct BulkError {
    #[serde(rename = "exceptionCode")]
    exception_code: String,
}

/// Whether a Bulk API 1.0 error says the session is invalid.
fn bulk_invalid_session(body: &[u8]) -> bool {
    let xml = std::str::from_utf8(body)
        .is_ok_and(|text| text.contains("<exceptionCode>InvalidSessionId</exceptionCode>"));
    xml || serde_json::from_slice::<BulkError>(body)
        .is_ok_and(|e| e.exception_code == "InvalidSessionId")
}

/// The first error of a REST error body, in the shape events carry.
pub(super) fn provider_error(body: &[u8]) -> Option<ProviderError> {
    let items: Vec<ErrorItem> = serde_json::from_slice(body).ok()?;
    let first = items.into_iter().next()?;
    Some(ProviderError {
        error: first.error_code.unwrap_or_else(|| "UNKNOWN".to_owned()),
        error_description: first.message,
    })
}

/// The diagnosis of "not valid for use with the REST API". Salesforce sends the same words
/// for a blocked app and for a refused IP; tether names `ip_restricted` only when its last
/// refresh already failed for that reason, and otherwise says both fit.
pub fn diagnose_refusal(connection: Option<&Connection>, body: &[u8]) -> (Cause, Diagnosis) {
    let ip_known = connection.and_then(|c| c.status_reason) == Some(Cause::IpRestricted);
    let mut evidence = vec![
        "tether could not refresh the access token to find out why (the provider failed, or the connection waits out a backoff)"
            .to_owned(),
    ];
    let (cause, confidence) = if ip_known {
        evidence
            .push("The last refresh of this connection failed because of an IP restriction".into());
        (Cause::IpRestricted, Confidence::Likely)
    } else {
        evidence.push(
            "Salesforce sends the same answer when the user's Login IP Ranges or Login Hours refuse tether's IP address (ip_restricted): if the app is not blocked, check Edit Policies > IP Relaxation".into(),
        );
        (Cause::SessionBlocked, Confidence::Possible)
    };
    (
        cause,
        diagnose(cause, confidence, evidence, provider_error(body)),
    )
}

/// Handles a 401 answer to the first attempt.
pub async fn on_unauthorized(
    call: &Call<'_>,
    used: AccessToken,
    response: reqwest::Response,
    body: &mut OutgoingBody,
) -> Result<Response, ProxyError> {
    let answer = match read_error(call, response).await {
        Ok(read) => read,
        Err(passed) => return Ok(passed),
    };
    match classify(&answer.body) {
        Refusal::SessionExpired => heal(call, used, answer, body).await,
        Refusal::NotValidForRest => super::refused::on_not_valid(call, used, answer, body).await,
        Refusal::Other if answer.status != StatusCode::UNAUTHORIZED => Ok(answer.pass_back()),
        Refusal::Other => {
            let detail = "Salesforce answered 401; passed through";
            record(call, Outcome::Failure, detail, &answer.body).await;
            Ok(answer.pass_back())
        }
    }
}

/// Refreshes once (single flight) and retries once if the body can be replayed.
async fn heal(
    call: &Call<'_>,
    used: AccessToken,
    answer: ErrorAnswer,
    body: &mut OutgoingBody,
) -> Result<Response, ProxyError> {
    let tokens = &call.state.tokens;
    let refused_age = tokens.refused_age(call.ws, call.id, &used).await;
    let fresh = match call.renewed(used).await {
        Ok(fresh) => fresh,
        Err(err) => {
            let detail = "Salesforce refused the access token (Session expired or invalid); refreshing it failed";
            record(call, Outcome::Failure, detail, &answer.body).await;
            return Err(ApiError::from(err).into());
        }
    };
    if !body.is_replayable() {
        let detail = "Salesforce refused the access token (Session expired or invalid); tether refreshed it, but the streamed request body cannot be replayed, so the 401 went back to the client to retry";
        record(call, Outcome::Failure, detail, &answer.body).await;
        return Ok(answer.pass_back());
    }
    let second = call.send(&fresh, body).await?;
    if second.status() == answer.status {
        let detail = "Salesforce refused the access token again after a refresh; passed through";
        record(call, Outcome::Failure, detail, &answer.body).await;
        return Ok(match read_error(call, second).await {
            Ok(again) => again.pass_back(),
            Err(passed) => passed,
        });
    }
    let detail = format!(
        "Salesforce refused the access token (Session expired or invalid); tether refreshed it and retried: {}",
        second.status()
    );
    record(call, Outcome::Success, &detail, &answer.body).await;
    if let Some(refused) = refused_age {
        tokens.learn_refused_age(call.ws, call.id, refused).await;
    }
    call.state.proxy.stream_back(second)
}

/// The refusal when the diagnostic refresh could not be made (the provider is down, the
/// connection backs off): the diagnosis from the answer alone.
pub(super) async fn refuse(call: &Call<'_>, bytes: &[u8]) -> ProxyError {
    let connection = call.connection().await;
    let (cause, diagnosis) = diagnose_refusal(connection.as_ref(), bytes);
    let detail = format!(
        "Salesforce refused the session for the REST API ({NOT_VALID_FOR_REST}); tether could not refresh it to find out why: {cause}"
    );
    let answered = "Salesforce refuses this session for the REST API (\"This session is not valid for use with the REST API\"); tether could not refresh the token to find out why, so it did not retry";
    let diagnosis = Some(Box::new(diagnosis));
    session_refused(call, &detail, answered.to_owned(), cause, diagnosis, bytes).await
}

/// A refused session, recorded in the connection's history with `logged` and answered as
/// `session-refused` with `answered`, its cause and diagnosis, and Salesforce's errors.
pub(super) async fn session_refused(
    call: &Call<'_>,
    logged: &str,
    answered: String,
    cause: Cause,
    diagnosis: Option<Box<Diagnosis>>,
    bytes: &[u8],
) -> ProxyError {
    record(call, Outcome::Failure, logged, bytes).await;
    ProxyError::SessionRefused {
        detail: answered,
        status_reason: cause,
        diagnosis,
        provider_errors: serde_json::from_slice(bytes).unwrap_or(Value::Null),
    }
}

pub(super) async fn record(call: &Call<'_>, outcome: Outcome, detail: &str, body: &[u8]) {
    let Some(connection) = call.connection().await else {
        return;
    };
    let now = call.state.clock.now();
    let event = NewEvent::of(&connection, now, EventKind::Proxied401, outcome, detail)
        .with_provider_error(provider_error(body));
    events::record(call.state.store.as_ref(), event).await;
}

/// Salesforce's error answer, read whole: tether decides from its body, and passes it back
/// as it came when it does not answer itself.
#[derive(Debug)]
pub(super) struct ErrorAnswer {
    pub status: StatusCode,
    headers: HeaderMap,
    pub body: Bytes,
}

impl ErrorAnswer {
    /// The answer for the client, as Salesforce sent it.
    pub(super) fn pass_back(self) -> Response {
        rebuild(self.status, &self.headers, Body::from(self.body))
    }
}

/// Salesforce's error answer, read up to `error_body_max_bytes`; a larger one is rebuilt as
/// it came, to pass back.
pub(super) async fn read_error(
    call: &Call<'_>,
    response: reqwest::Response,
) -> Result<ErrorAnswer, Response> {
    let (status, headers) = (response.status(), response.headers().clone());
    let max = usize::try_from(call.state.proxy.limits().error_body_max_bytes).unwrap_or(usize::MAX);
    match read_bounded(response, max).await {
        Ok(body) => Ok(ErrorAnswer {
            status,
            headers,
            body,
        }),
        Err(whole) => Err(rebuild(status, &headers, whole)),
    }
}

/// A response from a kept status, headers and body.
fn rebuild(status: StatusCode, headers: &HeaderMap, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = response_headers(headers);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salesforce_session_texts_are_told_apart() {
        let expired =
            br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#;
        let blocked = br#"[{"message":"This session is not valid for use with the REST API","errorCode":"INVALID_SESSION_ID"}]"#;
        assert_eq!(classify(expired), Refusal::SessionExpired);
        assert_eq!(classify(blocked), Refusal::NotValidForRest);
        assert_eq!(classify(b"Bad_OAuth_Token"), Refusal::Other);
        assert_eq!(classify(b"[]"), Refusal::Other);
        let bulk_xml = br#"<?xml version="1.0" encoding="UTF-8"?><error xmlns="http://www.force.com/2009/06/asyncapi/dataload"><exceptionCode>InvalidSessionId</exceptionCode><exceptionMessage>Invalid session id</exceptionMessage></error>"#;
        let bulk_json =
            br#"{"exceptionCode":"InvalidSessionId","exceptionMessage":"Invalid session id"}"#;
        assert_eq!(classify(bulk_xml), Refusal::SessionExpired);
        assert_eq!(classify(bulk_json), Refusal::SessionExpired);
        let bulk_other = br#"{"exceptionCode":"InvalidJob","exceptionMessage":"Invalid job"}"#;
        assert_eq!(classify(bulk_other), Refusal::Other);
    }

    #[test]
    fn a_refused_session_without_ip_evidence_is_possibly_blocked() {
        let body = br#"[{"message":"This session is not valid for use with the REST API","errorCode":"INVALID_SESSION_ID"}]"#;
        let (cause, diagnosis) = diagnose_refusal(None, body);
        assert_eq!(cause, Cause::SessionBlocked);
        let diagnosis = serde_json::to_value(diagnosis).unwrap_or_default();
        assert_eq!(diagnosis["confidence"], "possible");
        assert_eq!(
            diagnosis["evidence"][0],
            "Salesforce answered INVALID_SESSION_ID: This session is not valid for use with the REST API"
        );
        assert_eq!(
            diagnosis["provider_error"],
            serde_json::json!({"error": "INVALID_SESSION_ID", "error_description": NOT_VALID_FOR_REST})
        );
    }
}
