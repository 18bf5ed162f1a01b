//! Setup-side control calls: create and change Connected Apps and users, revoke an app's
//! tokens, Block and unblock. Changes take effect at once.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{ControlError, parse, parse_optional};
use crate::shared::Shared;
use crate::state::{AppPatch, AppSpec, ConnectedApp, State as Org, User, UserPatch, UserSpec};

/// `POST /_sandbox/apps`.
pub async fn create_app(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let spec: AppSpec = parse(&body)?;
    let mut st = shared.state.lock();
    let id = spec.client_id.clone();
    let app = st
        .add_app(spec.into_app())
        .ok_or(ControlError::Conflict(format!("app {id}")))?;
    Ok((StatusCode::CREATED, Json(app.clone())).into_response())
}

/// `GET /_sandbox/apps/{client_id}`.
pub async fn get_app(
    State(shared): State<Shared>,
    Path(client_id): Path<String>,
) -> Result<Response, ControlError> {
    let st = shared.state.lock();
    Ok(Json(app(&st, &client_id)?).into_response())
}

/// `PATCH /_sandbox/apps/{client_id}`.
pub async fn patch_app(
    State(shared): State<Shared>,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let patch: AppPatch = parse(&body)?;
    let mut st = shared.state.lock();
    let app = app_mut(&mut st, &client_id)?;
    app.apply(patch);
    Ok(Json(app.clone()).into_response())
}

/// The optional body of a revoke call.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    username: Option<String>,
}

/// `POST /_sandbox/apps/{client_id}/revoke`: one user's approvals, or everyone's without a body.
pub async fn revoke(
    State(shared): State<Shared>,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let username = parse_optional::<RevokeBody>(&body)?.and_then(|b| b.username);
    let mut st = shared.state.lock();
    app(&st, &client_id)?;
    let user_id = match &username {
        Some(name) => Some(user(&st, name)?.id.clone()),
        None => None,
    };
    let revoked = st.revoke_app_tokens(&client_id, user_id.as_deref());
    Ok(Json(json!({"revoked": revoked})).into_response())
}

/// `POST /_sandbox/apps/{client_id}/block`: ends every session and every approval of the app
/// (salesforce.md section 5: Block kills the refresh tokens [C]) and refuses new ones.
pub async fn block(
    State(shared): State<Shared>,
    Path(client_id): Path<String>,
) -> Result<Response, ControlError> {
    set_blocked(&shared, &client_id, true)
}

/// `POST /_sandbox/apps/{client_id}/unblock`: new authorizations work again; what Block ended
/// (sessions and refresh tokens) stays ended, so users reconnect.
pub async fn unblock(
    State(shared): State<Shared>,
    Path(client_id): Path<String>,
) -> Result<Response, ControlError> {
    set_blocked(&shared, &client_id, false)
}

fn set_blocked(shared: &Shared, client_id: &str, blocked: bool) -> Result<Response, ControlError> {
    let mut st = shared.state.lock();
    app_mut(&mut st, client_id)?.blocked = blocked;
    if blocked {
        st.revoke_app_tokens(client_id, None);
        st.end_app_sessions(client_id);
    }
    Ok(Json(json!({"client_id": client_id, "blocked": blocked})).into_response())
}

/// `POST /_sandbox/users`.
pub async fn create_user(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let spec: UserSpec = parse(&body)?;
    let mut st = shared.state.lock();
    let name = spec.username.clone();
    let user = st
        .add_user(spec)
        .ok_or(ControlError::Conflict(format!("user {name}")))?;
    Ok((StatusCode::CREATED, Json(user.clone())).into_response())
}

/// `GET /_sandbox/users/{username}`.
pub async fn get_user(
    State(shared): State<Shared>,
    Path(username): Path<String>,
) -> Result<Response, ControlError> {
    let st = shared.state.lock();
    Ok(Json(user(&st, &username)?).into_response())
}

/// `PATCH /_sandbox/users/{username}`.
pub async fn patch_user(
    State(shared): State<Shared>,
    Path(username): Path<String>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let patch: UserPatch = parse(&body)?;
    let mut st = shared.state.lock();
    let user = st
        .user_by_name_mut(&username)
        .ok_or_else(|| user_not_found(&username))?;
    user.apply(patch);
    Ok(Json(user.clone()).into_response())
}

/// The app called `client_id`, or 404.
fn app<'a>(st: &'a Org, client_id: &str) -> Result<&'a ConnectedApp, ControlError> {
    st.apps
        .get(client_id)
        .ok_or_else(|| app_not_found(client_id))
}

/// [`app`], to change.
fn app_mut<'a>(st: &'a mut Org, client_id: &str) -> Result<&'a mut ConnectedApp, ControlError> {
    st.apps
        .get_mut(client_id)
        .ok_or_else(|| app_not_found(client_id))
}

/// The user called `username`, or 404.
fn user<'a>(st: &'a Org, username: &str) -> Result<&'a User, ControlError> {
    st.user_by_name(username)
        .ok_or_else(|| user_not_found(username))
}

fn app_not_found(client_id: &str) -> ControlError {
    ControlError::NotFound(format!("app {client_id}"))
}

fn user_not_found(username: &str) -> ControlError {
    ControlError::NotFound(format!("user {username}"))
}
