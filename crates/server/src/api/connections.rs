//! `/v1/connections`: list, create (without a browser), import, show, token, check, history,
//! delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tether_core::ids::{ConnectionId, ConnectorName, EndUserId};
use tether_core::instance::InstanceUrl;
use tether_core::secret::{AccessToken, RefreshToken};
use tether_core::status::ConnectionStatus;
use tether_store::ConnectionFilter;

use super::views::{ConnectionView, EventView};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, OptionalJson};
use crate::metrics::Metrics;
use crate::service::connections as service;
use crate::service::import::{self, Import};
use crate::service::minted;
use crate::state::AppState;
use crate::tokens::TokenRequest;

/// A connection id from the path; anything that is not one is simply not found.
pub(crate) fn parse_id(raw: &str) -> ApiResult<ConnectionId> {
    ConnectionId::parse(raw).map_err(|_| ApiError::NotFound("connection".into()))
}

/// Filters and paging of `GET /v1/connections`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    connector: Option<String>,
    end_user_id: Option<String>,
    /// 1 to 1,000; 100 when absent.
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

impl ListQuery {
    fn filter(&self) -> ApiResult<ConnectionFilter> {
        let invalid = |e: String| ApiError::InvalidRequest(e);
        Ok(ConnectionFilter {
            status: self
                .status
                .as_deref()
                .map(str::parse::<ConnectionStatus>)
                .transpose()
                .map_err(|e| invalid(e.to_string()))?,
            connector: self
                .connector
                .as_deref()
                .map(ConnectorName::parse)
                .transpose()
                .map_err(|e| invalid(e.to_string()))?,
            end_user_id: self
                .end_user_id
                .as_deref()
                .map(EndUserId::parse)
                .transpose()
                .map_err(|e| invalid(e.to_string()))?,
        })
    }
}

/// `GET /v1/connections`: a page, newest first, and the cursor of the next one.
pub async fn list(
    State(state): State<AppState>,
    Caller(ws): Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let filter = query.filter()?;
    let limit = query.limit.unwrap_or(service::DEFAULT_PAGE);
    let page = service::list(&state, &ws, &filter, query.cursor.as_deref(), limit).await?;
    let connections: Vec<ConnectionView> = page.items.into_iter().map(Into::into).collect();
    Ok(Json(
        json!({ "connections": connections, "next_cursor": page.next_cursor }),
    ))
}

/// Body of `POST /v1/connections`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    connector: ConnectorName,
    end_user_id: EndUserId,
    #[serde(default)]
    username: Option<String>,
}

/// `POST /v1/connections`: a connection of a JWT bearer or client credentials connector,
/// made without a browser once a first access token was minted.
pub async fn create(
    State(state): State<AppState>,
    Caller(ws): Caller,
    ApiJson(body): ApiJson<CreateBody>,
) -> ApiResult<(StatusCode, Json<ConnectionView>)> {
    let request = minted::NewConnection {
        connector: body.connector,
        end_user_id: body.end_user_id,
        username: body.username,
    };
    let connection = minted::create(&state, &ws, request).await?;
    Ok((StatusCode::CREATED, Json(connection.into())))
}

/// Body of `POST /v1/connections/import`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    connector: ConnectorName,
    end_user_id: EndUserId,
    refresh_token: RefreshToken,
    instance_url: String,
}

/// `POST /v1/connections/import`: a refresh token obtained elsewhere becomes a connection,
/// once one refresh at the provider has proved it.
pub async fn import(
    State(state): State<AppState>,
    Caller(ws): Caller,
    ApiJson(body): ApiJson<ImportBody>,
) -> ApiResult<(StatusCode, Json<ConnectionView>)> {
    let request = Import {
        connector: body.connector,
        end_user_id: body.end_user_id,
        refresh_token: body.refresh_token,
        instance_url: body.instance_url,
    };
    let connection = import::import(&state, &ws, request).await?;
    Ok((StatusCode::CREATED, Json(connection.into())))
}

/// `GET /v1/connections/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectionView>> {
    let id = parse_id(&id)?;
    let suffix = state.settings.proxy_host_suffix.as_ref();
    let view = ConnectionView::from(service::get(&state, &ws, &id).await?);
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
    instance_url: InstanceUrl,
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

/// `POST /v1/connections/{id}/check`: proves the connection live now.
pub async fn check(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectionView>> {
    let id = parse_id(&id)?;
    Ok(Json(service::check(&state, &ws, &id).await?.into()))
}

/// Paging of the history.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /v1/connections/{id}/events`, newest first.
pub async fn events(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let limit = query.limit.unwrap_or(50);
    let page = service::history(&state, &ws, &id, query.cursor.as_deref(), limit).await?;
    let events: Vec<EventView> = page.items.into_iter().map(Into::into).collect();
    Ok(Json(
        json!({ "events": events, "next_cursor": page.next_cursor }),
    ))
}

/// `DELETE /v1/connections/{id}`: revoke at the provider, erase the secrets.
pub async fn delete(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id)?;
    service::disconnect(&state, &ws, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
