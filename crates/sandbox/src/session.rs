//! Access-token sessions: reading the bearer token and deciding whether it is live, in the
//! order that tells a client whether refreshing can help (`Session expired or invalid`) or
//! not (`This session is not valid for use with the REST API`). Used by the REST session gate
//! and by the identity and userinfo endpoints.

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};

use crate::rest::RestError;
use crate::state::{ConnectedApp, Holder, IpRelaxation, State, session_expired};

/// A live session, copied out of the state.
#[derive(Debug, Clone)]
pub struct Session {
    pub holder: Holder,
    pub issued_at: DateTime<Utc>,
    /// When the session times out if not used again.
    pub expires_at: DateTime<Utc>,
}

/// The token of an `Authorization: Bearer X` (or Salesforce's older `OAuth X`) header.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("OAuth "))?;
    Some(token.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Checks an access token: unknown, revoked, timed out or of an inactive user -> expired;
/// app Blocked or caller IP refused -> not valid for REST. Block is checked before revocation
/// because Block also revokes, and the client must learn that refreshing will not help.
/// `touch` restarts the idle timer of a live session.
pub fn authenticate(
    st: &mut State,
    token: Option<&str>,
    now: DateTime<Utc>,
    touch: bool,
) -> Result<Session, RestError> {
    let token = token.unwrap_or_default();
    let record = st
        .access_tokens
        .get(token)
        .ok_or_else(RestError::session_expired)?;
    let app = st
        .apps
        .get(&record.holder.client_id)
        .ok_or_else(RestError::session_expired)?;
    if app.blocked {
        return Err(RestError::session_not_valid_for_rest());
    }
    let user = st.user_by_id(&record.holder.user_id).filter(|u| u.active);
    let user = user.ok_or_else(RestError::session_expired)?;
    if record.revoked || session_expired(app, record, now) {
        return Err(RestError::session_expired());
    }
    if ip_enforced(app, record.via_refresh) && !user.ip_allowed(st.client_ip) {
        return Err(RestError::session_not_valid_for_rest());
    }
    let timeout = chrono::Duration::seconds(
        i64::try_from(app.session_timeout_seconds).unwrap_or(i64::MAX / 1000),
    );
    let last_used = if touch { now } else { record.last_used_at };
    let session = Session {
        holder: record.holder.clone(),
        issued_at: record.issued_at,
        expires_at: last_used + timeout,
    };
    if touch && let Some(record) = st.access_tokens.get_mut(token) {
        record.last_used_at = now;
    }
    Ok(session)
}

/// Whether the user's Login IP Ranges apply to this session: always under Enforce, only to
/// sessions from a login (not from a refresh) under "relax for refresh tokens", never under
/// Relax.
fn ip_enforced(app: &ConnectedApp, via_refresh: bool) -> bool {
    match app.ip_relaxation {
        IpRelaxation::Enforce => true,
        IpRelaxation::RelaxForRefresh => !via_refresh,
        IpRelaxation::Relax => false,
    }
}
