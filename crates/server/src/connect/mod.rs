//! The browser's side of a connect flow: the connect link that redirects to the provider, and
//! the OAuth callback the provider sends the browser back to. The flows themselves live in
//! `service::connect`.
//!
//! The OAuth `state` is `{session id}.{HMAC}.{browser binding}`, so a tampered state is refused
//! before the database is asked, and the store only keeps the SHA-256 of `{session id}.{HMAC}`
//! for single use. The binding ties the callback to the browser that opened the connect link
//! (its `tether_connect_{id}` cookie); a callback URL opened anywhere else is refused.

mod callback;
mod link;
mod signer;

pub use callback::callback;
pub use link::open_connect_url;
pub(crate) use signer::MacKey;
pub use signer::StateSigner;
