//! The steps of a master key rotation, as the `tether keys` commands run them, each safe to
//! repeat and each leaving every value readable by every server that follows the procedure:
//!
//! 1. [`KeyAdmin::add`]: a new key, recorded as pending (nothing is sealed under it), then
//!    written into the keyring file. Running servers learn it on SIGHUP, or when they first
//!    meet a value under it.
//! 2. [`KeyAdmin::promote`]: the key becomes the database's primary (and the file's first
//!    line). Every running server seals under it after its next check.
//! 3. [`KeyAdmin::reencrypt`]: every value under another key is re-sealed, a batch per
//!    transaction; a run cut short is finished by running again.
//! 4. [`KeyAdmin::retire`]: once nothing is sealed under the old key and the new primary has
//!    settled, the old key is marked retired and removed from the file.
//!
//! [`KeyAdmin::rotate`] runs them in order. A key given in the environment cannot hold a
//! second key: the first step then writes the keyring to a new file the operator names, and
//! the process goes on with that file.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tether_store::crypto::{KeyId, Keyring, KeyringSource, Keys, MasterKey};
use tether_store::keys::{
    KeyCheck, KeyError, KeyState, MasterKeyRecord, SealedCount, SealedCursor,
};
use tether_store::{Store, StoreError};

use super::RETIRE_SETTLE;
use super::file::{KeyFile, KeyFileError};
use super::open::{KeySource, Opened};

/// Why a key step was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyAdminError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    File(#[from] KeyFileError),
    #[error(
        "the master key is given in the environment (TETHER_MASTER_KEY), which holds one key: \
         name a new keyring file for the old and the new key with --new-keyring FILE"
    )]
    NeedsKeyringFile,
    #[error(
        "the keyring is already in the file {0}, which this command updates: --new-keyring is \
         only for a key given in the environment"
    )]
    AlreadyInFile(std::path::PathBuf),
    #[error(
        "master key {0} was added to the database, but the keyring does not hold it (an \
         interrupted add-master?): nothing is sealed under it; retire it with \
         `tether keys retire-master {0}`, then add a key again"
    )]
    PendingNotHeld(KeyId),
}

/// What a step reports while it works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Re-encryption starts: `values` are under keys other than `primary`.
    Reencrypting { primary: KeyId, values: u64 },
    /// A batch re-sealed values of `column`; `done` of `total` so far.
    Batch {
        column: String,
        done: u64,
        total: u64,
    },
    /// Retiring waits until every running server has followed the new primary.
    Settling { primary: KeyId, wait: Duration },
}

/// A key added by [`KeyAdmin::add`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub id: KeyId,
    /// `false` when the key was pending already (the step had run).
    pub new: bool,
}

/// What [`KeyAdmin::status`] reports.
#[derive(Debug, Clone)]
pub struct KeyStatus {
    pub records: Vec<MasterKeyRecord>,
    pub counts: Vec<SealedCount>,
}

impl KeyStatus {
    /// How many values are sealed under `id`.
    pub fn values_under(&self, id: KeyId) -> u64 {
        self.counts
            .iter()
            .find(|c| c.id == id)
            .map_or(0, |c| c.values)
    }
}

/// The key steps on a store whose keyring fits its database.
#[derive(Debug)]
pub struct KeyAdmin {
    store: Arc<dyn Store>,
    source: KeySource,
    /// The keyring as its source holds it (the file's order: the file's primary first).
    keyring: Keyring,
    primary: KeyId,
}

