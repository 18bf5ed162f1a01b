//! Connectors: one row per workspace and name, the client secret sealed.

use chrono::{DateTime, Utc};
use tether_core::diagnosis::PolicyEvidence;
use tether_core::ids::{ConnectorName, WorkspaceId};

use async_trait::async_trait;
use tracing::instrument;

use super::SqlStore;
use crate::codec::{Columns, json_text, list_text, ms, opt_json, time};
use crate::rows::{self, CONNECTOR_COLUMNS, connector_record};
use crate::sql::{Backend, Exec, Sql, Statement};
use crate::{Connector, ConnectorDeletion, ConnectorInput, Connectors, StoreResult};

#[async_trait]
impl<DB: Backend> Connectors for SqlStore<DB> {
    /// A new connector starts above any generation a connection remembers failing at (a
    /// connector deleted and created again counts as changed); an update adds one.
    #[instrument(skip_all, fields(connector = %name))]
    async fn upsert_connector(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
        input: &ConnectorInput,
        now: DateTime<Utc>,
    ) -> StoreResult<Connector> {
        static UPSERT: Sql = Sql::fixed(
            "INSERT INTO connectors (workspace_id, name, provider, client_id, client_secret,
                 login_url, scopes, session_timeout_seconds, refresh_token_policy, created_at,
                 updated_at, generation)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                 1 + COALESCE((SELECT MAX(failed_connector_generation) FROM connections
                               WHERE workspace_id = ? AND connector = ?), 0))
             ON CONFLICT (workspace_id, name) DO UPDATE SET
                 provider = excluded.provider, client_id = excluded.client_id,
                 client_secret = excluded.client_secret, login_url = excluded.login_url,
                 scopes = excluded.scopes,
                 session_timeout_seconds = excluded.session_timeout_seconds,
                 refresh_token_policy = excluded.refresh_token_policy,
                 updated_at = excluded.updated_at, generation = connectors.generation + 1
             RETURNING created_at, updated_at, generation",
        );
        static POLICY: Sql = Sql::fixed(
            "SELECT refresh_token_policy FROM connectors WHERE workspace_id = ? AND name = ?",
        );
        static FORGET: Sql =
            Sql::fixed("DELETE FROM connector_evidence WHERE workspace_id = ? AND connector = ?");
        let record = connector_record(workspace, name);
        let sealed = self
            .vault
            .seal(input.client_secret.expose(), &record, "client_secret")?;
        let policy = json_text(input.refresh_token_policy.as_ref())?;
        // The read below decides a write: on SQLite a deferred transaction that read first
        // fails at once (SQLITE_BUSY) when another connection wrote meanwhile.
        let mut tx = DB::begin_rewrite(&self.pool).await?;
        let before = Statement::new(&POLICY)
            .bind(workspace.as_str())
            .bind(name.as_str())
            .fetch_optional(Exec::tx(&mut tx))
            .await?;
        // What was learned about the old policy says nothing about a newly declared one.
        if let Some(before) = before
            && before.opt_text("refresh_token_policy")? != policy
        {
            Statement::new(&FORGET)
                .bind(workspace.as_str())
                .bind(name.as_str())
                .execute(Exec::tx(&mut tx))
                .await?;
        }
        let row = Statement::new(&UPSERT)
            .bind(workspace.as_str())
            .bind(name.as_str())
            .bind(&input.provider)
            .bind(&input.client_id)
            .bind(sealed)
            .bind(&input.login_url)
            .bind(list_text(&input.scopes))
            .bind(input.session_timeout_seconds)
            .bind(policy)
            .bind(ms(now))
            .bind(ms(now))
            .bind(workspace.as_str())
            .bind(name.as_str())
            .fetch_one(Exec::tx(&mut tx))
            .await?;
        super::due_jobs::update_keepalive_interval(&mut tx, workspace, name).await?;
        tx.commit().await?;
        Ok(Connector {
            workspace_id: workspace.clone(),
            name: name.clone(),
            input: input.clone(),
            created_at: time(&row, "created_at")?,
            updated_at: time(&row, "updated_at")?,
            generation: row.int("generation")?,
        })
    }

    #[instrument(skip_all, fields(connector = %name))]
    async fn get_connector(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
    ) -> StoreResult<Option<Connector>> {
        static SELECT: Sql = Sql::built(|| {
            format!(
                "SELECT {CONNECTOR_COLUMNS} FROM connectors WHERE workspace_id = ? AND name = ?"
            )
        });
        let row = Statement::new(&SELECT)
            .bind(workspace.as_str())
            .bind(name.as_str())
            .fetch_optional(self.db())
            .await?;
        row.map(|row| rows::connector(&self.vault, &row))
            .transpose()
    }

    #[instrument(skip_all)]
    async fn list_connectors(&self, workspace: &WorkspaceId) -> StoreResult<Vec<Connector>> {
        static SELECT: Sql = Sql::built(|| {
            format!(
                "SELECT {CONNECTOR_COLUMNS} FROM connectors WHERE workspace_id = ? ORDER BY name"
            )
        });
        let found = Statement::new(&SELECT)
            .bind(workspace.as_str())
            .fetch_all(self.db())
            .await?;
        found
            .iter()
            .map(|row| rows::connector(&self.vault, row))
            .collect()
    }

    #[instrument(skip_all, fields(connector = %name))]
    async fn connector_evidence(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
    ) -> StoreResult<PolicyEvidence> {
        static SELECT: Sql = Sql::fixed(
            "SELECT evidence FROM connector_evidence WHERE workspace_id = ? AND connector = ?",
        );
        let row = Statement::new(&SELECT)
            .bind(workspace.as_str())
            .bind(name.as_str())
            .fetch_optional(self.db())
            .await?;
        Ok(match row {
            Some(row) => opt_json(&row, "evidence")?.unwrap_or_default(),
            None => PolicyEvidence::default(),
        })
    }

    #[instrument(skip_all, fields(connector = %name))]
    async fn delete_connector(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
    ) -> StoreResult<ConnectorDeletion> {
        static DELETE: Sql = Sql::fixed(
            "DELETE FROM connectors WHERE workspace_id = ? AND name = ?
               AND NOT EXISTS (SELECT 1 FROM connections
                               WHERE workspace_id = ? AND connector = ?
                                 AND status <> 'disconnected')",
        );
        static IN_USE: Sql = Sql::fixed(
            "SELECT COUNT(*) AS in_use FROM connections
             WHERE workspace_id = ? AND connector = ? AND status <> 'disconnected'",
        );
        let deleted = Statement::new(&DELETE)
            .bind(workspace.as_str())
            .bind(name.as_str())
            .bind(workspace.as_str())
            .bind(name.as_str())
            .execute(self.db())
            .await?;
        if deleted > 0 {
            return Ok(ConnectorDeletion::Deleted);
        }
        let row = Statement::new(&IN_USE)
            .bind(workspace.as_str())
            .bind(name.as_str())
            .fetch_one(self.db())
            .await?;
        Ok(match row.int("in_use")? {
            0 => ConnectorDeletion::NotFound,
            n => ConnectorDeletion::InUse(n),
        })
    }
}
