//! The durable refresh protocol on a connection row (ARCHITECTURE.md, "Durability").
//!
//! - One read gives everything a refresh needs: the connection, its token and refresh token
//!   as of one `token_version`, and its connector (a join).
//! - The lease is taken by one conditional UPDATE that also writes the attempt's write-ahead
//!   record (`attempt_*`), timed by the database's clock. If the previous attempt on the same
//!   token version never landed (its process died, or stalled past its lease), the record is
//!   still there: the same UPDATE moves its start into `unanswered_attempt_at`, the evidence
//!   that a rotated refresh token may have been lost.
//! - The holder renews the lease while it works; the outcome lands in one transaction with
//!   its events, fenced by the token version the attempt started from, clearing the record
//!   and the lease. A disconnected connection is never brought back by a late refresh.

use std::time::Duration;

use async_trait::async_trait;
use tether_core::ids::{ConnectionId, ConnectorName, WorkspaceId};
use tether_core::secret::RefreshToken;
use tracing::instrument;

use super::{SqlStore, events};
use crate::codec::{
    Columns, Prefixed, json_text, millis, ms, opt_json, opt_ms, opt_time, qualified,
};
use crate::rows::{self, CONNECTION_COLUMNS, CONNECTOR_COLUMNS};
use crate::sql::{Backend, Exec, FOR_UPDATE, Sql, Statement};
use crate::{
    AttemptStart, EvidenceChange, FailureUpdate, Landing, RefreshContext, RefreshOutcome,
    Refreshes, StoreResult, TokenSet,
};
use tether_core::diagnosis::PolicyEvidence;

/// How often `begin_attempt` tries when the lease lapses while it looks.
const BEGIN_TRIES: usize = 3;

/// Connector columns in the context join are read as `k_{column}`.
const CONNECTOR_PREFIX: &str = "k_";

