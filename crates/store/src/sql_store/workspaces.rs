//! Workspaces and API keys (stored as the SHA-256 of their secret half only).

use chrono::{DateTime, Utc};
use tether_core::ids::{ApiKeyId, WorkspaceId, WorkspaceName};

use async_trait::async_trait;
use tracing::instrument;

use super::SqlStore;
use crate::Workspaces;
use crate::codec::ms;
use crate::rows::{self, API_KEY_COLUMNS, WORKSPACE_COLUMNS};
use crate::sql::{Backend, Sql, Statement};
use crate::{ApiKeyRecord, StoreResult, Workspace};

#[async_trait]
impl<DB: Backend> Workspaces for SqlStore<DB> {
    #[instrument(skip_all)]
    async fn ensure_workspace(
        &self,
        name: &WorkspaceName,
        now: DateTime<Utc>,
    ) -> StoreResult<Workspace> {
        static INSERT: Sql = Sql::fixed(
            "INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)
             ON CONFLICT (name) DO NOTHING",
        );
        static SELECT: Sql =
            Sql::built(|| format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE name = ?"));
        Statement::new(&INSERT)
            .bind(WorkspaceId::generate().as_str())
            .bind(name.as_str())
            .bind(ms(now))
            .execute(self.db())
            .await?;
        let row = Statement::new(&SELECT)
            .bind(name.as_str())
            .fetch_one(self.db())
            .await?;
        rows::workspace(&row)
    }

    #[instrument(skip_all)]
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        static INSERT: Sql =
            Sql::built(|| format!("INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES (?, ?, ?, ?)"));
        let insert = Statement::new(&INSERT)
            .bind(key.id.as_str())
            .bind(key.workspace_id.as_str())
            .bind(&key.secret_sha256[..])
            .bind(ms(key.created_at));
        self.insert_new(insert, "api key id already exists").await
    }

    #[instrument(skip_all)]
    async fn find_api_key(&self, key: &ApiKeyId) -> StoreResult<Option<ApiKeyRecord>> {
        static SELECT: Sql =
            Sql::built(|| format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = ?"));
        let row = self.row_by_key(&SELECT, key.as_str()).await?;
        row.as_ref().map(rows::api_key).transpose()
    }
}
