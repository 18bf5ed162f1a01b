//! When background jobs fall due, read from indexes: the oldest unused refresh token of the
//! active connections that have one (`connections_keepalive`, partial: the JWT bearer and
//! client credentials grants have none), of each connector with an idle limit of its
//! own (`connectors_keepalive`, `connections_keepalive_by_connector`), and the earliest retry
//! or recheck (`connections_next_retry`). Also where a connector's keep-alive interval is
//! kept up to date, since it follows the connector's declared policy and its evidence.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tether_core::diagnosis::{PolicyEvidence, PolicyHint};
use tether_core::ids::{ConnectionId, ConnectorName, WorkspaceId};
use tracing::instrument;

use super::SqlStore;
use super::claims::{LAST_USE, UNCLAIMED, claim_statement, claiming, idle_pick};
use crate::codec::{Columns, id, millis, ms, opt_json, time};
use crate::sql::{Backend, Exec, Sql, Statement};
use crate::{Claim, ConnectorKeepalive, DueJobs, StoreResult};

#[async_trait]
impl<DB: Backend> DueJobs for SqlStore<DB> {
    #[instrument(skip_all)]
    async fn short_keepalive_connectors(
        &self,
        default: Duration,
    ) -> StoreResult<Vec<ConnectorKeepalive>> {
        static SHORT: Sql = Sql::fixed(
            "SELECT workspace_id, name, keepalive_every_ms FROM connectors
             WHERE keepalive_every_ms IS NOT NULL AND keepalive_every_ms < ?",
        );
        let found = Statement::new(&SHORT)
            .bind(millis(default))
            .fetch_all(self.db())
            .await?;
        found
            .iter()
            .map(|row| {
                Ok(ConnectorKeepalive {
                    workspace: id(row, "workspace_id")?,
                    connector: id(row, "name")?,
                    every: Duration::from_millis(
                        u64::try_from(row.int("keepalive_every_ms")?).unwrap_or(0),
                    ),
                })
            })
            .collect()
    }

    #[instrument(skip_all, fields(connector = %connector.connector))]
    async fn idle_connections_of(
        &self,
        connector: &ConnectorKeepalive,
        before: DateTime<Utc>,
        claim: &Claim,
        limit: i64,
    ) -> StoreResult<Vec<(WorkspaceId, ConnectionId)>> {
        // Served by `connections_keepalive_by_connector`.
        static IDLE: Sql = Sql::built(|| {
            let pick = idle_pick("workspace_id = ? AND connector = ? AND ", "");
            claiming("connections", &pick, "workspace_id, id")
        });
        let claimed = claim_statement(&IDLE, claim)
            .bind(connector.workspace.as_str())
            .bind(connector.connector.as_str())
            .bind(ms(before))
            .bind(limit)
            .fetch_all(self.db())
            .await?;
        claimed
            .iter()
            .map(|row| Ok((id(row, "workspace_id")?, id(row, "id")?)))
            .collect()
    }

