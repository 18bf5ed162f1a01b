//! `/v1/connections`: list, create (without a browser), import, show, token, check, history,
//! delete.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tether_core::ids::{ConnectionId, ConnectorName, EndUserId, WorkspaceId};
use tether_core::instance::InstanceUrl;
use tether_core::secret::{AccessToken, RefreshToken};
use tether_core::status::ConnectionStatus;
use tether_store::ConnectionFilter;

use super::paging::{HistoryProblems, HistoryQuery};
use super::views::{ConnectionView, EventView};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, NOT_FOUND, NOT_JSON, NotFoundProblems, problems};
use crate::extract::{ApiJson, ApiQuery, OptionalJson};
use crate::service::connections as service;
use crate::service::import::{self, Import};
use crate::service::minted;
use crate::state::AppState;
use crate::tokens::TokenRequest;

/// A connection id from the path, recorded on the request's span; anything that is not one
/// is simply not found.
pub(crate) fn parse_id(raw: &str) -> ApiResult<ConnectionId> {
    let id = ConnectionId::parse(raw).map_err(|_| ApiError::NotFound("connection".into()))?;
    crate::auth::record_connection(&id);
    Ok(id)
}

/// The connection id in the path.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdParam {
    /// `conn_` and 20 letters or digits; anything else is `404 not-found`.
    #[allow(dead_code)] // documents the path; the handlers read it with `Path<String>`
    id: String,
}

/// Filters and paging of `GET /v1/connections`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this status.
    #[param(value_type = Option<ConnectionStatus>)]
    status: Option<String>,
    /// Only this connector's connections.
    connector: Option<String>,
    /// Only this end user's connections.
    end_user_id: Option<String>,
    /// 1 to 1,000; 100 when absent.
    #[param(minimum = 1, maximum = 1000)]
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

/// A page of `GET /v1/connections`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionList {
    connections: Vec<ConnectionView>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    next_cursor: Option<String>,
}

problems! {
    /// What `GET /v1/connections` answers when it fails.
    ListProblems {
        400 => "`invalid-request`: a filter, limit or cursor to fix.",
    }
}

/// `GET /v1/connections`: a page, newest first, and the cursor of the next one.
#[utoipa::path(
    get,
    operation_id = "listConnections",
    path = "/v1/connections",
    tag = "connections",
    summary = "The workspace's connections, newest first, a page at a time",
    params(ListQuery),
    responses(
        (status = 200, description = "A page and the cursor of the next.", body = ConnectionList),
        ListProblems,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(ws): Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<ConnectionList>> {
    let filter = query.filter()?;
    let limit = query.limit.unwrap_or(service::DEFAULT_PAGE);
    let page = service::list(&state, &ws, &filter, query.cursor.as_deref(), limit).await?;
    let connections: Vec<ConnectionView> = page.items.into_iter().map(Into::into).collect();
    Ok(Json(ConnectionList {
        connections,
        next_cursor: page.next_cursor,
    }))
}

/// Body of `POST /v1/connections`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// A `jwt_bearer` or `client_credentials` connector.
    #[schema(value_type = String)]
    connector: ConnectorName,
    /// Your id for the end user.
    #[schema(value_type = String)]
    end_user_id: EndUserId,
    /// The Salesforce username to act as (`jwt_bearer` only).
    #[serde(default)]
    username: Option<String>,
}

problems! {
    /// What `POST /v1/connections` answers when it fails.
    CreateProblems {
        400 => "`invalid-request`: a field to fix, or an `authorization_code` connector (use connect sessions).",
        404 => "`not-found`: no such connector.",
        409 => "`conflict`: the end user already has a connection on this connector.",
        415 => NOT_JSON,
        422 => "`provider-refused`: Salesforce refused to mint a token; the diagnosis says why.",
        503 => "`provider-unavailable`: Salesforce did not answer properly.",
    }
}

/// `POST /v1/connections`: a connection of a JWT bearer or client credentials connector,
/// made without a browser once a first access token was minted.
#[utoipa::path(
    post,
    operation_id = "createConnection",
    path = "/v1/connections",
    tag = "connections",
    summary = "A connection of a JWT bearer or client credentials connector, made without a browser",
    request_body = CreateBody,
    responses(
        (status = 201, description = "The new connection, `active`, with its Salesforce account.", body = ConnectionView),
        CreateProblems,
    ),
)]
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
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    #[schema(value_type = String)]
    connector: ConnectorName,
    #[schema(value_type = String)]
    end_user_id: EndUserId,
    /// Stored sealed; never in an answer or a log.
    #[schema(value_type = String, format = Password)]
    refresh_token: RefreshToken,
    /// The org's instance, an origin on an allowed provider host.
    instance_url: String,
}

problems! {
    /// What `POST /v1/connections/import` answers when it fails.
    ImportProblems {
        400 => "`invalid-request`: a field to fix; Salesforce was not called.",
        404 => "`not-found`: no such connector.",
        409 => "`conflict`: the end user already has a live connection on this connector.",
        415 => NOT_JSON,
        422 => "`provider-refused`: Salesforce refused the token; nothing was stored.",
        503 => "`provider-unavailable`: Salesforce did not answer properly; try again after `Retry-After`.",
    }
}

