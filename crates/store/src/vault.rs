//! The store's use of the [`Keyring`]: sealing secrets on their way into a row and opening
//! them on the way out, with failures as [`StoreError`]s naming the record and field (never
//! the value). Shared by every backend so all of them seal the same way.
//!
//! The keyring can change while the process runs, without a restart: keys are added when the
//! keyring's source (a file) is read again, which happens on request (SIGHUP) and when a value
//! names a key the vault does not hold (at most once a second); and the key that seals follows
//! the database's primary (see `sql_store::master_keys`). A re-read never drops a key the vault
//! holds, so a running process keeps opening what it opened before. While the database's
//! primary is a key the vault does not hold (or does not prove), the vault refuses to seal:
//! a value sealed under the old key then could outlive that key's retirement.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use tether_core::ids::ConnectionId;

use crate::crypto::{CryptoError, KeyId, Keyring, KeyringSource, Keys};
use crate::keys::KeyError;
use crate::{StoreError, StoreResult, TokenSet};

/// How often, at most, a value under an unknown key makes the vault re-read its source.
const RELOAD_AT_MOST_EVERY: Duration = Duration::from_secs(1);

/// The keyring of a store, shared by its clones.
#[derive(Debug, Clone)]
pub(crate) struct Vault {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    keyring: RwLock<Arc<Keyring>>,
    source: RwLock<Option<Arc<dyn KeyringSource>>>,
    last_reload: Mutex<Option<Instant>>,
    /// Why sealing is refused, while it is.
    sealing_refused: Mutex<Option<KeyError>>,
}

/// A token set sealed for one connection row.
pub(crate) struct SealedTokens {
    pub access: Vec<u8>,
    pub refresh: Option<Vec<u8>>,
}

impl Vault {
    pub(crate) fn new(keys: Keys) -> Self {
        Self {
            inner: Arc::new(Inner {
                keyring: RwLock::new(Arc::new(keys.ring)),
                source: RwLock::new(keys.source),
                last_reload: Mutex::new(None),
                sealing_refused: Mutex::new(None),
            }),
        }
    }

    /// The keyring as it is now.
    pub(crate) fn keyring(&self) -> Arc<Keyring> {
        self.inner.keyring.read().clone()
    }

    /// Replaces the keyring and its source (a command that has just written a new keyring).
    pub(crate) fn replace(&self, keys: Keys) {
        *self.inner.keyring.write() = Arc::new(keys.ring);
        *self.inner.source.write() = keys.source;
    }

    /// Reads the source again and adds the keys it holds that the vault does not; the primary
    /// stays. `Ok(false)` when there is no source.
    pub(crate) fn reload(&self) -> Result<bool, String> {
        let Some(source) = self.inner.source.read().clone() else {
            return Ok(false);
        };
        *self.inner.last_reload.lock() = Some(Instant::now());
        let loaded = source.load()?;
        let mut keyring = self.inner.keyring.write();
        let merged = Keyring::clone(&keyring).merged(&loaded);
        if merged.key_ids() != keyring.key_ids() {
            tracing::info!(keys = %merged.key_ids(), "master keyring re-read: new keys held");
        }
        *keyring = Arc::new(merged);
        Ok(true)
    }

    /// [`Vault::reload`], unless the last one was less than a second ago; whether it ran.
    pub(crate) fn reload_if_due(&self) -> bool {
        let due = self
            .inner
            .last_reload
            .lock()
            .is_none_or(|at| at.elapsed() >= RELOAD_AT_MOST_EVERY);
        if !due {
            return false;
        }
        match self.reload() {
            Ok(ran) => ran,
            Err(err) => {
                tracing::warn!(error = %err, "cannot re-read the master keyring");
                false
            }
        }
    }

    /// Refuses to seal anything, for `why`, until called again with `None`.
    pub(crate) fn refuse_sealing(&self, why: Option<KeyError>) {
        *self.inner.sealing_refused.lock() = why;
    }

    /// Seals new values under the held key `id` from now on; `false` when it is not held.
    pub(crate) fn seal_under(&self, id: KeyId) -> bool {
        let mut keyring = self.inner.keyring.write();
        if keyring.primary().key_id() == id {
            return true;
        }
        match keyring.with_primary(id) {
            Some(promoted) => {
                tracing::debug!(key = %id, "sealing new values under master key");
                *keyring = Arc::new(promoted);
                true
            }
            None => false,
        }
    }

    /// Seals a secret for `field` of the row `record`.
    pub(crate) fn seal(
        &self,
        value: &str,
        record: &str,
        field: &'static str,
    ) -> StoreResult<Vec<u8>> {
        self.seal_bytes(value.as_bytes(), record, field)
    }

    /// Opens a secret sealed for `field` of the row `record`.
    pub(crate) fn open(
        &self,
        sealed: &[u8],
        record: &str,
        field: &'static str,
    ) -> StoreResult<String> {
        let plain = self.open_bytes(sealed, record, field)?;
        String::from_utf8(plain).map_err(|_| StoreError::Decrypt {
            record: record.to_owned(),
            field,
            reason: "plaintext is not UTF-8".to_owned(),
        })
    }

    /// Opens an optional sealed secret.
    pub(crate) fn open_opt(
        &self,
        sealed: Option<&[u8]>,
        record: &str,
        field: &'static str,
    ) -> StoreResult<Option<String>> {
        sealed
            .map(|sealed| self.open(sealed, record, field))
            .transpose()
    }

    /// The value re-sealed under the primary key, or `None` when it already is.
    pub(crate) fn reseal(
        &self,
        sealed: &[u8],
        record: &str,
        field: &'static str,
    ) -> StoreResult<Option<Vec<u8>>> {
        if self.keyring().is_primary(sealed) {
            return Ok(None);
        }
        let plain = self.open_bytes(sealed, record, field)?;
        self.seal_bytes(&plain, record, field).map(Some)
    }

    /// Seals the access token and, when present, the refresh token of a connection.
    pub(crate) fn seal_tokens(
        &self,
        id: &ConnectionId,
        tokens: &TokenSet,
    ) -> StoreResult<SealedTokens> {
        let record = id.as_str();
        Ok(SealedTokens {
            access: self.seal(tokens.access_token.expose(), record, "access_token")?,
            refresh: tokens
                .refresh_token
                .as_ref()
                .map(|token| self.seal(token.expose(), record, "refresh_token"))
                .transpose()?,
        })
    }

    fn seal_bytes(&self, plain: &[u8], record: &str, field: &'static str) -> StoreResult<Vec<u8>> {
        if let Some(why) = self.inner.sealing_refused.lock().clone() {
            return Err(why.into());
        }
        self.keyring().seal(plain, record, field).map_err(|err| {
            StoreError::Corrupt(format!("cannot encrypt {field} of {record}: {err}"))
        })
    }

    /// Opens a value; a value under a key not held makes the vault re-read its source once
    /// (a key added to the keyring file since this process read it) and try again.
    pub(crate) fn open_bytes(
        &self,
        sealed: &[u8],
        record: &str,
        field: &'static str,
    ) -> StoreResult<Vec<u8>> {
        let opened = match self.keyring().open(sealed, record, field) {
            Err(CryptoError::UnknownKeyId(_)) if self.reload_if_due() => {
                self.keyring().open(sealed, record, field)
            }
            other => other,
        };
        opened.map_err(|err| StoreError::Decrypt {
            record: record.to_owned(),
            field,
            reason: err.to_string(),
        })
    }
}
