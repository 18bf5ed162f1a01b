//! Events: a connection's append-only history, ordered by an autoincrement `seq` that also
//! pages it (newest first, `before_seq` going back).

use tether_core::ids::{ConnectionId, EventId, WorkspaceId};

use super::PgStore;
use crate::codec::{at_stored_precision, json_text, ms};
use crate::rows::{self, EVENT_COLUMNS};
use crate::{Event, NewEvent, StoreResult};

impl PgStore {
    pub(super) async fn append_event_row(&self, event: &NewEvent) -> StoreResult<Event> {
        let event_id = EventId::generate();
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO events (id, connection_id, workspace_id, at, kind, outcome, detail,
                 provider_error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             RETURNING seq",
        )
        .bind(event_id.as_str())
        .bind(event.connection_id.as_str())
        .bind(event.workspace_id.as_str())
        .bind(ms(event.at))
        .bind(&event.kind)
        .bind(&event.outcome)
        .bind(&event.detail)
        .bind(json_text(event.provider_error.as_ref()))
        .fetch_one(&self.pool)
        .await?;
        let mut stored = event.clone();
        stored.at = at_stored_precision(event.at);
        Ok(Event {
            id: event_id,
            seq,
            event: stored,
        })
    }

    pub(super) async fn list_event_rows(
        &self,
        workspace: &WorkspaceId,
        connection: &ConnectionId,
        before_seq: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Event>> {
        let found = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events
             WHERE connection_id = $1 AND workspace_id = $2 AND ($3 IS NULL OR seq < $4)
             ORDER BY seq DESC LIMIT $5"
        ))
        .bind(connection.as_str())
        .bind(workspace.as_str())
        .bind(before_seq)
        .bind(before_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        found.iter().map(rows::event).collect()
    }
}
