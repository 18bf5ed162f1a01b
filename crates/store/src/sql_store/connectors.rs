//! Connectors: one row per workspace and name, the client secret sealed.

use chrono::{DateTime, Utc};
use tether_core::ids::{ConnectorName, WorkspaceId};

use super::SqlStore;
use crate::codec::{Columns, json_text, list_text, ms, time};
use crate::rows::{self, CONNECTOR_COLUMNS, connector_record};
use crate::sql::{Backend, Sql, Statement};
use crate::{Connector, ConnectorInput, StoreResult};

impl<DB: Backend> SqlStore<DB> {
    /// A new connector starts above any generation a connection remembers failing at (a
    /// connector deleted and created again counts as changed); an update adds one.
    pub(super) async fn upsert_connector_row(
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
        let record = connector_record(workspace, name);
        let sealed = self
            .vault
            .seal(input.client_secret.expose(), &record, "client_secret")?;
        let row = Statement::new(&UPSERT)
            .bind(workspace.as_str())
            .bind(name.as_str())
            .bind(&input.provider)
            .bind(&input.client_id)
            .bind(sealed)
            .bind(&input.login_url)
            .bind(list_text(&input.scopes))
            .bind(input.session_timeout_seconds)
            .bind(json_text(input.refresh_token_policy.as_ref()))
            .bind(ms(now))
            .bind(ms(now))
            .bind(workspace.as_str())
            .bind(name.as_str())
            .fetch_one(self.db())
            .await?;
        Ok(Connector {
            workspace_id: workspace.clone(),
            name: name.clone(),
            input: input.clone(),
            created_at: time(&row, "created_at")?,
            updated_at: time(&row, "updated_at")?,
            generation: row.int("generation")?,
        })
    }

    pub(super) async fn get_connector_row(
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

    pub(super) async fn list_connector_rows(
        &self,
        workspace: &WorkspaceId,
    ) -> StoreResult<Vec<Connector>> {
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

    pub(super) async fn delete_connector_row(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
    ) -> StoreResult<bool> {
        static DELETE: Sql =
            Sql::fixed("DELETE FROM connectors WHERE workspace_id = ? AND name = ?");
        let deleted = Statement::new(&DELETE)
            .bind(workspace.as_str())
            .bind(name.as_str())
            .execute(self.db())
            .await?;
        Ok(deleted > 0)
    }
}
