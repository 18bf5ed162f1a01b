//! The one place an event that describes no state change of its own is recorded (a check, a
//! revoke, a proxied 401). Events of state changes are written by the store in the same
//! transaction as the change. A failure to write history is logged, never fatal: the token a
//! caller waits for matters more than the record of it.

use tether_store::{NewEvent, Store};

/// Appends `event`.
pub async fn record(store: &dyn Store, event: NewEvent) {
    if let Err(err) = store.append_event(&event).await {
        tracing::error!(connection = %event.connection_id, kind = %event.kind, error = %err, "could not record event");
    }
}
