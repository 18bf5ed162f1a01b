//! Handing out access tokens and refreshing them exactly once.
//!
//! The fast path reads the connection's current token (one primary-key read, no lock) and
//! serves it while tether believes it valid. Otherwise the caller joins the one refresh in
//! flight for that connection in this process ([`SingleFlight`]); that refresh takes the
//! connection's lease row in the database, so across processes too only one refresh reaches
//! the provider, and the others wait for the token version to move.

mod cache;
mod engine;
mod flight;
mod provider;
mod refresh;
mod usage;
mod warning;

pub use engine::{IssuedToken, TokenError, TokenRequest, TokenService};
pub use provider::{instance_url_of, provider_app, token_set};
pub use usage::UsageTracker;

use flight::SingleFlight;
