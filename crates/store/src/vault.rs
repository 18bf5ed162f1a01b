//! The store's use of the [`Keyring`]: sealing secrets on their way into a row and opening
//! them on the way out, with failures as [`StoreError`]s naming the record and field (never
//! the value). Shared by every backend so all of them seal the same way.

use std::sync::Arc;

use tether_core::ids::ConnectionId;

use crate::crypto::Keyring;
use crate::{StoreError, StoreResult, TokenSet};

/// The keyring a store was opened with.
#[derive(Debug, Clone)]
pub(crate) struct Vault {
    keyring: Arc<Keyring>,
}

/// A token set sealed for one connection row.
pub(crate) struct SealedTokens {
    pub access: Vec<u8>,
    pub refresh: Option<Vec<u8>>,
}

impl Vault {
    pub(crate) fn new(keyring: Keyring) -> Self {
        Self {
            keyring: Arc::new(keyring),
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
        if self.keyring.is_primary(sealed) {
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
        self.keyring.seal(plain, record, field).map_err(|err| {
            StoreError::Corrupt(format!("cannot encrypt {field} of {record}: {err}"))
        })
    }

    fn open_bytes(&self, sealed: &[u8], record: &str, field: &'static str) -> StoreResult<Vec<u8>> {
        self.keyring
            .open(sealed, record, field)
            .map_err(|err| StoreError::Decrypt {
                record: record.to_owned(),
                field,
                reason: err.to_string(),
            })
    }
}
