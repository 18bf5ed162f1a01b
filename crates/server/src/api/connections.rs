//! `/v1/connections`: list, show, token, check, history, delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tether_core::ids::{ConnectionId, ConnectorName, EndUserId, WorkspaceId};
use tether_core::secret::AccessToken;
use tether_core::status::ConnectionStatus;
use tether_oauth::OAuthError;
use tether_store::{Connection, ConnectionFilter};

use super::views::{ConnectionView, EventView};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, OptionalJson};
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::tokens::{IssuedToken, TokenError, TokenRequest, provider_app};

fn parse_id(raw: &str) -> ApiResult<ConnectionId> {
    ConnectionId::parse(raw).map_err(|_| ApiError::NotFound("connection".into()))
}

async fn load(state: &AppState, ws: &WorkspaceId, id: &ConnectionId) -> ApiResult<Connection> {
    state
        .store
        .get_connection(ws, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("connection".into()))
}

/// Filters of `GET /v1/connections`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    connector: Option<String>,
    end_user_id: Option<String>,
}

impl ListQuery {
    fn filter(self) -> ApiResult<ConnectionFilter> {
        let invalid = |e: String| ApiError::InvalidRequest(e);
        Ok(ConnectionFilter {
            status: self
                .status
                .map(|s| s.parse::<ConnectionStatus>())
                .transpose()
                .map_err(|e| invalid(e.to_string()))?,
            connector: self
                .connector
                .map(|c| ConnectorName::parse(&c))
                .transpose()
                .map_err(|e| invalid(e.to_string()))?,
            end_user_id: self
                .end_user_id
                .map(|u| EndUserId::parse(&u))
                .transpose()
                .map_err(|e| invalid(e.to_string()))?,
        })
    }
}

/// `GET /v1/connections`.
pub async fn list(
    State(state): State<AppState>,
    Caller(ws): Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let filter = query.filter()?;
    let connections: Vec<ConnectionView> = state
        .store
        .list_connections(&ws, &filter)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(json!({ "connections": connections })))
}

/// `GET /v1/connections/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectionView>> {
    let id = parse_id(&id)?;
    let suffix = state.settings.proxy_host_suffix.as_ref();
    let view = ConnectionView::from(load(&state, &ws, &id).await?);
    Ok(Json(view.with_proxy_instance_url(
        suffix.and_then(|s| s.instance_url(&id)),
    )))
}

/// Query of the token endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenQuery {
    #[serde(default)]
    force_refresh: bool,
}

/// Body of the token endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    rejected_token: Option<AccessToken>,
}

/// The token endpoint's answer; the one place an access token leaves tether.
#[derive(Debug, Serialize)]
pub struct TokenAnswer {
    access_token: AccessToken,
    token_type: &'static str,
    instance_url: String,
    expires_at: DateTime<Utc>,
}

/// `POST /v1/connections/{id}/token`.
pub async fn token(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    OptionalJson(body): OptionalJson<TokenBody>,
) -> ApiResult<Json<TokenAnswer>> {
    Metrics::inc(&state.metrics.token_requests);
    let id = parse_id(&id)?;
    let request = match (query.force_refresh, body.rejected_token) {
        (true, _) => TokenRequest::Force,
        (false, Some(rejected)) => TokenRequest::Rejected(rejected),
        (false, None) => TokenRequest::Current,
    };
    match state.tokens.token(&ws, &id, request).await {
        Ok(issued) => Ok(Json(TokenAnswer {
            access_token: issued.access_token,
            token_type: "Bearer",
            instance_url: issued.instance_url,
            expires_at: issued.expires_at,
        })),
        Err(err) => {
            Metrics::inc(&state.metrics.token_errors);
            Err(err.into())
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::NotFound => ApiError::NotFound("connection".into()),
            TokenError::Expired {
                status_reason,
                diagnosis,
            } => ApiError::ConnectionExpired {
                status_reason,
                diagnosis,
            },
            TokenError::Disconnected => ApiError::Disconnected,
            TokenError::Unavailable {
                detail,
                retry_after_seconds,
                status_reason,
                diagnosis,
            } => ApiError::ProviderUnavailable {
                detail,
                retry_after_seconds,
                status_reason,
                diagnosis,
            },
            TokenError::Internal(cause) => ApiError::Internal(cause),
        }
    }
}