#[async_trait]
impl<DB: Backend> Refreshes for SqlStore<DB> {
    #[instrument(skip_all, fields(connection = %id))]
    async fn refresh_context(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<RefreshContext>> {
        static SELECT: Sql = Sql::built(|| {
            format!(
                "SELECT {}, c.access_token, c.token_issued_at, c.refresh_at, c.token_version,
                        c.refresh_token, {}, e.evidence
                 FROM connections c
                 JOIN connectors k ON k.workspace_id = c.workspace_id AND k.name = c.connector
                 LEFT JOIN connector_evidence e
                        ON e.workspace_id = c.workspace_id AND e.connector = c.connector
                 WHERE c.id = ? AND c.workspace_id = ?",
                qualified(CONNECTION_COLUMNS, "c", None),
                qualified(CONNECTOR_COLUMNS, "k", Some(CONNECTOR_PREFIX)),
            )
        });
        let Some(row) = self.workspace_row(&SELECT, workspace, id.as_str()).await? else {
            return Ok(None);
        };
        let sealed_refresh = row.opt_bytes("refresh_token")?;
        let refresh_token = self
            .vault
            .open_opt(sealed_refresh.as_deref(), id.as_str(), "refresh_token")?
            .map(RefreshToken::new);
        let connector = Prefixed {
            row: &row,
            prefix: CONNECTOR_PREFIX,
        };
        Ok(Some(RefreshContext {
            connection: rows::connection(&row)?,
            token: rows::current_token(&self.vault, &row)?,
            refresh_token,
            connector: rows::connector(&self.vault, &connector)?,
            evidence: opt_json(&row, "evidence")?.unwrap_or_default(),
        }))
    }

    #[instrument(skip_all, fields(connection = %id, version))]
    async fn begin_attempt(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        owner: &str,
        version: i64,
        lease: Duration,
    ) -> StoreResult<AttemptStart> {
        static BEGIN: Sql = Sql::fixed(
            "UPDATE connections SET
                 unanswered_attempt_at = CASE
                     WHEN attempt_owner IS NOT NULL AND attempt_version = token_version
                     THEN attempt_started_at ELSE unanswered_attempt_at END,
                 lease_owner = ?, lease_until = DB_NOW_MS() + ?,
                 attempt_owner = ?, attempt_version = token_version,
                 attempt_started_at = DB_NOW_MS()
             WHERE id = ? AND workspace_id = ? AND token_version = ?
               AND status <> 'disconnected'
               AND (lease_owner IS NULL OR lease_until <= DB_NOW_MS())
             RETURNING unanswered_attempt_at, attempt_started_at",
        );
        static WHY_NOT: Sql = Sql::fixed(
            "SELECT token_version, status,
                    CAST(CASE WHEN lease_owner IS NOT NULL AND lease_until > DB_NOW_MS()
                              THEN 1 ELSE 0 END AS BIGINT) AS held
             FROM connections WHERE id = ? AND workspace_id = ?",
        );
        // Between the UPDATE that found the lease held and the SELECT that says why, the
        // lease may lapse: then the UPDATE is simply tried again.
        for _ in 0..BEGIN_TRIES {
            let started = Statement::new(&BEGIN)
                .bind(owner)
                .bind(millis(lease))
                .bind(owner)
                .bind_record(workspace, id.as_str())
                .bind(version)
                .fetch_optional(self.db())
                .await?;
            if let Some(row) = started {
                return Ok(AttemptStart::Started {
                    unanswered_since: opt_time(&row, "unanswered_attempt_at")?,
                });
            }
            let row = Statement::new(&WHY_NOT)
                .bind_record(workspace, id.as_str())
                .fetch_optional(self.db())
                .await?;
            let Some(row) = row else {
                return Ok(AttemptStart::Moved);
            };
            if row.int("token_version")? != version || row.text("status")? == "disconnected" {
                return Ok(AttemptStart::Moved);
            }
            if row.int("held")? == 1 {
                return Ok(AttemptStart::Held);
            }
        }
        Ok(AttemptStart::Held)
    }

    #[instrument(skip_all, fields(connection = %id))]
    async fn renew_lease(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        owner: &str,
        lease: Duration,
    ) -> StoreResult<bool> {
        static RENEW: Sql = Sql::fixed(
            "UPDATE connections SET lease_until = DB_NOW_MS() + ?
             WHERE id = ? AND workspace_id = ? AND lease_owner = ?",
        );
        let renewed = Statement::new(&RENEW)
            .bind(millis(lease))
            .bind_record(workspace, id.as_str())
            .bind(owner)
            .execute(self.db())
            .await?;
        Ok(renewed == 1)
    }

    #[instrument(skip_all, fields(connection = %id, version))]
    async fn land_refresh(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        owner: &str,
        version: i64,
        landing: &Landing,
    ) -> StoreResult<bool> {
        let update = match &landing.outcome {
            RefreshOutcome::Refreshed { tokens, now } => {
                let warned = landing
                    .events
                    .iter()
                    .any(|e| e.kind == tether_core::event::EventKind::LifetimeWarning);
                self.success_statement(id, owner, tokens, ms(*now), warned)?
            }
            RefreshOutcome::Failed(failure) => self.failure_statement(id, owner, failure)?,
        };
        let update = update.bind_record(workspace, id.as_str()).bind(version);
        let mut tx = self.pool.begin().await?;
        // The connection's UPDATE comes first, so SQLite's write lock is held from here on
        // and the evidence's read-modify-write below cannot interleave with another writer.
        let landed = update.execute(Exec::tx(&mut tx)).await? == 1;
        if landed {
            events::insert_all::<DB>(&mut tx, &landing.events).await?;
            if let Some((connector, change)) = &landing.evidence {
                update_evidence(&mut tx, workspace, connector, *change).await?;
            }
        } else {
            release(Exec::tx(&mut tx), workspace, id, owner).await?;
        }
        tx.commit().await?;
        Ok(landed)
    }

    #[instrument(skip_all, fields(connection = %id, version))]
    async fn adjust_expiry(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        version: i64,
        tokens: &TokenSet,
    ) -> StoreResult<bool> {
        static ADJUST: Sql = Sql::fixed(
            "UPDATE connections SET access_token_expires_at = ?, refresh_at = ?
             WHERE id = ? AND workspace_id = ? AND token_version = ?",
        );
        let adjusted = Statement::new(&ADJUST)
            .bind(ms(tokens.expires_at))
            .bind(ms(tokens.refresh_at))
            .bind_record(workspace, id.as_str())
            .bind(version)
            .execute(self.db())
            .await?;
        Ok(adjusted == 1)
    }

    #[instrument(skip_all, fields(connection = %id))]
    async fn abandon_attempt(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        owner: &str,
    ) -> StoreResult<()> {
        release(self.db(), workspace, id, owner).await
    }
}

impl<DB: Backend> SqlStore<DB> {
    /// The UPDATE of a successful refresh, up to its `WHERE` parameters (id, workspace,
    /// version). The refresh token is replaced only when the provider rotated it; the
    /// approval time stays (a rotation is not a new approval).
    fn success_statement<'a>(
        &self,
        id: &ConnectionId,
        owner: &str,
        tokens: &TokenSet,
        now_ms: i64,
        warned: bool,
    ) -> StoreResult<Statement<'a, DB>> {
        static SUCCESS: Sql = Sql::built(|| {
            format!(
            "UPDATE connections SET access_token = ?, refresh_token = COALESCE(?, refresh_token),
                 token_issued_at = ?, access_token_expires_at = ?, refresh_at = ?,
                 instance_url = COALESCE(?, instance_url), status = 'active',
                 status_reason = NULL, diagnosis = NULL, refresh_failures = 0,
                 next_retry_at = NULL, failed_connector_generation = NULL,
                 token_version = token_version + 1, last_refreshed_at = ?,
                 rotation_seen = CASE WHEN ? THEN TRUE ELSE rotation_seen END,
                 lifetime_warned_at = CASE WHEN ? THEN ? ELSE lifetime_warned_at END,
                 unanswered_attempt_at = NULL, {RELEASE_OWNERS}
             WHERE id = ? AND workspace_id = ? AND status <> 'disconnected'
               AND token_version = ?"
            )
        });
        let sealed = self.vault.seal_tokens(id, tokens)?;
        let rotated = sealed.refresh.is_some();
        Ok(Statement::new(&SUCCESS)
            .bind(sealed.access)
            .bind(sealed.refresh)
            .bind(ms(tokens.issued_at))
            .bind(ms(tokens.expires_at))
            .bind(ms(tokens.refresh_at))
            .bind(tokens.instance_url.as_ref().map(|u| u.as_str().to_owned()))
            .bind(now_ms)
            .bind(rotated)
            .bind(warned)
            .bind(now_ms)
            .bind_n(owner.to_owned(), RELEASE_OWNER_BINDS))
    }

    /// The UPDATE of a failed refresh, up to its `WHERE` parameters. An attempt that may have
    /// reached the provider without an answer keeps its start as `unanswered_attempt_at`; a
    /// refresh token salvaged from an unusable answer replaces the stored one.
    fn failure_statement<'a>(
        &self,
        id: &ConnectionId,
        owner: &str,
        failure: &FailureUpdate,
    ) -> StoreResult<Statement<'a, DB>> {
        static FAILURE: Sql = Sql::built(|| {
            format!(
                "UPDATE connections SET status = ?, status_reason = ?, diagnosis = ?,
                 refresh_failures = ?, next_retry_at = ?, failed_connector_generation = ?,
                 unanswered_attempt_at = CASE WHEN ?
                     THEN COALESCE(CASE WHEN attempt_owner = ? THEN attempt_started_at END,
                                   DB_NOW_MS())
                     ELSE unanswered_attempt_at END,
                 refresh_token = COALESCE(?, refresh_token),
                 rotation_seen = CASE WHEN ? THEN TRUE ELSE rotation_seen END,
                 {RELEASE_OWNERS}
             WHERE id = ? AND workspace_id = ? AND status <> 'disconnected'
               AND token_version = ?"
            )
        });
        let salvaged = failure
            .salvaged_refresh_token
            .as_ref()
            .map(|token| {
                self.vault
                    .seal(token.expose(), id.as_str(), "refresh_token")
            })
            .transpose()?;
        Ok(Statement::new(&FAILURE)
            .bind(failure.status.as_str())
            .bind(failure.cause.as_str())
            .bind(json_text(failure.diagnosis.as_ref())?)
            .bind(failure.refresh_failures)
            .bind(opt_ms(failure.next_retry_at))
            .bind(failure.failed_connector_generation)
            .bind(failure.unanswered)
            .bind(owner.to_owned())
            .bind(salvaged.clone())
            .bind(salvaged.is_some())
            .bind_n(owner.to_owned(), RELEASE_OWNER_BINDS))
    }
}

