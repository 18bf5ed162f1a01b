//! Connect sessions: pending connect and reconnect flows, keyed by the SHA-256 of their
//! `state`, used at most once and never after they expire. The PKCE verifier is sealed.

use chrono::{DateTime, Utc};
use sqlx::Row;
use tether_core::ids::ConnectSessionId;

use super::PgStore;
use crate::codec::{conflict, ms};
use crate::rows::{self, SESSION_COLUMNS};
use crate::{ConnectSession, ConsumeOutcome, StoreResult};

impl PgStore {
    pub(super) async fn insert_connect_session_row(
        &self,
        session: &ConnectSession,
    ) -> StoreResult<()> {
        let record = session.id.as_str();
        let verifier = self
            .vault
            .seal(session.pkce_verifier.expose(), record, "pkce_verifier")?;
        sqlx::query(&format!(
            "INSERT INTO connect_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
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
        .bind(ms(session.expires_at))
        .execute(&self.pool)
        .await
        .map_err(conflict("connect session id or state already exists"))?;
        Ok(())
    }

    pub(super) async fn get_connect_session_row(
        &self,
        session: &ConnectSessionId,
    ) -> StoreResult<Option<ConnectSession>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM connect_sessions WHERE id = $1"
        ))
        .bind(session.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| rows::connect_session(&self.vault, &row))
            .transpose()
    }

    /// One conditional UPDATE claims the session; only when it claims nothing does a second
    /// read tell why.
    pub(super) async fn consume_connect_session_row(
        &self,
        state_sha256: &[u8; 32],
        now: DateTime<Utc>,
    ) -> StoreResult<ConsumeOutcome> {
        let claimed = sqlx::query(&format!(
            "UPDATE connect_sessions SET consumed_at = $1
             WHERE state_sha256 = $2 AND consumed_at IS NULL AND expires_at > $3
             RETURNING {SESSION_COLUMNS}"
        ))
        .bind(ms(now))
        .bind(&state_sha256[..])
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = claimed {
            return Ok(ConsumeOutcome::Consumed(rows::connect_session(
                &self.vault,
                &row,
            )?));
        }
        let seen = sqlx::query("SELECT consumed_at FROM connect_sessions WHERE state_sha256 = $1")
            .bind(&state_sha256[..])
            .fetch_optional(&self.pool)
            .await?;
        Ok(match seen {
            None => ConsumeOutcome::Unknown,
            Some(row) if row.try_get::<Option<i64>, _>("consumed_at")?.is_some() => {
                ConsumeOutcome::AlreadyUsed
            }
            Some(_) => ConsumeOutcome::Expired,
        })
    }
}
