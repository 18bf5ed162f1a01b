//! The refresh protocol on a connection row: a lease taken with one conditional UPDATE (so
//! exactly one process refreshes), and the writes that land a refresh's outcome or a
//! reconnect's new tokens. A disconnected connection is never brought back by a late refresh,
//! and an outcome fenced by the token version it started from never overwrites a reconnect
//! or another refresh that landed first.

use chrono::{DateTime, Utc};
use tether_core::ids::ConnectionId;

use super::SqlStore;
use crate::codec::{json_text, list_text, ms, opt_ms};
use crate::sql::{Backend, Exec, Sql, Statement};
use crate::{Account, FailureUpdate, StoreResult, TokenSet};

impl<DB: Backend> SqlStore<DB> {
    pub(super) async fn try_lease_row(
        &self,
        id: &ConnectionId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        static LEASE: Sql = Sql::fixed(
            "UPDATE connections SET lease_owner = ?, lease_until = ?
             WHERE id = ? AND (lease_owner IS NULL OR lease_until <= ? OR lease_owner = ?)",
        );
        let taken = Statement::new(&LEASE)
            .bind(owner)
            .bind(ms(until))
            .bind(id.as_str())
            .bind(ms(now))
            .bind(owner)
            .execute(self.db())
            .await?;
        Ok(taken == 1)
    }

    pub(super) async fn release_lease_row(
        &self,
        id: &ConnectionId,
        owner: &str,
    ) -> StoreResult<()> {
        release(self.db(), id, owner).await
    }

    pub(super) async fn record_refresh_success_row(
        &self,
        id: &ConnectionId,
        owner: &str,
        expected_version: Option<i64>,
        tokens: &TokenSet,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        static SUCCESS: Sql = Sql::fixed(
            "UPDATE connections SET access_token = ?, refresh_token = COALESCE(?, refresh_token),
                 token_issued_at = ?, access_token_expires_at = ?, refresh_at = ?,
                 instance_url = ?, status = 'active', status_reason = NULL, diagnosis = NULL,
                 refresh_failures = 0, next_retry_at = NULL, failed_connector_generation = NULL,
                 token_version = token_version + 1, last_refreshed_at = ?,
                 refresh_token_issued_at = COALESCE(?, refresh_token_issued_at)
             WHERE id = ? AND status <> 'disconnected' AND (? IS NULL OR token_version = ?)",
        );
        let sealed = self.vault.seal_tokens(id, tokens)?;
        let rotated_at = sealed.refresh.as_ref().map(|_| ms(now));
        let update = Statement::new(&SUCCESS)
            .bind(sealed.access)
            .bind(sealed.refresh)
            .bind(ms(tokens.issued_at))
            .bind(ms(tokens.expires_at))
            .bind(ms(tokens.refresh_at))
            .bind(&tokens.instance_url)
            .bind(ms(now))
            .bind(rotated_at)
            .bind(id.as_str())
            .bind(expected_version)
            .bind(expected_version);
        self.update_and_release(update, id, owner).await
    }

    pub(super) async fn record_refresh_failure_row(
        &self,
        id: &ConnectionId,
        owner: &str,
        expected_version: Option<i64>,
        update: &FailureUpdate,
    ) -> StoreResult<bool> {
        static FAILURE: Sql = Sql::fixed(
            "UPDATE connections SET status = ?, status_reason = ?, diagnosis = ?,
                 refresh_failures = ?, next_retry_at = ?, failed_connector_generation = ?
             WHERE id = ? AND status <> 'disconnected' AND (? IS NULL OR token_version = ?)",
        );
        let update = Statement::new(&FAILURE)
            .bind(update.status.as_str())
            .bind(&update.status_reason)
            .bind(json_text(update.diagnosis.as_ref()))
            .bind(update.refresh_failures)
            .bind(opt_ms(update.next_retry_at))
            .bind(update.failed_connector_generation)
            .bind(id.as_str())
            .bind(expected_version)
            .bind(expected_version);
        self.update_and_release(update, id, owner).await
    }

    /// Runs `update` and releases `owner`'s lease of `id`, in one transaction; `true` when
    /// the update changed the row.
    async fn update_and_release(
        &self,
        update: Statement<'_, DB>,
        id: &ConnectionId,
        owner: &str,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let changed = update.execute(Exec::tx(&mut tx)).await?;
        release(Exec::tx(&mut tx), id, owner).await?;
        tx.commit().await?;
        Ok(changed == 1)
    }

    /// A reconnect replaces the whole token set, the refresh token included.
    pub(super) async fn replace_connection_tokens_row(
        &self,
        id: &ConnectionId,
        account: &Account,
        scopes: &[String],
        tokens: &TokenSet,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        static REPLACE: Sql = Sql::fixed(
            "UPDATE connections SET access_token = ?, refresh_token = ?, token_issued_at = ?,
                 access_token_expires_at = ?, refresh_at = ?, instance_url = ?, org_id = ?,
                 user_id = ?, username = ?, scopes = ?, status = 'active',
                 status_reason = NULL, diagnosis = NULL, refresh_failures = 0,
                 next_retry_at = NULL, failed_connector_generation = NULL,
                 token_version = token_version + 1, refresh_token_issued_at = ?
             WHERE id = ?",
        );
        let sealed = self.vault.seal_tokens(id, tokens)?;
        Statement::new(&REPLACE)
            .bind(sealed.access)
            .bind(sealed.refresh)
            .bind(ms(tokens.issued_at))
            .bind(ms(tokens.expires_at))
            .bind(ms(tokens.refresh_at))
            .bind(&tokens.instance_url)
            .bind(&account.org_id)
            .bind(&account.user_id)
            .bind(&account.username)
            .bind(list_text(scopes))
            .bind(ms(now))
            .bind(id.as_str())
            .execute(self.db())
            .await?;
        Ok(())
    }

    pub(super) async fn annotate_row(
        &self,
        id: &ConnectionId,
        status_reason: &str,
        diagnosis: &serde_json::Value,
    ) -> StoreResult<()> {
        static ANNOTATE: Sql = Sql::fixed(
            "UPDATE connections SET status_reason = ?, diagnosis = ?
             WHERE id = ? AND status = 'active'",
        );
        Statement::new(&ANNOTATE)
            .bind(status_reason)
            .bind(json_text(Some(diagnosis)))
            .bind(id.as_str())
            .execute(self.db())
            .await?;
        Ok(())
    }
}

/// Clears the lease of `id` if `owner` holds it.
async fn release<DB: Backend>(
    exec: Exec<'_, DB>,
    id: &ConnectionId,
    owner: &str,
) -> StoreResult<()> {
    static RELEASE: Sql = Sql::fixed(
        "UPDATE connections SET lease_owner = NULL, lease_until = NULL
         WHERE id = ? AND lease_owner = ?",
    );
    Statement::new(&RELEASE)
        .bind(id.as_str())
        .bind(owner)
        .execute(exec)
        .await?;
    Ok(())
}
