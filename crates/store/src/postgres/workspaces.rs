//! Workspaces and API keys (stored as the SHA-256 of their secret half only).

use chrono::{DateTime, Utc};
use tether_core::ids::{ApiKeyId, WorkspaceId, WorkspaceName};

use super::PgStore;
use crate::codec::{conflict, ms};
use crate::rows::{self, API_KEY_COLUMNS, WORKSPACE_COLUMNS};
use crate::{ApiKeyRecord, StoreResult, Workspace};

impl PgStore {
    pub(super) async fn ensure_workspace_row(
        &self,
        name: &WorkspaceName,
        now: DateTime<Utc>,
    ) -> StoreResult<Workspace> {
        sqlx::query(
            "INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(WorkspaceId::generate().as_str())
        .bind(name.as_str())
        .bind(ms(now))
        .execute(&self.pool)
        .await?;
        let row = sqlx::query(&format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE name = $1"
        ))
        .bind(name.as_str())
        .fetch_one(&self.pool)
        .await?;
        rows::workspace(&row)
    }

    pub(super) async fn insert_api_key_row(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES ($1, $2, $3, $4)"
        ))
        .bind(key.id.as_str())
        .bind(key.workspace_id.as_str())
        .bind(&key.secret_sha256[..])
        .bind(ms(key.created_at))
        .execute(&self.pool)
        .await
        .map_err(conflict("api key id already exists"))?;
        Ok(())
    }

    pub(super) async fn find_api_key_row(
        &self,
        key: &ApiKeyId,
    ) -> StoreResult<Option<ApiKeyRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE id = $1"
        ))
        .bind(key.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::api_key).transpose()
    }
}
