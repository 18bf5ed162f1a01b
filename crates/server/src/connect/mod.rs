//! Connecting an account: connect sessions, the redirect to the provider, and the OAuth
//! callback that stores (or, for a reconnect, replaces) the connection's tokens.
//!
//! The OAuth `state` is `{session id}.{HMAC}`, so a tampered state is refused before the
//! database is asked, and the store only keeps the state's SHA-256 for single use.

mod callback;
mod callback_reconnect;
mod sessions;
mod signer;

pub use callback::callback;
pub use sessions::{ConnectSessionCreated, create_session, open_connect_url, reconnect};
pub(crate) use sessions::{SessionPlan, start};
pub use signer::StateSigner;
