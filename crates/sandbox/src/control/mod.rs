//! The control API (`/_sandbox/...`): what an org admin would do in Setup (apps, users,
//! policies, revoke, Block), plus the test levers (network, clock, faults, settings) and the
//! read-outs (login history, stats). JSON in and out; a malformed body is a 400 that says
//! what is wrong, an unknown app or user a 404.

mod admin;
mod approvals;
mod clock;
mod ops;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::shared::Shared;
use crate::state::{ConnectedApp, User};

/// Why a control call failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// 400: the body is not the JSON this call takes.
    #[error("invalid request body: {0}")]
    BadBody(String),
    /// 404: no app or user by that name.
    #[error("{0} not found")]
    NotFound(String),
    /// 409: the client id or username is taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// 409: the org's state refuses the call (e.g. approvals for a blocked app).
    #[error("{0}")]
    Refused(String),
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::BadBody(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) | Self::Refused(_) => (StatusCode::CONFLICT, "conflict"),
        };
        (
            status,
            Json(json!({"error": code, "message": self.to_string()})),
        )
            .into_response()
    }
}

/// Parses a JSON body, turning any failure into a 400 that names the problem.
pub fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ControlError> {
    serde_json::from_slice(body).map_err(|e| ControlError::BadBody(e.to_string()))
}

/// Parses an optional JSON body (empty = `None`).
pub fn parse_optional<T: DeserializeOwned>(body: &Bytes) -> Result<Option<T>, ControlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    parse(body).map(Some)
}

/// Every control route.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/_sandbox/health", get(ops::health))
        .route("/_sandbox/apps", post(admin::create::<ConnectedApp>))
        .route(
            "/_sandbox/apps/{client_id}",
            patch(admin::patch::<ConnectedApp>).get(admin::get::<ConnectedApp>),
        )
        .route("/_sandbox/apps/{client_id}/revoke", post(admin::revoke))
        .route("/_sandbox/apps/{client_id}/block", post(admin::block))
        .route("/_sandbox/apps/{client_id}/unblock", post(admin::unblock))
        .route("/_sandbox/approvals", post(approvals::create_approvals))
        .route("/_sandbox/users", post(admin::create::<User>))
        .route(
            "/_sandbox/users/{username}",
            patch(admin::patch::<User>).get(admin::get::<User>),
        )
        .route("/_sandbox/network", put(ops::network))
        .route(
            "/_sandbox/clock",
            get(clock::get_clock).put(clock::set_clock),
        )
        .route("/_sandbox/clock/advance", post(clock::advance_clock))
        .route("/_sandbox/faults", put(ops::faults))
        .route("/_sandbox/settings", put(ops::settings))
        .route("/_sandbox/login-history", get(ops::login_history))
        .route("/_sandbox/stats", get(ops::stats))
}
