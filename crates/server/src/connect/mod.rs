//! The browser's side of a connect flow: the connect link that redirects to the provider, and
//! the OAuth callback the provider sends the browser back to. The flows themselves live in
//! `service::connect`.
//!
//! The OAuth `state` is `{session id}.{HMAC}`, so a tampered state is refused before the
//! database is asked, and the store only keeps the state's SHA-256 for single use.

mod callback;
mod link;
mod signer;

pub use callback::callback;
pub use link::open_connect_url;
pub use signer::StateSigner;
