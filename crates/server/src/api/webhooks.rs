//! `/v1/webhooks`: register, list, show, delete, rotate the secret, enable again, and the
//! deliveries of one webhook.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tether_core::ids::WebhookId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging::{HistoryProblems, HistoryQuery};
use super::webhook_views::{CreatedWebhookView, DeliveryView, WebhookView};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, CommonProblems, NOT_JSON, NotFoundProblems, problems};
use crate::extract::{ApiJson, ApiQuery};
use crate::service::webhooks as service;
use crate::state::AppState;

/// The routes under `/v1/webhooks`, with their document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, delete))
        .routes(routes!(rotate_secret))
        .routes(routes!(enable))
        .routes(routes!(deliveries))
}

/// The webhook id in the path.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct WebhookIdParam {
    /// `wh_...`.
    #[allow(dead_code)] // documents the path; the handlers read it with `Path<String>`
    id: String,
}

/// `GET /v1/webhooks`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookList {
    webhooks: Vec<WebhookView>,
}

/// `GET /v1/webhooks/{id}/deliveries`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryList {
    deliveries: Vec<DeliveryView>,
    /// Give it as `cursor` for the next page; null on the last.
    next_cursor: Option<String>,
}

/// A webhook id from the path; anything that is not one is simply not found.
fn parse_id(raw: &str) -> ApiResult<WebhookId> {
    WebhookId::parse(raw).map_err(|_| ApiError::NotFound("webhook".into()))
}

/// Body of `POST /v1/webhooks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// An https URL on a public address (see `webhook_allow_private`).
    url: String,
    /// Event types to send; every type when absent.
    #[serde(default)]
    events: Option<Vec<String>>,
}

problems! {
    /// What `POST /v1/webhooks` answers when it fails.
    CreateProblems {
        400 => "`invalid-request`: the URL or an event type to fix.",
        415 => NOT_JSON,
    }
}

/// `POST /v1/webhooks`: 201 with the secret, shown only here.
#[utoipa::path(
    post,
    operation_id = "createWebhook",
    path = "/v1/webhooks",
    tag = "webhooks",
    summary = "Register a webhook; its secret is shown only in this answer",
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "The webhook and its secret.", body = CreatedWebhookView),
        CreateProblems,
    ),
)]
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
#[utoipa::path(
    get,
    operation_id = "listWebhooks",
    path = "/v1/webhooks",
    tag = "webhooks",
    summary = "The workspace's webhooks, oldest first, without secrets",
    responses(
        (status = 200, description = "Every webhook.", body = WebhookList),
        CommonProblems,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(ws): Caller,
) -> ApiResult<Json<WebhookList>> {
    let webhooks: Vec<WebhookView> = service::list(&state, &ws)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(WebhookList { webhooks }))
}

/// `GET /v1/webhooks/{id}`.
#[utoipa::path(
    get,
    operation_id = "getWebhook",
    path = "/v1/webhooks/{id}",
    tag = "webhooks",
    summary = "A webhook, without its secret",
    params(WebhookIdParam),
    responses(
        (status = 200, description = "The webhook.", body = WebhookView),
        NotFoundProblems,
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookView>> {
    let id = parse_id(&id)?;
    Ok(Json(service::get(&state, &ws, &id).await?.into()))
}

/// `DELETE /v1/webhooks/{id}`: the webhook and its deliveries.
#[utoipa::path(
    delete,
    operation_id = "deleteWebhook",
    path = "/v1/webhooks/{id}",
    tag = "webhooks",
    summary = "Delete a webhook and its deliveries",
    params(WebhookIdParam),
    responses(
        (status = 204, description = "Deleted."),
        NotFoundProblems,
    ),
)]
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
#[utoipa::path(
    post,
    operation_id = "rotateWebhookSecret",
    path = "/v1/webhooks/{id}/rotate-secret",
    tag = "webhooks",
    summary = "A new secret; the old one also signs for 24 hours",
    params(WebhookIdParam),
    responses(
        (status = 200, description = "The webhook and its new secret.", body = CreatedWebhookView),
        NotFoundProblems,
    ),
)]
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
#[utoipa::path(
    post,
    operation_id = "enableWebhook",
    path = "/v1/webhooks/{id}/enable",
    tag = "webhooks",
    summary = "Enable a webhook that 3 days of failures disabled",
    params(WebhookIdParam),
    responses(
        (status = 200, description = "The webhook, enabled.", body = WebhookView),
        NotFoundProblems,
    ),
)]
pub async fn enable(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookView>> {
    let id = parse_id(&id)?;
    Ok(Json(service::enable(&state, &ws, &id).await?.into()))
}

/// `GET /v1/webhooks/{id}/deliveries`: newest first.
#[utoipa::path(
    get,
    operation_id = "listWebhookDeliveries",
    path = "/v1/webhooks/{id}/deliveries",
    tag = "webhooks",
    summary = "A webhook's deliveries, newest first, a page at a time",
    params(WebhookIdParam, HistoryQuery),
    responses(
        (status = 200, description = "A page and the cursor of the next.", body = DeliveryList),
        HistoryProblems,
    ),
)]
pub async fn deliveries(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<DeliveryList>> {
    let id = parse_id(&id)?;
    let page = service::deliveries(&state, &ws, &id, query.cursor(), query.limit()).await?;
    let deliveries: Vec<DeliveryView> = page.items.into_iter().map(Into::into).collect();
    Ok(Json(DeliveryList {
        deliveries,
        next_cursor: page.next_cursor,
    }))
}
