//! The token endpoint's decisions for the user grants (authorization code, refresh token), run
//! under the state lock with no I/O: client authentication, code and refresh-token checks, the Connected App policies
//! (Permitted Users, IP Relaxation, refresh-token policy, rotation with reuse detection) and
//! token issuance. The order of the checks decides which error a client sees when several
//! apply; it is documented on each function.

use std::collections::HashMap;
use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use super::error::OAuthError;
use super::server_grants;
use crate::state::{
    CODE_LIFETIME_SECONDS, ConnectedApp, IpRelaxation, Issued, State, User, chain_expired,
};

/// The JWT bearer grant type.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The client credentials grant type.
pub const CLIENT_CREDENTIALS: &str = "client_credentials";

/// Who is calling, from HTTP Basic or the form body.
#[derive(Debug, Clone, Default)]
pub struct ClientAuth {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// What the login-history row of this call should say beyond its outcome.
#[derive(Debug, Clone, Default)]
pub struct Attempt {
    pub username: Option<String>,
    pub application: Option<String>,
}

/// A successful grant and what the response needs to sign it.
#[derive(Debug, Clone)]
pub struct Granted {
    pub issued: Issued,
    pub client_id: String,
    pub client_secret: String,
    pub username: String,
    pub shape: Shape,
}

/// Which success body a grant answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `signature` and `issued_at` included (code, refresh, client credentials).
    Signed,
    /// The JWT bearer answer: no `signature`, no `issued_at`, no `id_token` [C].
    Bare,
}

/// The inputs of one token-endpoint call.
#[derive(Debug)]
pub struct TokenCall<'a> {
    pub form: &'a HashMap<String, String>,
    pub client: &'a ClientAuth,
    pub now: DateTime<Utc>,
    /// The sandbox's base URL (its login URL; a JWT audience it accepts).
    pub base: String,
    pub attempt: &'a mut Attempt,
}

