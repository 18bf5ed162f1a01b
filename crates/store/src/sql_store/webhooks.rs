//! Webhooks (`webhooks`, migration 0008): a workspace's endpoints with their sealed secrets,
//! and the listing, claiming and recording of their deliveries (the outbox itself is written
//! by `outbox`). Every query filters by workspace, except the claim and the record of an
//! attempt, which serve every workspace's deliveries.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tether_core::ids::{WebhookId, WorkspaceId};
use tether_core::secret::WebhookSecret;
use tether_core::webhook::{DISABLE_AFTER, WebhookEventType};
use tracing::instrument;

use super::claims::{claim_statement, claiming};
use super::{SqlStore, history_listing, outbox, purging};
use crate::codec::{Columns, at_stored_precision, id, ms, opt_time, parsed, time};
use crate::sql::{Backend, Exec, Sql, Statement};
use crate::vault::Vault;
use crate::{
    Attempt, AttemptRecorded, AttemptResult, Claim, Delivery, DeliveryPage, DueDelivery,
    NewWebhook, PageRequest, SeqCursor, StoreError, StoreResult, Webhook, WebhookSecrets, Webhooks,
};

const WEBHOOK_COLUMNS: &str =
    "id, workspace_id, url, events, created_at, failing_since, disabled_at, previous_secret_until";

const DELIVERY_COLUMNS: &str =
    "seq, id, webhook_id, workspace_id, event_id, event_type, subject_id,
     event_at, status, attempts, last_status_code, last_error, last_attempt_at,
     next_attempt_at, delivered_at";

/// The sealed columns of a webhook (the AAD record is its id).
const SECRET: &str = "secret";
const PREVIOUS_SECRET: &str = "previous_secret";

/// The event types in a row's `events` column.
pub(super) fn event_types(row: &impl Columns) -> StoreResult<Vec<WebhookEventType>> {
    let names = crate::codec::list(row, "events")?;
    names
        .iter()
        .map(|name| {
            name.parse()
                .map_err(|err| StoreError::Corrupt(format!("events: {err}")))
        })
        .collect()
}

fn webhook(row: &impl Columns) -> StoreResult<Webhook> {
    Ok(Webhook {
        id: id(row, "id")?,
        workspace_id: id(row, "workspace_id")?,
        url: row.text("url")?,
        events: event_types(row)?,
        created_at: time(row, "created_at")?,
        failing_since: opt_time(row, "failing_since")?,
        disabled_at: opt_time(row, "disabled_at")?,
        previous_secret_until: opt_time(row, "previous_secret_until")?,
    })
}

fn delivery(row: &impl Columns) -> StoreResult<Delivery> {
    Ok(Delivery {
        id: id(row, "id")?,
        seq: row.int("seq")?,
        webhook_id: id(row, "webhook_id")?,
        workspace_id: id(row, "workspace_id")?,
        event_id: id(row, "event_id")?,
        event_type: parsed(row, "event_type")?,
        subject_id: row.text("subject_id")?,
        event_at: time(row, "event_at")?,
        status: parsed(row, "status")?,
        attempts: row.int("attempts")?,
        last_status_code: row
            .opt_int("last_status_code")?
            .and_then(|code| u16::try_from(code).ok()),
        last_error: row.opt_text("last_error")?,
        last_attempt_at: opt_time(row, "last_attempt_at")?,
        next_attempt_at: opt_time(row, "next_attempt_at")?,
        delivered_at: opt_time(row, "delivered_at")?,
    })
}

/// The secrets of the webhook row `record`, opened.
fn secrets(vault: &Vault, row: &impl Columns, record: &str) -> StoreResult<WebhookSecrets> {
    let current = WebhookSecret::new(vault.open(&row.bytes(SECRET)?, record, SECRET)?);
    let previous = match (
        row.opt_bytes(PREVIOUS_SECRET)?,
        opt_time(row, "previous_secret_until")?,
    ) {
        (Some(sealed), Some(until)) => Some((
            WebhookSecret::new(vault.open(&sealed, record, PREVIOUS_SECRET)?),
            until,
        )),
        _ => None,
    };
    Ok(WebhookSecrets { current, previous })
}

