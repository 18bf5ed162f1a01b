//! Secrets at rest: AES-256-GCM sealing under a rotatable master key.
//!
//! Every secret the store keeps (client secrets, refresh and access tokens, PKCE verifiers) is
//! sealed on its own with a fresh random 96-bit nonce. A sealed value is
//! `version (1) | key id (4) | nonce (12) | ciphertext and tag`. The associated data binds the
//! header to the record id and the field name, so a value copied into another row or column
//! fails to open. The key id ([`KeyId`]) names the master key that sealed the value, which lets
//! a [`Keyring`] hold the new primary key next to the previous ones during a rotation: new
//! values are sealed under the primary, old ones still open, and the store re-seals them at
//! leisure. Errors never contain key bytes or plaintext.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// The format version written as the first byte of every sealed value.
const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;
/// Separates key ids from any other use of SHA-256 over the key.
const KEY_ID_DOMAIN: &[u8] = b"tether/master-key-id/v1\0";

/// Why a key could not be loaded or a value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A master key is not 32 bytes of standard base64.
    #[error("a master key must be 32 bytes encoded as standard base64 ({0})")]
    InvalidKey(&'static str),
    /// A line of a keyring file holds no valid key.
    #[error("keyring file line {line}: {reason}")]
    KeyFileLine { line: usize, reason: &'static str },
    /// A keyring file lists no key at all.
    #[error("keyring file holds no key")]
    EmptyKeyring,
    /// The value is too short or of an unknown format version.
    #[error("sealed value is malformed: {0}")]
    Malformed(&'static str),
    /// The value was sealed under a key the keyring does not hold.
    #[error("sealed under master key {0}, which is not in the keyring (add it as a previous key)")]
    UnknownKeyId(KeyId),
    /// A key id is not 8 hex digits.
    #[error("a master key id is 8 hex digits, such as 1a2b3c4d")]
    InvalidKeyId,
    /// The tag did not verify: altered, or moved from another record or field.
    #[error("authentication failed: the value was altered or belongs to another record or field")]
    Authentication,
    /// The plaintext is larger than AES-GCM can seal.
    #[error("value too large to seal")]
    TooLarge,
}

/// The public name of a master key: the first 4 bytes of a domain-separated SHA-256 of it,
/// written as 8 hex digits. It is in the header of every value the key seals.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    /// The id as stored in a sealed value's header.
    pub fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }

    /// The id of these header bytes.
    pub fn from_bytes(bytes: [u8; KEY_ID_LEN]) -> Self {
        Self(bytes)
    }

    /// Parses 8 hex digits (as printed).
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        if text.len() != 2 * KEY_ID_LEN || !text.is_ascii() {
            return Err(CryptoError::InvalidKeyId);
        }
        let mut bytes = [0u8; KEY_ID_LEN];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * index..2 * index + 2], 16)
                .map_err(|_| CryptoError::InvalidKeyId)?;
        }
        Ok(Self(bytes))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl std::str::FromStr for KeyId {
    type Err = CryptoError;
    fn from_str(text: &str) -> Result<Self, CryptoError> {
        Self::parse(text)
    }
}

/// A list of key ids, displayed as `ab12cd34, 0f1e2d3c` (or `no key`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyIds(pub Vec<KeyId>);

impl fmt::Display for KeyIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no key");
        }
        let ids: Vec<String> = self.0.iter().map(KeyId::to_string).collect();
        f.write_str(&ids.join(", "))
    }
}

/// A 256-bit master key.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Parses a key written as standard base64 (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| CryptoError::InvalidKey("not base64"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CryptoError::InvalidKey("wrong length"))?;
        Ok(Self(bytes))
    }

    /// The key as standard base64, for a key file or an environment variable.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// A short public name of the key: the first 4 bytes of a domain-separated SHA-256.
    pub fn key_id(&self) -> KeyId {
        let digest = Sha256::new()
            .chain_update(KEY_ID_DOMAIN)
            .chain_update(self.0)
            .finalize();
        KeyId([digest[0], digest[1], digest[2], digest[3]])
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({} [redacted])", self.key_id())
    }
}

