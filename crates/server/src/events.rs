//! Writing a connection's history. A failure to write history is logged, never fatal: the
//! token a caller waits for matters more than the record of it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tether_store::{Connection, NewEvent, Store};

/// Appends events to the store.
#[derive(Debug, Clone)]
pub struct EventLog {
    store: Arc<dyn Store>,
}

impl EventLog {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Appends one event of `connection`.
    pub async fn record(
        &self,
        connection: &Connection,
        at: DateTime<Utc>,
        kind: &str,
        outcome: &str,
        detail: &str,
        provider_error: Option<Value>,
    ) {
        let event = NewEvent {
            connection_id: connection.id.clone(),
            workspace_id: connection.workspace_id.clone(),
            at,
            kind: kind.to_owned(),
            outcome: outcome.to_owned(),
            detail: detail.to_owned(),
            provider_error,
        };
        if let Err(err) = self.store.append_event(&event).await {
            tracing::error!(connection = %connection.id, kind, error = %err, "could not record event");
        }
    }
}
