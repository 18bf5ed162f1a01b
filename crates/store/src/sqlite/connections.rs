//! Connections: the row that carries an end user's link, its current token set (sealed) and
//! its refresh lease. Reads here never return the refresh token except through
//! [`SqliteStore::refresh_token_value`].

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use tether_core::ids::{ConnectionId, WorkspaceId};
use tether_core::secret::{AccessToken, RefreshToken};
use tether_core::status::ConnectionStatus;

use super::SqliteStore;
use super::codec::{conflict, id, list, list_text, ms, opt_json, opt_time, status, time};
use crate::{Account, Connection, ConnectionFilter, CurrentToken, NewConnection, StoreResult};

/// Every column of a [`Connection`]; no secret.
const COLUMNS: &str = "id, workspace_id, connector, provider, end_user_id, status, status_reason,
     diagnosis, instance_url, org_id, user_id, username, scopes, created_at, last_refreshed_at,
     last_used_at, refresh_token_issued_at, access_token_expires_at,
     access_token IS NOT NULL AS has_access_token, refresh_failures, next_retry_at,
     failed_connector_generation";

impl SqliteStore {
    pub(super) async fn insert_connection_row(
        &self,
        new: &NewConnection,
    ) -> StoreResult<Connection> {
        let record = new.id.as_str();
        let access = self.seal(new.tokens.access_token.expose(), record, "access_token")?;
        let refresh = new
            .tokens
            .refresh_token
            .as_ref()
            .map(|token| self.seal(token.expose(), record, "refresh_token"))
            .transpose()?;
        let refresh_issued = refresh.as_ref().map(|_| ms(new.created_at));
        let row = sqlx::query(&format!(
            "INSERT INTO connections (id, workspace_id, connector, provider, end_user_id, status,
                 instance_url, org_id, user_id, username, scopes, created_at,
                 refresh_token_issued_at, access_token, refresh_token, token_issued_at,
                 access_token_expires_at, refresh_at, token_version, refresh_failures)
             VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0)
             RETURNING {COLUMNS}"
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
        .bind(access)
        .bind(refresh)
        .bind(ms(new.tokens.issued_at))
        .bind(ms(new.tokens.expires_at))
        .bind(ms(new.tokens.refresh_at))
        .fetch_one(&self.pool)
        .await
        .map_err(conflict("connection id already exists"))?;
        connection(&row)
    }

    pub(super) async fn get_connection_row(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<Connection>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM connections WHERE id = ? AND workspace_id = ?"
        ))
        .bind(id.as_str())
        .bind(workspace.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(connection).transpose()
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
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM connections
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
        rows.iter().map(connection).collect()
    }

    /// The fast path: one primary-key read of one row.
    pub(super) async fn current_token_row(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<CurrentToken>> {
        let row = sqlx::query(
            "SELECT id, status, access_token, instance_url, token_issued_at,
                    access_token_expires_at, refresh_at, token_version, next_retry_at,
                    failed_connector_generation
             FROM connections WHERE id = ? AND workspace_id = ?",
        )
        .bind(id.as_str())
        .bind(workspace.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| self.current_token(&row)).transpose()
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
        let token = self.open_opt(sealed.flatten().as_deref(), id.as_str(), "refresh_token")?;
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
        let rows = sqlx::query(
            "SELECT workspace_id, id FROM connections
             WHERE status = 'degraded' AND next_retry_at <= ?
             ORDER BY next_retry_at, id LIMIT ?",
        )
        .bind(ms(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((id(row, "workspace_id")?, id(row, "id")?)))
            .collect()
    }

    fn current_token(&self, row: &SqliteRow) -> StoreResult<CurrentToken> {
        let connection_id: ConnectionId = id(row, "id")?;
        let sealed: Option<Vec<u8>> = row.try_get("access_token")?;
        let access = self.open_opt(sealed.as_deref(), connection_id.as_str(), "access_token")?;
        Ok(CurrentToken {
            connection_id,
            status: status(row, "status")?,
            access_token: access.map(AccessToken::new),
            instance_url: row.try_get("instance_url")?,
            issued_at: time(row, "token_issued_at")?,
            expires_at: time(row, "access_token_expires_at")?,
            refresh_at: time(row, "refresh_at")?,
            token_version: row.try_get("token_version")?,
            next_retry_at: opt_time(row, "next_retry_at")?,
            failed_connector_generation: row.try_get("failed_connector_generation")?,
        })
    }
}

/// A [`Connection`] from a row selected with [`COLUMNS`].
fn connection(row: &SqliteRow) -> StoreResult<Connection> {
    let has_access_token: bool = row.try_get("has_access_token")?;
    let expires_at = time(row, "access_token_expires_at")?;
    Ok(Connection {
        id: id(row, "id")?,
        workspace_id: id(row, "workspace_id")?,
        connector: id(row, "connector")?,
        provider: row.try_get("provider")?,
        end_user_id: id(row, "end_user_id")?,
        status: status(row, "status")?,
        status_reason: row.try_get("status_reason")?,
        diagnosis: opt_json(row, "diagnosis")?,
        account: Account {
            instance_url: row.try_get("instance_url")?,
            org_id: row.try_get("org_id")?,
            user_id: row.try_get("user_id")?,
            username: row.try_get("username")?,
        },
        scopes: list(row, "scopes")?,
        created_at: time(row, "created_at")?,
        last_refreshed_at: opt_time(row, "last_refreshed_at")?,
        last_used_at: opt_time(row, "last_used_at")?,
        refresh_token_issued_at: opt_time(row, "refresh_token_issued_at")?,
        access_token_expires_at: has_access_token.then_some(expires_at),
        refresh_failures: row.try_get("refresh_failures")?,
        next_retry_at: opt_time(row, "next_retry_at")?,
        failed_connector_generation: row.try_get("failed_connector_generation")?,
    })
}
