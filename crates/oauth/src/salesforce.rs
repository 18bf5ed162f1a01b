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

/// The token endpoint's JSON, as sent. Every field is optional here: what is missing or odd
/// is judged by [`TokenResponse::from_raw`], which never drops a new refresh token for an
/// oddity that is not a forgery.
#[derive(Deserialize)]
pub(crate) struct RawTokenResponse {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    instance_url: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    issued_at: Option<serde_json::Value>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

/// The provider account a token answer names (from its identity URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub url: Url,
    pub org_id: String,
    pub user_id: String,
}

/// A successful token response, parsed and checked.
#[derive(Debug, Clone)]
pub struct TokenResponse {
    pub access_token: AccessToken,
    /// Present after a code exchange, and after a refresh only under rotation.
    pub refresh_token: Option<RefreshToken>,
    /// `None` when the answer named no usable instance URL (the stored one stays).
    pub instance_url: Option<Url>,
    /// `None` when the answer's `id` was missing or not an identity URL.
    pub identity: Option<Identity>,
    /// The provider's `issued_at`, on the provider's clock (evidence only); `None` when absent
    /// (Salesforce's JWT bearer answer has none) or unreadable.
    pub issued_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
    /// What was odd in the answer but not fatal, in words for the history.
    pub oddities: Vec<String>,
}

impl TokenResponse {
    /// Judges a token answer. Fatal (nothing of it is used, so a forged answer cannot plant a
    /// refresh token): a `signature` that does not verify. Everything else odd is noted in
    /// `oddities` and the usable parts are kept; an answer without an access token is an
    /// [`OAuthError::Incomplete`] that still carries any new refresh token.
    pub(crate) fn from_raw(
        raw: RawTokenResponse,
        secret: Option<&ClientSecret>,
    ) -> Result<Self, OAuthError> {
        let issued_raw = raw.issued_at.as_ref().and_then(issued_at_text);
        if let (Some(signature), Some(secret)) = (&raw.signature, secret) {
            let id = raw.id.as_deref().unwrap_or_default();
            let issued = issued_raw.as_deref().unwrap_or_default();
            if !signature_matches(secret, id, issued, signature) {
                return Err(OAuthError::InvalidResponse(
                    "signature does not match id and issued_at".to_owned(),
                ));
            }
        }
        let refresh_token = raw
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(RefreshToken::new);
        let Some(access) = raw.access_token.filter(|t| !t.is_empty()) else {
            return Err(OAuthError::Incomplete {
                reason: "the answer has no access_token".to_owned(),
                refresh_token,
            });
        };
        let mut oddities = Vec::new();
        let mut odd = |what: &str| oddities.push(what.to_owned());
        let instance_url = raw.instance_url.as_deref().and_then(http_url);
        if instance_url.is_none() {
            odd("no usable instance_url (the stored one is kept)");
        }
        let identity = raw.id.as_deref().and_then(identity_of);
        if identity.is_none() {
            odd("no usable id (identity URL)");
        }
        let issued_at = issued_raw
            .as_deref()
            .and_then(|ms| ms.parse::<i64>().ok())
            .and_then(DateTime::from_timestamp_millis);
        if raw.issued_at.is_some() && issued_at.is_none() {
            odd("unreadable issued_at");
        }
        Ok(Self {
            access_token: AccessToken::new(access),
            refresh_token,
            instance_url,
            identity,
            issued_at,
            scopes: raw
                .scope
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            oddities,
        })
    }

    /// The org id of the identity URL, when there is one.
    pub fn org_id(&self) -> Option<&str> {
        self.identity.as_ref().map(|i| i.org_id.as_str())
    }
}

/// `issued_at` as the text that was signed: Salesforce sends a string of milliseconds; a
/// number is accepted too.
fn issued_at_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn identity_of(raw: &str) -> Option<Identity> {
    let url = http_url(raw)?;
    let (org_id, user_id) = ids_of_identity_url(&url)?;
    Some(Identity {
        url,
        org_id,
        user_id,
    })
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

    const ID: &str = "https://login.salesforce.com/id/00D000000000001AAA/005000000000001AAA";

    fn raw(signature: Option<String>) -> RawTokenResponse {
        RawTokenResponse {
            access_token: Some("00D!AQ".into()),
            refresh_token: Some("5Aep".into()),
            instance_url: Some("https://na1.salesforce.com".into()),
            id: Some(ID.into()),
            issued_at: Some(serde_json::json!("1800000000123")),
            signature,
            scope: Some("api refresh_token".into()),
        }
    }

    fn parse(raw: RawTokenResponse) -> TokenResponse {
        let secret = ClientSecret::new("s3cr3t");
        TokenResponse::from_raw(raw, Some(&secret)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_signed_token_response_parses_with_org_user_and_issue_time() {
        let sig = sign("s3cr3t", ID, "1800000000123");
        let parsed = parse(raw(Some(sig)));
        let identity = parsed.identity.unwrap_or_else(|| panic!("no identity"));
        assert_eq!(identity.org_id, "00D000000000001AAA");
        assert_eq!(identity.user_id, "005000000000001AAA");
        assert_eq!(
            parsed.issued_at.map(|at| at.timestamp_millis()),
            Some(1_800_000_000_123)
        );
        assert_eq!(parsed.scopes, vec!["api", "refresh_token"]);
        assert!(parsed.oddities.is_empty());
    }

    #[test]
    fn a_forged_signature_is_refused_with_nothing_kept() {
        let secret = ClientSecret::new("s3cr3t");
        let sig = sign("other", ID, "1800000000123");
        let err = TokenResponse::from_raw(raw(Some(sig)), Some(&secret)).err();
        assert_eq!(
            err,
            Some(OAuthError::InvalidResponse(
                "signature does not match id and issued_at".into()
            ))
        );
    }

    #[test]
    fn an_odd_answer_keeps_its_new_refresh_token_and_notes_what_was_odd() {
        let odd = RawTokenResponse {
            instance_url: Some("not a url".into()),
            id: Some("https://x/elsewhere".into()),
            issued_at: Some(serde_json::json!("yesterday")),
            ..raw(None)
        };
        let parsed = parse(odd);
        assert_eq!(
            parsed.refresh_token.as_ref().map(|t| t.expose().to_owned()),
            Some("5Aep".to_owned())
        );
        assert_eq!(parsed.instance_url, None);
        assert_eq!(parsed.identity, None);
        assert_eq!(parsed.issued_at, None);
        assert_eq!(
            parsed.oddities,
            vec![
                "no usable instance_url (the stored one is kept)",
                "no usable id (identity URL)",
                "unreadable issued_at"
            ]
        );
    }

    #[test]
    fn a_jwt_bearer_answer_without_issued_at_or_signature_parses() {
        let jwt = RawTokenResponse {
            refresh_token: None,
            issued_at: None,
            signature: None,
            ..raw(None)
        };
        let parsed = parse(jwt);
        assert_eq!(parsed.issued_at, None);
        assert!(parsed.oddities.is_empty());
    }

    #[test]
    fn an_answer_without_an_access_token_still_hands_back_its_refresh_token() {
        let secret = ClientSecret::new("s3cr3t");
        let partial = RawTokenResponse {
            access_token: None,
            ..raw(None)
        };
        match TokenResponse::from_raw(partial, Some(&secret)) {
            Err(OAuthError::Incomplete {
                refresh_token: Some(token),
                ..
            }) => assert_eq!(token.expose(), "5Aep"),
            other => panic!("unexpected {other:?}"),
        }
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