/// `POST /v1/connections/import`: a refresh token obtained elsewhere becomes a connection,
/// once one refresh at the provider has proved it.
#[utoipa::path(
    post,
    operation_id = "importConnection",
    path = "/v1/connections/import",
    tag = "connections",
    summary = "Import a refresh token obtained elsewhere",
    request_body = ImportBody,
    responses(
        (status = 201, description = "The new connection, `active`.", body = ConnectionView),
        ImportProblems,
    ),
)]
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
#[utoipa::path(
    get,
    operation_id = "getConnection",
    path = "/v1/connections/{id}",
    tag = "connections",
    summary = "A connection",
    params(IdParam),
    responses(
        (status = 200, description = "The connection.", body = ConnectionView),
        NotFoundProblems,
    ),
)]
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
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TokenQuery {
    /// A new token now (joining a refresh in flight; within 5 s of the last refresh, that
    /// refresh's token).
    #[serde(default)]
    force_refresh: bool,
}

/// Body of the token endpoint.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// The access token Salesforce just refused: refreshed if it is still the current one.
    #[schema(value_type = Option<String>, format = Password)]
    rejected_token: Option<AccessToken>,
}

/// The token endpoint's answer; the one place an access token leaves tether.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenAnswer {
    #[schema(value_type = String, format = Password)]
    access_token: AccessToken,
    /// Always `Bearer`.
    #[schema(value_type = String, example = "Bearer")]
    token_type: &'static str,
    /// The Salesforce instance to call with the token.
    #[schema(value_type = String)]
    instance_url: InstanceUrl,
    /// When tether expects Salesforce to stop accepting the token.
    expires_at: DateTime<Utc>,
}

problems! {
    /// What `POST /v1/connections/{id}/token` answers when it fails.
    TokenProblems {
        400 => "`invalid-request`: the query or body to fix.",
        404 => NOT_FOUND,
        409 => "`connection-expired` (with `status_reason` and `diagnosis`), or `conflict` for a disconnected connection.",
        503 => "`provider-unavailable`, with `Retry-After`.",
    }
}

/// `POST /v1/connections/{id}/token`.
#[utoipa::path(
    post,
    operation_id = "issueToken",
    path = "/v1/connections/{id}/token",
    tag = "connections",
    summary = "An access token tether believes valid, refreshed first when needed",
    params(IdParam, TokenQuery),
    request_body(content = Option<TokenBody>, description = "Optional; no content type needed."),
    responses(
        (status = 200, description = "A token.", body = TokenAnswer),
        TokenProblems,
    ),
)]
pub async fn token(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    OptionalJson(body): OptionalJson<TokenBody>,
) -> ApiResult<Json<TokenAnswer>> {
    let answer = issue_token(&state, &ws, &id, query, body).await;
    state.metrics.token_request(match &answer {
        Ok(_) => "served",
        Err(ApiError::NotFound(_)) => "not_found",
        Err(ApiError::ConnectionExpired { .. }) => "expired",
        Err(ApiError::Disconnected) => "disconnected",
        Err(ApiError::ProviderUnavailable { .. }) => "unavailable",
        Err(_) => "error",
    });
    answer.map(Json)
}

async fn issue_token(
    state: &AppState,
    ws: &WorkspaceId,
    id: &str,
    query: TokenQuery,
    body: TokenBody,
) -> ApiResult<TokenAnswer> {
    let id = parse_id(id)?;
    let request = match (query.force_refresh, body.rejected_token) {
        (true, _) => TokenRequest::Force,
        (false, Some(rejected)) => TokenRequest::Rejected(rejected),
        (false, None) => TokenRequest::Current,
    };
    let issued = state.tokens.token(ws, &id, request).await?;
    Ok(TokenAnswer {
        access_token: issued.access_token,
        token_type: "Bearer",
        instance_url: issued.instance_url,
        expires_at: issued.expires_at,
    })
}

/// `POST /v1/connections/{id}/check`: proves the connection live now.
#[utoipa::path(
    post,
    operation_id = "checkConnection",
    path = "/v1/connections/{id}/check",
    tag = "connections",
    summary = "Prove the connection works now",
    params(IdParam),
    responses(
        (status = 200, description = "The connection after the check (its history says how it went).", body = ConnectionView),
        NotFoundProblems,
    ),
)]
pub async fn check(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ConnectionView>> {
    let id = parse_id(&id)?;
    Ok(Json(service::check(&state, &ws, &id).await?.into()))
}

/// A page of a connection's history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventList {
    events: Vec<EventView>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    next_cursor: Option<String>,
}

/// `GET /v1/connections/{id}/events`, newest first.
#[utoipa::path(
    get,
    operation_id = "listEvents",
    path = "/v1/connections/{id}/events",
    tag = "connections",
    summary = "The connection's history, newest first, a page at a time",
    params(IdParam, HistoryQuery),
    responses(
        (status = 200, description = "A page and the cursor of the next.", body = EventList),
        HistoryProblems,
    ),
)]
pub async fn events(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<EventList>> {
    let id = parse_id(&id)?;
    let page = service::history(&state, &ws, &id, query.cursor(), query.limit()).await?;
    let events: Vec<EventView> = page.items.into_iter().map(Into::into).collect();
    Ok(Json(EventList {
        events,
        next_cursor: page.next_cursor,
    }))
}

/// `DELETE /v1/connections/{id}`: revoke at the provider, erase the secrets.
#[utoipa::path(
    delete,
    operation_id = "deleteConnection",
    path = "/v1/connections/{id}",
    tag = "connections",
    summary = "Disconnect: revoke at Salesforce, erase the tokens",
    params(IdParam),
    responses(
        (status = 204, description = "Disconnected (also when it already was)."),
        NotFoundProblems,
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id)?;
    service::disconnect(&state, &ws, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
