//! Connections: the row that carries an end user's link, its current token set (sealed) and
//! its refresh lease. Every query filters by workspace as well as id. Reads here never
//! return the refresh token except through `refresh_token` (for revoking it) and the refresh
//! protocol's context read (`refresh.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tether_core::diagnosis::Diagnosis;
use tether_core::ids::{ConnectionId, WorkspaceId};
use tether_core::secret::RefreshToken;
use tether_core::status::ConnectionStatus;
use tracing::instrument;

use super::claims::{LAST_USE, UNCLAIMED, claim_statement, claiming, idle_pick};
use super::connection_pages::{listing_params, listing_text, page};
use super::{SqlStore, events};
use crate::codec::{Columns, conflict, id, json_text, list_text, ms};
use crate::rows::{self, CONNECTION_COLUMNS, TOKEN_COLUMNS};
use crate::sql::{Backend, Exec, Sql, Statement};
use crate::{
    Claim, Connection, ConnectionCount, ConnectionCursor, ConnectionFilter, ConnectionPage,
    Connections, CurrentToken, LastUse, NewConnection, NewEvent, PageRequest, Reconnect,
    StoreResult,
};

#[async_trait]
impl<DB: Backend> Connections for SqlStore<DB> {
    #[instrument(skip_all, fields(connection = %new.id))]
    async fn insert_connection(
        &self,
        new: &NewConnection,
        event: &NewEvent,
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
        let sealed = self.vault.seal_tokens(&new.id, &new.tokens)?;
        let refresh_issued = sealed.refresh.as_ref().map(|_| ms(new.created_at));
        let mut tx = self.pool.begin().await?;
        let row = Statement::new(&INSERT)
            .bind(new.id.as_str())
            .bind(new.workspace_id.as_str())
            .bind(new.connector.as_str())
            .bind(&new.provider)
            .bind(new.end_user_id.as_str())
            .bind(new.account.instance_url.as_str())
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
            .fetch_one(Exec::tx(&mut tx))
            .await
            .map_err(conflict("connection id already exists"))?;
        let connection = rows::connection(&row)?;
        events::insert(Exec::tx(&mut tx), event).await?;
        tx.commit().await?;
        Ok(connection)
    }

