//! The webhooks' durable outbox (`webhook_deliveries`, migration 0008): deliveries are
//! written on the connection (or transaction) of the change that raised their event, so they
//! commit or roll back with it; claimed by one instance at a time over an index of the pending
//! ones (`SKIP_LOCKED` on PostgreSQL, as the scheduler's jobs); and their attempts recorded
//! with the webhook's failure streak, which disables a webhook failing for 3 days.

use chrono::{DateTime, Utc};
use tether_core::ids::{DeliveryId, EventId, WebhookId, WorkspaceId};
use tether_core::webhook::WebhookEventType;

use crate::codec::{Columns, json_text, ms};
use crate::rows::{self, CONNECTION_COLUMNS};
use crate::sql::{Backend, Exec, Sql, Statement};
use crate::{NewEvent, StoreResult};

/// One delivery to write.
pub(super) struct NewDelivery<'a> {
    pub webhook: &'a str,
    pub workspace: &'a WorkspaceId,
    pub event_id: &'a EventId,
    pub event_type: WebhookEventType,
    pub subject: &'a str,
    pub at: DateTime<Utc>,
    /// The connection as the change left it (JSON).
    pub connection: Option<&'a str>,
}

/// Writes, on `exec`, a delivery of the webhook event `event` raises (if any) to every
/// enabled webhook of its workspace that wants it, with the connection as the change left it.
/// Runs after the change `event` records, in its transaction. Costs nothing for the routine
/// entries (refreshes, checks), and one indexed read when the workspace has no webhook.
pub(super) async fn enqueue<DB: Backend>(
    mut exec: Exec<'_, DB>,
    event_id: &EventId,
    event: &NewEvent,
) -> StoreResult<()> {
    static TARGETS: Sql = Sql::fixed(
        "SELECT id, events FROM webhooks WHERE workspace_id = ? AND disabled_at IS NULL",
    );
    static CONNECTION: Sql = Sql::built(|| {
        format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE id = ? AND workspace_id = ?")
    });
    if !WebhookEventType::may_be_raised_by(event.kind) {
        return Ok(());
    }
    let targets = Statement::<DB>::new(&TARGETS)
        .bind(event.workspace_id.as_str())
        .fetch_all(exec.reborrow())
        .await?;
    if targets.is_empty() {
        return Ok(());
    }
    let row = Statement::<DB>::new(&CONNECTION)
        .bind(event.connection_id.as_str())
        .bind(event.workspace_id.as_str())
        .fetch_optional(exec.reborrow())
        .await?;
    let Some(connection) = row.as_ref().map(rows::connection).transpose()? else {
        return Ok(());
    };
    let Some(event_type) = WebhookEventType::raised_by(event.kind, connection.status) else {
        return Ok(());
    };
    let snapshot = json_text(Some(&connection))?;
    for row in &targets {
        if !wants(row, event_type)? {
            continue;
        }
        let webhook = row.text("id")?;
        let delivery = NewDelivery {
            webhook: &webhook,
            workspace: &event.workspace_id,
            event_id,
            event_type,
            subject: event.connection_id.as_str(),
            at: event.at,
            connection: snapshot.as_deref(),
        };
        insert(exec.reborrow(), &delivery).await?;
    }
    Ok(())
}

/// Whether the webhook of `row` (its `events` column) wants `event_type`.
fn wants(row: &impl Columns, event_type: WebhookEventType) -> StoreResult<bool> {
    Ok(super::webhooks::event_types(row)?.contains(&event_type))
}

/// Writes one pending delivery, due at once.
pub(super) async fn insert<DB: Backend>(
    exec: Exec<'_, DB>,
    delivery: &NewDelivery<'_>,
) -> StoreResult<()> {
    static INSERT: Sql = Sql::fixed(
        "INSERT INTO webhook_deliveries (id, webhook_id, workspace_id, event_id, event_type,
             subject_id, event_at, connection, status, attempts, next_attempt_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?)",
    );
    Statement::<DB>::new(&INSERT)
        .bind(DeliveryId::generate().as_str())
        .bind(delivery.webhook)
        .bind(delivery.workspace.as_str())
        .bind(delivery.event_id.as_str())
        .bind(delivery.event_type.as_str())
        .bind(delivery.subject)
        .bind(ms(delivery.at))
        .bind(delivery.connection)
        .bind(ms(delivery.at))
        .execute(exec)
        .await?;
    Ok(())
}

/// Writes the `webhook.disabled` event of `disabled` for every webhook of the workspace that
/// wants it: the enabled ones, and the disabled one itself (a receiver back after the
/// outage learns why nothing came).
pub(super) async fn enqueue_disabled<DB: Backend>(
    mut exec: Exec<'_, DB>,
    workspace: &WorkspaceId,
    disabled: &WebhookId,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    static TARGETS: Sql = Sql::fixed(
        "SELECT id, events FROM webhooks
         WHERE workspace_id = ? AND (disabled_at IS NULL OR id = ?)",
    );
    let targets = Statement::<DB>::new(&TARGETS)
        .bind(workspace.as_str())
        .bind(disabled.as_str())
        .fetch_all(exec.reborrow())
        .await?;
    let event_id = EventId::generate();
    for row in &targets {
        if !wants(row, WebhookEventType::WebhookDisabled)? {
            continue;
        }
        let webhook = row.text("id")?;
        let delivery = NewDelivery {
            webhook: &webhook,
            workspace,
            event_id: &event_id,
            event_type: WebhookEventType::WebhookDisabled,
            subject: disabled.as_str(),
            at,
            connection: None,
        };
        insert(exec.reborrow(), &delivery).await?;
    }
    Ok(())
}
