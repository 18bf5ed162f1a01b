//! PKCE (RFC 7636, S256) and the `state` value of an authorization request.
//!
//! Built on the `oauth2` crate's generators; the verifier stays a `PkceVerifier` secret.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tether_core::secret::PkceVerifier;

/// A fresh verifier and its S256 challenge.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: PkceVerifier,
    pub challenge: String,
}

impl Pkce {
    /// A new random verifier (43+ characters of the unreserved set) and its challenge.
    pub fn generate() -> Self {
        let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
        Self {
            verifier: PkceVerifier::new(verifier.secret().clone()),
            challenge: challenge.as_str().to_owned(),
        }
    }
}

/// The S256 challenge of a verifier (base64url of its SHA-256, no padding).
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A new unguessable `state` value.
pub fn new_state() -> String {
    oauth2::CsrfToken::new_random_len(32).secret().clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_the_s256_of_the_verifier() {
        let pkce = Pkce::generate();
        assert_eq!(challenge_of(pkce.verifier.expose()), pkce.challenge);
        assert!(pkce.verifier.expose().len() >= 43);
    }

    #[test]
    fn rfc7636_appendix_b_example() {
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn states_are_long_and_distinct() {
        let (a, b) = (new_state(), new_state());
        assert_ne!(a, b);
        assert!(a.len() >= 40);
    }
}