/// Applies `change` to the evidence of `connector`, in O(1): one locked read of one row and
/// one upsert.
async fn update_evidence<DB: Backend>(
    tx: &mut sqlx::Transaction<'_, DB>,
    workspace: &WorkspaceId,
    connector: &ConnectorName,
    change: EvidenceChange,
) -> StoreResult<()> {
    static READ: Sql = Sql::built(|| {
        format!(
            "SELECT evidence FROM connector_evidence WHERE workspace_id = ? AND connector = ?{FOR_UPDATE}"
        )
    });
    static WRITE: Sql = Sql::fixed(
        "INSERT INTO connector_evidence (workspace_id, connector, evidence, updated_at)
         VALUES (?, ?, ?, DB_NOW_MS())
         ON CONFLICT (workspace_id, connector) DO UPDATE SET
             evidence = excluded.evidence, updated_at = excluded.updated_at",
    );
    let found = Statement::new(&READ)
        .bind(workspace.as_str())
        .bind(connector.as_str())
        .fetch_optional(Exec::tx(tx))
        .await?;
    let mut evidence: PolicyEvidence = match found {
        Some(row) => opt_json(&row, "evidence")?.unwrap_or_default(),
        None => PolicyEvidence::default(),
    };
    change.apply(&mut evidence);
    Statement::new(&WRITE)
        .bind(workspace.as_str())
        .bind(connector.as_str())
        .bind(json_text(Some(&evidence))?)
        .execute(Exec::tx(tx))
        .await?;
    super::due_jobs::update_keepalive_interval(tx, workspace, connector).await
}

