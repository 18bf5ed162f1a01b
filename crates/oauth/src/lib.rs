//! Talking to OAuth providers: authorize URLs with PKCE, code exchange, refresh, revoke,
//! user info, the JWT bearer and client credentials grants, over one shared HTTP client that
//! never follows redirects.
//!
//! Every provider answer is turned into either a typed success or an [`OAuthError`] that keeps
//! what the provider said, so the core can classify it (expired vs. transient). Salesforce's
//! deviations from RFC 6749 (no `expires_in`, `issued_at` in milliseconds, `instance_url`,
//! the identity URL) live in [`salesforce`]; which hosts may be called at all, in [`hosts`].

mod client;
mod error;
pub mod hosts;
pub mod jwt;
pub mod pkce;
pub mod salesforce;

pub use client::{HttpSettings, OAuthClient, ProviderApp, SessionProbe};
pub use error::OAuthError;
pub use hosts::{InvalidProviderHost, ProviderHosts};
