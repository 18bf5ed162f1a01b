//! `POST /v1/connect-sessions` and `POST /v1/connections/{id}/reconnect`: start a connect
//! flow and answer the URL to send the end user's browser to.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tether_core::ids::{ConnectSessionId, ConnectorName, EndUserId};
use tether_core::status::ConnectionStatus;

use super::connections::{IdParam, parse_id};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, NOT_JSON, problems};
use crate::extract::{ApiJson, OptionalJson};
use crate::service::connect::{SessionPlan, StartedSession, start};
use crate::service::connections;
use crate::state::AppState;

/// The body of `POST /v1/connect-sessions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// A connector name of the workspace.
    #[schema(value_type = String)]
    connector: ConnectorName,
    /// Your id for the end user: 1 to 256 characters, no control characters.
    #[schema(value_type = String)]
    end_user_id: EndUserId,
    /// An absolute http(s) URL the browser goes to when the flow ends.
    #[serde(default)]
    redirect_to: Option<String>,
    /// Prefills the provider's login form.
    #[serde(default)]
    login_hint: Option<String>,
}

/// The optional body of `POST /v1/connections/{id}/reconnect`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconnectRequest {
    #[serde(default)]
    redirect_to: Option<String>,
    /// Accept a different Salesforce user or org than the connection had.
    #[serde(default)]
    allow_different_account: bool,
}

/// The answer of both endpoints.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectSessionCreated {
    #[schema(value_type = String, example = "cs_4QxkR2bmVvA9TfPz0LsE")]
    id: ConnectSessionId,
    connect_url: String,
    expires_at: DateTime<Utc>,
}

impl From<StartedSession> for ConnectSessionCreated {
    fn from(started: StartedSession) -> Self {
        Self {
            id: started.id,
            connect_url: started.connect_url,
            expires_at: started.expires_at,
        }
    }
}

problems! {
    /// What `POST /v1/connect-sessions` answers when it fails.
    CreateSessionProblems {
        400 => "`invalid-request`: a field to fix.",
        404 => "`not-found`: no such connector.",
        415 => NOT_JSON,
    }
}

/// `POST /v1/connect-sessions`.
#[utoipa::path(
    post,
    operation_id = "createConnectSession",
    path = "/v1/connect-sessions",
    tag = "connect",
    summary = "Start a connect flow",
    request_body = CreateSession,
    responses(
        (status = 201, description = "Send the end user's browser to `connect_url` (15 minutes).", body = ConnectSessionCreated),
        CreateSessionProblems,
    ),
)]
pub async fn create_session(
    State(state): State<AppState>,
    Caller(ws): Caller,
    ApiJson(body): ApiJson<CreateSession>,
) -> ApiResult<(StatusCode, Json<ConnectSessionCreated>)> {
    let plan = SessionPlan {
        login_hint: body.login_hint,
        ..SessionPlan::connect(body.connector, body.end_user_id, body.redirect_to)
    };
    let started = start(&state, &ws, plan).await?;
    Ok((StatusCode::CREATED, Json(started.into())))
}

problems! {
    /// What `POST /v1/connections/{id}/reconnect` answers when it fails.
    ReconnectProblems {
        400 => "`invalid-request`: the body to fix.",
        404 => "`not-found`: no such connection.",
        409 => "`conflict`: the connection was disconnected.",
    }
}

/// `POST /v1/connections/{id}/reconnect`; refused for a disconnected connection.
#[utoipa::path(
    post,
    operation_id = "reconnectConnection",
    path = "/v1/connections/{id}/reconnect",
    tag = "connect",
    summary = "Start a connect flow that renews this connection",
    params(IdParam),
    request_body(content = Option<ReconnectRequest>, description = "Optional; no content type needed."),
    responses(
        (status = 201, description = "Send the end user's browser to `connect_url`.", body = ConnectSessionCreated),
        ReconnectProblems,
    ),
)]
pub async fn reconnect(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<ReconnectRequest>,
) -> ApiResult<(StatusCode, Json<ConnectSessionCreated>)> {
    let id = parse_id(&id)?;
    let connection = connections::get(&state, &ws, &id).await?;
    if connection.status == ConnectionStatus::Disconnected {
        return Err(ApiError::Conflict(
            "the connection was disconnected; create a new one with POST /v1/connect-sessions"
                .into(),
        ));
    }
    let plan = SessionPlan {
        allow_different_account: body.allow_different_account,
        ..SessionPlan::reconnect(connection, body.redirect_to)
    };
    let started = start(&state, &ws, plan).await?;
    Ok((StatusCode::CREATED, Json(started.into())))
}
