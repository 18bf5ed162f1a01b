//! Opening the store under the keyring the settings name, and only if it fits the database.
//!
//! The keyring comes from `master_key` (`TETHER_MASTER_KEY`, one key, fixed for the life of
//! the process), else `master_key_file`, else the default file `tether-data/master.key`
//! relative to the current directory. Every command that opens the database (`serve`,
//! `migrate`, `keys ...`) compares the keyring with the keys the database records before
//! anything else, and stops naming the key the database expects. A key is generated only
//! when no key is configured, the default file does not exist, and the database is fresh
//! (it records no key and holds no sealed value); the file is written before the key is
//! recorded, so a database never records a key that is not on disk.

use std::path::PathBuf;
use std::sync::Arc;

use tether_store::crypto::{KeyId, Keyring, KeyringSource, Keys, MasterKey};
use tether_store::keys::{KeyCheck, KeyError};
use tether_store::{Store, StoreError};

use super::file::{KeyFile, KeyFileError};
use crate::bootstrap::BootError;
use crate::settings::ServeConfig;

/// Where `serve` keeps a generated master key when none is configured.
pub const DEFAULT_KEY_FILE: &str = "tether-data/master.key";

/// Where the keyring came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `master_key` (`TETHER_MASTER_KEY`): cannot change while the process runs.
    Env,
    /// A keyring file (`master_key_file`, or the default file, which existed).
    File(KeyFile),
    /// The default file, created now with a new key for a fresh database.
    Generated(KeyFile),
}

impl KeySource {
    /// The keyring file, if the keyring is in one.
    pub fn file(&self) -> Option<&KeyFile> {
        match self {
            KeySource::Env => None,
            KeySource::File(file) | KeySource::Generated(file) => Some(file),
        }
    }

    /// The source as messages name it.
    pub fn describe(&self) -> String {
        match self.file() {
            None => "TETHER_MASTER_KEY (master_key)".to_owned(),
            Some(file) => format!("the keyring file {}", file.path().display()),
        }
    }
}

/// A store whose keyring fits its database, and where that keyring came from.
#[derive(Debug)]
pub struct Opened {
    pub store: Arc<dyn Store>,
    pub source: KeySource,
    /// The keyring as read (what a key command updates).
    pub keyring: Keyring,
    /// The key new values are sealed under.
    pub primary: KeyId,
}

/// What the settings name, read.
enum Found {
    Env(Keyring),
    File(KeyFile, Keyring),
    /// No key configured, and the default file does not exist.
    Nothing(KeyFile),
}

/// Opens and migrates the store under the configured keyring, refusing a keyring that does
/// not fit the database; generates a key only for a fresh database (module doc).
pub async fn open_store(config: &ServeConfig) -> Result<Opened, BootError> {
    // A second pass only when another process created the default file meanwhile.
    for _ in 0..2 {
        match find_keyring(config)? {
            Found::Env(keyring) => {
                return open_under(config, keyring, KeySource::Env).await;
            }
            Found::File(file, keyring) => {
                return open_under(config, keyring, KeySource::File(file)).await;
            }
            Found::Nothing(file) => {
                if let Some(opened) = open_generating(config, file).await? {
                    return Ok(opened);
                }
            }
        }
    }
    Err(BootError::Key(format!(
        "{DEFAULT_KEY_FILE} appeared while tether started, and could not be read; start again"
    )))
}

/// Opens and migrates the store under `keyring` (from `source`), refusing it unless it fits
/// the database; records its primary in a fresh database.
pub async fn open_under(
    config: &ServeConfig,
    keyring: Keyring,
    source: KeySource,
) -> Result<Opened, BootError> {
    let reload = source
        .file()
        .map(|file| Arc::new(file.clone()) as Arc<dyn KeyringSource>);
    let keys = Keys {
        ring: keyring.clone(),
        source: reload,
    };
    let store = open_migrated(config, keys).await?;
    let primary = match store.check_master_keys().await {
        Ok(KeyCheck::Fresh) => record_primary(&store, &source).await,
        Ok(KeyCheck::Matches { primary }) => Ok(primary),
        Err(err) => Err(mismatch(err, &source)),
    };
    match primary {
        Ok(primary) => Ok(Opened {
            store,
            source,
            keyring,
            primary,
        }),
        Err(err) => {
            store.close().await;
            Err(err)
        }
    }
}

