//! Connections: the row that carries an end user's link, its current token set (sealed) and
//! its refresh lease. Reads here never return the refresh token except through
//! [`SqliteStore::refresh_token_value`].

use chrono::{DateTime, Utc};
use tether_core::ids::{ConnectionId, ConnectorName, WorkspaceId};
use tether_core::secret::RefreshToken;
use tether_core::status::ConnectionStatus;

use super::SqliteStore;
use crate::codec::{conflict, id, list_text, ms};
use crate::rows::{self, CONNECTION_COLUMNS, TOKEN_COLUMNS};
use crate::{Account, Connection, ConnectionFilter, CurrentToken, NewConnection, StoreResult};

impl SqliteStore {
    pub(super) async fn insert_connection_row(
        &self,
        new: &NewConnection,
    ) -> StoreResult<Connection> {
        let record = new.id.as_str();
        let sealed = self.vault.seal_tokens(&new.id, &new.tokens)?;
        let refresh_issued = sealed.refresh.as_ref().map(|_| ms(new.created_at));
        let row = sqlx::query(&format!(
            "INSERT INTO connections (id, workspace_id, connector, provider, end_user_id, status,
                 instance_url, org_id, user_id, username, scopes, created_at,
                 refresh_token_issued_at, access_token, refresh_token, token_issued_at,
                 access_token_expires_at, refresh_at, token_version, refresh_failures)
             VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0)
             RETURNING {CONNECTION_COLUMNS}"
        ))
        .bind(record)
        .bind(new.workspace_id.as_str())
        .bind(new.connector.as_str())
        .bind(&new.provider)
        .bind(new.end_user_id.as_str())
        .bind(&new.tokens.instance_url)
        .bind(&new.account.org_id)
        .bind(&new.account.user_id)
        .bind(&new.account.username)
        .bind(list_text(&new.scopes))
        .bind(ms(new.created_at))
        .bind(refresh_issued)
        .bind(sealed.access)
        .bind(sealed.refresh)
        .bind(ms(new.tokens.issued_at))
        .bind(ms(new.tokens.expires_at))
        .bind(ms(new.tokens.refresh_at))
        .fetch_one(&self.pool)
        .await
        .map_err(conflict("connection id already exists"))?;
        rows::connection(&row)
    }

    pub(super) async fn get_connection_row(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<Connection>> {
        let row = sqlx::query(&format!(
            "SELECT {CONNECTION_COLUMNS} FROM connections WHERE id = ? AND workspace_id = ?"
        ))
        .bind(id.as_str())
        .bind(workspace.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::connection).transpose()
    }

    /// Newest first; each filter applies only when set.
    pub(super) async fn list_connection_rows(
        &self,
        workspace: &WorkspaceId,
        filter: &ConnectionFilter,
    ) -> StoreResult<Vec<Connection>> {
        let status = filter.status.map(ConnectionStatus::as_str);
        let connector = filter.connector.as_ref().map(|c| c.as_str());
        let end_user = filter.end_user_id.as_ref().map(|u| u.as_str());
        let found = sqlx::query(&format!(
            "SELECT {CONNECTION_COLUMNS} FROM connections
             WHERE workspace_id = ?
               AND (? IS NULL OR status = ?)
               AND (? IS NULL OR connector = ?)
               AND (? IS NULL OR end_user_id = ?)
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(workspace.as_str())
        .bind(status)
        .bind(status)
        .bind(connector)
        .bind(connector)
        .bind(end_user)
        .bind(end_user)
        .fetch_all(&self.pool)
        .await?;
        found.iter().map(rows::connection).collect()
    }

    pub(super) async fn count_approvals_rows(
        &self,
        workspace: &WorkspaceId,
        connector: &ConnectorName,
        account: &Account,
        except: &ConnectionId,
        after: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM connections
             WHERE workspace_id = ? AND connector = ? AND org_id = ? AND user_id = ?
               AND id <> ? AND refresh_token_issued_at > ?",
        )
        .bind(workspace.as_str())
        .bind(connector.as_str())
        .bind(&account.org_id)
        .bind(&account.user_id)
        .bind(except.as_str())
        .bind(ms(after))
        .fetch_one(&self.pool)
        .await?;
        Ok(count)
    }

    /// The fast path: one primary-key read of one row.
    pub(super) async fn current_token_row(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<CurrentToken>> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM connections WHERE id = ? AND workspace_id = ?"
        ))
        .bind(id.as_str())
        .bind(workspace.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| rows::current_token(&self.vault, &row))
            .transpose()
    }

    pub(super) async fn refresh_token_value(
        &self,
        id: &ConnectionId,
    ) -> StoreResult<Option<RefreshToken>> {
        let sealed: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT refresh_token FROM connections WHERE id = ?")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
        let token =
            self.vault
                .open_opt(sealed.flatten().as_deref(), id.as_str(), "refresh_token")?;
        Ok(token.map(RefreshToken::new))
    }

    /// One transaction for the whole batch; a use never moves `last_used_at` backwards.
    pub(super) async fn touch_last_used_rows(
        &self,
        uses: &[(ConnectionId, DateTime<Utc>)],
    ) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for (id, at) in uses {
            sqlx::query(
                "UPDATE connections SET last_used_at = MAX(COALESCE(last_used_at, ?), ?)
                 WHERE id = ?",
            )
            .bind(ms(*at))
            .bind(ms(*at))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn disconnect_row(&self, id: &ConnectionId) -> StoreResult<()> {
        sqlx::query(
            "UPDATE connections SET status = 'disconnected', access_token = NULL,
                 refresh_token = NULL, next_retry_at = NULL, lease_owner = NULL,
                 lease_until = NULL
             WHERE id = ?",
        )
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn due_for_retry_rows(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<(WorkspaceId, ConnectionId)>> {
        let due = sqlx::query(
            "SELECT workspace_id, id FROM connections
             WHERE status = 'degraded' AND next_retry_at <= ?
             ORDER BY next_retry_at, id LIMIT ?",
        )
        .bind(ms(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        due.iter()
            .map(|row| Ok((id(row, "workspace_id")?, id(row, "id")?)))
            .collect()
    }

    pub(super) async fn idle_connection_rows(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<(WorkspaceId, ConnectionId)>> {
        let idle = sqlx::query(
            "SELECT workspace_id, id FROM connections
             WHERE status = 'active'
               AND COALESCE(last_refreshed_at, refresh_token_issued_at, created_at) < ?
             ORDER BY COALESCE(last_refreshed_at, refresh_token_issued_at, created_at), id
             LIMIT ?",
        )
        .bind(ms(before))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        idle.iter()
            .map(|row| Ok((id(row, "workspace_id")?, id(row, "id")?)))
            .collect()
    }
}
