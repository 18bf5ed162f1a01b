//! Sign-ins to the connectors page: one row per session, keyed by the SHA-256 of the nonce
//! its signed cookie carries. Signing out deletes the row, so a copied cookie stops working
//! on every instance at once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tether_core::ids::WorkspaceId;
use tracing::instrument;

use super::{SqlStore, purging};
use crate::StoreResult;
use crate::codec::ms;
use crate::sql::{Backend, Sql, Statement};
use crate::{PageSession, PageSessions};

#[async_trait]
impl<DB: Backend> PageSessions for SqlStore<DB> {
    #[instrument(skip_all)]
    async fn insert_page_session(&self, session: &PageSession) -> StoreResult<()> {
        static INSERT: Sql = Sql::fixed(
            "INSERT INTO page_sessions (nonce_sha256, workspace_id, created_at, expires_at)
             VALUES (?, ?, ?, ?)",
        );
        Statement::new(&INSERT)
            .bind(&session.nonce_sha256[..])
            .bind(session.workspace_id.as_str())
            .bind(ms(session.created_at))
            .bind(ms(session.expires_at))
            .execute(self.db())
            .await?;
        Ok(())
    }

    #[instrument(skip_all)]
    async fn page_session_live(
        &self,
        nonce_sha256: &[u8; 32],
        workspace: &WorkspaceId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        static LIVE: Sql = Sql::fixed(
            "SELECT 1 AS live FROM page_sessions
             WHERE nonce_sha256 = ? AND workspace_id = ? AND expires_at > ?",
        );
        let row = Statement::new(&LIVE)
            .bind(&nonce_sha256[..])
            .bind(workspace.as_str())
            .bind(ms(now))
            .fetch_optional(self.db())
            .await?;
        Ok(row.is_some())
    }

    #[instrument(skip_all)]
    async fn end_page_session(&self, nonce_sha256: &[u8; 32]) -> StoreResult<()> {
        static END: Sql = Sql::fixed("DELETE FROM page_sessions WHERE nonce_sha256 = ?");
        Statement::new(&END)
            .bind(&nonce_sha256[..])
            .execute(self.db())
            .await?;
        Ok(())
    }

    #[instrument(skip_all)]
    async fn purge_page_sessions(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<u64> {
        static PURGE: Sql = Sql::built(|| {
            purging(
                "page_sessions",
                "nonce_sha256",
                "expires_at < ?",
                "expires_at",
            )
        });
        self.purge(&PURGE, before, limit).await
    }
}