/// No key configured: a new key, written to `file` and recorded, if the database is fresh;
/// a refusal naming the key it expects if not; `None` if another process wrote `file` first.
async fn open_generating(config: &ServeConfig, file: KeyFile) -> Result<Option<Opened>, BootError> {
    let keyring = Keyring::new(MasterKey::generate(), Vec::new());
    let store = open_migrated(config, keyring.clone().into()).await?;
    let refused = match store.check_master_keys().await {
        Ok(KeyCheck::Fresh) => None,
        Ok(KeyCheck::Matches { primary }) => Some(no_key(primary, &file)),
        Err(StoreError::MasterKey(err)) => Some(no_key(expected_key(&err), &file)),
        Err(err) => Some(err.into()),
    };
    if let Some(err) = refused {
        store.close().await;
        // Another process starting at the same time may have written the file and recorded
        // its key meanwhile: read the file then.
        return if file.exists() { Ok(None) } else { Err(err) };
    }
    match file.create(&keyring) {
        Ok(()) => {}
        Err(KeyFileError::Exists(_)) => {
            store.close().await;
            return Ok(None);
        }
        Err(err) => {
            store.close().await;
            return Err(err.into());
        }
    }
    let source = KeySource::Generated(file.clone());
    store.use_keys(Keys {
        ring: keyring.clone(),
        source: Some(Arc::new(file)),
    });
    let primary = record_primary(&store, &source).await?;
    Ok(Some(Opened {
        store,
        source,
        keyring,
        primary,
    }))
}

/// The keyring the settings name: `master_key`, else `master_key_file`, else the default
/// file if it exists.
fn find_keyring(config: &ServeConfig) -> Result<Found, BootError> {
    match (&config.master_key, &config.master_key_file) {
        (Some(_), Some(_)) => Err(BootError::Key(
            "both master_key (TETHER_MASTER_KEY) and master_key_file (TETHER_MASTER_KEY_FILE) \
             are set: set one, so that there is no doubt which keys tether uses"
                .into(),
        )),
        (Some(b64), None) => {
            let key = MasterKey::from_base64(b64).map_err(|e| BootError::Key(e.to_string()))?;
            Ok(Found::Env(Keyring::new(key, Vec::new())))
        }
        (None, Some(path)) => {
            let file = KeyFile::new(path);
            let keyring = file.read()?;
            Ok(Found::File(file, keyring))
        }
        (None, None) => {
            let file = KeyFile::new(&PathBuf::from(DEFAULT_KEY_FILE));
            if !file.exists() {
                return Ok(Found::Nothing(file));
            }
            let keyring = file.read()?;
            Ok(Found::File(file, keyring))
        }
    }
}

/// Opens `config`'s database with its `database_*` pool settings (a database that cannot be
/// reached fails here, naming its URL without the password) and migrates it (refused when a
/// newer tether migrated it).
async fn open_migrated(config: &ServeConfig, keys: Keys) -> Result<Arc<dyn Store>, BootError> {
    let options = config.database_options();
    let store = tether_store::open_with(&config.database, keys, &options).await?;
    if let Err(err) = store.migrate().await {
        store.close().await;
        return Err(err.into());
    }
    Ok(store)
}

async fn record_primary(store: &Arc<dyn Store>, source: &KeySource) -> Result<KeyId, BootError> {
    match store.init_master_key().await {
        Ok(KeyCheck::Matches { primary }) => Ok(primary),
        Ok(KeyCheck::Fresh) => Err(BootError::Key(
            "the database records no master key after recording one".into(),
        )),
        Err(err) => Err(mismatch(err, source)),
    }
}

/// A refusal of the keyring from `source`, naming the key the database expects.
fn mismatch(err: StoreError, source: &KeySource) -> BootError {
    match err {
        StoreError::MasterKey(error) => BootError::Mismatch {
            expected: expected_key(&error),
            error,
            from: source.describe(),
        },
        other => other.into(),
    }
}

fn no_key(expected: KeyId, looked: &KeyFile) -> BootError {
    BootError::NoKey {
        expected,
        looked: looked.path().to_owned(),
    }
}

/// The key a refusal says the database expects.
fn expected_key(error: &KeyError) -> KeyId {
    match error {
        KeyError::NotHeld { expected, .. } | KeyError::ValuesUnderMissingKey { expected, .. } => {
            *expected
        }
        KeyError::CanaryFails(id)
        | KeyError::KeyringLacks(id)
        | KeyError::NotRecorded(id)
        | KeyError::AlreadyPending(id)
        | KeyError::WrongState { id, .. }
        | KeyError::StillInUse { id, .. }
        | KeyError::TooSoon { primary: id, .. } => *id,
    }
}
