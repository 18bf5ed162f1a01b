//! Connections: the row that carries an end user's link, its current token set (sealed) and
//! its refresh lease. Reads here never return the refresh token except through
//! [`SqlStore::refresh_token_value`].

use chrono::{DateTime, Utc};
use tether_core::ids::{ConnectionId, ConnectorName, WorkspaceId};
use tether_core::secret::RefreshToken;
use tether_core::status::ConnectionStatus;

use super::SqlStore;
use crate::codec::{Columns, conflict, id, list_text, ms};
use crate::rows::{self, CONNECTION_COLUMNS, TOKEN_COLUMNS};
use crate::sql::{Backend, Exec, Sql, Statement};
use crate::{Account, Connection, ConnectionFilter, CurrentToken, NewConnection, StoreResult};

impl<DB: Backend> SqlStore<DB> {
    pub(super) async fn insert_connection_row(
        &self,
        new: &NewConnection,
    ) -> StoreResult<Connection> {
        static INSERT: Sql = Sql::built(|| {
            format!(
                "INSERT INTO connections (id, workspace_id, connector, provider, end_user_id,
                     status, instance_url, org_id, user_id, username, scopes, created_at,
                     refresh_token_issued_at, access_token, refresh_token, token_issued_at,
                     access_token_expires_at, refresh_at, token_version, refresh_failures)
                 VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0)
                 RETURNING {CONNECTION_COLUMNS}"
            )
        });
        let record = new.id.as_str();
        let sealed = self.vault.seal_tokens(&new.id, &new.tokens)?;
        let refresh_issued = sealed.refresh.as_ref().map(|_| ms(new.created_at));
        let row = Statement::new(&INSERT)
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
            .fetch_one(self.db())
            .await
            .map_err(conflict("connection id already exists"))?;
        rows::connection(&row)
    }

    pub(super) async fn get_connection_row(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<Connection>> {
        static SELECT: Sql = Sql::built(|| {
            format!(
                "SELECT {CONNECTION_COLUMNS} FROM connections WHERE id = ? AND workspace_id = ?"
            )
        });
        let row = Statement::new(&SELECT)
            .bind(id.as_str())
            .bind(workspace.as_str())
            .fetch_optional(self.db())
            .await?;
        row.as_ref().map(rows::connection).transpose()
    }

    /// Newest first; each filter applies only when set.
    pub(super) async fn list_connection_rows(
        &self,
        workspace: &WorkspaceId,
        filter: &ConnectionFilter,
    ) -> StoreResult<Vec<Connection>> {
        static SELECT: Sql = Sql::built(|| {
            format!(
                "SELECT {CONNECTION_COLUMNS} FROM connections
                 WHERE workspace_id = ?
                   AND (? IS NULL OR status = ?)
                   AND (? IS NULL OR connector = ?)
                   AND (? IS NULL OR end_user_id = ?)
                 ORDER BY created_at DESC, id DESC"
            )
        });
        let status = filter.status.map(ConnectionStatus::as_str);
        let connector = filter.connector.as_ref().map(|c| c.as_str());
        let end_user = filter.end_user_id.as_ref().map(|u| u.as_str());
        let found = Statement::new(&SELECT)
            .bind(workspace.as_str())
            .bind(status)
            .bind(status)
            .bind(connector)
            .bind(connector)
            .bind(end_user)
            .bind(end_user)
            .fetch_all(self.db())
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
        static COUNT: Sql = Sql::fixed(
            "SELECT COUNT(*) AS approvals FROM connections
             WHERE workspace_id = ? AND connector = ? AND org_id = ? AND user_id = ?
               AND id <> ? AND refresh_token_issued_at > ?",
        );
        let row = Statement::new(&COUNT)
            .bind(workspace.as_str())
            .bind(connector.as_str())
            .bind(&account.org_id)
            .bind(&account.user_id)
            .bind(except.as_str())
            .bind(ms(after))
            .fetch_one(self.db())
            .await?;
        Ok(row.int("approvals")?)
    }

    /// The fast path: one primary-key read of one row.
    pub(super) async fn current_token_row(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<CurrentToken>> {
        static SELECT: Sql = Sql::built(|| {
            format!("SELECT {TOKEN_COLUMNS} FROM connections WHERE id = ? AND workspace_id = ?")
        });
        let row = Statement::new(&SELECT)
            .bind(id.as_str())
            .bind(workspace.as_str())
            .fetch_optional(self.db())
            .await?;
        row.map(|row| rows::current_token(&self.vault, &row))
            .transpose()
    }

    pub(super) async fn refresh_token_value(
        &self,
        id: &ConnectionId,
    ) -> StoreResult<Option<RefreshToken>> {
        static SELECT: Sql = Sql::fixed("SELECT refresh_token FROM connections WHERE id = ?");
        let row = Statement::new(&SELECT)
            .bind(id.as_str())
            .fetch_optional(self.db())
            .await?;
        let sealed = row.map(|row| row.opt_bytes("refresh_token")).transpose()?;
        let token =
            self.vault
                .open_opt(sealed.flatten().as_deref(), id.as_str(), "refresh_token")?;
        Ok(token.map(RefreshToken::new))
    }

    /// One transaction for the whole batch; a use never moves `last_used_at` backwards
    /// (the CASE is `GREATEST`/two-argument `MAX` in a form both dialects accept).
    pub(super) async fn touch_last_used_rows(
        &self,
        uses: &[(ConnectionId, DateTime<Utc>)],
    ) -> StoreResult<()> {
        static TOUCH: Sql = Sql::fixed(
            "UPDATE connections SET last_used_at = CASE
                 WHEN last_used_at IS NULL OR last_used_at < ? THEN ? ELSE last_used_at END
             WHERE id = ?",
        );
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for (id, at) in uses {
            Statement::new(&TOUCH)
                .bind(ms(*at))
                .bind(ms(*at))
                .bind(id.as_str())
                .execute(Exec::tx(&mut tx))
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn disconnect_row(&self, id: &ConnectionId) -> StoreResult<()> {
        static DISCONNECT: Sql = Sql::fixed(
            "UPDATE connections SET status = 'disconnected', access_token = NULL,
                 refresh_token = NULL, next_retry_at = NULL, lease_owner = NULL,
                 lease_until = NULL
             WHERE id = ?",
        );
        Statement::new(&DISCONNECT)
            .bind(id.as_str())
            .execute(self.db())
            .await?;
        Ok(())
    }

    pub(super) async fn due_for_retry_rows(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<(WorkspaceId, ConnectionId)>> {
        static DUE: Sql = Sql::fixed(
            "SELECT c.workspace_id, c.id FROM connections c
             WHERE c.status = 'degraded'
               AND (c.next_retry_at <= ?
                    OR (c.failed_connector_generation IS NOT NULL
                        AND c.failed_connector_generation <> (
                            SELECT k.generation FROM connectors k
                            WHERE k.workspace_id = c.workspace_id AND k.name = c.connector)))
             ORDER BY c.next_retry_at, c.id LIMIT ?",
        );
        let due = Statement::new(&DUE)
            .bind(ms(now))
            .bind(limit)
            .fetch_all(self.db())
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
        static IDLE: Sql = Sql::fixed(
            "SELECT workspace_id, id FROM connections
             WHERE status = 'active'
               AND COALESCE(last_refreshed_at, refresh_token_issued_at, created_at) < ?
             ORDER BY COALESCE(last_refreshed_at, refresh_token_issued_at, created_at), id
             LIMIT ?",
        );
        let idle = Statement::new(&IDLE)
            .bind(ms(before))
            .bind(limit)
            .fetch_all(self.db())
            .await?;
        idle.iter()
            .map(|row| Ok((id(row, "workspace_id")?, id(row, "id")?)))
            .collect()
    }
}
