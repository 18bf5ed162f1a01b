//! Connect sessions: pending connect and reconnect flows, keyed by the SHA-256 of their
//! `state`, used at most once and never after they expire. The PKCE verifier is sealed.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use tether_core::ids::ConnectSessionId;
use tether_core::secret::PkceVerifier;

use super::SqliteStore;
use super::codec::{conflict, digest, id, ms, opt_id, time};
use crate::{ConnectSession, ConsumeOutcome, StoreResult};

const COLUMNS: &str = "id, workspace_id, connector, end_user_id, redirect_to, state_sha256,
     pkce_verifier, reconnect_of, allow_different_account, created_at, expires_at";

impl SqliteStore {
    pub(super) async fn insert_connect_session_row(
        &self,
        session: &ConnectSession,
    ) -> StoreResult<()> {
        let record = session.id.as_str();
        let verifier = self.seal(session.pkce_verifier.expose(), record, "pkce_verifier")?;
        sqlx::query(&format!(
            "INSERT INTO connect_sessions ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
            "SELECT {COLUMNS} FROM connect_sessions WHERE id = ?"
        ))
        .bind(session.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| self.connect_session(&row)).transpose()
    }

    /// One conditional UPDATE claims the session; only when it claims nothing does a second
    /// read tell why.
    pub(super) async fn consume_connect_session_row(
        &self,
        state_sha256: &[u8; 32],
        now: DateTime<Utc>,
    ) -> StoreResult<ConsumeOutcome> {
        let claimed = sqlx::query(&format!(
            "UPDATE connect_sessions SET consumed_at = ?
             WHERE state_sha256 = ? AND consumed_at IS NULL AND expires_at > ?
             RETURNING {COLUMNS}"
        ))
        .bind(ms(now))
        .bind(&state_sha256[..])
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = claimed {
            return Ok(ConsumeOutcome::Consumed(self.connect_session(&row)?));
        }
        let seen = sqlx::query("SELECT consumed_at FROM connect_sessions WHERE state_sha256 = ?")
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

    fn connect_session(&self, row: &SqliteRow) -> StoreResult<ConnectSession> {
        let session_id: ConnectSessionId = id(row, "id")?;
        let sealed: Vec<u8> = row.try_get("pkce_verifier")?;
        let verifier = self.open(&sealed, session_id.as_str(), "pkce_verifier")?;
        Ok(ConnectSession {
            id: session_id,
            workspace_id: id(row, "workspace_id")?,
            connector: id(row, "connector")?,
            end_user_id: id(row, "end_user_id")?,
            redirect_to: row.try_get("redirect_to")?,
            state_sha256: digest(row, "state_sha256")?,
            pkce_verifier: PkceVerifier::new(verifier),
            reconnect_of: opt_id(row, "reconnect_of")?,
            allow_different_account: row.try_get("allow_different_account")?,
            created_at: time(row, "created_at")?,
            expires_at: time(row, "expires_at")?,
        })
    }
}
