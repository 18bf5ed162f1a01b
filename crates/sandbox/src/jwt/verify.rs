//! Decoding a JWT bearer assertion and checking its RS256 signature. Only the shape is
//! checked here; what the claims must say (audience, expiry, user) is the grant's business.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use super::AppCertificate;

/// The claims the JWT bearer grant reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    /// One audience or several.
    pub aud: Audience,
    /// Seconds since the epoch.
    pub exp: f64,
}

/// `aud` as a string or an array of strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// Whether any audience is one of `accepted`.
    pub fn any_of(&self, accepted: &[&str]) -> bool {
        match self {
            Self::One(aud) => accepted.contains(&aud.as_str()),
            Self::Many(auds) => auds.iter().any(|a| accepted.contains(&a.as_str())),
        }
    }
}

/// A decoded, not yet verified, assertion.
#[derive(Debug, Clone)]
pub struct Assertion {
    pub alg: String,
    pub claims: Claims,
    signing_input: String,
    signature: Vec<u8>,
}

/// Splits and decodes `header.payload.signature`; `None` when it is not a JWT carrying the
/// four claims.
pub fn decode(token: &str) -> Option<Assertion> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    Some(Assertion {
        alg: header.get("alg")?.as_str()?.to_owned(),
        claims,
        signing_input: token[..token.len() - signature.len() - 1].to_owned(),
        signature: URL_SAFE_NO_PAD.decode(signature).ok()?,
    })
}

impl Assertion {
    /// RS256 only: the signature must verify with the certificate's public key.
    pub fn verified_by(&self, certificate: &AppCertificate) -> bool {
        if self.alg != "RS256" {
            return false;
        }
        let Ok(signature) = Signature::try_from(self.signature.as_slice()) else {
            return false;
        };
        VerifyingKey::<Sha256>::new(certificate.key().clone())
            .verify(self.signing_input.as_bytes(), &signature)
            .is_ok()
    }
}
