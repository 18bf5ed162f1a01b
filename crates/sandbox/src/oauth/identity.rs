//! The OAuth endpoints around the token: revoke, userinfo, introspection (RFC 7662), the
//! identity URL and OpenID discovery.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::token::{client_auth, parse_form};
use crate::session::{Session, authenticate, bearer};
use crate::shared::{Inner, Shared};
use crate::state::{State as Org, chain_expired};

/// `POST /services/oauth2/revoke` (form `token=`).
pub async fn revoke_post(State(shared): State<Shared>, body: Bytes) -> Response {
    revoke(&shared, parse_form(&body).get("token").map(String::as_str))
}

/// `GET /services/oauth2/revoke?token=`.
pub async fn revoke_get(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    revoke(&shared, query.get("token").map(String::as_str))
}

/// Revoking a refresh token revokes its whole approval and every access token issued from it;
/// revoking an access token ends that session.
fn revoke(shared: &Inner, token: Option<&str>) -> Response {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return revoke_error("unsupported_token_type", "missing token");
    };
    let mut st = shared.state.lock();
    if let Some(chain) = st.refresh_tokens.get(token).copied() {
        if st.revoke_chain(chain) {
            return StatusCode::OK.into_response();
        }
    } else if let Some(record) = st.access_tokens.get_mut(token).filter(|r| !r.revoked) {
        record.revoked = true;
        return StatusCode::OK.into_response();
    }
    revoke_error("invalid_token", "invalid token")
}

fn revoke_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// The answer to a bad token at the identity URL and userinfo: 403, plain text.
fn bad_token() -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain")],
        "Bad_OAuth_Token",
    )
        .into_response()
}

fn session_of(shared: &Inner, headers: &HeaderMap) -> Option<Session> {
    let now = shared.now();
    authenticate(
        &mut shared.state.lock(),
        bearer(headers).as_deref(),
        now,
        true,
    )
    .ok()
}

/// `GET /services/oauth2/userinfo`.
pub async fn userinfo(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let Some(session) = session_of(&shared, &headers) else {
        return bad_token();
    };
    match user_document(&shared, &session.holder.user_id, false) {
        Some(doc) => Json(doc).into_response(),
        None => bad_token(),
    }
}

/// `GET /id/{org}/{user}`: the identity of the token's user. A token of another user or org
/// gets the same 403 as a bad one [I].
pub async fn identity(
    State(shared): State<Shared>,
    Path((org, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(session) = session_of(&shared, &headers) else {
        return bad_token();
    };
    if shared.org_id != org || session.holder.user_id != user {
        return bad_token();
    }
    match user_document(&shared, &user, true) {
        Some(doc) => Json(doc).into_response(),
        None => bad_token(),
    }
}

/// The identity (`identity = true`) or userinfo document of a user.
fn user_document(shared: &Inner, user_id: &str, identity: bool) -> Option<Value> {
    let st = shared.state.lock();
    let user = st.user_by_id(user_id)?;
    let base = shared.base();
    let id_url = shared.identity_url(&user.id);
    let urls = json!({
        "enterprise": format!("{base}/services/Soap/c/{{version}}/{}", st.org_id),
        "rest": format!("{base}/services/data/v{{version}}/"),
        "sobjects": format!("{base}/services/data/v{{version}}/sobjects/"),
        "query": format!("{base}/services/data/v{{version}}/query/"),
        "profile": format!("{base}/{}", user.id),
    });
    let mut doc = json!({
        "user_id": user.id, "organization_id": st.org_id, "preferred_username": user.username,
        "name": user.username, "email": user.username, "active": user.active,
        "user_type": "STANDARD", "locale": "en_US", "zoneinfo": "America/Los_Angeles",
        "urls": urls,
    });
    if let Some(obj) = doc.as_object_mut() {
        if identity {
            obj.insert("id".into(), json!(id_url));
            obj.insert("asserted_user".into(), json!(true));
            obj.insert("username".into(), json!(user.username));
            obj.insert("display_name".into(), json!(user.username));
        } else {
            obj.insert("sub".into(), json!(id_url));
        }
    }
    Some(doc)
}

/// `POST /services/oauth2/introspect`: needs the app's credentials; answers
/// `{"active": false}` for anything not live.
pub async fn introspect(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form = parse_form(&body);
    let client = client_auth(&headers, &form);
    let now = shared.now();
    let mut st = shared.state.lock();
    let authenticated = client
        .client_id
        .as_deref()
        .and_then(|id| st.apps.get(id))
        .is_some_and(|app| client.client_secret.as_deref() == Some(app.client_secret.as_str()));
    if !authenticated {
        let body =
            json!({"error": "invalid_client", "error_description": "invalid client credentials"});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let token = form.get("token").map(String::as_str);
    let doc = introspect_access(&shared, &mut st, token, now)
        .or_else(|| introspect_refresh(&st, token?, now));
    Json(doc.unwrap_or_else(|| json!({"active": false}))).into_response()
}

fn introspect_access(
    shared: &Inner,
    st: &mut Org,
    token: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Value> {
    st.access_tokens.get(token?)?;
    let Ok(session) = authenticate(st, token, now, false) else {
        return Some(json!({"active": false}));
    };
    let username = st.user_by_id(&session.holder.user_id)?.username.clone();
    Some(json!({
        "active": true, "scope": session.holder.scope, "client_id": session.holder.client_id,
        "username": username, "sub": shared.identity_url(&session.holder.user_id),
        "token_type": "access_token", "exp": session.expires_at.timestamp(),
        "iat": session.issued_at.timestamp(), "nbf": session.issued_at.timestamp(),
    }))
}

fn introspect_refresh(st: &Org, token: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Value> {
    let chain = st.chains.get(st.refresh_tokens.get(token)?)?;
    let app = st.apps.get(&chain.holder.client_id)?;
    let user = st.user_by_id(&chain.holder.user_id)?;
    let live =
        !chain.revoked && chain.current == token && !app.blocked && !chain_expired(app, chain, now);
    if !live {
        return Some(json!({"active": false}));
    }
    Some(json!({
        "active": true, "scope": chain.holder.scope, "client_id": chain.holder.client_id,
        "username": user.username, "sub": user.id, "token_type": "refresh_token",
        "iat": chain.approved_at.timestamp(), "nbf": chain.approved_at.timestamp(),
    }))
}

/// `GET /.well-known/openid-configuration`.
pub async fn openid_configuration(State(shared): State<Shared>) -> Json<Value> {
    let base = shared.base();
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/services/oauth2/authorize"),
        "token_endpoint": format!("{base}/services/oauth2/token"),
        "revocation_endpoint": format!("{base}/services/oauth2/revoke"),
        "userinfo_endpoint": format!("{base}/services/oauth2/userinfo"),
        "introspection_endpoint": format!("{base}/services/oauth2/introspect"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", crate::JWT_BEARER, crate::CLIENT_CREDENTIALS],
        "scopes_supported": ["api", "refresh_token", "offline_access", "openid", "id", "profile", "email", "full", "web"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["HS256"],
    }))
}
