//! `/v1/webhooks`: register, list, show, delete, rotate the secret, enable again, and the
//! deliveries of one webhook.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tether_core::ids::WebhookId;

use super::webhook_views::{CreatedWebhookView, DeliveryView, WebhookView};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::service::webhooks as service;
use crate::state::AppState;

/// The routes under `/v1/webhooks`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/webhooks", post(create).get(list))
        .route("/v1/webhooks/{id}", get(show).delete(delete))
        .route("/v1/webhooks/{id}/rotate-secret", post(rotate_secret))
        .route("/v1/webhooks/{id}/enable", post(enable))
        .route("/v1/webhooks/{id}/deliveries", get(deliveries))
}

/// A webhook id from the path; anything that is not one is simply not found.
fn parse_id(raw: &str) -> ApiResult<WebhookId> {
    WebhookId::parse(raw).map_err(|_| ApiError::NotFound("webhook".into()))
}

/// Body of `POST /v1/webhooks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    url: String,
    /// Event types to send; every type when absent.
    #[serde(default)]
    events: Option<Vec<String>>,
}

/// `POST /v1/webhooks`: 201 with the secret, shown only here.
pub async fn create(
    State(state): State<AppState>,
    Caller(ws): Caller,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<CreatedWebhookView>)> {
    let (webhook, secret) =
        service::register(&state, &ws, &body.url, body.events.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhookView::new(webhook, secret, None)),
    ))
}

/// `GET /v1/webhooks`: every webhook of the workspace, oldest first, without secrets.
pub async fn list(State(state): State<AppState>, Caller(ws): Caller) -> ApiResult<Json<Value>> {
    let webhooks: Vec<WebhookView> = service::list(&state, &ws)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(json!({ "webhooks": webhooks })))
}

/// `GET /v1/webhooks/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookView>> {
    let id = parse_id(&id)?;
    Ok(Json(service::get(&state, &ws, &id).await?.into()))
}

/// `DELETE /v1/webhooks/{id}`: the webhook and its deliveries.
pub async fn delete(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id)?;
    service::delete(&state, &ws, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/webhooks/{id}/rotate-secret`: a new secret, shown only here; the old one signs
/// too for 24 hours.
pub async fn rotate_secret(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<CreatedWebhookView>> {
    let id = parse_id(&id)?;
    let (webhook, secret, until) = service::rotate_secret(&state, &ws, &id).await?;
    Ok(Json(CreatedWebhookView::new(webhook, secret, Some(until))))
}

/// `POST /v1/webhooks/{id}/enable`: deliveries resume.
pub async fn enable(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookView>> {
    let id = parse_id(&id)?;
    Ok(Json(service::enable(&state, &ws, &id).await?.into()))
}

/// Paging of the deliveries.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// 1 to 500; 50 when absent.
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /v1/webhooks/{id}/deliveries`: newest first.
pub async fn deliveries(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let limit = query.limit.unwrap_or(service::DEFAULT_PAGE);
    let page = service::deliveries(&state, &ws, &id, query.cursor.as_deref(), limit).await?;
    let deliveries: Vec<DeliveryView> = page.items.into_iter().map(Into::into).collect();
    Ok(Json(
        json!({ "deliveries": deliveries, "next_cursor": page.next_cursor }),
    ))
}
