//! Webhooks: register one (its destination checked, its secret made), list, delete, rotate
//! its secret, enable it again, and page through its deliveries. Sending them is the
//! scheduler's ([`crate::webhooks`]).

use tether_core::ids::{WebhookId, WorkspaceId};
use tether_core::secret::WebhookSecret;
use tether_core::webhook::{PREVIOUS_SECRET_SIGNS_FOR, WebhookEventType};
use tether_store::{Delivery, NewWebhook, PageRequest, Webhook};

use super::connections::Page;
use super::paging::{Cursors, checked_limit};
use super::{ServiceError, ServiceResult};
use crate::state::AppState;
use crate::webhooks::{destination, signing};

/// The most deliveries one page holds.
pub const MAX_PAGE: i64 = 500;
/// The most webhooks a workspace may register.
pub const MAX_WEBHOOKS: usize = 20;

/// Registers `url` for `events` (every type when `None`); the webhook and its secret, which
/// is shown this once.
pub async fn register(
    state: &AppState,
    ws: &WorkspaceId,
    url: &str,
    events: Option<&[String]>,
) -> ServiceResult<(Webhook, WebhookSecret)> {
    let events = event_types(events)?;
    let allow_private = state.settings.webhooks.allow_private;
    let invalid = |e: destination::DestinationError| ServiceError::Invalid(e.to_string());
    let parsed = destination::parse(url, allow_private).map_err(invalid)?;
    destination::check(&parsed, allow_private)
        .await
        .map_err(invalid)?;
    if state.store.list_webhooks(ws).await?.len() >= MAX_WEBHOOKS {
        return Err(ServiceError::Conflict(format!(
            "a workspace may register at most {MAX_WEBHOOKS} webhooks: delete one first"
        )));
    }
    let secret = signing::new_secret();
    let new = NewWebhook {
        id: WebhookId::generate(),
        workspace_id: ws.clone(),
        url: parsed.to_string(),
        events,
        secret: secret.clone(),
        created_at: state.clock.now(),
    };
    let webhook = state.store.insert_webhook(&new).await?;
    Ok((webhook, secret))
}

/// The types named by a registration (each once, in the documented order), every type
/// when none are named.
fn event_types(names: Option<&[String]>) -> ServiceResult<Vec<WebhookEventType>> {
    let Some(names) = names else {
        return Ok(WebhookEventType::ALL.to_vec());
    };
    if names.is_empty() {
        return Err(ServiceError::Invalid(
            "events must name at least one event type (leave it out for every type)".into(),
        ));
    }
    let mut types = names
        .iter()
        .map(|n| n.parse::<WebhookEventType>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServiceError::Invalid(format!("events: {e}")))?;
    types.sort();
    types.dedup();
    Ok(types)
}

/// The workspace's webhooks, oldest first.
pub async fn list(state: &AppState, ws: &WorkspaceId) -> ServiceResult<Vec<Webhook>> {
    Ok(state.store.list_webhooks(ws).await?)
}

/// The webhook `id` of workspace `ws`.
pub async fn get(state: &AppState, ws: &WorkspaceId, id: &WebhookId) -> ServiceResult<Webhook> {
    state
        .store
        .get_webhook(ws, id)
        .await?
        .ok_or_else(|| ServiceError::not_found("webhook"))
}

/// Deletes a webhook and its deliveries.
pub async fn delete(state: &AppState, ws: &WorkspaceId, id: &WebhookId) -> ServiceResult<()> {
    if state.store.delete_webhook(ws, id).await? {
        Ok(())
    } else {
        Err(ServiceError::not_found("webhook"))
    }
}

/// Gives a webhook a new secret; the old one signs next to it for 24 hours. The webhook, the
/// new secret and when the old one stops signing.
pub async fn rotate_secret(
    state: &AppState,
    ws: &WorkspaceId,
    id: &WebhookId,
) -> ServiceResult<(Webhook, WebhookSecret, chrono::DateTime<chrono::Utc>)> {
    let secret = signing::new_secret();
    let until = state.clock.now() + PREVIOUS_SECRET_SIGNS_FOR;
    if !state
        .store
        .rotate_webhook_secret(ws, id, &secret, until)
        .await?
    {
        return Err(ServiceError::not_found("webhook"));
    }
    Ok((get(state, ws, id).await?, secret, until))
}

/// Enables a webhook that 3 days of failures disabled (a no-op on an enabled one).
pub async fn enable(state: &AppState, ws: &WorkspaceId, id: &WebhookId) -> ServiceResult<Webhook> {
    if !state.store.enable_webhook(ws, id).await? {
        return Err(ServiceError::not_found("webhook"));
    }
    get(state, ws, id).await
}

/// A page of a webhook's deliveries, newest first: at most `limit` (1 to [`MAX_PAGE`]) after
/// the one `cursor` names.
pub async fn deliveries(
    state: &AppState,
    ws: &WorkspaceId,
    id: &WebhookId,
    cursor: Option<&str>,
    limit: i64,
) -> ServiceResult<Page<Delivery>> {
    let limit = checked_limit(limit, MAX_PAGE)?;
    let cursors = Cursors::new(&state.signer);
    let after = cursor.map(|c| cursors.read_history(c, id)).transpose()?;
    get(state, ws, id).await?;
    let page = state
        .store
        .list_deliveries(ws, id, &PageRequest { after, limit })
        .await?;
    Ok(Page {
        items: page.deliveries,
        next_cursor: page.next.map(|next| cursors.history(id, &next)),
    })
}
