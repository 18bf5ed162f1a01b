//! `POST /v1/connect-sessions` and `POST /v1/connections/{id}/reconnect`: start a connect
//! flow and answer the URL to send the end user's browser to.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tether_core::ids::{ConnectSessionId, ConnectorName, EndUserId};
use tether_core::status::ConnectionStatus;

use super::connections::parse_id;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, OptionalJson};
use crate::service::connect::{SessionPlan, StartedSession, start};
use crate::service::connections;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    connector: ConnectorName,
    end_user_id: EndUserId,
    #[serde(default)]
    redirect_to: Option<String>,
    /// Prefills the provider's login form.
    #[serde(default)]
    login_hint: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconnectRequest {
    #[serde(default)]
    redirect_to: Option<String>,
    /// Accept a different Salesforce user or org than the connection had.
    #[serde(default)]
    allow_different_account: bool,
}

/// The answer of both endpoints.
#[derive(Debug, Serialize)]
pub struct ConnectSessionCreated {
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

/// `POST /v1/connect-sessions`.
pub async fn create_session(
    State(state): State<AppState>,
    Caller(ws): Caller,
    ApiJson(body): ApiJson<CreateSession>,
) -> ApiResult<(StatusCode, Json<ConnectSessionCreated>)> {
    let plan = SessionPlan {
        connector: body.connector,
        end_user_id: body.end_user_id,
        redirect_to: body.redirect_to,
        reconnect_of: None,
        allow_different_account: false,
        login_hint: body.login_hint,
    };
    let started = start(&state, &ws, plan).await?;
    Ok((StatusCode::CREATED, Json(started.into())))
}

/// `POST /v1/connections/{id}/reconnect`; refused for a disconnected connection.
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
        connector: connection.connector,
        end_user_id: connection.end_user_id,
        redirect_to: body.redirect_to,
        reconnect_of: Some(id),
        allow_different_account: body.allow_different_account,
        login_hint: None,
    };
    let started = start(&state, &ws, plan).await?;
    Ok((StatusCode::CREATED, Json(started.into())))
}
