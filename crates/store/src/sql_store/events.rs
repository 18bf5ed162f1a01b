//! Events: a connection's append-only history, ordered by an autoincrement `seq` that also
//! pages it (newest first, `before_seq` going back).

use tether_core::ids::{ConnectionId, EventId, WorkspaceId};

use super::SqlStore;
use crate::codec::{Columns, at_stored_precision, json_text, ms};
use crate::rows::{self, EVENT_COLUMNS};
use crate::sql::{Backend, Sql, Statement};
use crate::{Event, NewEvent, StoreResult};

impl<DB: Backend> SqlStore<DB> {
    pub(super) async fn append_event_row(&self, event: &NewEvent) -> StoreResult<Event> {
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
            .bind(&event.kind)
            .bind(&event.outcome)
            .bind(&event.detail)
            .bind(json_text(event.provider_error.as_ref()))
            .fetch_one(self.db())
            .await?;
        let seq = row.int("seq")?;
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
        static SELECT: Sql = Sql::built(|| {
            format!(
                "SELECT {EVENT_COLUMNS} FROM events
                 WHERE connection_id = ? AND workspace_id = ? AND (? IS NULL OR seq < ?)
                 ORDER BY seq DESC LIMIT ?"
            )
        });
        let found = Statement::new(&SELECT)
            .bind(connection.as_str())
            .bind(workspace.as_str())
            .bind(before_seq)
            .bind(before_seq)
            .bind(limit)
            .fetch_all(self.db())
            .await?;
        found.iter().map(rows::event).collect()
    }
}