/// The SET clauses with which a landing clears the lease and the attempt record, where they
/// are still the landing owner's: an owner whose lease lapsed must not clear the lease or
/// the write-ahead record of the attempt that took over. Binds the owner
/// [`RELEASE_OWNER_BINDS`] times. (SET expressions read the row's values before the update.)
const RELEASE_OWNERS: &str =
    "lease_until = CASE WHEN lease_owner = ? THEN NULL ELSE lease_until END,
     lease_owner = CASE WHEN lease_owner = ? THEN NULL ELSE lease_owner END,
     attempt_version = CASE WHEN attempt_owner = ? THEN NULL ELSE attempt_version END,
     attempt_started_at = CASE WHEN attempt_owner = ? THEN NULL ELSE attempt_started_at END,
     attempt_owner = CASE WHEN attempt_owner = ? THEN NULL ELSE attempt_owner END";
const RELEASE_OWNER_BINDS: usize = 5;

/// Clears `owner`'s lease and attempt record of a connection.
async fn release<DB: Backend>(
    exec: Exec<'_, DB>,
    workspace: &WorkspaceId,
    id: &ConnectionId,
    owner: &str,
) -> StoreResult<()> {
    static RELEASE: Sql = Sql::fixed(
        "UPDATE connections SET lease_owner = NULL, lease_until = NULL,
             attempt_owner = NULL, attempt_version = NULL, attempt_started_at = NULL
         WHERE id = ? AND workspace_id = ? AND lease_owner = ?",
    );
    Statement::new(&RELEASE)
        .bind_record(workspace, id.as_str())
        .bind(owner)
        .execute(exec)
        .await?;
    Ok(())
}
