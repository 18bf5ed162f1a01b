//! API keys: creation, parsing and the request extractor that resolves a key to its
//! workspace.
//!
//! A key reads `tk_<id>_<secret>`. The store keeps the id and the SHA-256 of the secret; a
//! presented key is checked by comparing hashes in constant time. Verified keys are cached in
//! memory for a minute so the token fast path does not pay a database read for the key.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tether_core::ids::{ApiKeyId, WorkspaceId, random_base62};
use tether_core::secret::ApiKey;
use tether_store::{ApiKeyRecord, Store};

use crate::error::ApiError;
use crate::state::AppState;

const KEY_PREFIX: &str = "tk_";
const CACHE_TTL: Duration = Duration::from_secs(60);

/// A freshly made key: the record to store and the key to show once.
#[derive(Debug)]
pub struct NewApiKey {
    pub record: ApiKeyRecord,
    pub key: ApiKey,
}

/// Makes a new key for `workspace`.
pub fn new_api_key(workspace: &WorkspaceId, now: DateTime<Utc>) -> NewApiKey {
    let id = ApiKeyId::generate();
    let secret = random_base62(40);
    let suffix = id.as_str().trim_start_matches(ApiKeyId::PREFIX);
    let key = ApiKey::new(format!("{KEY_PREFIX}{suffix}_{secret}"));
    let record = ApiKeyRecord {
        id,
        workspace_id: workspace.clone(),
        secret_sha256: Sha256::digest(secret.as_bytes()).into(),
        created_at: now,
    };
    NewApiKey { record, key }
}

/// Splits a presented key into its id and secret half.
fn parse_key(raw: &str) -> Option<(ApiKeyId, &str)> {
    let rest = raw.strip_prefix(KEY_PREFIX)?;
    let (suffix, secret) = rest.split_once('_')?;
    let id = ApiKeyId::parse(&format!("{}{suffix}", ApiKeyId::PREFIX)).ok()?;
    (!secret.is_empty()).then_some((id, secret))
}

/// Why a presented key gives no workspace.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No, malformed or unknown key.
    #[error("a valid API key is required")]
    Unauthorized,
    #[error("the store failed")]
    Store(#[from] tether_store::StoreError),
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Unauthorized => ApiError::Unauthorized,
            AuthError::Store(err) => err.into(),
        }
    }
}

/// Resolves presented keys to workspaces, with a short-lived cache of verified keys.
#[derive(Debug, Default)]
pub struct Authenticator {
    verified: RwLock<HashMap<[u8; 32], (WorkspaceId, Instant)>>,
}

impl Authenticator {
    /// The workspace of a presented key, or `Unauthorized`.
    pub async fn workspace_of(
        &self,
        store: &dyn Store,
        raw: &str,
    ) -> Result<WorkspaceId, AuthError> {
        let fingerprint: [u8; 32] = Sha256::digest(raw.as_bytes()).into();
        if let Some((ws, at)) = self.verified.read().get(&fingerprint)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(ws.clone());
        }
        let (id, secret) = parse_key(raw).ok_or(AuthError::Unauthorized)?;
        let record = store
            .find_api_key(&id)
            .await?
            .ok_or(AuthError::Unauthorized)?;
        let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        if !bool::from(presented.ct_eq(&record.secret_sha256)) {
            return Err(AuthError::Unauthorized);
        }
        let mut cache = self.verified.write();
        if cache.len() > 10_000 {
            cache.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
        }
        cache.insert(fingerprint, (record.workspace_id.clone(), Instant::now()));
        Ok(record.workspace_id)
    }
}

/// The caller's workspace, from `Authorization: Bearer <api key>`.
#[derive(Debug, Clone)]
pub struct Caller(pub WorkspaceId);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(state, bearer(parts)).await.map(Caller)
    }
}

/// The caller's workspace for the proxy: the API key from `Authorization: Bearer`, or else
/// from `X-SFDC-Session`, where Salesforce clients put their "session id" for the Bulk API
/// 1.0 (simple-salesforce and jsforce send nothing else there).
#[derive(Debug, Clone)]
pub struct ProxyCaller(pub WorkspaceId);

impl FromRequestParts<AppState> for ProxyCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let presented = bearer(parts).or_else(|| sfdc_session(parts));
        authenticate(state, presented).await.map(ProxyCaller)
    }
}

/// The workspace of the key a request presented (`Unauthorized` when it presented none),
/// recorded on the request's span.
async fn authenticate(state: &AppState, presented: Option<&str>) -> Result<WorkspaceId, ApiError> {
    let raw = presented.ok_or(ApiError::Unauthorized)?;
    let ws = state.auth.workspace_of(state.store.as_ref(), raw).await?;
    record_workspace(&ws);
    Ok(ws)
}

/// Records the caller's workspace on the request's span, so every line logged for the rest of
/// the request carries it.
pub fn record_workspace(ws: &WorkspaceId) {
    tracing::Span::current().record("workspace", ws.as_str());
}

/// Records the connection a request is about on the request's span (see [`record_workspace`]).
pub fn record_connection(id: &tether_core::ids::ConnectionId) {
    tracing::Span::current().record("connection", id.as_str());
}

/// The `X-SFDC-Session` header's value, if any.
fn sfdc_session(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(SFDC_SESSION)?.to_str().ok()?.trim();
    (!value.is_empty()).then_some(value)
}

/// Salesforce's session header (Bulk API 1.0 and the SOAP-era APIs).
pub const SFDC_SESSION: &str = "x-sfdc-session";

/// The bearer credential of a request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_parses_back_to_its_id_and_hashes_to_its_record() {
        let ws = WorkspaceId::generate();
        let made = new_api_key(&ws, DateTime::UNIX_EPOCH);
        let (id, secret) = parse_key(made.key.expose()).unwrap_or_else(|| panic!("unparsable"));
        assert_eq!(id, made.record.id);
        let hash: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        assert_eq!(hash, made.record.secret_sha256);
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        for raw in ["", "tk_", "tk_abc", "tk_abc_", "sk_abc_def", "tk_a-b_c"] {
            assert!(parse_key(raw).is_none(), "{raw} parsed");
        }
    }
}