    #[instrument(skip_all)]
    async fn earliest_due(&self, default: Duration) -> StoreResult<Option<DateTime<Utc>>> {
        // Each MIN is one walk of an index from its start, past claimed rows only.
        static OLDEST_USE: Sql = Sql::built(|| {
            format!(
                "SELECT MIN({LAST_USE}) AS at FROM connections
                 WHERE status = 'active' AND refresh_token IS NOT NULL AND {UNCLAIMED}"
            )
        });
        static OLDEST_USE_OF: Sql = Sql::built(|| {
            format!(
                "SELECT MIN({LAST_USE}) AS at FROM connections
                 WHERE workspace_id = ? AND connector = ? AND status = 'active'
                   AND refresh_token IS NOT NULL AND {UNCLAIMED}"
            )
        });
        static NEXT_RETRY: Sql = Sql::built(|| {
            format!(
                "SELECT MIN(next_retry_at) AS at FROM connections
                 WHERE next_retry_at IS NOT NULL AND status IN ('degraded', 'expired')
                   AND {UNCLAIMED}"
            )
        });
        // The webhooks' outbox: the earliest pending delivery (`webhook_deliveries_due`).
        static NEXT_DELIVERY: Sql = Sql::fixed(
            "SELECT MIN(next_attempt_at) AS at FROM webhook_deliveries
             WHERE status = 'pending' AND next_attempt_at IS NOT NULL",
        );
        let mut due = Vec::new();
        due.push(min_at(
            Statement::new(&NEXT_DELIVERY).fetch_one(self.db()).await?,
        )?);
        let oldest = min_at(Statement::new(&OLDEST_USE).fetch_one(self.db()).await?)?;
        due.push(oldest.map(|at| at + chrono_of(default)));
        due.push(min_at(
            Statement::new(&NEXT_RETRY).fetch_one(self.db()).await?,
        )?);
        for short in self.short_keepalive_connectors(default).await? {
            let row = Statement::new(&OLDEST_USE_OF)
                .bind(short.workspace.as_str())
                .bind(short.connector.as_str())
                .fetch_one(self.db())
                .await?;
            due.push(min_at(row)?.map(|at| at + chrono_of(short.every)));
        }
        Ok(due.into_iter().flatten().min())
    }

    #[instrument(skip_all)]
    async fn oldest_pending_delivery(&self) -> StoreResult<Option<DateTime<Utc>>> {
        // Pending deliveries are few and indexed (`webhook_deliveries_due` is partial on them).
        static OLDEST: Sql = Sql::fixed(
            "SELECT MIN(event_at) AS at FROM webhook_deliveries
             WHERE status = 'pending' AND next_attempt_at IS NOT NULL",
        );
        min_at(Statement::new(&OLDEST).fetch_one(self.db()).await?)
    }
}

/// The `at` of a MIN row (NULL when nothing matched).
fn min_at(row: impl Columns) -> StoreResult<Option<DateTime<Utc>>> {
    if row.opt_int("at")?.is_none() {
        return Ok(None);
    }
    Ok(Some(time(&row, "at")?))
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(366))
}

/// Recomputes the keep-alive interval of `connector` from its declared policy and its
/// evidence (`tether_core::keepalive`), on `tx`: called wherever either changes.
pub(super) async fn update_keepalive_interval<DB: Backend>(
    tx: &mut sqlx::Transaction<'_, DB>,
    workspace: &WorkspaceId,
    connector: &ConnectorName,
) -> StoreResult<()> {
    static READ: Sql = Sql::fixed(
        "SELECT k.refresh_token_policy, k.keepalive_every_ms, e.evidence FROM connectors k
         LEFT JOIN connector_evidence e
           ON e.workspace_id = k.workspace_id AND e.connector = k.name
         WHERE k.workspace_id = ? AND k.name = ?",
    );
    static WRITE: Sql = Sql::fixed(
        "UPDATE connectors SET keepalive_every_ms = ? WHERE workspace_id = ? AND name = ?",
    );
    let Some(row) = super::connectors::by_name(&READ, workspace, connector)
        .fetch_optional(Exec::tx(tx))
        .await?
    else {
        return Ok(());
    };
    let declared = row
        .opt_text("refresh_token_policy")?
        .and_then(|text| serde_json::from_str(&text).ok())
        .and_then(|value| PolicyHint::from_json(&value));
    let evidence: PolicyEvidence = opt_json(&row, "evidence")?.unwrap_or_default();
    let every =
        tether_core::keepalive::interval(declared, &evidence).map(|every| every.num_milliseconds());
    // Most landings leave the interval as it was: no write then (on SQLite the landing holds
    // the write lock for this whole transaction).
    if row.opt_int("keepalive_every_ms")? == every {
        return Ok(());
    }
    Statement::new(&WRITE)
        .bind(every)
        .bind(workspace.as_str())
        .bind(connector.as_str())
        .execute(Exec::tx(tx))
        .await?;
    Ok(())
}
