//! The X.509 certificate of a Connected App ("Use digital signatures"): kept as the PEM the
//! admin uploaded, with its RSA public key parsed once, when it is set.

use rsa::RsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use x509_cert::Certificate;
use x509_cert::der::{DecodePem, Encode};

/// A certificate with an RSA public key. Serializes as its PEM text.
#[derive(Clone, PartialEq, Eq)]
pub struct AppCertificate {
    pem: String,
    key: RsaPublicKey,
}

impl std::fmt::Debug for AppCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCertificate").finish_non_exhaustive()
    }
}

impl AppCertificate {
    /// Parses a PEM X.509 certificate; its key must be RSA. The error says what is wrong.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let cert = Certificate::from_pem(pem.trim().as_bytes())
            .map_err(|e| format!("certificate is not a PEM X.509 certificate: {e}"))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| format!("certificate public key is unreadable: {e}"))?;
        let key = RsaPublicKey::from_public_key_der(&spki)
            .map_err(|_| "certificate public key is not an RSA key".to_owned())?;
        Ok(Self {
            pem: pem.to_owned(),
            key,
        })
    }

    /// The RSA public key that verifies the app's assertions.
    pub fn key(&self) -> &RsaPublicKey {
        &self.key
    }
}

impl Serialize for AppCertificate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.pem)
    }
}

impl<'de> Deserialize<'de> for AppCertificate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pem = String::deserialize(deserializer)?;
        Self::from_pem(&pem).map_err(serde::de::Error::custom)
    }
}
