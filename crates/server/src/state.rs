//! The one explicit application state every handler receives.

use std::sync::Arc;

use tether_core::clock::SharedClock;
use tether_oauth::OAuthClient;
use tether_store::Store;

use crate::auth::Authenticator;
use crate::connect::StateSigner;
use crate::metrics::Metrics;
use crate::proxy::ProxyClient;
use crate::settings::Settings;
use crate::tokens::{TokenService, UsageTracker};
use crate::webhooks::WebhookClient;

/// Shared by every request and background task; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Persistence (SQLite or PostgreSQL), secrets sealed inside.
    pub store: Arc<dyn Store>,
    /// The one provider HTTP client (no redirects, timeouts set).
    pub oauth: OAuthClient,
    /// The only source of "now".
    pub clock: SharedClock,
    /// Validated runtime settings.
    pub settings: Arc<Settings>,
    /// API key verification with its cache.
    pub auth: Arc<Authenticator>,
    /// Token serving and single-flight refresh.
    pub tokens: Arc<TokenService>,
    /// Pending `last_used_at` writes.
    pub usage: Arc<UsageTracker>,
    /// Signs and checks the OAuth `state` of connect flows (and keys page sessions), with the
    /// database's signing key.
    pub signer: Arc<StateSigner>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The API proxy's streaming client (no redirects, its own limits and timeouts).
    pub proxy: ProxyClient,
    /// The webhooks' delivery client (public addresses only, unless allowed).
    pub webhooks: WebhookClient,
}

impl AppState {
    /// Wires the state from its parts.
    pub fn new(
        store: Arc<dyn Store>,
        oauth: OAuthClient,
        clock: SharedClock,
        settings: Settings,
        signer: StateSigner,
    ) -> Self {
        let usage = Arc::new(UsageTracker::default());
        let metrics = Arc::new(Metrics::default());
        let tokens = Arc::new(TokenService::new(
            store.clone(),
            oauth.clone(),
            clock.clone(),
            usage.clone(),
            metrics.clone(),
            settings.lease,
        ));
        let proxy = ProxyClient::new(settings.proxy.clone());
        let webhooks = WebhookClient::new(settings.webhooks.allow_private);
        Self {
            store,
            oauth,
            clock,
            settings: Arc::new(settings),
            auth: Arc::default(),
            tokens,
            usage,
            signer: Arc::new(signer),
            metrics,
            proxy,
            webhooks,
        }
    }
}
