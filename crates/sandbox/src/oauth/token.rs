//! `POST /services/oauth2/token`: parses the form and the client's credentials, applies an
//! injected fault (before the grant, or holding back a granted answer), runs the grant under
//! the state lock, writes the login-history row and the counters for every call, and shapes the
//! success body (signature, identity URL, no `expires_in`).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration as StdDuration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::grants::{Attempt, ClientAuth, Granted, Shape, TokenCall, dispatch};
use crate::shared::{Inner, Shared};
use crate::state::{AfterGrant, Fault, Faults, LoginRow};

/// The success body of the token endpoint.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub instance_url: String,
    pub id: String,
    pub token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
}

/// The token endpoint handler. A `token_endpoint` fault either answers before the grant
/// (`status`, or a stall with `delay_ms` alone) or holds back the answer of a call that was
/// processed completely (`after_grant`).
pub async fn token(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form = parse_form(&body);
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    let client = client_auth(&headers, &form);
    let fault = Faults::take(
        &mut shared.state.lock().faults.token_endpoint,
        Some(&grant_type),
    );
    let mut after_grant = None;
    if let Some(fault) = fault {
        match fault.after_grant {
            Some(after) => after_grant = Some((after, fault.delay_ms)),
            None => {
                if let Some(response) = before_grant(&shared, &fault, &grant_type, &client).await {
                    return response;
                }
            }
        }
    }
    let response = grant(&shared, &form, &client, &grant_type);
    match after_grant {
        None => response,
        Some((AfterGrant::Delay, delay_ms)) => {
            tokio::time::sleep(StdDuration::from_millis(delay_ms)).await;
            response
        }
        Some((AfterGrant::Drop, _)) => hold(shared).await,
    }
}

/// Runs the grant under the state lock and writes its login-history row and counters.
fn grant(
    shared: &Inner,
    form: &HashMap<String, String>,
    client: &ClientAuth,
    grant_type: &str,
) -> Response {
    let now = shared.now();
    let mut attempt = Attempt::default();
    let result = {
        let mut st = shared.state.lock();
        let call = TokenCall {
            form,
            client,
            now,
            base: shared.base(),
            attempt: &mut attempt,
        };
        let result = dispatch(&mut st, grant_type, call);
        let status = match &result {
            Ok(_) => "Success".to_owned(),
            Err(e) => format!("Failed: {} ({})", e.error, e.error_description),
        };
        let outcome = result.as_ref().map_or_else(|e| e.error, |_| "success");
        st.count_token_call(grant_type, outcome);
        let row = history_row(&st.client_ip, client, attempt, status, grant_type, now);
        st.record_login(row);
        result
    };
    match result {
        Ok(granted) => Json(success_body(shared, granted, now)).into_response(),
        Err(error) => error.into_response(),
    }
}

/// Never answers: the handler's future waits until hyper drops it when the client gives up
/// and disconnects, so no task outlives the call. [`Inner::held_answers`] counts the calls
/// held right now (`GET /_sandbox/stats`).
async fn hold(shared: Shared) -> Response {
    let _held = Held::new(shared);
    std::future::pending::<Response>().await
}

/// Counts one held answer while it lives.
struct Held(Shared);

impl Held {
    fn new(shared: Shared) -> Self {
        shared.held_answers.fetch_add(1, Ordering::SeqCst);
        Self(shared)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.held_answers.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One shot of a before-the-grant fault: stalls, then answers its status (recorded in login
/// history like any failure) or lets the call through (`None`).
async fn before_grant(
    shared: &Inner,
    fault: &Fault,
    grant_type: &str,
    client: &ClientAuth,
) -> Option<Response> {
    if fault.delay_ms > 0 {
        tokio::time::sleep(StdDuration::from_millis(fault.delay_ms)).await;
    }
    let status = StatusCode::from_u16(fault.status?).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let now = shared.now();
    let mut st = shared.state.lock();
    st.count_token_call(grant_type, "fault");
    let text = format!("Failed: sandbox fault {}", status.as_u16());
    let row = history_row(
        &st.client_ip,
        client,
        Attempt::default(),
        text,
        grant_type,
        now,
    );
    st.record_login(row);
    Some(fault_response(status))
}

/// The body of an injected token-endpoint failure.
pub fn fault_response(status: StatusCode) -> Response {
    let body = serde_json::json!({
        "error": "temporarily_unavailable",
        "error_description": format!("sandbox fault: status {}", status.as_u16()),
    });
    (status, Json(body)).into_response()
}

fn history_row(
    ip: &std::net::IpAddr,
    client: &ClientAuth,
    attempt: Attempt,
    status: String,
    grant_type: &str,
    now: DateTime<Utc>,
) -> LoginRow {
    LoginRow {
        login_time: now,
        username: attempt.username,
        login_type: "Remote Access 2.0",
        status,
        application: attempt
            .application
            .or_else(|| client.client_id.clone())
            .unwrap_or_default(),
        source_ip: *ip,
        grant_type: grant_type.to_owned(),
    }
}

/// A form body as a map; a malformed body reads as empty (and fails as a missing grant type).
pub fn parse_form(body: &[u8]) -> HashMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .map(|pairs| pairs.into_iter().collect())
        .unwrap_or_default()
}

/// Client credentials from HTTP Basic (preferred) or the form body.
pub fn client_auth(headers: &HeaderMap, form: &HashMap<String, String>) -> ClientAuth {
    if let Some(basic) = basic_credentials(headers) {
        return basic;
    }
    ClientAuth {
        client_id: form.get("client_id").cloned(),
        client_secret: form.get("client_secret").cloned(),
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<ClientAuth> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={s}")).ok()?;
        pairs.into_iter().next().map(|(_, v)| v)
    };
    Some(ClientAuth {
        client_id: unescape(id),
        client_secret: unescape(secret),
    })
}

fn success_body(shared: &Inner, granted: Granted, now: DateTime<Utc>) -> TokenResponse {
    let id = shared.identity_url(&granted.issued.user_id);
    let signed = granted.shape == Shape::Signed;
    let issued_at = now.timestamp_millis().to_string();
    let signature = signed.then(|| sign(&granted.client_secret, &format!("{id}{issued_at}")));
    let wants_id_token = granted
        .issued
        .scope
        .split_whitespace()
        .any(|s| s == "openid");
    let id_token = (signed && wants_id_token).then(|| id_token(shared, &granted, now));
    TokenResponse {
        access_token: granted.issued.access_token,
        refresh_token: granted.issued.refresh_token,
        signature,
        scope: granted.issued.scope,
        id_token,
        instance_url: shared.base(),
        id,
        token_type: "Bearer",
        issued_at: signed.then_some(issued_at),
    }
}

/// Base64 HMAC-SHA256 of `message` keyed by the client secret (Salesforce's `signature`).
pub fn sign(secret: &str, message: &str) -> String {
    STANDARD.encode(hmac(secret, message.as_bytes()))
}

fn hmac(secret: &str, message: &[u8]) -> Vec<u8> {
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(), // HMAC takes keys of any length; unreachable
    }
}

/// An OpenID Connect id token. Salesforce signs with RS256; the sandbox signs HS256 with the
/// client secret, which a client can still verify offline.
fn id_token(shared: &Inner, granted: &Granted, now: DateTime<Utc>) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "iss": shared.base(),
        "sub": shared.identity_url(&granted.issued.user_id),
        "aud": granted.client_id,
        "preferred_username": granted.username,
        "iat": now.timestamp(),
        "exp": now.timestamp() + 300,
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(hmac(&granted.client_secret, signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}
