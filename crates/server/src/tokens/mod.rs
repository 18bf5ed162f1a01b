//! Handing out access tokens and refreshing them exactly once, durably (for connectors
//! without refresh tokens, a refresh mints a new access token: [`grant`]).
//!
//! The fast path reads the connection's current token (from a one-second cache, else one
//! primary-key read) and `tether_core::decide` says what to do. A refresh joins the one flight
//! for that connection in this process ([`flight`]); the flight takes the connection's lease
//! row together with a write-ahead record of the attempt ([`attempt`]), so across processes
//! only one refresh reaches the provider, a crash leaves evidence, and the outcome is held in
//! memory until it is saved.

mod answer;
mod attempt;
mod cache;
mod failure;
mod flight;
mod grant;
mod healed;
mod refused;
mod service;
mod usage;
mod warning;

pub use answer::{instance_url_of, provider_app, token_set};
pub use grant::TokenCall;
pub use healed::RefusedAge;
pub use service::{IssuedToken, Landed, RefreshReason, TokenError, TokenRequest, TokenService};
pub use usage::UsageTracker;
