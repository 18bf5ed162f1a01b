//! Signing the OAuth `state` so it names its connect session and cannot be forged.
//!
//! The key is the database's signing key `state-signer` (made once, shared by every process,
//! sealed under the master key), not the master key: a master key rotation re-seals it and
//! leaves every connect flow and page session in progress valid.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tether_core::ids::ConnectSessionId;
use tether_core::secret::SigningSecret;

/// Signs and checks states with a key of its own.
#[derive(Debug)]
pub struct StateSigner {
    key: MacKey,
}

/// An HMAC-SHA-256 key derived for one purpose; never printed.
pub(crate) struct MacKey([u8; 32]);

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl MacKey {
    /// An HMAC-SHA-256 under this key, for the message to be fed to it.
    pub(crate) fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
    }
}

#[cfg(test)]
impl From<[u8; 32]> for MacKey {
    fn from(key: [u8; 32]) -> Self {
        Self(key)
    }
}

impl StateSigner {
    /// The signer of the signing key `secret`.
    pub fn new(secret: &SigningSecret) -> Self {
        Self::derive(secret.expose().as_bytes())
    }

    /// A signer whose key is derived from `secret` for this one purpose.
    pub fn derive(secret: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"tether/connect-state/v1\0");
        hasher.update(secret);
        Self {
            key: MacKey(hasher.finalize().into()),
        }
    }

    fn mac(&self, id: &ConnectSessionId) -> Hmac<Sha256> {
        let mut mac = self.key.mac();
        mac.update(id.as_str().as_bytes());
        mac
    }

    /// The state for a session.
    pub fn sign(&self, id: &ConnectSessionId) -> String {
        let tag = self.mac(id).finalize().into_bytes();
        format!("{id}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The session a state names, if the signature holds.
    pub fn verify(&self, state: &str) -> Option<ConnectSessionId> {
        let (id, tag) = state.split_once('.')?;
        let id = ConnectSessionId::parse(id).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(&id).verify_slice(&tag).ok().map(|()| id)
    }

    /// The state for a session whose connect link was opened by the browser holding cookie
    /// `nonce`: `{id}.{HMAC}.{binding}`, where the binding is an HMAC (under a subkey) of the
    /// session id and the nonce's SHA-256. Only that browser's cookie matches it at the callback.
    pub fn sign_bound(&self, id: &ConnectSessionId, nonce: &str) -> String {
        let binding = self.binding(id, nonce).finalize().into_bytes();
        format!("{}.{}", self.sign(id), URL_SAFE_NO_PAD.encode(binding))
    }

    /// Splits a state into the session's signed state (what the store fingerprints) and its
    /// browser binding, if it has one.
    pub fn unbind(state: &str) -> (&str, Option<&str>) {
        match state.rsplit_once('.') {
            Some((base, binding)) if base.contains('.') => (base, Some(binding)),
            _ => (state, None),
        }
    }

    /// Whether `binding` (from a state) binds session `id` to the browser holding `nonce`.
    pub fn bound_to(&self, id: &ConnectSessionId, binding: &str, nonce: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(binding)
            .is_ok_and(|tag| self.binding(id, nonce).verify_slice(&tag).is_ok())
    }

    fn binding(&self, id: &ConnectSessionId, nonce: &str) -> Hmac<Sha256> {
        let mut mac = self.subkey("connect-browser-binding").mac();
        mac.update(id.as_str().as_bytes());
        mac.update(b"\0");
        mac.update(&Sha256::digest(nonce.as_bytes()));
        mac
    }

    /// The public name of the signing key: 8 hex digits of a domain-separated SHA-256, for
    /// logs that say which key signs.
    pub fn key_id(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"tether/signing-key-id/v1\0")
            .chain_update(self.key.0)
            .finalize();
        digest[..4].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A key for another purpose (the page's session cookies), derived from this signer's key,
    /// so it lives as long as the signing key (not the master key).
    pub(crate) fn subkey(&self, purpose: &str) -> MacKey {
        let mut mac = self.key.mac();
        mac.update(b"tether/subkey/v1\0");
        mac.update(purpose.as_bytes());
        MacKey(mac.finalize().into_bytes().into())
    }

    /// What the store keeps of a state.
    pub fn fingerprint(state: &str) -> [u8; 32] {
        Sha256::digest(state.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_state_verifies_and_a_changed_one_does_not() {
        let signer = StateSigner::derive(b"master");
        let id = ConnectSessionId::generate();
        let state = signer.sign(&id);
        assert_eq!(signer.verify(&state), Some(id.clone()));
        let mut forged = state.clone();
        forged.pop();
        forged.push(if state.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(signer.verify(&forged), None);
        let other = StateSigner::derive(b"other master");
        assert_eq!(other.verify(&state), None);
        assert_eq!(signer.verify("garbage"), None);
    }

    #[test]
    fn a_bound_state_matches_only_its_browser_nonce() {
        let signer = StateSigner::derive(b"master");
        let id = ConnectSessionId::generate();
        let state = signer.sign_bound(&id, "nonce-a");
        let (base, binding) = StateSigner::unbind(&state);
        assert_eq!(base, signer.sign(&id));
        assert_eq!(signer.verify(base), Some(id.clone()));
        let binding = binding.unwrap_or_else(|| panic!("no binding"));
        assert!(signer.bound_to(&id, binding, "nonce-a"));
        assert!(!signer.bound_to(&id, binding, "nonce-b"));
        assert!(!signer.bound_to(&ConnectSessionId::generate(), binding, "nonce-a"));
        assert!(!StateSigner::derive(b"other").bound_to(&id, binding, "nonce-a"));
        assert_eq!(StateSigner::unbind(base), (base, None));
    }

    #[test]
    fn the_key_id_names_the_key_without_revealing_it() {
        let signer = StateSigner::new(&SigningSecret::new("c2VjcmV0"));
        let id = signer.key_id();
        assert_eq!(id.len(), 8);
        assert_eq!(
            id,
            StateSigner::new(&SigningSecret::new("c2VjcmV0")).key_id()
        );
        assert_ne!(
            id,
            StateSigner::new(&SigningSecret::new("b3RoZXI=")).key_id()
        );
    }
}