fn names(events: &[WebhookEventType]) -> Vec<String> {
    events.iter().map(|t| t.as_str().to_owned()).collect()
}

#[async_trait]
impl<DB: Backend> Webhooks for SqlStore<DB> {
    #[instrument(skip_all)]
    async fn purge_deliveries(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<u64> {
        static PURGE: Sql = Sql::built(|| {
            let expired = "status <> 'pending' AND event_at < ?";
            purging("webhook_deliveries", "seq", expired, "seq")
        });
        self.purge(&PURGE, before, limit).await
    }

    #[instrument(skip_all, fields(webhook = %new.id))]
    async fn insert_webhook(&self, new: &NewWebhook) -> StoreResult<Webhook> {
        static INSERT: Sql = Sql::fixed(
            "INSERT INTO webhooks (id, workspace_id, url, events, secret, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        );
        let sealed = self
            .vault
            .seal(new.secret.expose(), new.id.as_str(), SECRET)?;
        Statement::<DB>::new(&INSERT)
            .bind(new.id.as_str())
            .bind(new.workspace_id.as_str())
            .bind(&new.url)
            .bind(crate::codec::list_text(&names(&new.events)))
            .bind(sealed)
            .bind(ms(new.created_at))
            .execute(self.db())
            .await
            .map_err(crate::codec::conflict("webhook id already exists"))?;
        Ok(Webhook {
            id: new.id.clone(),
            workspace_id: new.workspace_id.clone(),
            url: new.url.clone(),
            events: new.events.clone(),
            created_at: at_stored_precision(new.created_at),
            failing_since: None,
            disabled_at: None,
            previous_secret_until: None,
        })
    }

    #[instrument(skip_all)]
    async fn list_webhooks(&self, workspace: &WorkspaceId) -> StoreResult<Vec<Webhook>> {
        static SELECT: Sql = Sql::built(|| {
            format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE workspace_id = ?
                 ORDER BY created_at, id"
            )
        });
        let rows = Statement::<DB>::new(&SELECT)
            .bind(workspace.as_str())
            .fetch_all(self.db())
            .await?;
        rows.iter().map(webhook).collect()
    }

    #[instrument(skip_all, fields(webhook = %id))]
    async fn get_webhook(
        &self,
        workspace: &WorkspaceId,
        id: &WebhookId,
    ) -> StoreResult<Option<Webhook>> {
        static SELECT: Sql = Sql::built(|| {
            format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ? AND workspace_id = ?")
        });
        let row = self.workspace_row(&SELECT, workspace, id.as_str()).await?;
        row.as_ref().map(webhook).transpose()
    }

    #[instrument(skip_all, fields(webhook = %id))]
    async fn delete_webhook(&self, workspace: &WorkspaceId, id: &WebhookId) -> StoreResult<bool> {
        static DELIVERIES: Sql =
            Sql::fixed("DELETE FROM webhook_deliveries WHERE webhook_id = ? AND workspace_id = ?");
        static WEBHOOK: Sql = Sql::fixed("DELETE FROM webhooks WHERE id = ? AND workspace_id = ?");
        let mut tx = self.pool.begin().await?;
        Statement::<DB>::new(&DELIVERIES)
            .bind_record(workspace, id.as_str())
            .execute(Exec::tx(&mut tx))
            .await?;
        let deleted = Statement::<DB>::new(&WEBHOOK)
            .bind_record(workspace, id.as_str())
            .execute(Exec::tx(&mut tx))
            .await?;
        tx.commit().await?;
        Ok(deleted == 1)
    }

    /// The current secret is opened and sealed again for the `previous_secret` column (the
    /// column is part of what a sealed value is bound to), in one transaction.
    #[instrument(skip_all, fields(webhook = %id))]
    async fn rotate_webhook_secret(
        &self,
        workspace: &WorkspaceId,
        id: &WebhookId,
        secret: &WebhookSecret,
        previous_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        static SELECT: Sql = Sql::built(|| {
            format!(
                "SELECT secret FROM webhooks WHERE id = ? AND workspace_id = ?{}",
                crate::sql::FOR_UPDATE
            )
        });
        static ROTATE: Sql = Sql::fixed(
            "UPDATE webhooks SET secret = ?, previous_secret = ?, previous_secret_until = ?
             WHERE id = ? AND workspace_id = ?",
        );
        let record = id.as_str();
        let mut tx = DB::begin_rewrite(&self.pool).await?;
        let row = Statement::<DB>::new(&SELECT)
            .bind_record(workspace, record)
            .fetch_optional(Exec::tx(&mut tx))
            .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let old = self.vault.open(&row.bytes(SECRET)?, record, SECRET)?;
        let previous = self.vault.seal(&old, record, PREVIOUS_SECRET)?;
        let current = self.vault.seal(secret.expose(), record, SECRET)?;
        Statement::<DB>::new(&ROTATE)
            .bind(current)
            .bind(previous)
            .bind(ms(previous_until))
            .bind_record(workspace, record)
            .execute(Exec::tx(&mut tx))
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    #[instrument(skip_all, fields(webhook = %id))]
    async fn enable_webhook(&self, workspace: &WorkspaceId, id: &WebhookId) -> StoreResult<bool> {
        static ENABLE: Sql = Sql::fixed(
            "UPDATE webhooks SET disabled_at = NULL, failing_since = NULL
             WHERE id = ? AND workspace_id = ?",
        );
        let changed = Statement::<DB>::new(&ENABLE)
            .bind_record(workspace, id.as_str())
            .execute(self.db())
            .await?;
        Ok(changed == 1)
    }

    #[instrument(skip_all, fields(webhook = %webhook, limit = request.limit))]
    async fn list_deliveries(
        &self,
        workspace: &WorkspaceId,
        webhook: &WebhookId,
        request: &PageRequest<SeqCursor>,
    ) -> StoreResult<DeliveryPage> {
        static SELECT: Sql =
            Sql::built(|| history_listing(DELIVERY_COLUMNS, "webhook_deliveries", "webhook_id"));
        let (deliveries, next) = self
            .history_page(
                &SELECT,
                workspace,
                webhook.as_str(),
                request,
                delivery,
                |d| d.seq,
            )
            .await?;
        Ok(DeliveryPage { deliveries, next })
    }

    #[instrument(skip_all)]
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        claim: &Claim,
        limit: i64,
    ) -> StoreResult<Vec<DueDelivery>> {
        static CLAIM: Sql = Sql::built(|| {
            claiming(
                "webhook_deliveries",
                "SELECT d.id FROM webhook_deliveries d
                 WHERE d.status = 'pending' AND d.next_attempt_at <= ?
                   AND (d.claim_until IS NULL OR d.claim_until <= DB_NOW_MS())
                   AND EXISTS (
                       SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id
                         AND (w.disabled_at IS NULL OR d.event_type = 'webhook.disabled'))
                 ORDER BY d.next_attempt_at, d.seq LIMIT ?",
                "id",
            )
        });
        static READ: Sql = Sql::built(|| {
            let columns = crate::codec::qualified(DELIVERY_COLUMNS, "d", None);
            format!(
                "SELECT {columns}, d.connection, d.body, w.url, w.secret, w.previous_secret,
                        w.previous_secret_until
                 FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                 WHERE d.id = ? AND d.claim_owner = ?"
            )
        });
        let claimed = claim_statement::<DB>(&CLAIM, claim)
            .bind(ms(now))
            .bind(limit)
            .fetch_all(self.db())
            .await?;
        let mut due = Vec::with_capacity(claimed.len());
        for row in &claimed {
            let delivery_id = row.text("id")?;
            let read = Statement::<DB>::new(&READ)
                .bind(delivery_id.as_str())
                .bind(claim.owner.as_str())
                .fetch_optional(self.db())
                .await?;
            let Some(read) = read else { continue };
            let delivery = delivery(&read)?;
            let secrets = secrets(&self.vault, &read, delivery.webhook_id.as_str())?;
            due.push(DueDelivery {
                url: read.text("url")?,
                connection: crate::codec::opt_json(&read, "connection")?,
                body: read.opt_text("body")?,
                secrets,
                delivery,
            });
        }
        due.sort_by_key(|d| (d.delivery.next_attempt_at, d.delivery.seq));
        Ok(due)
    }

    #[instrument(skip_all, fields(delivery = %attempt.delivery))]
    async fn record_attempt(&self, attempt: &Attempt) -> StoreResult<AttemptRecorded> {
        static OWNED: Sql = Sql::built(|| {
            format!(
                "SELECT webhook_id, workspace_id FROM webhook_deliveries
                 WHERE id = ? AND claim_owner = ? AND status = 'pending'{}",
                crate::sql::FOR_UPDATE
            )
        });
        static DELIVERED: Sql = Sql::fixed(
            "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1,
                 last_status_code = ?, last_error = NULL, last_attempt_at = ?,
                 next_attempt_at = NULL, delivered_at = ?, body = COALESCE(body, ?),
                 claim_owner = NULL, claim_until = NULL
             WHERE id = ?",
        );
        static FAILED: Sql = Sql::fixed(
            "UPDATE webhook_deliveries SET
                 status = CASE WHEN ? IS NULL THEN 'failed' ELSE 'pending' END,
                 attempts = attempts + 1, last_status_code = ?, last_error = ?,
                 last_attempt_at = ?, next_attempt_at = ?, body = COALESCE(body, ?),
                 claim_owner = NULL, claim_until = NULL
             WHERE id = ?",
        );
        static HEALTHY: Sql = Sql::fixed("UPDATE webhooks SET failing_since = NULL WHERE id = ?");
        static FAILING: Sql = Sql::fixed(
            "UPDATE webhooks SET failing_since = COALESCE(failing_since, ?) WHERE id = ?",
        );
        static DISABLE: Sql = Sql::fixed(
            "UPDATE webhooks SET disabled_at = ?
             WHERE id = ? AND disabled_at IS NULL AND failing_since <= ?",
        );
        let mut tx = DB::begin_rewrite(&self.pool).await?;
        let owned = Statement::<DB>::new(&OWNED)
            .bind(attempt.delivery.as_str())
            .bind(attempt.owner.as_str())
            .fetch_optional(Exec::tx(&mut tx))
            .await?;
        let Some(owned) = owned else {
            return Ok(AttemptRecorded::ClaimLost);
        };
        let webhook: WebhookId = id(&owned, "webhook_id")?;
        let workspace: WorkspaceId = id(&owned, "workspace_id")?;
        let at = ms(attempt.at);
        let mut recorded = AttemptRecorded::Recorded;
        match &attempt.result {
            AttemptResult::Delivered { status_code } => {
                Statement::<DB>::new(&DELIVERED)
                    .bind(i64::from(*status_code))
                    .bind(at)
                    .bind(at)
                    .bind(attempt.body.as_str())
                    .bind(attempt.delivery.as_str())
                    .execute(Exec::tx(&mut tx))
                    .await?;
                Statement::<DB>::new(&HEALTHY)
                    .bind(webhook.as_str())
                    .execute(Exec::tx(&mut tx))
                    .await?;
            }
            AttemptResult::Failed {
                status_code,
                error,
                retry_at,
            } => {
                let retry = retry_at.map(ms);
                Statement::<DB>::new(&FAILED)
                    .bind(retry)
                    .bind(status_code.map(i64::from))
                    .bind(error.as_str())
                    .bind(at)
                    .bind(retry)
                    .bind(attempt.body.as_str())
                    .bind(attempt.delivery.as_str())
                    .execute(Exec::tx(&mut tx))
                    .await?;
                Statement::<DB>::new(&FAILING)
                    .bind(at)
                    .bind(webhook.as_str())
                    .execute(Exec::tx(&mut tx))
                    .await?;
                let cutoff = attempt.at.checked_sub_signed(DISABLE_AFTER).map(ms);
                let disabled = Statement::<DB>::new(&DISABLE)
                    .bind(at)
                    .bind(webhook.as_str())
                    .bind(cutoff.unwrap_or(i64::MIN))
                    .execute(Exec::tx(&mut tx))
                    .await?;
                if disabled == 1 {
                    outbox::enqueue_disabled(Exec::tx(&mut tx), &workspace, &webhook, attempt.at)
                        .await?;
                    recorded = AttemptRecorded::Disabled;
                }
            }
        }
        tx.commit().await?;
        Ok(recorded)
    }
}
