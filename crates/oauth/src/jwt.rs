//! The JWT bearer flow, tether's side (salesforce.md section 3): a connector's RSA key pair
//! with a self-signed certificate for the Connected App ("Use digital signatures"), and the
//! short RS256 assertion tether signs with it for each new access token.
//!
//! `ring` cannot generate RSA keys, so the `rsa` crate makes them; `rcgen` signs the
//! certificate. Both are CPU work (a key takes a fraction of a second in an optimized build):
//! callers on an async runtime run [`generate`] on a blocking thread.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike, Duration, Utc};
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use serde::Serialize;
use sha2::Sha256;
use tether_core::secret::PrivateKeyPem;
use url::Url;

/// The RSA modulus size of a connector's key.
pub const KEY_BITS: usize = 2048;
/// How far ahead of tether's clock an assertion's `exp` lies. Salesforce refuses an `exp` more
/// than 3 minutes ahead of its clock, or past: two minutes leaves a minute of skew either way.
pub const ASSERTION_LIFETIME: Duration = Duration::seconds(120);
/// How long a generated certificate is valid (Salesforce shows its expiry in Setup).
const CERTIFICATE_YEARS: i32 = 10;

/// Why a key could not be made or an assertion signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("could not generate an RSA key: {0}")]
    Generate(String),
    #[error("could not make the self-signed certificate: {0}")]
    Certificate(String),
    #[error("the connector's private key is not an RSA key in PKCS#8 PEM")]
    PrivateKey,
}

/// A new key pair: the private key (PKCS#8 PEM, to be sealed) and the PEM of a self-signed
/// X.509 certificate of its public key, named `common_name`, valid from `now` for ten years.
pub fn generate(
    common_name: &str,
    now: DateTime<Utc>,
) -> Result<(PrivateKeyPem, String), JwtError> {
    let key = RsaPrivateKey::new(&mut rand::thread_rng(), KEY_BITS)
        .map_err(|e| JwtError::Generate(e.to_string()))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| JwtError::Generate(e.to_string()))?;
    let certificate = self_signed(&pem, common_name, now)?;
    Ok((PrivateKeyPem::new(pem.as_str()), certificate))
}

fn self_signed(
    private_key_pem: &str,
    common_name: &str,
    now: DateTime<Utc>,
) -> Result<String, JwtError> {
    let error = |e: rcgen::Error| JwtError::Certificate(e.to_string());
    let key_pair = rcgen::KeyPair::from_pem_and_sign_algo(private_key_pem, &rcgen::PKCS_RSA_SHA256)
        .map_err(error)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(error)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let day = |at: DateTime<Utc>, years: i32| {
        rcgen::date_time_ymd(at.year() + years, at.month() as u8, at.day().min(28) as u8)
    };
    params.not_before = day(now - Duration::days(1), 0);
    params.not_after = day(now, CERTIFICATE_YEARS);
    Ok(params.self_signed(&key_pair).map_err(error)?.pem())
}

/// The claims of a JWT bearer assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims<'a> {
    /// The consumer key.
    pub iss: &'a str,
    /// The Salesforce username.
    pub sub: &'a str,
    /// The login host ([`audience`]).
    pub aud: &'a str,
    /// Seconds since the epoch.
    pub exp: i64,
}

impl<'a> Claims<'a> {
    /// The claims of an assertion signed at `now` for the connector's login URL.
    pub fn new(client_id: &'a str, username: &'a str, aud: &'a str, now: DateTime<Utc>) -> Self {
        Self {
            iss: client_id,
            sub: username,
            aud,
            exp: (now + ASSERTION_LIFETIME).timestamp(),
        }
    }
}

/// `header.payload.signature`, RS256 with `private_key`.
pub fn assertion(private_key: &PrivateKeyPem, claims: &Claims<'_>) -> Result<String, JwtError> {
    let key =
        RsaPrivateKey::from_pkcs8_pem(private_key.expose()).map_err(|_| JwtError::PrivateKey)?;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = serde_json::to_vec(claims).map_err(|_| JwtError::PrivateKey)?;
    let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
    let signature = SigningKey::<Sha256>::new(key).sign(signing_input.as_bytes());
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    ))
}

/// The `aud` Salesforce expects from a connector logging in at `login_url`:
/// `https://test.salesforce.com` for sandbox orgs (the test host, or a sandbox My Domain
/// `*.sandbox.my.salesforce.com`), `https://login.salesforce.com` for production and its My
/// Domains (any other Salesforce host), and the login URL itself for any other host (an
/// offline sandbox listed in `extra_provider_hosts`).
pub fn audience(login_url: &Url) -> String {
    let host = login_url
        .host_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let salesforce = |suffix: &str| host == suffix || host.ends_with(&format!(".{suffix}"));
    if host == "test.salesforce.com" || host.ends_with(".sandbox.my.salesforce.com") {
        "https://test.salesforce.com".to_owned()
    } else if salesforce("salesforce.com") || salesforce("force.com") {
        "https://login.salesforce.com".to_owned()
    } else {
        login_url.as_str().trim_end_matches('/').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap_or_default()
    }

    #[test]
    fn the_audience_is_the_login_host_salesforce_expects() {
        let aud = |raw: &str| audience(&Url::parse(raw).unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(
            aud("https://login.salesforce.com"),
            "https://login.salesforce.com"
        );
        assert_eq!(
            aud("https://acme.my.salesforce.com"),
            "https://login.salesforce.com"
        );
        assert_eq!(
            aud("https://test.salesforce.com"),
            "https://test.salesforce.com"
        );
        assert_eq!(
            aud("https://acme--uat.sandbox.my.salesforce.com"),
            "https://test.salesforce.com"
        );
        assert_eq!(aud("http://127.0.0.1:7879"), "http://127.0.0.1:7879");
        assert_eq!(
            aud("https://evilsalesforce.com"),
            "https://evilsalesforce.com"
        );
    }

    #[test]
    fn an_assertion_carries_the_four_claims_and_verifies_with_the_certificates_key() {
        let (key, certificate) = generate("tether test", at(0)).unwrap_or_else(|e| panic!("{e}"));
        assert!(certificate.starts_with("-----BEGIN CERTIFICATE-----"));
        let claims = Claims::new(
            "3MVG9",
            "ana@acme.example",
            "https://login.salesforce.com",
            at(0),
        );
        assert_eq!(claims.exp, at(120).timestamp());
        let jwt = assertion(&key, &claims).unwrap_or_else(|e| panic!("{e}"));
        let (input, signature) = jwt.rsplit_once('.').unwrap_or_default();
        let payload = input.split('.').nth(1).unwrap_or_default();
        let decoded: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(
            decoded,
            serde_json::json!({"iss": "3MVG9", "sub": "ana@acme.example",
                               "aud": "https://login.salesforce.com", "exp": at(120).timestamp()})
        );
        let private = RsaPrivateKey::from_pkcs8_pem(key.expose()).unwrap_or_else(|e| panic!("{e}"));
        let verifier = VerifyingKey::<Sha256>::new(private.to_public_key());
        let signature = Signature::try_from(
            URL_SAFE_NO_PAD
                .decode(signature)
                .unwrap_or_default()
                .as_slice(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(verifier.verify(input.as_bytes(), &signature).is_ok());
        assert_eq!(format!("{key:?}"), "PrivateKeyPem([redacted])");
    }

    #[test]
    fn a_key_that_is_not_pkcs8_is_refused_in_words() {
        let claims = Claims::new("id", "user", "aud", at(0));
        assert_eq!(
            assertion(&PrivateKeyPem::new("not a key"), &claims),
            Err(JwtError::PrivateKey)
        );
    }
}