impl KeyAdmin {
    pub fn new(opened: Opened) -> Self {
        Self {
            store: opened.store,
            source: opened.source,
            keyring: opened.keyring,
            primary: opened.primary,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// The database's primary.
    pub fn primary(&self) -> KeyId {
        self.primary
    }

    /// The keys the database records and the values under each key.
    pub async fn status(&self) -> Result<KeyStatus, KeyAdminError> {
        Ok(KeyStatus {
            records: self.store.master_keys().await?,
            counts: self.store.sealed_counts().await?,
        })
    }

    /// Step 1: a new pending key in the database and the keyring file (`new_keyring` when the
    /// key is given in the environment). A key pending already is returned as it is.
    pub async fn add(&mut self, new_keyring: Option<&Path>) -> Result<Added, KeyAdminError> {
        let records = self.store.master_keys().await?;
        if let Some(pending) = records.iter().find(|r| r.state == KeyState::Pending) {
            return match pending.held {
                true => Ok(Added {
                    id: pending.id,
                    new: false,
                }),
                false => Err(KeyAdminError::PendingNotHeld(pending.id)),
            };
        }
        let target = self.target_file(new_keyring)?;
        let key = MasterKey::generate();
        let id = key.key_id();
        let updated = self.keyring.clone().with_key(key);
        // Recorded first: a crash before the file is written leaves a pending key nothing is
        // sealed under, which `retire-master` removes; never a file key the database lacks.
        self.use_keys(&updated, None);
        self.store.add_master_key(id).await?;
        let written = match &target {
            Target::Replace(file) => file.replace(&self.keyring, &updated),
            Target::Create(file) => file.create(&updated),
        };
        if let Err(err) = written {
            let _ = self.store.retire_master_key(id, Duration::ZERO).await;
            return Err(err.into());
        }
        let file = match target {
            Target::Replace(file) | Target::Create(file) => file,
        };
        self.keyring = updated.clone();
        self.source = KeySource::File(file.clone());
        self.use_keys(&updated, Some(file));
        Ok(Added { id, new: true })
    }

    /// Step 2: `id` becomes the database's primary and the file's first key.
    pub async fn promote(&mut self, id: KeyId) -> Result<(), KeyAdminError> {
        self.store.promote_master_key(id).await?;
        self.primary = id;
        let file_primary = self.keyring.primary().key_id();
        if let (Some(file), Some(updated)) = (self.source.file(), self.keyring.with_primary(id))
            && file_primary != id
        {
            file.replace(&self.keyring, &updated)?;
            self.keyring = updated;
        }
        self.follow().await
    }

    /// Step 3: re-seals every value not under the primary, `batch` per transaction, pausing
    /// `pause` after each batch that did work; how many values it re-sealed.
    pub async fn reencrypt(
        &mut self,
        batch: u32,
        pause: Duration,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<u64, KeyAdminError> {
        self.follow().await?;
        let primary = self.primary;
        let total: u64 = self
            .store
            .sealed_counts()
            .await?
            .iter()
            .filter(|c| c.id != primary)
            .map(|c| c.values)
            .sum();
        progress(Progress::Reencrypting {
            primary,
            values: total,
        });
        let mut cursor = SealedCursor::default();
        let mut done = 0;
        loop {
            let step = self.store.reencrypt_batch(&cursor, batch).await?;
            done += step.resealed;
            if step.resealed > 0 {
                progress(Progress::Batch {
                    column: step.column,
                    done,
                    total,
                });
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
            match step.next {
                Some(next) => cursor = next,
                None => return Ok(done),
            }
        }
    }

    /// Step 4: retires `id` once nothing is sealed under it, waiting until the primary has
    /// settled; removes it from the keyring file.
    pub async fn retire(
        &mut self,
        id: KeyId,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), KeyAdminError> {
        loop {
            match self.store.retire_master_key(id, RETIRE_SETTLE).await {
                Err(StoreError::MasterKey(err)) if err.wait().is_some() => {
                    let wait = err.wait().unwrap_or_default() + Duration::from_millis(100);
                    progress(Progress::Settling {
                        primary: self.primary,
                        wait,
                    });
                    tokio::time::sleep(wait).await;
                }
                other => break other?,
            }
        }
        let Some(file) = self.source.file() else {
            return Ok(());
        };
        if !self.keyring.holds(id) {
            return Ok(());
        }
        let first = self
            .keyring
            .with_primary(self.primary)
            .unwrap_or_else(|| self.keyring.clone());
        if let Some(updated) = first.without(id) {
            file.replace(&self.keyring, &updated)?;
            self.keyring = updated;
        }
        Ok(())
    }

    /// Every step in order: a new key, made primary, every value re-encrypted under it, and,
    /// with `retire`, the key that was primary retired. The new key's id.
    pub async fn rotate(
        &mut self,
        new_keyring: Option<&Path>,
        retire: bool,
        pace: (u32, Duration),
        progress: &mut dyn FnMut(Progress),
    ) -> Result<KeyId, KeyAdminError> {
        let old = self.primary;
        let added = self.add(new_keyring).await?;
        self.promote(added.id).await?;
        self.reencrypt(pace.0, pace.1, progress).await?;
        if retire {
            // A server that sealed under the old key just before it followed the new primary
            // leaves a value to re-encrypt once more.
            for _ in 0..3 {
                match self.retire(old, progress).await {
                    Err(KeyAdminError::Store(StoreError::MasterKey(KeyError::StillInUse {
                        ..
                    }))) => {
                        self.reencrypt(pace.0, pace.1, progress).await?;
                    }
                    other => return other.map(|()| added.id),
                }
            }
            self.retire(old, progress).await?;
        }
        Ok(added.id)
    }

    /// Where step 1 writes the keyring: the file it came from, or a new file for a key given
    /// in the environment.
    fn target_file(&self, new_keyring: Option<&Path>) -> Result<Target, KeyAdminError> {
        match (self.source.file(), new_keyring) {
            (Some(file), None) => Ok(Target::Replace(file.clone())),
            (Some(file), Some(_)) => Err(KeyAdminError::AlreadyInFile(file.path().to_owned())),
            (None, None) => Err(KeyAdminError::NeedsKeyringFile),
            (None, Some(path)) => {
                let file = KeyFile::new(path);
                if file.exists() {
                    return Err(KeyFileError::Exists(file.path().to_owned()).into());
                }
                Ok(Target::Create(file))
            }
        }
    }

    /// The store seals and opens with `keyring` (re-read from `file`, if given), under the
    /// database's primary.
    fn use_keys(&self, keyring: &Keyring, file: Option<KeyFile>) {
        let ring = keyring
            .with_primary(self.primary)
            .unwrap_or_else(|| keyring.clone());
        self.store.use_keys(Keys {
            ring,
            source: file.map(|f| Arc::new(f) as Arc<dyn KeyringSource>),
        });
    }

    /// Checks the keyring against the database again and seals under its primary.
    async fn follow(&mut self) -> Result<(), KeyAdminError> {
        if let KeyCheck::Matches { primary } = self.store.check_master_keys().await? {
            self.primary = primary;
        }
        Ok(())
    }
}

/// The keyring file step 1 writes.
enum Target {
    Replace(KeyFile),
    Create(KeyFile),
}
