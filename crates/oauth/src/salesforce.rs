//! Salesforce's flavour of OAuth 2.0 (salesforce.md sections 1 to 3 and 6).
//!
//! Token responses carry no `expires_in`; `issued_at` is a string of milliseconds; the
//! `instance_url` names where API calls go; the `id` is the identity URL
//! `{login}/id/{orgId}/{userId}`; `signature` is base64 HMAC-SHA256 over `id + issued_at`
//! keyed by the consumer secret, which tether verifies when present.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use tether_core::secret::{AccessToken, ClientSecret, RefreshToken};
use url::Url;

use crate::OAuthError;

pub(crate) const AUTHORIZE_PATH: &str = "/services/oauth2/authorize";
pub(crate) const TOKEN_PATH: &str = "/services/oauth2/token";
pub(crate) const REVOKE_PATH: &str = "/services/oauth2/revoke";
pub(crate) const USERINFO_PATH: &str = "/services/oauth2/userinfo";
pub(crate) const INTROSPECT_PATH: &str = "/services/oauth2/introspect";

/// The token endpoint's JSON, as sent.
#[derive(Deserialize)]
pub(crate) struct RawTokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    instance_url: String,
    id: String,
    issued_at: String,
    signature: Option<String>,
    scope: Option<String>,
}

/// A successful token response, parsed and checked.
#[derive(Debug, Clone)]
pub struct TokenResponse {
    pub access_token: AccessToken,
    /// Present after a code exchange, and after a refresh only under rotation.
    pub refresh_token: Option<RefreshToken>,
    pub instance_url: Url,
    pub identity_url: Url,
    pub org_id: String,
    pub user_id: String,
    pub issued_at: DateTime<Utc>,
    pub scopes: Vec<String>,
}

impl TokenResponse {
    pub(crate) fn from_raw(
        raw: RawTokenResponse,
        secret: &ClientSecret,
    ) -> Result<Self, OAuthError> {
        let invalid = |what: &str| OAuthError::InvalidResponse(what.to_owned());
        if raw.access_token.is_empty() {
            return Err(invalid("empty access_token"));
        }
        let instance_url =
            http_url(&raw.instance_url).ok_or_else(|| invalid("bad instance_url"))?;
        let identity_url = http_url(&raw.id).ok_or_else(|| invalid("bad id (identity URL)"))?;
        let (org_id, user_id) = ids_of_identity_url(&identity_url)
            .ok_or_else(|| invalid("identity URL is not /id/{orgId}/{userId}"))?;
        let issued_ms: i64 = raw
            .issued_at
            .parse()
            .map_err(|_| invalid("bad issued_at"))?;
        let issued_at =
            DateTime::from_timestamp_millis(issued_ms).ok_or_else(|| invalid("bad issued_at"))?;
        if let Some(signature) = &raw.signature
            && !signature_matches(secret, &raw.id, &raw.issued_at, signature)
        {
            return Err(invalid("signature does not match id and issued_at"));
        }
        Ok(Self {
            access_token: AccessToken::new(raw.access_token),
            refresh_token: raw
                .refresh_token
                .filter(|t| !t.is_empty())
                .map(RefreshToken::new),
            instance_url,
            identity_url,
            org_id,
            user_id,
            issued_at,
            scopes: raw
                .scope
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
        })
    }
}

/// Salesforce's user-info document (the fields tether reads).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct UserInfo {
    pub user_id: String,
    pub organization_id: String,
    pub preferred_username: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
}

/// An introspection answer (the fields tether reads).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub struct Introspection {
    pub active: bool,
    /// Expiry, seconds since the epoch.
    #[serde(default)]
    pub exp: Option<i64>,
    /// Issue time, seconds since the epoch.
    #[serde(default)]
    pub iat: Option<i64>,
}

