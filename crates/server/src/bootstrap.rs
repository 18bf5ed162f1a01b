//! Turning settings into a running state: the store under a keyring that fits its database
//! (see [`crate::keys`]), the signer of connect states and page sessions, the clients.

use std::path::PathBuf;
use std::sync::Arc;

use tether_core::clock::SharedClock;
use tether_oauth::{HttpSettings, OAuthClient};
use tether_store::Store;
use tether_store::crypto::{KeyId, Keyring};
use tether_store::keys::KeyError;

use crate::connect::StateSigner;
use crate::keys::{KeyFileError, KeySource, open_under};
use crate::settings::{ConfigError, ServeConfig};
use crate::state::AppState;

/// The name of the signing key of connect states and page sessions in the database.
pub const STATE_SIGNER_KEY: &str = "state-signer";

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("master key: {0}")]
    Key(String),
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// The keyring does not fit the database.
    #[error(
        "{error}; the keyring came from {from}: start tether with the keyring that holds \
         master key {expected} (see \"Operating tether securely\" in the README)"
    )]
    Mismatch {
        error: KeyError,
        expected: KeyId,
        from: String,
    },
    /// No key is configured, and the database holds sealed secrets.
    #[error(
        "no master key is configured (TETHER_MASTER_KEY or TETHER_MASTER_KEY_FILE) and {} does \
         not exist, but the database is sealed under master key {expected}: configure the \
         keyring that holds it; no key was generated",
        looked.display()
    )]
    NoKey { expected: KeyId, looked: PathBuf },
    #[error(transparent)]
    Store(#[from] tether_store::StoreError),
    #[error("provider client: {0}")]
    Client(String),
}

/// Opens, migrates and checks the store under `keyring` (a keyring in memory: tests and the
/// demo), and wires the state.
pub async fn build_state(
    config: &ServeConfig,
    keyring: Keyring,
    clock: SharedClock,
) -> Result<AppState, BootError> {
    let opened = open_under(config, keyring, KeySource::Env).await?;
    state_for(config, opened.store, clock).await
}

/// Wires the state around a store whose keyring fits its database (`keys::open_store`).
pub async fn state_for(
    config: &ServeConfig,
    store: Arc<dyn Store>,
    clock: SharedClock,
) -> Result<AppState, BootError> {
    let settings = config.settings()?;
    let secret = store.signing_key(STATE_SIGNER_KEY).await?;
    let signer = StateSigner::new(&secret);
    tracing::info!(
        signing_key = %signer.key_id(),
        "connect states and page sessions are signed with their own key, kept sealed in the database"
    );
    let http = HttpSettings {
        request_timeout: settings.provider_timeout,
        ..HttpSettings::default()
    };
    let oauth = OAuthClient::new(http)
        .map_err(|e| BootError::Client(e.to_string()))?
        .with_provider_hosts(settings.provider_hosts.clone());
    Ok(AppState::new(store, oauth, clock, settings, signer))
}