/// Where a running process can read its keyring again (a keyring file), so that keys added
/// while it runs are picked up. A keyring given in the environment has none: it cannot change
/// in a running process.
pub trait KeyringSource: Send + Sync + fmt::Debug {
    /// The keyring as the source holds it now; the error says why it cannot be read.
    fn load(&self) -> Result<Keyring, String>;
}

/// A keyring and, when it can change while the process runs, where to read it again.
#[derive(Debug, Clone)]
pub struct Keys {
    pub ring: Keyring,
    pub source: Option<std::sync::Arc<dyn KeyringSource>>,
}

impl From<Keyring> for Keys {
    fn from(ring: Keyring) -> Self {
        Self { ring, source: None }
    }
}

/// The primary key that seals, and previous keys that still open.
#[derive(Debug, Clone)]
pub struct Keyring {
    primary: MasterKey,
    previous: Vec<MasterKey>,
}

impl Keyring {
    /// A keyring sealing with `primary` and opening with it or any of `previous`.
    pub fn new(primary: MasterKey, previous: Vec<MasterKey>) -> Self {
        Self { primary, previous }
    }

    /// The key new values are sealed under.
    pub fn primary(&self) -> &MasterKey {
        &self.primary
    }

    /// Keys that only open.
    pub fn previous(&self) -> &[MasterKey] {
        &self.previous
    }

    /// This keyring with `new_primary` in front and the current primary demoted to previous.
    pub fn rotated(self, new_primary: MasterKey) -> Self {
        let mut previous = Vec::with_capacity(self.previous.len() + 1);
        previous.extend(Some(self.primary).filter(|k| *k != new_primary));
        previous.extend(self.previous.into_iter().filter(|k| *k != new_primary));
        Self {
            primary: new_primary,
            previous,
        }
    }

    /// Every key, the primary first.
    pub fn keys(&self) -> impl Iterator<Item = &MasterKey> {
        std::iter::once(&self.primary).chain(&self.previous)
    }

    /// The ids of every key, the primary first.
    pub fn key_ids(&self) -> KeyIds {
        KeyIds(self.keys().map(MasterKey::key_id).collect())
    }

    /// Whether the keyring holds the key named `id`.
    pub fn holds(&self, id: KeyId) -> bool {
        self.find(id).is_some()
    }

    /// This keyring with the key named `id` as primary and the current primary first among the
    /// previous keys; `None` when it does not hold that key.
    pub fn with_primary(&self, id: KeyId) -> Option<Self> {
        let key = self.find(id)?.clone();
        Some(self.clone().rotated(key))
    }

    /// This keyring with `key` added as a previous key (if it is not held already).
    pub fn with_key(mut self, key: MasterKey) -> Self {
        if !self.holds(key.key_id()) {
            self.previous.push(key);
        }
        self
    }

    /// This keyring without the previous key named `id`; `None` when `id` is the primary.
    pub fn without(&self, id: KeyId) -> Option<Self> {
        if self.primary.key_id() == id {
            return None;
        }
        let previous = self
            .previous
            .iter()
            .filter(|key| key.key_id() != id)
            .cloned()
            .collect();
        Some(Self::new(self.primary.clone(), previous))
    }

    /// This keyring plus every key of `other` it does not hold, as previous keys; the primary
    /// stays.
    pub fn merged(self, other: &Keyring) -> Self {
        other.keys().cloned().fold(self, Keyring::with_key)
    }

    /// Seals `plaintext` for the `field` of `record` under the primary key.
    pub fn seal(
        &self,
        plaintext: &[u8],
        record: &str,
        field: &str,
    ) -> Result<Vec<u8>, CryptoError> {
        seal_under(&self.primary, plaintext, record, field)
    }

    /// Seals under the held key named `id`, primary or not (a canary proving that key).
    pub fn seal_with(
        &self,
        id: KeyId,
        plaintext: &[u8],
        record: &str,
        field: &str,
    ) -> Result<Vec<u8>, CryptoError> {
        let key = self.find(id).ok_or(CryptoError::UnknownKeyId(id))?;
        seal_under(key, plaintext, record, field)
    }

