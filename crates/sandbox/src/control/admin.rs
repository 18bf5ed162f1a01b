//! Setup-side control calls: create and change Connected Apps and users, revoke an app's
//! tokens, Block and unblock. Changes take effect at once.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ControlError, parse, parse_optional};
use crate::shared::Shared;
use crate::state::{AppPatch, AppSpec, ConnectedApp, State as Org, User, UserPatch, UserSpec};

/// What Setup creates, reads and changes by name: Connected Apps (named by client id) and users
/// (named by username). Their control calls work alike; this is all that tells them apart.
pub trait SetupObject: Clone + Serialize {
    /// `app` or `user`, as 404 and 409 messages call it.
    const KIND: &'static str;
    /// The body that creates one.
    type Spec: DeserializeOwned;
    /// The body that changes one; absent fields stay as they are.
    type Patch: DeserializeOwned;

    /// Adds the one `spec` describes; `None` when its name is taken.
    fn add(org: &mut Org, spec: Self::Spec) -> Option<&Self>;
    /// The name `spec` asks for.
    fn name(spec: &Self::Spec) -> &str;
    /// The one called `name`.
    fn find<'a>(org: &'a Org, name: &str) -> Option<&'a Self>;
    /// [`SetupObject::find`], to change.
    fn find_mut<'a>(org: &'a mut Org, name: &str) -> Option<&'a mut Self>;
    /// Applies every field present in `patch`.
    fn apply_patch(&mut self, patch: Self::Patch);
}

impl SetupObject for ConnectedApp {
    const KIND: &'static str = "app";
    type Spec = AppSpec;
    type Patch = AppPatch;

    fn add(org: &mut Org, spec: AppSpec) -> Option<&Self> {
        org.add_app(spec.into_app())
    }
    fn name(spec: &AppSpec) -> &str {
        &spec.client_id
    }
    fn find<'a>(org: &'a Org, client_id: &str) -> Option<&'a Self> {
        org.apps.get(client_id)
    }
    fn find_mut<'a>(org: &'a mut Org, client_id: &str) -> Option<&'a mut Self> {
        org.apps.get_mut(client_id)
    }
    fn apply_patch(&mut self, patch: AppPatch) {
        self.apply(patch);
    }
}

impl SetupObject for User {
    const KIND: &'static str = "user";
    type Spec = UserSpec;
    type Patch = UserPatch;

    fn add(org: &mut Org, spec: UserSpec) -> Option<&Self> {
        org.add_user(spec)
    }
    fn name(spec: &UserSpec) -> &str {
        &spec.username
    }
    fn find<'a>(org: &'a Org, username: &str) -> Option<&'a Self> {
        org.user_by_name(username)
    }
    fn find_mut<'a>(org: &'a mut Org, username: &str) -> Option<&'a mut Self> {
        org.user_by_name_mut(username)
    }
    fn apply_patch(&mut self, patch: UserPatch) {
        self.apply(patch);
    }
}

/// `POST /_sandbox/apps` and `POST /_sandbox/users`: 201 with the new one, 409 when its name
/// is taken.
pub async fn create<T: SetupObject>(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let spec: T::Spec = parse(&body)?;
    let taken = ControlError::Conflict(format!("{} {}", T::KIND, T::name(&spec)));
    let mut st = shared.state.lock();
    let created = T::add(&mut st, spec).ok_or(taken)?;
    Ok((StatusCode::CREATED, Json(created.clone())).into_response())
}

/// `GET /_sandbox/apps/{client_id}` and `GET /_sandbox/users/{username}`.
pub async fn get<T: SetupObject>(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ControlError> {
    let st = shared.state.lock();
    Ok(Json(found::<T>(&st, &name)?).into_response())
}

/// `PATCH /_sandbox/apps/{client_id}` and `PATCH /_sandbox/users/{username}`.
pub async fn patch<T: SetupObject>(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let patch: T::Patch = parse(&body)?;
    let mut st = shared.state.lock();
    let changed = found_mut::<T>(&mut st, &name)?;
    changed.apply_patch(patch);
    Ok(Json(changed.clone()).into_response())
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
    found::<ConnectedApp>(&st, &client_id)?;
    let user_id = match &username {
        Some(name) => Some(found::<User>(&st, name)?.id.clone()),
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
    found_mut::<ConnectedApp>(&mut st, client_id)?.blocked = blocked;
    if blocked {
        st.revoke_app_tokens(client_id, None);
        st.end_app_sessions(client_id);
    }
    Ok(Json(json!({"client_id": client_id, "blocked": blocked})).into_response())
}

/// The one called `name`, or 404.
fn found<'a, T: SetupObject>(st: &'a Org, name: &str) -> Result<&'a T, ControlError> {
    T::find(st, name).ok_or_else(|| not_found::<T>(name))
}

/// [`found`], to change.
fn found_mut<'a, T: SetupObject>(st: &'a mut Org, name: &str) -> Result<&'a mut T, ControlError> {
    T::find_mut(st, name).ok_or_else(|| not_found::<T>(name))
}

fn not_found<T: SetupObject>(name: &str) -> ControlError {
    ControlError::NotFound(format!("{} {name}", T::KIND))
}
