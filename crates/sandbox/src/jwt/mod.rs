//! JSON Web Tokens for the JWT bearer grant: the certificate an admin uploads to a Connected
//! App ([`AppCertificate`]), decoding and RS256 verification of an assertion (`verify`), and
//! two helpers for tests: [`test_keys`] makes an RSA key pair with a self-signed certificate,
//! [`assertion`] mints a signed assertion with it.

mod certificate;
pub(crate) mod verify;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{Value, json};
use sha2::Sha256;

pub use certificate::AppCertificate;

/// Why a test key could not be made or an assertion signed.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("not an RSA private key in PEM (PKCS#8 or PKCS#1)")]
    PrivateKey,
    #[error("could not generate an RSA key: {0}")]
    Generate(String),
    #[error("could not make the self-signed certificate: {0}")]
    Certificate(String),
}

/// An RSA key pair and a self-signed X.509 certificate of its public key, in PEM.
#[derive(Clone)]
pub struct TestKeys {
    /// PKCS#8 (`-----BEGIN PRIVATE KEY-----`): sign assertions with it.
    pub private_key_pem: String,
    /// `-----BEGIN CERTIFICATE-----`: upload it as the app's `certificate`.
    pub certificate_pem: String,
}

impl std::fmt::Debug for TestKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKeys")
            .field("private_key_pem", &"[redacted]")
            .field("certificate_pem", &self.certificate_pem)
            .finish()
    }
}

/// A fresh 2048-bit RSA key and a self-signed certificate for it (CN `sandbox-jwt`). Takes a
/// fraction of a second; tests share one per process.
pub fn test_keys() -> Result<TestKeys, JwtError> {
    let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
        .map_err(|e| JwtError::Generate(e.to_string()))?;
    let private_key_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| JwtError::Generate(e.to_string()))?
        .to_string();
    let certificate_pem = self_signed(&private_key_pem)?;
    Ok(TestKeys {
        private_key_pem,
        certificate_pem,
    })
}

fn self_signed(private_key_pem: &str) -> Result<String, JwtError> {
    let error = |e: rcgen::Error| JwtError::Certificate(e.to_string());
    let key_pair = rcgen::KeyPair::from_pem_and_sign_algo(private_key_pem, &rcgen::PKCS_RSA_SHA256)
        .map_err(error)?;
    let params = rcgen::CertificateParams::new(vec!["sandbox-jwt".to_owned()]).map_err(error)?;
    Ok(params.self_signed(&key_pair).map_err(error)?.pem())
}

/// A JWT bearer assertion as Salesforce expects it: RS256, claims `iss` (the consumer key),
/// `sub` (the username), `aud` (the login URL) and `exp` (seconds since the epoch).
pub fn assertion(
    private_key_pem: &str,
    iss: &str,
    sub: &str,
    aud: &str,
    exp: i64,
) -> Result<String, JwtError> {
    let claims = json!({"iss": iss, "sub": sub, "aud": aud, "exp": exp});
    signed(private_key_pem, &claims)
}

/// Any claims, signed RS256 with `private_key_pem` (for tests of odd claims).
pub fn signed(private_key_pem: &str, claims: &Value) -> Result<String, JwtError> {
    let key = RsaPrivateKey::from_pkcs8_pem(private_key_pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(private_key_pem))
        .map_err(|_| JwtError::PrivateKey)?;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let signature = SigningKey::<Sha256>::new(key).sign(signing_input.as_bytes());
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    ))
}
