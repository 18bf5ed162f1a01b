//! Turning settings into a running state: the master keyring, the store, the clients.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tether_core::clock::SharedClock;
use tether_oauth::{HttpSettings, OAuthClient};
use tether_store::Store;
use tether_store::crypto::{Keyring, MasterKey};

use crate::connect::StateSigner;
use crate::settings::{ConfigError, ServeConfig};
use crate::state::AppState;

/// Where `serve` keeps a generated master key when none is configured.
pub const DEFAULT_KEY_FILE: &str = "tether-data/master.key";

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("master key: {0}")]
    Key(String),
    #[error("master key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] tether_store::StoreError),
    #[error("provider client: {0}")]
    Client(String),
}

/// Where the keyring came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File(PathBuf),
    Generated(PathBuf),
}

/// The keyring of `TETHER_MASTER_KEY`, else `TETHER_MASTER_KEY_FILE`, else the default file,
/// created (mode 0600) if missing.
pub fn load_keyring(config: &ServeConfig) -> Result<(Keyring, KeySource), BootError> {
    if let Some(b64) = &config.master_key {
        let key = MasterKey::from_base64(b64.trim()).map_err(|e| BootError::Key(e.to_string()))?;
        return Ok((Keyring::new(key, Vec::new()), KeySource::Env));
    }
    let path = config
        .master_key_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_KEY_FILE));
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let keyring = Keyring::parse_file(&text)
                .map_err(|e| BootError::Key(format!("{}: {e}", path.display())))?;
            Ok((keyring, KeySource::File(path)))
        }
        Err(err)
            if err.kind() == std::io::ErrorKind::NotFound && config.master_key_file.is_none() =>
        {
            let keyring = Keyring::new(MasterKey::generate(), Vec::new());
            write_key_file(&path, &keyring)?;
            Ok((keyring, KeySource::Generated(path)))
        }
        Err(source) => Err(BootError::KeyFile { path, source }),
    }
}

/// Writes a keyring file readable only by its owner.
pub fn write_key_file(path: &Path, keyring: &Keyring) -> Result<(), BootError> {
    let io = |source| BootError::KeyFile {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(keyring.to_file_contents().as_bytes())
        .map_err(io)?;
    file.sync_all().map_err(io)
}

/// Opens the store `config` names with its `database_*` pool settings. A database that
/// cannot be reached fails here, naming its URL without the password.
pub async fn open_store(
    config: &ServeConfig,
    keyring: Keyring,
) -> Result<Arc<dyn Store>, BootError> {
    let options = config.database_options();
    Ok(tether_store::open_with(&config.database, keyring, &options).await?)
}

/// Opens and migrates the store (refused when a newer tether migrated it), and wires the
/// state.
pub async fn build_state(
    config: &ServeConfig,
    keyring: Keyring,
    clock: SharedClock,
) -> Result<AppState, BootError> {
    let settings = config.settings()?;
    let signer = StateSigner::derive(keyring.primary().to_base64().as_bytes());
    let store = open_store(config, keyring).await?;
    store.migrate().await?;
    let http = HttpSettings {
        request_timeout: settings.provider_timeout,
        ..HttpSettings::default()
    };
    let oauth = OAuthClient::new(http)
        .map_err(|e| BootError::Client(e.to_string()))?
        .with_provider_hosts(settings.provider_hosts.clone());
    Ok(AppState::new(store, oauth, clock, settings, signer))
}
