//! What the store knows of the master keys a database is sealed under: their records and
//! states ([`MasterKeyRecord`], [`KeyState`]), the outcome of comparing a keyring with them
//! ([`KeyCheck`]), a re-encryption's progress ([`SealedCursor`], [`ReencryptBatch`]), and why
//! a key operation is refused ([`KeyError`]). Key ids are public names, never secrets, so
//! every message names them.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::crypto::{KeyId, KeyIds};

/// Where a master key is in its life, as the database records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// In the keyring, nothing sealed under it yet: running processes learn it before it seals.
    Pending,
    /// New values are sealed under it (exactly one key).
    Primary,
    /// A former primary: values may still be sealed under it until re-encryption moves them.
    Previous,
    /// Nothing is sealed under it; no process needs it any more.
    Retired,
}

impl KeyState {
    /// The state as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Pending => "pending",
            KeyState::Primary => "primary",
            KeyState::Previous => "previous",
            KeyState::Retired => "retired",
        }
    }

    /// Whether values may be sealed under a key in this state (so every process must hold it).
    pub fn may_seal_values(self) -> bool {
        matches!(self, KeyState::Primary | KeyState::Previous)
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for KeyState {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "pending" => Ok(KeyState::Pending),
            "primary" => Ok(KeyState::Primary),
            "previous" => Ok(KeyState::Previous),
            "retired" => Ok(KeyState::Retired),
            other => Err(format!("unknown master key state {other:?}")),
        }
    }
}

/// A master key the database records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterKeyRecord {
    pub id: KeyId,
    pub state: KeyState,
    /// When it entered its state, by the database's clock.
    pub changed_at: DateTime<Utc>,
    /// Whether this process's keyring holds it.
    pub held: bool,
}

/// How a keyring compares with the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCheck {
    /// The database records no master key and holds no sealed value: any keyring will do
    /// (record its primary with `init_master_key`).
    Fresh,
    /// Every key values may be sealed under is held and opens its canary; new values are
    /// sealed under `primary`, the database's primary.
    Matches { primary: KeyId },
}

/// How many values are sealed under one key id (over every sealed column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedCount {
    pub id: KeyId,
    pub values: u64,
}

/// A place in the walk over every sealed value: a column of the registry, and the key of the
/// last row re-sealed in it. A walk starts at [`SealedCursor::default`]; a walk cut short (a
/// crash) starts there again and skips what is already sealed under the primary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealedCursor {
    pub(crate) column: usize,
    pub(crate) after: Option<Vec<String>>,
}

/// What one re-encryption batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReencryptBatch {
    /// The column the batch worked on (`table.column`).
    pub column: String,
    /// Values re-sealed under the primary.
    pub resealed: u64,
    /// Where the next batch starts; `None` when the walk is over.
    pub next: Option<SealedCursor>,
}

/// Why the database and a keyring do not fit, or a key operation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The database records `expected` in `state`, and the keyring lacks it.
    #[error(
        "the database is sealed under master key {expected} ({state}), which the keyring does \
         not hold (it holds {held})"
    )]
    NotHeld {
        expected: KeyId,
        state: KeyState,
        held: KeyIds,
    },
    /// Values in a database that records no key name `expected`, which the keyring lacks.
    #[error(
        "the database holds values sealed under master key {expected}, which the keyring does \
         not hold (it holds {held})"
    )]
    ValuesUnderMissingKey { expected: KeyId, held: KeyIds },
    /// A held key with the recorded id does not open that key's canary.
    #[error(
        "the keyring's master key {0} does not open the database's canary for that key id: it is \
         another key with the same id, or the canary was altered"
    )]
    CanaryFails(KeyId),
    /// The operation needs a key the keyring does not hold.
    #[error("the keyring does not hold master key {0}")]
    KeyringLacks(KeyId),
    /// The key is not recorded in the database.
    #[error("master key {0} is not recorded in the database")]
    NotRecorded(KeyId),
    /// The operation does not apply to a key in this state.
    #[error("master key {id} is {state}: {why}")]
    WrongState {
        id: KeyId,
        state: KeyState,
        why: &'static str,
    },
    /// Another key is pending already: one rotation at a time.
    #[error("master key {0} is already pending: make it primary or retire it first")]
    AlreadyPending(KeyId),
    /// Values are still sealed under the key.
    #[error("{values} values are still sealed under master key {id}; re-encrypt them first")]
    StillInUse { id: KeyId, values: u64 },
    /// The primary changed too recently for every running process to have followed.
    #[error(
        "master key {primary} became primary {since:?} ago; running processes follow the \
         database's primary within {settle:?}"
    )]
    TooSoon {
        primary: KeyId,
        since: Duration,
        settle: Duration,
    },
}

impl KeyError {
    /// How long to wait before trying again, for [`KeyError::TooSoon`].
    pub fn wait(&self) -> Option<Duration> {
        match self {
            KeyError::TooSoon { since, settle, .. } => Some(settle.saturating_sub(*since)),
            _ => None,
        }
    }
}
