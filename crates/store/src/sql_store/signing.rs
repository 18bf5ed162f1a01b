//! Signing keys (`signing_keys`, migration 0003): secrets that sign what tether hands to
//! browsers, made once by whichever process asks first and shared by all, sealed under the
//! master key like any other secret. They are independent of the master key, so a master key
//! rotation re-seals them and changes nothing they signed.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use rand::rngs::OsRng;
use tether_core::secret::SigningSecret;
use tracing::instrument;

use super::SqlStore;
use crate::codec::Columns;
use crate::sql::{Backend, Sql, Statement};
use crate::{SigningKeys, StoreResult};

/// The field signing secrets are sealed for; the record is the key's name.
const FIELD: &str = "secret";

#[async_trait]
impl<DB: Backend> SigningKeys for SqlStore<DB> {
    #[instrument(skip_all)]
    async fn signing_key(&self, name: &str) -> StoreResult<SigningSecret> {
        static INSERT: Sql = Sql::fixed(
            "INSERT INTO signing_keys (name, secret, created_at) VALUES (?, ?, DB_NOW_MS())
             ON CONFLICT (name) DO NOTHING",
        );
        if let Some(secret) = self.read_signing_key(name).await? {
            return Ok(secret);
        }
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let sealed = self.vault.seal(&STANDARD.encode(bytes), name, FIELD)?;
        Statement::<DB>::new(&INSERT)
            .bind(name)
            .bind(sealed)
            .execute(self.db())
            .await?;
        // Another process may have made it first; everyone uses the one stored.
        self.read_signing_key(name).await?.ok_or_else(|| {
            crate::StoreError::Corrupt(format!("signing key {name} vanished after insert"))
        })
    }
}

impl<DB: Backend> SqlStore<DB> {
    async fn read_signing_key(&self, name: &str) -> StoreResult<Option<SigningSecret>> {
        static SELECT: Sql = Sql::fixed("SELECT secret FROM signing_keys WHERE name = ?");
        let row = self.row_by_key(&SELECT, name).await?;
        row.map(|row| {
            let secret = self.vault.open(&row.bytes("secret")?, name, FIELD)?;
            Ok(SigningSecret::new(secret))
        })
        .transpose()
    }
}
