//! Connect sessions: pending connect and reconnect flows, keyed by the SHA-256 of their
//! `state`, used at most once and never after they expire. The PKCE verifier is sealed.

use chrono::{DateTime, Utc};
use tether_core::ids::ConnectSessionId;

use async_trait::async_trait;
use tracing::instrument;

use super::{SqlStore, purging};
use crate::ConnectSessions;
use crate::codec::{Columns, ms};
use crate::rows::{self, SESSION_COLUMNS};
use crate::sql::{Backend, Sql, Statement};
use crate::{ConnectSession, ConsumeOutcome, StoreResult};

#[async_trait]
impl<DB: Backend> ConnectSessions for SqlStore<DB> {
    #[instrument(skip_all)]
    async fn insert_connect_session(&self, session: &ConnectSession) -> StoreResult<()> {
        static INSERT: Sql = Sql::built(|| {
            format!(
                "INSERT INTO connect_sessions ({SESSION_COLUMNS})
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            )
        });
        let record = session.id.as_str();
        let verifier = self
            .vault
            .seal(session.pkce_verifier.expose(), record, "pkce_verifier")?;
        let insert = Statement::new(&INSERT)
            .bind(record)
            .bind(session.workspace_id.as_str())
            .bind(session.connector.as_str())
            .bind(session.end_user_id.as_str())
            .bind(session.redirect_to.as_deref())
            .bind(&session.state_sha256[..])
            .bind(verifier)
            .bind(session.reconnect_of.as_ref().map(|c| c.as_str()))
            .bind(session.allow_different_account)
            .bind(ms(session.created_at))
            .bind(ms(session.expires_at));
        self.insert_new(insert, "connect session id or state already exists")
            .await
    }

    #[instrument(skip_all)]
    async fn get_connect_session(
        &self,
        session: &ConnectSessionId,
    ) -> StoreResult<Option<ConnectSession>> {
        static SELECT: Sql =
            Sql::built(|| format!("SELECT {SESSION_COLUMNS} FROM connect_sessions WHERE id = ?"));
        let row = self.row_by_key(&SELECT, session.as_str()).await?;
        row.map(|row| rows::connect_session(&self.vault, &row))
            .transpose()
    }

    /// One conditional UPDATE claims the session; only when it claims nothing does a second
    /// read tell why.
    #[instrument(skip_all)]
    async fn consume_connect_session(
        &self,
        state_sha256: &[u8; 32],
        now: DateTime<Utc>,
    ) -> StoreResult<ConsumeOutcome> {
        static CLAIM: Sql = Sql::built(|| {
            format!(
                "UPDATE connect_sessions SET consumed_at = ?
                 WHERE state_sha256 = ? AND consumed_at IS NULL AND expires_at > ?
                 RETURNING {SESSION_COLUMNS}"
            )
        });
        static SEEN: Sql =
            Sql::fixed("SELECT consumed_at FROM connect_sessions WHERE state_sha256 = ?");
        let claimed = Statement::new(&CLAIM)
            .bind(ms(now))
            .bind(&state_sha256[..])
            .bind(ms(now))
            .fetch_optional(self.db())
            .await?;
        if let Some(row) = claimed {
            return Ok(ConsumeOutcome::Consumed(rows::connect_session(
                &self.vault,
                &row,
            )?));
        }
        let seen = Statement::new(&SEEN)
            .bind(&state_sha256[..])
            .fetch_optional(self.db())
            .await?;
        Ok(match seen {
            None => ConsumeOutcome::Unknown,
            Some(row) if row.opt_int("consumed_at")?.is_some() => ConsumeOutcome::AlreadyUsed,
            Some(_) => ConsumeOutcome::Expired,
        })
    }

    #[instrument(skip_all)]
    async fn purge_connect_sessions(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<u64> {
        static PURGE: Sql =
            Sql::built(|| purging("connect_sessions", "id", "expires_at < ?", "expires_at"));
        self.purge(&PURGE, before, limit).await
    }
}
