//! `POST /_sandbox/approvals`: seeds many connections at once, without a browser flow. Each
//! approval is what a completed authorization-code flow leaves behind (a refresh-token chain
//! under the 5-approvals limit, plus the access token of the code exchange); users that do not
//! exist are created, active, with the default password. It writes no login-history rows and
//! counts no token calls: seeding is the admin's doing, not a login.
//!
//! Tokens are made before the state lock is taken and the answer is built after it is released,
//! so the lock is held only for the map inserts, even for 10,000 usernames.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ControlError, parse};
use crate::oauth::wants_refresh;
use crate::shared::{Inner, Shared};
use crate::state::{
    AccessGrant, ConnectedApp, State as Org, UserSpec, access_token, refresh_token,
};

/// The most usernames one call takes.
pub const MAX_APPROVALS: usize = 10_000;
/// The scope of a seeded approval unless the call names one.
const DEFAULT_SCOPES: &str = "api refresh_token";

/// The body of `POST /_sandbox/approvals`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsBody {
    client_id: String,
    usernames: Vec<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

/// One seeded approval, as it goes into the answer.
#[derive(Debug)]
struct Seeded {
    username: String,
    user_id: String,
    access_token: String,
    refresh_token: String,
}

/// `POST /_sandbox/approvals` -> 201 `{"approvals": [...]}`.
pub async fn create_approvals(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let body: ApprovalsBody = parse(&body)?;
    let scope = checked_scope(&body)?;
    let tokens: Vec<(String, String)> = body
        .usernames
        .iter()
        .map(|_| (access_token(&shared.org_id), refresh_token()))
        .collect();
    let now = shared.now();
    let seeded = {
        let mut st = shared.state.lock();
        approve_all(&mut st, &body, &scope, now, tokens)?
    };
    let approvals: Vec<Value> = seeded.iter().map(|s| answer(&shared, s)).collect();
    Ok((StatusCode::CREATED, Json(json!({"approvals": approvals}))).into_response())
}

/// Validates the body outside the lock; returns the approval's scope string.
fn checked_scope(body: &ApprovalsBody) -> Result<String, ControlError> {
    let bad = |m: &str| Err(ControlError::BadBody(m.to_owned()));
    if body.usernames.is_empty() {
        return bad("usernames must not be empty");
    }
    if body.usernames.len() > MAX_APPROVALS {
        return bad("usernames takes at most 10000 names per call");
    }
    if body.usernames.iter().any(|u| u.trim().is_empty()) {
        return bad("usernames must not contain empty names");
    }
    let scope = match &body.scopes {
        Some(scopes) => scopes.join(" "),
        None => DEFAULT_SCOPES.to_owned(),
    };
    if !wants_refresh(&scope) {
        return bad(
            "scopes must include refresh_token or offline_access (an approval is a refresh token)",
        );
    }
    Ok(scope)
}

/// Checks every user first (so a refused call changes nothing), then creates the missing
/// users and records one approval per username, in order.
fn approve_all(
    st: &mut Org,
    body: &ApprovalsBody,
    scope: &str,
    now: DateTime<Utc>,
    tokens: Vec<(String, String)>,
) -> Result<Vec<Seeded>, ControlError> {
    let app = st
        .apps
        .get(&body.client_id)
        .ok_or_else(|| ControlError::NotFound(format!("app {}", body.client_id)))?;
    refuse_app(app)?;
    for username in &body.usernames {
        refuse_user(st, app, username)?;
    }
    let mut seeded = Vec::with_capacity(tokens.len());
    for (username, (access, refresh)) in body.usernames.iter().zip(tokens) {
        let user_id = user_id_or_create(st, username);
        let chain = st.open_chain_with(&body.client_id, &user_id, scope, now, refresh.clone());
        let grant = AccessGrant {
            user_id: &user_id,
            chain: Some(chain),
            scope,
            client_id: &body.client_id,
            via_refresh: false,
        };
        st.issue_access_with(grant, now, access.clone());
        seeded.push(Seeded {
            username: username.clone(),
            user_id,
            access_token: access,
            refresh_token: refresh,
        });
    }
    Ok(seeded)
}

/// An app no code flow could complete for.
fn refuse_app(app: &ConnectedApp) -> Result<(), ControlError> {
    let id = &app.client_id;
    if !app.installed {
        return Err(ControlError::Refused(format!("app {id} is not installed")));
    }
    if app.blocked {
        return Err(ControlError::Refused(format!("app {id} is blocked")));
    }
    Ok(())
}

/// A user no code flow could complete for: inactive, or not admin approved.
fn refuse_user(st: &Org, app: &ConnectedApp, username: &str) -> Result<(), ControlError> {
    if st.user_by_name(username).is_some_and(|u| !u.active) {
        return Err(ControlError::Refused(format!(
            "user {username} is inactive"
        )));
    }
    if !app.permits(username) {
        return Err(ControlError::Refused(format!(
            "user {username} is not admin approved for app {}",
            app.client_id
        )));
    }
    Ok(())
}

fn user_id_or_create(st: &mut Org, username: &str) -> String {
    if let Some(user) = st.user_by_name(username) {
        return user.id.clone();
    }
    let spec = UserSpec {
        username: username.to_owned(),
        password: crate::DEFAULT_PASSWORD.to_owned(),
        active: true,
        login_ip_ranges: Vec::new(),
    };
    st.add_user(spec).map(|u| u.id.clone()).unwrap_or_default()
}

fn answer(shared: &Inner, seeded: &Seeded) -> Value {
    json!({
        "username": seeded.username,
        "user_id": seeded.user_id,
        "org_id": shared.org_id,
        "access_token": seeded.access_token,
        "refresh_token": seeded.refresh_token,
        "instance_url": shared.base(),
        "id": shared.identity_url(&seeded.user_id),
    })
}
