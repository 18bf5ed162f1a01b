//! Connectors: one row per workspace and name, the client secret and the JWT bearer keys
//! sealed.

use chrono::{DateTime, Utc};
use tether_core::diagnosis::PolicyEvidence;
use tether_core::ids::{ConnectorName, WorkspaceId};
use tether_core::refresh::Grant;

use async_trait::async_trait;
use tracing::instrument;

use super::SqlStore;
use crate::codec::{Columns, json_text, list_text, ms, opt_json};
use crate::rows::{self, CONNECTOR_COLUMNS, connector_record};
use crate::sql::{Backend, Exec, FOR_UPDATE, Sql, Statement};
use crate::{Connector, ConnectorDeletion, ConnectorInput, Connectors, JwtKeyPair, StoreResult};

#[async_trait]
impl<DB: Backend> Connectors for SqlStore<DB> {
    /// A new connector starts above any generation a connection remembers failing at (a
    /// connector deleted and created again counts as changed); an update adds one.
    #[instrument(skip_all, fields(connector = %name))]
    async fn put_connector(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
        input: &ConnectorInput,
        new_key: Option<&JwtKeyPair>,
        now: DateTime<Utc>,
    ) -> StoreResult<Connector> {
        // `KEEPS_KEY`: the row is and stays a JWT bearer connector with a key (SET expressions
        // read the row as it was).
        static UPSERT: Sql = Sql::built(|| {
            const KEEPS_KEY: &str = "excluded.grant_type = 'jwt_bearer'
                 AND connectors.grant_type = 'jwt_bearer'
                 AND connectors.jwt_private_key IS NOT NULL";
            format!(
                "INSERT INTO connectors (workspace_id, name, provider, grant_type, client_id,
                     client_secret, allowed_usernames, login_url, scopes,
                     session_timeout_seconds, refresh_token_policy, jwt_private_key,
                     jwt_certificate, created_at, updated_at, generation)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                     1 + COALESCE((SELECT MAX(failed_connector_generation) FROM connections
                                   WHERE workspace_id = ? AND connector = ?), 0))
                 ON CONFLICT (workspace_id, name) DO UPDATE SET
                     provider = excluded.provider, grant_type = excluded.grant_type,
                     client_id = excluded.client_id, client_secret = excluded.client_secret,
                     allowed_usernames = excluded.allowed_usernames,
                     login_url = excluded.login_url, scopes = excluded.scopes,
                     session_timeout_seconds = excluded.session_timeout_seconds,
                     refresh_token_policy = excluded.refresh_token_policy,
                     jwt_private_key = CASE WHEN {KEEPS_KEY} THEN connectors.jwt_private_key
                                       ELSE excluded.jwt_private_key END,
                     jwt_certificate = CASE WHEN {KEEPS_KEY} THEN connectors.jwt_certificate
                                       ELSE excluded.jwt_certificate END,
                     jwt_pending_private_key = CASE WHEN {KEEPS_KEY}
                         THEN connectors.jwt_pending_private_key END,
                     jwt_pending_certificate = CASE WHEN {KEEPS_KEY}
                         THEN connectors.jwt_pending_certificate END,
                     updated_at = excluded.updated_at, generation = connectors.generation + 1
                 RETURNING {CONNECTOR_COLUMNS}"
            )
        });
        static POLICY: Sql = Sql::fixed(
            "SELECT refresh_token_policy FROM connectors WHERE workspace_id = ? AND name = ?",
        );
        static FORGET: Sql =
            Sql::fixed("DELETE FROM connector_evidence WHERE workspace_id = ? AND connector = ?");
        let record = connector_record(workspace, name);
        let sealed_secret = input
            .client_secret
            .as_ref()
            .map(|secret| self.vault.seal(secret.expose(), &record, "client_secret"))
            .transpose()?;
        let jwt_key = new_key.filter(|_| input.grant == Grant::JwtBearer);
        let sealed_key = jwt_key
            .map(|key| {
                self.vault
                    .seal(key.private_key.expose(), &record, "jwt_private_key")
            })
            .transpose()?;
        let policy = json_text(input.refresh_token_policy.as_ref())?;
        // The read below decides a write: on SQLite a deferred transaction that read first
        // fails at once (SQLITE_BUSY) when another connection wrote meanwhile.
        let mut tx = DB::begin_rewrite(&self.pool).await?;
        let before = by_name(&POLICY, workspace, name)
            .fetch_optional(Exec::tx(&mut tx))
            .await?;
        // What was learned about the old policy says nothing about a newly declared one.
        if let Some(before) = before
            && before.opt_text("refresh_token_policy")? != policy
        {
            by_name(&FORGET, workspace, name)
                .execute(Exec::tx(&mut tx))
                .await?;
        }
        let row = by_name(&UPSERT, workspace, name)
            .bind(&input.provider)
            .bind(input.grant.as_str())
            .bind(&input.client_id)
            .bind(sealed_secret)
            .bind(json_text(input.allowed_usernames.as_ref())?)
            .bind(&input.login_url)
            .bind(list_text(&input.scopes))
            .bind(input.session_timeout_seconds)
            .bind(policy)
            .bind(sealed_key)
            .bind(jwt_key.map(|key| key.certificate_pem.clone()))
            .bind(ms(now))
            .bind(ms(now))
            .bind(workspace.as_str())
            .bind(name.as_str())
            .fetch_one(Exec::tx(&mut tx))
            .await?;
        super::due_jobs::update_keepalive_interval(&mut tx, workspace, name).await?;
        tx.commit().await?;
        rows::connector(&self.vault, &row)
    }

    #[instrument(skip_all, fields(connector = %name))]
    async fn set_pending_jwt_key(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
        key: &JwtKeyPair,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Connector>> {
        static PENDING: Sql = Sql::built(|| {
            format!(
                "UPDATE connectors SET jwt_pending_private_key = ?, jwt_pending_certificate = ?,
                     updated_at = ?
                 WHERE workspace_id = ? AND name = ? AND grant_type = 'jwt_bearer'
                 RETURNING {CONNECTOR_COLUMNS}"
            )
        });
        let record = connector_record(workspace, name);
        let sealed =
            self.vault
                .seal(key.private_key.expose(), &record, "jwt_pending_private_key")?;
        let row = Statement::new(&PENDING)
            .bind(sealed)
            .bind(key.certificate_pem.clone())
            .bind(ms(now))
            .bind(workspace.as_str())
            .bind(name.as_str())
            .fetch_optional(self.db())
            .await?;
        self.opt_connector(row)
    }

    /// The pending key is sealed for its own column: it is opened and sealed again for the
    /// signing key's, in the transaction that moves it.
    #[instrument(skip_all, fields(connector = %name))]
    async fn activate_pending_jwt_key(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Connector>> {
        static READ: Sql = Sql::built(|| {
            format!(
                "SELECT jwt_pending_private_key, jwt_pending_certificate FROM connectors
                 WHERE workspace_id = ? AND name = ? AND grant_type = 'jwt_bearer'
                   AND jwt_pending_private_key IS NOT NULL{FOR_UPDATE}"
            )
        });
        static ACTIVATE: Sql = Sql::built(|| {
            format!(
                "UPDATE connectors SET jwt_private_key = ?, jwt_certificate = ?,
                     jwt_pending_private_key = NULL, jwt_pending_certificate = NULL,
                     updated_at = ?, generation = generation + 1
                 WHERE workspace_id = ? AND name = ?
                 RETURNING {CONNECTOR_COLUMNS}"
            )
        });
        let record = connector_record(workspace, name);
        let mut tx = DB::begin_rewrite(&self.pool).await?;
        let Some(pending) = by_name(&READ, workspace, name)
            .fetch_optional(Exec::tx(&mut tx))
            .await?
        else {
            return Ok(None);
        };
        let key = self.vault.open(
            &pending.bytes("jwt_pending_private_key")?,
            &record,
            "jwt_pending_private_key",
        )?;
        let sealed = self.vault.seal(&key, &record, "jwt_private_key")?;
        let row = Statement::new(&ACTIVATE)
            .bind(sealed)
            .bind(pending.text("jwt_pending_certificate")?)
            .bind(ms(now))
            .bind(workspace.as_str())
            .bind(name.as_str())
            .fetch_one(Exec::tx(&mut tx))
            .await?;
        tx.commit().await?;
        rows::connector(&self.vault, &row).map(Some)
    }

    #[instrument(skip_all, fields(connector = %name))]
    async fn get_connector(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
    ) -> StoreResult<Option<Connector>> {
        static SELECT: Sql = Sql::built(|| select_connectors("workspace_id = ? AND name = ?"));
        let row = by_name(&SELECT, workspace, name)
            .fetch_optional(self.db())
            .await?;
        self.opt_connector(row)
    }

    #[instrument(skip_all)]
    async fn list_connectors(&self, workspace: &WorkspaceId) -> StoreResult<Vec<Connector>> {
        static SELECT: Sql = Sql::built(|| select_connectors("workspace_id = ? ORDER BY name"));
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
        let row = by_name(&SELECT, workspace, name)
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
        let deleted = by_name(&DELETE, workspace, name)
            .bind(workspace.as_str())
            .bind(name.as_str())
            .execute(self.db())
            .await?;
        if deleted > 0 {
            return Ok(ConnectorDeletion::Deleted);
        }
        let row = by_name(&IN_USE, workspace, name)
            .fetch_one(self.db())
            .await?;
        Ok(match row.int("in_use")? {
            0 => ConnectorDeletion::NotFound,
            n => ConnectorDeletion::InUse(n),
        })
    }
}

impl<DB: Backend> SqlStore<DB> {
    /// The connector of a row that may be missing.
    fn opt_connector(&self, row: Option<DB::Row>) -> StoreResult<Option<Connector>> {
        row.map(|row| rows::connector(&self.vault, &row))
            .transpose()
    }
}

/// `sql` with the connector's key bound to its first two placeholders.
pub(super) fn by_name<'a, DB: Backend>(
    sql: &'static Sql,
    workspace: &'a WorkspaceId,
    name: &'a ConnectorName,
) -> Statement<'a, DB> {
    Statement::new(sql)
        .bind(workspace.as_str())
        .bind(name.as_str())
}

/// A SELECT of whole connector rows matching `clause`.
fn select_connectors(clause: &str) -> String {
    format!("SELECT {CONNECTOR_COLUMNS} FROM connectors WHERE {clause}")
}
