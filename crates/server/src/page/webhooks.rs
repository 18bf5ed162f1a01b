//! The webhooks part of the connectors page: each webhook of the workspace with its latest
//! deliveries, read through the same flows as `GET /v1/webhooks` and its deliveries.

use tether_core::ids::WorkspaceId;
use tether_core::webhook::DeliveryStatus;
use tether_store::{Delivery, Webhook};

use super::views::{DeliveryRow, WebhookRow};
use crate::service::ServiceResult;
use crate::service::webhooks as service;
use crate::state::AppState;

/// Deliveries shown per webhook.
const RECENT: i64 = 5;

/// Every webhook of `ws` with its [`RECENT`] latest deliveries, newest first.
pub async fn rows(state: &AppState, ws: &WorkspaceId) -> ServiceResult<Vec<WebhookRow>> {
    let mut rows = Vec::new();
    for webhook in service::list(state, ws).await? {
        let page = service::deliveries(state, ws, &webhook.id, None, RECENT).await?;
        rows.push(row(webhook, page.items));
    }
    Ok(rows)
}

fn row(webhook: Webhook, deliveries: Vec<Delivery>) -> WebhookRow {
    WebhookRow {
        id: webhook.id.to_string(),
        events: webhook
            .events
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        status: if webhook.disabled_at.is_some() {
            "disabled"
        } else {
            "enabled"
        },
        url: webhook.url,
        deliveries: deliveries.into_iter().map(delivery).collect(),
    }
}

fn delivery(d: Delivery) -> DeliveryRow {
    let last = match (d.last_status_code, d.last_error) {
        (Some(code), _) => code.to_string(),
        (None, Some(error)) => error,
        (None, None) => "not sent yet".to_owned(),
    };
    DeliveryRow {
        at: d.event_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        event_type: d.event_type.as_str(),
        status: d.status.as_str(),
        attempts: d.attempts,
        failed: d.status == DeliveryStatus::Failed
            || (d.status == DeliveryStatus::Pending && d.attempts > 0),
        last,
    }
}