    /// Opens a value sealed for the `field` of `record` by any key of this keyring.
    pub fn open(&self, sealed: &[u8], record: &str, field: &str) -> Result<Vec<u8>, CryptoError> {
        let key = self.key_for(sealed)?;
        let nonce = Nonce::from_slice(&sealed[1 + KEY_ID_LEN..HEADER_LEN]);
        let aad = associated_data(&sealed[..1 + KEY_ID_LEN], record, field);
        let payload = Payload {
            msg: &sealed[HEADER_LEN..],
            aad: &aad,
        };
        key.cipher()
            .decrypt(nonce, payload)
            .map_err(|_| CryptoError::Authentication)
    }

    /// Whether `sealed` names the primary key (re-encryption skips those values).
    pub fn is_primary(&self, sealed: &[u8]) -> bool {
        key_id_of(sealed).is_ok_and(|id| id == self.primary.key_id())
    }

    /// Parses a keyring file: one base64 key per line, the first the primary; blank lines
    /// and lines starting with `#` are ignored.
    pub fn parse_file(text: &str) -> Result<Self, CryptoError> {
        let mut keys = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = MasterKey::from_base64(line).map_err(|err| CryptoError::KeyFileLine {
                line: index + 1,
                reason: match err {
                    CryptoError::InvalidKey(reason) => reason,
                    _ => "invalid key",
                },
            })?;
            keys.push(key);
        }
        let mut keys = keys.into_iter();
        let primary = keys.next().ok_or(CryptoError::EmptyKeyring)?;
        Ok(Self::new(primary, keys.collect()))
    }

    /// The keyring as file text [`Keyring::parse_file`] reads back.
    pub fn to_file_contents(&self) -> String {
        let mut text = String::from(
            "# tether master keys: the first is the primary, the others only decrypt.\n",
        );
        for key in self.keys() {
            text.push_str(&key.to_base64());
            text.push('\n');
        }
        text
    }

    fn key_for(&self, sealed: &[u8]) -> Result<&MasterKey, CryptoError> {
        let id = key_id_of(sealed)?;
        self.find(id).ok_or(CryptoError::UnknownKeyId(id))
    }

    fn find(&self, id: KeyId) -> Option<&MasterKey> {
        self.keys().find(|key| key.key_id() == id)
    }
}

/// Seals `plaintext` for the `field` of `record` under `key`, with a fresh random nonce.
fn seal_under(
    key: &MasterKey,
    plaintext: &[u8],
    record: &str,
    field: &str,
) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let mut sealed = Vec::with_capacity(HEADER_LEN + plaintext.len() + 16);
    sealed.push(VERSION);
    sealed.extend_from_slice(key.key_id().as_bytes());
    sealed.extend_from_slice(&nonce);
    let aad = associated_data(&sealed[..1 + KEY_ID_LEN], record, field);
    let payload = Payload {
        msg: plaintext,
        aad: &aad,
    };
    let ciphertext = key
        .cipher()
        .encrypt(Nonce::from_slice(&nonce), payload)
        .map_err(|_| CryptoError::TooLarge)?;
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

/// The key id in the header of a sealed value, after checking length and version.
pub fn key_id_of(sealed: &[u8]) -> Result<KeyId, CryptoError> {
    if sealed.len() < HEADER_LEN + 16 {
        return Err(CryptoError::Malformed("too short"));
    }
    if sealed[0] != VERSION {
        return Err(CryptoError::Malformed("unknown version"));
    }
    Ok(KeyId([sealed[1], sealed[2], sealed[3], sealed[4]]))
}

/// `header | len(record) | record | field`: the length prefix keeps `("ab", "c")` and
/// `("a", "bc")` apart.
fn associated_data(header: &[u8], record: &str, field: &str) -> Vec<u8> {
    let record_len = u32::try_from(record.len()).unwrap_or(u32::MAX);
    let mut aad = Vec::with_capacity(header.len() + 4 + record.len() + field.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(&record_len.to_be_bytes());
    aad.extend_from_slice(record.as_bytes());
    aad.extend_from_slice(field.as_bytes());
    aad
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
