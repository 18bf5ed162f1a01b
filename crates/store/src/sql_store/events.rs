//! Events: a connection's append-only history, ordered by an autoincrement `seq` that also
//! pages it (newest first, each page after the `seq` its cursor names). [`insert`] is shared with the modules
//! whose state changes write their events in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tether_core::ids::{ConnectionId, EventId, WorkspaceId};
use tracing::instrument;

use super::{SqlStore, history_listing, outbox, purging};
use crate::codec::{Columns, at_stored_precision, json_text, ms};
use crate::rows::{self, EVENT_COLUMNS};
use crate::sql::{Backend, Exec, Sql, Statement};
use crate::{Event, EventCap, EventPage, Events, NewEvent, PageRequest, SeqCursor, StoreResult};

/// Appends `event` on `exec` (the pool, or the transaction of the change it describes), with
/// the webhook deliveries it raises (`outbox::enqueue`).
pub(super) async fn insert<DB: Backend>(
    mut exec: Exec<'_, DB>,
    event: &NewEvent,
) -> StoreResult<Event> {
    static INSERT: Sql = Sql::fixed(
        "INSERT INTO events (id, connection_id, workspace_id, at, kind, outcome, detail,
             provider_error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         RETURNING seq",
    );
    let event_id = EventId::generate();
    let row = Statement::new(&INSERT)
        .bind(event_id.as_str())
        .bind(event.connection_id.as_str())
        .bind(event.workspace_id.as_str())
        .bind(ms(event.at))
        .bind(event.kind.as_str())
        .bind(event.outcome.as_str())
        .bind(&event.detail)
        .bind(json_text(event.provider_error.as_ref())?)
        .fetch_one(exec.reborrow())
        .await?;
    let seq = row.int("seq")?;
    outbox::enqueue(exec, &event_id, event).await?;
    let mut stored = event.clone();
    stored.at = at_stored_precision(event.at);
    Ok(Event {
        id: event_id,
        seq,
        event: stored,
    })
}

/// Appends every event of `events` on the connection `conn` (a transaction's).
pub(super) async fn insert_all<DB: Backend>(
    conn: &mut DB::Connection,
    events: &[NewEvent],
) -> StoreResult<()> {
    for event in events {
        insert::<DB>(Exec::Conn(&mut *conn), event).await?;
    }
    Ok(())
}

#[async_trait]
impl<DB: Backend> Events for SqlStore<DB> {
    #[instrument(skip_all, fields(connection = %event.connection_id, kind = %event.kind))]
    async fn append_event(&self, event: &NewEvent) -> StoreResult<Event> {
        insert(self.db(), event).await
    }

    #[instrument(skip_all)]
    async fn purge_events(&self, before: DateTime<Utc>, limit: i64) -> StoreResult<u64> {
        static PURGE: Sql = Sql::built(|| purging("events", "seq", "at < ?", "at"));
        self.purge(&PURGE, before, limit).await
    }

    #[instrument(skip_all)]
    async fn cap_events(
        &self,
        since: DateTime<Utc>,
        keep: i64,
        connections: i64,
    ) -> StoreResult<EventCap> {
        static RECENT: Sql =
            Sql::fixed("SELECT DISTINCT connection_id FROM events WHERE at >= ? LIMIT ?");
        // The (keep+1)-th newest event of the connection and every older one go; with fewer
        // events the subquery finds none and nothing is deleted.
        static TRIM: Sql = Sql::fixed(
            "DELETE FROM events WHERE connection_id = ? AND seq <= (
                 SELECT seq FROM events WHERE connection_id = ?
                 ORDER BY seq DESC LIMIT 1 OFFSET ?)",
        );
        let recent = Statement::new(&RECENT)
            .bind(ms(since))
            .bind(connections)
            .fetch_all(self.db())
            .await?;
        let mut deleted = 0;
        for row in &recent {
            let connection = row.text("connection_id")?;
            deleted += Statement::new(&TRIM)
                .bind(connection.as_str())
                .bind(connection.as_str())
                .bind(keep)
                .execute(self.db())
                .await?;
        }
        Ok(EventCap {
            deleted,
            complete: i64::try_from(recent.len()).unwrap_or(i64::MAX) < connections,
        })
    }

    #[instrument(skip_all, fields(connection = %connection, limit = request.limit))]
    async fn list_events(
        &self,
        workspace: &WorkspaceId,
        connection: &ConnectionId,
        request: &PageRequest<SeqCursor>,
    ) -> StoreResult<EventPage> {
        static SELECT: Sql =
            Sql::built(|| history_listing(EVENT_COLUMNS, "events", "connection_id"));
        let (events, next) = self
            .history_page(
                &SELECT,
                workspace,
                connection.as_str(),
                request,
                rows::event,
                |e| e.seq,
            )
            .await?;
        Ok(EventPage { events, next })
    }
}