impl Introspection {
    /// The token's lifetime, when the answer states a plausible one (1 s to 48 h).
    pub fn lifetime(&self) -> Option<chrono::Duration> {
        let (exp, iat) = (self.exp?, self.iat?);
        let secs = exp - iat;
        (self.active && (1..=48 * 3600).contains(&secs)).then(|| chrono::Duration::seconds(secs))
    }
}

fn http_url(raw: &str) -> Option<Url> {
    let url = Url::parse(raw).ok()?;
    (matches!(url.scheme(), "https" | "http") && url.host().is_some()).then_some(url)
}

/// `(orgId, userId)` from `https://host/id/{orgId}/{userId}`.
pub fn ids_of_identity_url(url: &Url) -> Option<(String, String)> {
    let mut segments = url.path_segments()?.filter(|s| !s.is_empty());
    let (id, org, user) = (segments.next()?, segments.next()?, segments.next()?);
    let valid =
        |s: &str| (15..=18).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric());
    (id == "id" && valid(org) && valid(user) && segments.next().is_none())
        .then(|| (org.to_owned(), user.to_owned()))
}

fn signature_matches(secret: &ClientSecret, id: &str, issued_at: &str, signature: &str) -> bool {
    let Ok(expected) = STANDARD.decode(signature) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        return false;
    };
    mac.update(id.as_bytes());
    mac.update(issued_at.as_bytes());
    mac.verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, id: &str, issued_at: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
        mac.update(id.as_bytes());
        mac.update(issued_at.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    fn raw(signature: Option<String>) -> RawTokenResponse {
        RawTokenResponse {
            access_token: "00D!AQ".into(),
            refresh_token: Some("5Aep".into()),
            instance_url: "https://na1.salesforce.com".into(),
            id: "https://login.salesforce.com/id/00D000000000001AAA/005000000000001AAA".into(),
            issued_at: "1800000000123".into(),
            signature,
            scope: Some("api refresh_token".into()),
        }
    }

    #[test]
    fn a_signed_token_response_parses_with_org_user_and_issue_time() {
        let secret = ClientSecret::new("s3cr3t");
        let sig = sign("s3cr3t", &raw(None).id, "1800000000123");
        let parsed = TokenResponse::from_raw(raw(Some(sig)), &secret);
        let parsed = parsed.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.org_id, "00D000000000001AAA");
        assert_eq!(parsed.user_id, "005000000000001AAA");
        assert_eq!(parsed.issued_at.timestamp_millis(), 1_800_000_000_123);
        assert_eq!(parsed.scopes, vec!["api", "refresh_token"]);
    }

    #[test]
    fn a_forged_signature_is_refused() {
        let secret = ClientSecret::new("s3cr3t");
        let sig = sign("other", &raw(None).id, "1800000000123");
        let err = TokenResponse::from_raw(raw(Some(sig)), &secret).err();
        assert_eq!(
            err,
            Some(OAuthError::InvalidResponse(
                "signature does not match id and issued_at".into()
            ))
        );
    }

    #[test]
    fn introspection_gives_a_lifetime_only_when_active_and_plausible() {
        let answer = |active, exp, iat| Introspection {
            active,
            exp: Some(exp),
            iat: Some(iat),
        };
        assert_eq!(
            answer(true, 1_000 + 900, 1_000).lifetime(),
            Some(chrono::Duration::seconds(900))
        );
        assert_eq!(answer(false, 1_900, 1_000).lifetime(), None);
        assert_eq!(answer(true, 1_000, 1_000).lifetime(), None);
        assert_eq!(answer(true, 1_000 + 30 * 86_400, 1_000).lifetime(), None);
    }

    #[test]
    fn identity_urls_must_name_an_org_and_a_user() {
        let ok = Url::parse("https://x/id/00D000000000001AAA/005000000000001AAA").ok();
        assert!(ok.as_ref().and_then(ids_of_identity_url).is_some());
        let bad = Url::parse("https://x/id/00D000000000001AAA").ok();
        assert!(bad.as_ref().and_then(ids_of_identity_url).is_none());
    }
}