/// `POST /v1/connections/{id}/check`: proves the connection live now.
pub async fn check(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectionView>> {
    let id = parse_id(&id)?;
    let connection = load(&state, &ws, &id).await?;
    check_and_record(&state, &ws, &connection).await;
    Ok(Json(load(&state, &ws, &id).await?.into()))
}

/// Refreshes if needed, asks the provider's user-info endpoint, and records a `checked`
/// event; shared by the API and the connectors page's "Check now".
pub(crate) async fn check_and_record(state: &AppState, ws: &WorkspaceId, connection: &Connection) {
    let outcome = check_live(state, ws, connection).await;
    let now = state.clock.now();
    let (result, detail) = match &outcome {
        Ok(username) => (
            "success",
            format!("the provider confirmed the session of {username}"),
        ),
        Err(why) => ("failure", format!("check failed: {why}")),
    };
    state
        .events
        .record(connection, now, "checked", result, &detail, None)
        .await;
}

async fn check_live(
    state: &AppState,
    ws: &WorkspaceId,
    connection: &Connection,
) -> Result<String, String> {
    let issued = issue(state, ws, connection, TokenRequest::Current).await?;
    let connector = state
        .store
        .get_connector(ws, &connection.connector)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the connector is gone")?;
    let app =
        provider_app(&connector).map_err(|_| "the connector's login URL is invalid".to_owned())?;
    let refusal = match state.oauth.userinfo(&app, &issued.access_token).await {
        Ok(info) => return Ok(info.preferred_username),
        Err(err) if refused_token(&err) => err,
        Err(err) => return Err(err.to_string()),
    };
    // The provider refused a token tether believed valid (revoked, or its session ended):
    // report it, so the token service refreshes and marks the connection expired, with its
    // diagnosis, if the provider refuses the refresh token too.
    let renewed = issue(
        state,
        ws,
        connection,
        TokenRequest::Rejected(issued.access_token.clone()),
    )
    .await?;
    if renewed.access_token == issued.access_token {
        return Err(refusal.to_string());
    }
    state
        .oauth
        .userinfo(&app, &renewed.access_token)
        .await
        .map(|info| info.preferred_username)
        .map_err(|e| e.to_string())
}

async fn issue(
    state: &AppState,
    ws: &WorkspaceId,
    connection: &Connection,
    request: TokenRequest,
) -> Result<IssuedToken, String> {
    state
        .tokens
        .token(ws, &connection.id, request)
        .await
        .map_err(|e| ApiError::from(e).to_string())
}

/// A 401 or 403 from the provider: the access token itself is refused.
fn refused_token(err: &OAuthError) -> bool {
    let status = match err {
        OAuthError::Provider { http_status, .. } | OAuthError::HttpStatus { http_status, .. } => {
            *http_status
        }
        _ => return false,
    };
    matches!(status, 401 | 403)
}

/// Paging of the history.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    limit: Option<i64>,
    /// The `next_before` of the previous page.
    before: Option<i64>,
}

/// `GET /v1/connections/{id}/events`, newest first.
pub async fn events(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    load(&state, &ws, &id).await?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::InvalidRequest(
            "limit must be between 1 and 500".into(),
        ));
    }
    let events = state
        .store
        .list_events(&ws, &id, query.before, limit)
        .await?;
    let next_before = (events.len() as i64 == limit)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    let events: Vec<EventView> = events.into_iter().map(Into::into).collect();
    Ok(Json(
        json!({ "events": events, "next_before": next_before }),
    ))
}

/// `DELETE /v1/connections/{id}`: revoke at the provider, erase the secrets.
pub async fn delete(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id)?;
    let connection = load(&state, &ws, &id).await?;
    if connection.status == ConnectionStatus::Disconnected {
        return Ok(StatusCode::NO_CONTENT);
    }
    revoke(&state, &ws, &connection).await?;
    let now = state.clock.now();
    state.store.disconnect(&id, now).await?;
    state.tokens.forget(&id);
    let detail = format!(
        "{} -> disconnected: removed through tether",
        connection.status
    );
    state
        .events
        .record(&connection, now, "status_changed", "success", &detail, None)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke(state: &AppState, ws: &WorkspaceId, connection: &Connection) -> ApiResult<()> {
    let Some(token) = state.store.refresh_token(&connection.id).await? else {
        return Ok(());
    };
    let connector = state.store.get_connector(ws, &connection.connector).await?;
    let outcome = match connector.as_ref().map(provider_app) {
        Some(Ok(app)) => state
            .oauth
            .revoke(&app, &token)
            .await
            .map_err(|e| e.to_string()),
        _ => Err("the connector is gone; nothing to revoke with".to_owned()),
    };
    let now = state.clock.now();
    let (result, detail) = match outcome {
        Ok(()) => (
            "success",
            "revoked the refresh token at the provider".to_owned(),
        ),
        Err(why) => (
            "failure",
            format!("could not revoke the refresh token: {why}"),
        ),
    };
    state
        .events
        .record(connection, now, "revoked", result, &detail, None)
        .await;
    Ok(())
}
