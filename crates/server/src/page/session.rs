//! The page's sign-in session and its CSRF tokens.
//!
//! A session is a signed cookie, `{workspace id}.{expiry}.{nonce}.{HMAC}`, keyed by a subkey
//! of the connect-state signer (so, of the database's signing key, not the master key): it
//! names the workspace, never the API key, and survives restarts and master key rotations.
//! It is valid only while the store records it (`page_sessions`, by the SHA-256 of its nonce):
//! signing out deletes that record, so a copied cookie stops working on every instance while
//! the workspace's other sessions go on. The cookie is HttpOnly,
//! SameSite=Strict, and Secure when the public URL is https. Every form that changes something
//! carries a CSRF token, the HMAC of the session's nonce; the sign-in form, which comes before
//! any session, uses a double-submit cookie instead. Sessions follow the wall clock, not the
//! demo's simulated time, so moving the demo a month ahead does not sign the person out.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tether_core::clock::{Clock, SystemClock};
use tether_core::ids::{WorkspaceId, random_base62};
use tether_store::PageSession;

use super::error::PageError;
use super::layout::LayoutHook;
use crate::connect::MacKey;
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "tether_session";
/// The sign-in form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "tether_login";
/// How long a sign-in lasts.
const SESSION_TTL: Duration = Duration::hours(12);

/// A signed-in person: the workspace they act for and their form token.
#[derive(Debug, Clone)]
pub struct Session {
    pub workspace: WorkspaceId,
    /// Put in every form as `csrf`; checked by [`Session::check_csrf`].
    pub csrf: String,
    /// The host program's layout panel, if it added one to the request.
    pub layout: Option<LayoutHook>,
    /// Names the session in the store (the SHA-256 of its cookie's nonce).
    nonce_sha256: [u8; 32],
}

impl Session {
    /// Refuses a form whose token is not this session's.
    pub fn check_csrf(&self, presented: &str) -> Result<(), PageError> {
        let same: bool = presented.as_bytes().ct_eq(self.csrf.as_bytes()).into();
        if same {
            Ok(())
        } else {
            Err(PageError::Forbidden)
        }
    }

    /// Ends this session on every instance (sign-out).
    pub async fn end(&self, state: &AppState) -> Result<(), PageError> {
        state.store.end_page_session(&self.nonce_sha256).await?;
        Ok(())
    }
}

/// A new session's cookie value and what the store records of it.
pub(crate) struct Issued {
    pub(crate) value: String,
    pub(crate) nonce_sha256: [u8; 32],
    pub(crate) expires: DateTime<Utc>,
}

/// Signs and reads session cookies.
pub(crate) struct SessionKeys {
    key: MacKey,
}

impl SessionKeys {
    /// The keys of this tether (derived from its signing key).
    pub(crate) fn of(state: &AppState) -> Self {
        Self {
            key: state.signer.subkey("page-session"),
        }
    }

    fn mac(&self, parts: &[&str]) -> Hmac<Sha256> {
        let mut mac = self.key.mac();
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(b"\0");
        }
        mac
    }

    /// A new session cookie value for `workspace`, issued at `now`.
    pub(crate) fn issue(&self, workspace: &WorkspaceId, now: DateTime<Utc>) -> Issued {
        let expires = now + SESSION_TTL;
        let expires_text = expires.timestamp().to_string();
        let nonce = random_base62(24);
        let body = [workspace.as_str(), expires_text.as_str(), nonce.as_str()];
        let tag = URL_SAFE_NO_PAD.encode(self.mac(&body).finalize().into_bytes());
        Issued {
            value: format!("{}.{expires_text}.{nonce}.{tag}", workspace.as_str()),
            nonce_sha256: Sha256::digest(nonce.as_bytes()).into(),
            expires,
        }
    }

    /// The session a cookie value proves, if its signature holds and it has not expired.
    pub(crate) fn open(&self, value: &str) -> Option<Session> {
        let mut parts = value.split('.');
        let (ws, expires, nonce, tag) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(&[ws, expires, nonce]).verify_slice(&tag).ok()?;
        let expires: i64 = expires.parse().ok()?;
        if expires <= SystemClock.now().timestamp() {
            return None;
        }
        Some(Session {
            workspace: WorkspaceId::parse(ws).ok()?,
            csrf: self.csrf_of(nonce),
            layout: None,
            nonce_sha256: Sha256::digest(nonce.as_bytes()).into(),
        })
    }

    fn csrf_of(&self, nonce: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(&["csrf", nonce]).finalize().into_bytes())
    }
}