impl<'a> TokenCall<'a> {
    pub(super) fn param(&self, name: &str) -> Option<&'a str> {
        self.form
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Dispatches on `grant_type`: the two user grants here, the two server-to-server grants in
/// `server_grants`.
pub fn dispatch(
    st: &mut State,
    grant_type: &str,
    call: TokenCall<'_>,
) -> Result<Granted, OAuthError> {
    match grant_type {
        "authorization_code" => authorization_code(st, call),
        "refresh_token" => refresh_token(st, call),
        JWT_BEARER => server_grants::jwt_bearer(st, call),
        CLIENT_CREDENTIALS => server_grants::client_credentials(st, call),
        _ => Err(OAuthError::UNSUPPORTED_GRANT_TYPE),
    }
}

/// Checks the client in this order: known client id, installed, secret.
pub(super) fn authenticate(
    st: &State,
    call: &mut TokenCall<'_>,
) -> Result<ConnectedApp, OAuthError> {
    let id = call.client.client_id.as_deref().unwrap_or_default();
    let app = st.apps.get(id).ok_or(OAuthError::INVALID_CLIENT_ID)?;
    call.attempt.application = Some(app.name.clone());
    if !app.installed {
        return Err(OAuthError::APP_NOT_INSTALLED);
    }
    // "Require secret" is on for both flows (Salesforce's default), so a missing secret fails.
    if call.client.client_secret.as_deref() != Some(app.client_secret.as_str()) {
        return Err(OAuthError::INVALID_CLIENT_CREDENTIALS);
    }
    Ok(app.clone())
}

/// The user-level checks shared by both grants: active, permitted, IP ranges.
///
/// IP ranges are checked at the token endpoint (not on the login form) so that clients see
/// Salesforce's wire error `IP restricted or invalid login hours` [I].
fn admit_user(
    app: &ConnectedApp,
    user: &User,
    ip: IpAddr,
    refresh: bool,
) -> Result<(), OAuthError> {
    if !user.active {
        return Err(OAuthError::INACTIVE_USER);
    }
    if !app.permits(&user.username) {
        return Err(OAuthError::NOT_ADMIN_APPROVED);
    }
    if ip_enforced(app, refresh) && !user.ip_allowed(ip) {
        return Err(OAuthError::IP_RESTRICTED);
    }
    Ok(())
}

/// Whether the app's IP Relaxation leaves the user's Login IP Ranges in force for a login
/// (`refresh` = false) or a refresh.
pub(super) fn ip_enforced(app: &ConnectedApp, refresh: bool) -> bool {
    match app.ip_relaxation {
        IpRelaxation::Enforce => true,
        IpRelaxation::RelaxForRefresh => !refresh,
        IpRelaxation::Relax => false,
    }
}

/// `grant_type=authorization_code`. Order: client, code (unknown, other client, used or older
/// than 15 minutes: all `expired authorization code`; presenting a code uses it up), redirect
/// URI, PKCE, Block, user checks. A refresh token comes back when the scope asks for
/// `refresh_token` or `offline_access`.
fn authorization_code(st: &mut State, mut call: TokenCall<'_>) -> Result<Granted, OAuthError> {
    let app = authenticate(st, &mut call)?;
    let presented = call.param("code").unwrap_or_default().to_owned();
    let code = st
        .codes
        .get_mut(&presented)
        .filter(|c| c.request.client_id == app.client_id);
    let code = code.ok_or(OAuthError::EXPIRED_CODE)?;
    let expired = call.now - code.issued_at >= Duration::seconds(CODE_LIFETIME_SECONDS);
    if code.used || expired {
        return Err(OAuthError::EXPIRED_CODE);
    }
    code.used = true;
    let code = code.clone();
    let user = st
        .user_by_id(&code.user_id)
        .cloned()
        .ok_or(OAuthError::EXPIRED_CODE)?;
    call.attempt.username = Some(user.username.clone());
    if call.param("redirect_uri") != Some(code.request.redirect_uri.as_str()) {
        return Err(OAuthError::REDIRECT_MISMATCH);
    }
    check_pkce(
        &code.request.code_challenge,
        code.request.code_challenge_method.as_deref(),
        call.param("code_verifier"),
    )?;
    if app.blocked {
        return Err(OAuthError::APP_BLOCKED);
    }
    admit_user(&app, &user, st.client_ip, false)?;
    let scope = code.request.scope.clone();
    let chain =
        wants_refresh(&scope).then(|| st.open_chain(&app.client_id, &user.id, &scope, call.now));
    let access = st.issue_access(
        &user.id,
        chain.as_ref().map(|c| c.0),
        &scope,
        &app.client_id,
        false,
        call.now,
    );
    Ok(granted(&app, &user, access, chain.map(|c| c.1), scope))
}

/// `grant_type=refresh_token`. Order: client, token known to this app, app Blocked (refused),
/// revoked or reused after rotation (revokes the whole chain), policy passed
/// (ends the refresh token, not its sessions), user checks. Only with rotation on does the
/// response carry a new refresh token.
fn refresh_token(st: &mut State, mut call: TokenCall<'_>) -> Result<Granted, OAuthError> {
    let app = authenticate(st, &mut call)?;
    let presented = call.param("refresh_token").unwrap_or_default();
    let chain_id = *st
        .refresh_tokens
        .get(presented)
        .ok_or(OAuthError::EXPIRED_TOKEN)?;
    let chain = st
        .chains
        .get(&chain_id)
        .cloned()
        .ok_or(OAuthError::EXPIRED_TOKEN)?;
    if chain.holder.client_id != app.client_id {
        return Err(OAuthError::EXPIRED_TOKEN);
    }
    let user = st
        .user_by_id(&chain.holder.user_id)
        .cloned()
        .ok_or(OAuthError::EXPIRED_TOKEN)?;
    call.attempt.username = Some(user.username.clone());
    // Block ended every approval of the app (and refuses any refresh while it lasts).
    if app.blocked {
        return Err(OAuthError::EXPIRED_TOKEN);
    }
    // Reuse of a rotated-out token revokes the whole chain with its access tokens.
    if chain.revoked || chain.current != presented {
        st.revoke_chain(chain_id);
        return Err(OAuthError::EXPIRED_TOKEN);
    }
    // Salesforce answers `expired access/refresh token` for every policy, lifetime included
    // ([C] text); `token validity expired` is the [S] alternative it is not using here. A
    // passed policy ends the refresh token only: its sessions time out on their own.
    if chain_expired(&app, &chain, call.now) {
        st.retire_chain(chain_id);
        return Err(OAuthError::EXPIRED_TOKEN);
    }
    admit_user(&app, &user, st.client_ip, true)?;
    if let Some(chain) = st.chains.get_mut(&chain_id) {
        chain.last_used_at = call.now;
    }
    let rotated = if app.rotation {
        st.rotate(chain_id)
    } else {
        None
    };
    let access = st.issue_access(
        &user.id,
        Some(chain_id),
        &chain.holder.scope,
        &app.client_id,
        true,
        call.now,
    );
    Ok(granted(&app, &user, access, rotated, chain.holder.scope))
}

pub(super) fn granted(
    app: &ConnectedApp,
    user: &User,
    access: String,
    refresh: Option<String>,
    scope: String,
) -> Granted {
    Granted {
        issued: Issued {
            access_token: access,
            refresh_token: refresh,
            user_id: user.id.clone(),
            scope,
        },
        client_id: app.client_id.clone(),
        client_secret: app.client_secret.clone(),
        username: user.username.clone(),
        shape: Shape::Signed,
    }
}

/// Whether a scope string asks for a refresh token.
pub fn wants_refresh(scope: &str) -> bool {
    scope
        .split_whitespace()
        .any(|s| s == "refresh_token" || s == "offline_access")
}

/// PKCE: with a challenge at authorize, a missing verifier is `invalid_grant` and a wrong one
/// `invalid_request` [C]. A challenge without a method is taken as S256, which is what clients
/// that omit the method send [S].
fn check_pkce(
    challenge: &Option<String>,
    method: Option<&str>,
    verifier: Option<&str>,
) -> Result<(), OAuthError> {
    let Some(challenge) = challenge else {
        return Ok(());
    };
    let verifier = verifier.ok_or(OAuthError::MISSING_VERIFIER)?;
    let computed = match method {
        Some("plain") => verifier.to_owned(),
        _ => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
    };
    if &computed == challenge {
        Ok(())
    } else {
        Err(OAuthError::WRONG_VERIFIER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_verifier_matching_the_challenge_passes_and_others_fail() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned());
        assert_eq!(check_pkce(&challenge, Some("S256"), Some(verifier)), Ok(()));
        assert_eq!(
            check_pkce(&challenge, None, Some("other")),
            Err(OAuthError::WRONG_VERIFIER)
        );
        assert_eq!(
            check_pkce(&challenge, None, None),
            Err(OAuthError::MISSING_VERIFIER)
        );
        assert_eq!(check_pkce(&None, None, None), Ok(()));
    }

    #[test]
    fn refresh_is_granted_for_refresh_token_or_offline_access_scopes() {
        assert!(wants_refresh("api refresh_token"));
        assert!(wants_refresh("offline_access"));
        assert!(!wants_refresh("api id"));
    }
}