    #[instrument(skip_all, fields(connection = %id))]
    async fn get_connection(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<Connection>> {
        static SELECT: Sql = Sql::built(|| {
            format!(
                "SELECT {CONNECTION_COLUMNS} FROM connections WHERE id = ? AND workspace_id = ?"
            )
        });
        let row = self.workspace_row(&SELECT, workspace, id.as_str()).await?;
        row.as_ref().map(rows::connection).transpose()
    }

    #[instrument(skip_all, fields(limit = request.limit))]
    async fn list_connections(
        &self,
        workspace: &WorkspaceId,
        filter: &ConnectionFilter,
        request: &PageRequest<ConnectionCursor>,
    ) -> StoreResult<ConnectionPage> {
        // A page holds at least one connection.
        let request = &PageRequest {
            after: request.after.clone(),
            limit: request.limit.max(1),
        };
        let after = request.after.as_ref();
        let text = DB::dialect(&listing_text(filter, after.is_some()));
        let params = listing_params(workspace, filter, after, request.rows_to_read());
        let rows = params
            .into_iter()
            .fold(Statement::<DB>::raw(&text), Statement::bind)
            .fetch_all(self.db())
            .await?;
        page(&rows, request)
    }

    #[instrument(skip_all)]
    async fn count_connections(
        &self,
        workspace: &WorkspaceId,
    ) -> StoreResult<Vec<ConnectionCount>> {
        self.connection_counts(workspace).await
    }

    #[instrument(skip_all)]
    async fn count_by_status(&self) -> StoreResult<Vec<(ConnectionStatus, i64)>> {
        self.status_counts().await
    }

    #[instrument(skip_all, fields(connection = %connection.id))]
    async fn count_approvals_after(
        &self,
        connection: &Connection,
        after: DateTime<Utc>,
    ) -> StoreResult<i64> {
        static COUNT: Sql = Sql::fixed(
            "SELECT COUNT(*) AS approvals FROM connections
             WHERE workspace_id = ? AND connector = ? AND org_id = ? AND user_id = ?
               AND id <> ? AND refresh_token_issued_at > ?",
        );
        let row = Statement::new(&COUNT)
            .bind(connection.workspace_id.as_str())
            .bind(connection.connector.as_str())
            .bind(&connection.account.org_id)
            .bind(&connection.account.user_id)
            .bind(connection.id.as_str())
            .bind(ms(after))
            .fetch_one(self.db())
            .await?;
        Ok(row.int("approvals")?)
    }

    /// The fast path: one primary-key read of one row.
    #[instrument(skip_all, fields(connection = %id))]
    async fn current_token(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<CurrentToken>> {
        static SELECT: Sql = Sql::built(|| {
            format!("SELECT {TOKEN_COLUMNS} FROM connections WHERE id = ? AND workspace_id = ?")
        });
        let row = self.workspace_row(&SELECT, workspace, id.as_str()).await?;
        row.map(|row| rows::current_token(&self.vault, &row))
            .transpose()
    }

    #[instrument(skip_all, fields(connection = %id))]
    async fn refresh_token(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<RefreshToken>> {
        static SELECT: Sql =
            Sql::fixed("SELECT refresh_token FROM connections WHERE id = ? AND workspace_id = ?");
        let row = self.workspace_row(&SELECT, workspace, id.as_str()).await?;
        let sealed = row.map(|row| row.opt_bytes("refresh_token")).transpose()?;
        let token =
            self.vault
                .open_opt(sealed.flatten().as_deref(), id.as_str(), "refresh_token")?;
        Ok(token.map(RefreshToken::new))
    }

    /// A reconnect replaces the whole token set, the refresh token included, and starts a new
    /// approval: a lease or attempt of the replaced token no longer matters.
    #[instrument(skip_all, fields(connection = %id))]
    async fn replace_tokens(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        reconnect: &Reconnect,
    ) -> StoreResult<bool> {
        static REPLACE: Sql = Sql::fixed(
            "UPDATE connections SET access_token = ?, refresh_token = ?, token_issued_at = ?,
                 access_token_expires_at = ?, refresh_at = ?, instance_url = ?, org_id = ?,
                 user_id = ?, username = ?, scopes = ?, status = 'active',
                 status_reason = NULL, diagnosis = NULL, refresh_failures = 0,
                 next_retry_at = NULL, failed_connector_generation = NULL,
                 token_version = token_version + 1, refresh_token_issued_at = ?,
                 unanswered_attempt_at = NULL, lifetime_warned_at = NULL, lease_owner = NULL, lease_until = NULL,
                 attempt_owner = NULL, attempt_version = NULL, attempt_started_at = NULL
             WHERE id = ? AND workspace_id = ? AND status <> 'disconnected'",
        );
        let Reconnect {
            account,
            scopes,
            tokens,
            now,
            events,
        } = reconnect;
        let sealed = self.vault.seal_tokens(id, tokens)?;
        let instance_url = tokens
            .instance_url
            .as_ref()
            .unwrap_or(&account.instance_url);
        let replace = Statement::new(&REPLACE)
            .bind(sealed.access)
            .bind(sealed.refresh)
            .bind(ms(tokens.issued_at))
            .bind(ms(tokens.expires_at))
            .bind(ms(tokens.refresh_at))
            .bind(instance_url.as_str())
            .bind(&account.org_id)
            .bind(&account.user_id)
            .bind(&account.username)
            .bind(list_text(scopes))
            .bind(ms(*now))
            .bind_record(workspace, id.as_str());
        self.change_with_events(replace, events).await
    }

    #[instrument(skip_all, fields(connection = %id, cause = %diagnosis.cause))]
    async fn annotate_connection(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        diagnosis: &Diagnosis,
    ) -> StoreResult<()> {
        static ANNOTATE: Sql = Sql::fixed(
            "UPDATE connections SET status_reason = ?, diagnosis = ?
             WHERE id = ? AND workspace_id = ? AND status = 'active'",
        );
        Statement::new(&ANNOTATE)
            .bind(diagnosis.cause.as_str())
            .bind(json_text(Some(diagnosis))?)
            .bind_record(workspace, id.as_str())
            .execute(self.db())
            .await?;
        Ok(())
    }

    /// One transaction for the whole batch; a use never moves `last_used_at` backwards
    /// (the CASE is `GREATEST`/two-argument `MAX` in a form both dialects accept).
    #[instrument(skip_all, fields(uses = uses.len()))]
    async fn touch_last_used(&self, uses: &[LastUse]) -> StoreResult<()> {
        static TOUCH: Sql = Sql::fixed(
            "UPDATE connections SET last_used_at = CASE
                 WHEN last_used_at IS NULL OR last_used_at < ? THEN ? ELSE last_used_at END
             WHERE id = ? AND workspace_id = ?",
        );
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for used in uses {
            Statement::new(&TOUCH)
                .bind(ms(used.at))
                .bind(ms(used.at))
                .bind_record(&used.workspace, used.id.as_str())
                .execute(Exec::tx(&mut tx))
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    #[instrument(skip_all, fields(connection = %id))]
    async fn disconnect(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        event: &NewEvent,
    ) -> StoreResult<bool> {
        static DISCONNECT: Sql = Sql::fixed(
            "UPDATE connections SET status = 'disconnected', access_token = NULL,
                 refresh_token = NULL, next_retry_at = NULL, lease_owner = NULL,
                 lease_until = NULL, attempt_owner = NULL, attempt_version = NULL,
                 attempt_started_at = NULL
             WHERE id = ? AND workspace_id = ? AND status <> 'disconnected'",
        );
        let disconnect = Statement::new(&DISCONNECT).bind_record(workspace, id.as_str());
        self.change_with_events(disconnect, std::slice::from_ref(event))
            .await
    }

    #[instrument(skip_all)]
    async fn due_for_retry(
        &self,
        now: DateTime<Utc>,
        claim: &Claim,
        limit: i64,
    ) -> StoreResult<Vec<(WorkspaceId, ConnectionId)>> {
        // Two claims, each over its own index (one query with an OR between them is planned
        // as a scan of every connection; so is an ORDER BY id on the second, which needs none).
        static DUE: Sql = Sql::built(|| {
            claiming(
                "connections",
                &format!(
                    "SELECT id FROM connections
                     WHERE next_retry_at <= ? AND status IN ('degraded', 'expired')
                       AND {UNCLAIMED}
                     ORDER BY next_retry_at, id LIMIT ?"
                ),
                "workspace_id, id, next_retry_at AS due_at",
            )
        });
        static CONNECTOR_CHANGED: Sql = Sql::built(|| {
            claiming(
                "connections",
                "SELECT c.id FROM connections c
                 WHERE c.failed_connector_generation IS NOT NULL
                   AND c.status = 'degraded'
                   AND c.failed_connector_generation <> (
                       SELECT k.generation FROM connectors k
                       WHERE k.workspace_id = c.workspace_id AND k.name = c.connector)
                   AND (c.claim_until IS NULL OR c.claim_until <= DB_NOW_MS())
                 LIMIT ?",
                "workspace_id, id, CAST(0 AS BIGINT) AS due_at",
            )
        });
        let mut claimed = claim_statement(&DUE, claim)
            .bind(ms(now))
            .bind(limit)
            .fetch_all(self.db())
            .await?;
        let room = limit.saturating_sub(i64::try_from(claimed.len()).unwrap_or(limit));
        if room > 0 {
            let changed = claim_statement(&CONNECTOR_CHANGED, claim)
                .bind(room)
                .fetch_all(self.db())
                .await?;
            claimed.extend(changed);
        }
        earliest_first(&claimed)
    }

    #[instrument(skip_all)]
    async fn idle_connections(
        &self,
        before: DateTime<Utc>,
        claim: &Claim,
        limit: i64,
    ) -> StoreResult<Vec<(WorkspaceId, ConnectionId)>> {
        // Served by `connections_keepalive`.
        static IDLE: Sql = Sql::built(|| {
            let returning = format!("workspace_id, id, {LAST_USE} AS due_at");
            claiming("connections", &idle_pick("", ", id"), &returning)
        });
        let claimed = claim_statement(&IDLE, claim)
            .bind(ms(before))
            .bind(limit)
            .fetch_all(self.db())
            .await?;
        earliest_first(&claimed)
    }

    #[instrument(skip_all, fields(connection = %id))]
    async fn release_claim(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        owner: &str,
    ) -> StoreResult<()> {
        static RELEASE: Sql = Sql::fixed(
            "UPDATE connections SET claim_owner = NULL, claim_until = NULL
             WHERE id = ? AND workspace_id = ? AND claim_owner = ?",
        );
        Statement::new(&RELEASE)
            .bind_record(workspace, id.as_str())
            .bind(owner)
            .execute(self.db())
            .await?;
        Ok(())
    }
}

impl<DB: Backend> SqlStore<DB> {
    /// Runs `update` of one connection and, when it changed the row, writes `events` in the
    /// same transaction; whether it changed.
    async fn change_with_events(
        &self,
        update: Statement<'_, DB>,
        events: &[NewEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let changed = update.execute(Exec::tx(&mut tx)).await? == 1;
        if changed {
            events::insert_all::<DB>(&mut tx, events).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }
}

/// Claimed rows, earliest `due_at` first (RETURNING keeps no order).
fn earliest_first<R: Columns>(rows: &[R]) -> StoreResult<Vec<(WorkspaceId, ConnectionId)>> {
    let mut due = rows
        .iter()
        .map(|row| Ok((row.int("due_at")?, id(row, "workspace_id")?, id(row, "id")?)))
        .collect::<StoreResult<Vec<(i64, WorkspaceId, ConnectionId)>>>()?;
    due.sort_by(|a, b| (a.0, a.2.as_str()).cmp(&(b.0, b.2.as_str())));
    Ok(due.into_iter().map(|(_, ws, id)| (ws, id)).collect())
}