/// The value of cookie `name` in a request's headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value with tether's attributes; `max_age` 0 deletes the cookie.
pub fn set_cookie(state: &AppState, name: &str, value: &str, path: &str, max_age: i64) -> String {
    let https = state.settings.public_url.scheme() == "https";
    cookie_line(name, value, path, max_age, https)
}

fn cookie_line(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// Records a new session for `workspace`; the `Set-Cookie` that carries it.
pub async fn session_cookie(
    state: &AppState,
    workspace: &WorkspaceId,
) -> Result<String, PageError> {
    let now = SystemClock.now();
    let issued = SessionKeys::of(state).issue(workspace, now);
    state
        .store
        .insert_page_session(&PageSession {
            nonce_sha256: issued.nonce_sha256,
            workspace_id: workspace.clone(),
            created_at: now,
            expires_at: issued.expires,
        })
        .await?;
    Ok(set_cookie(
        state,
        SESSION_COOKIE,
        &issued.value,
        "/",
        SESSION_TTL.num_seconds(),
    ))
}

impl FromRequestParts<AppState> for Session {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let signed_out = || PageError::SignedOut {
            path: parts.uri.to_string(),
            cross_site: fetched_cross_site(&parts.headers),
        };
        let mut session = cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|value| SessionKeys::of(state).open(value))
            .ok_or_else(signed_out)?;
        let live = state
            .store
            .page_session_live(&session.nonce_sha256, &session.workspace, SystemClock.now())
            .await?;
        if !live {
            return Err(signed_out());
        }
        session.layout = parts.extensions.get::<LayoutHook>().cloned();
        Ok(session)
    }
}

/// Whether the browser says this request came from another site.
pub fn fetched_cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(seed: u8) -> SessionKeys {
        SessionKeys {
            key: [seed; 32].into(),
        }
    }

    #[test]
    fn an_issued_session_opens_to_its_workspace_with_a_stable_csrf_token() {
        let ws = WorkspaceId::generate();
        let value = keys(1).issue(&ws, SystemClock.now()).value;
        let first = keys(1)
            .open(&value)
            .unwrap_or_else(|| panic!("did not open"));
        let again = keys(1)
            .open(&value)
            .unwrap_or_else(|| panic!("did not open"));
        assert_eq!(first.workspace, ws);
        assert_eq!(first.csrf, again.csrf);
        assert!(first.check_csrf(&again.csrf).is_ok());
        assert!(matches!(first.check_csrf("x"), Err(PageError::Forbidden)));
    }

    #[test]
    fn a_session_signed_with_another_key_or_altered_does_not_open() {
        let ws = WorkspaceId::generate();
        let value = keys(1).issue(&ws, SystemClock.now()).value;
        assert!(keys(2).open(&value).is_none());
        let other = WorkspaceId::generate();
        let forged = value.replacen(ws.as_str(), other.as_str(), 1);
        assert!(keys(1).open(&forged).is_none());
        assert!(keys(1).open("garbage").is_none());
    }

    #[test]
    fn an_expired_session_does_not_open() {
        let k = keys(1);
        let ws = WorkspaceId::generate();
        let expires = (SystemClock.now() - Duration::seconds(1))
            .timestamp()
            .to_string();
        let tag =
            URL_SAFE_NO_PAD.encode(k.mac(&[ws.as_str(), &expires, "n"]).finalize().into_bytes());
        assert!(k.open(&format!("{ws}.{expires}.n.{tag}")).is_none());
    }

    #[test]
    fn cookies_are_secure_only_behind_an_https_public_url() {
        assert_eq!(
            cookie_line("a", "b", "/", 60, true),
            "a=b; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
        assert_eq!(
            cookie_line("a", "", "/login", 0, false),
            "a=; Path=/login; Max-Age=0; HttpOnly; SameSite=Strict"
        );
    }

    #[test]
    fn two_sessions_have_different_csrf_tokens() {
        let ws = WorkspaceId::generate();
        let now = SystemClock.now();
        let a = keys(1).open(&keys(1).issue(&ws, now).value).map(|s| s.csrf);
        let b = keys(1).open(&keys(1).issue(&ws, now).value).map(|s| s.csrf);
        assert_ne!(a, b);
    }
}
