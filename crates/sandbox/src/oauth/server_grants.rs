//! The server-to-server grants (salesforce.md section 3): the JWT bearer flow and the client
//! credentials flow. Neither returns a refresh token, so refresh-token policies, rotation and
//! the 5-approvals limit do not apply; their access tokens are ordinary sessions (timeout,
//! REST, userinfo, introspection, revoke and Block all apply).

use chrono::Duration;

use super::error::OAuthError;
use super::grants::{Granted, Shape, TokenCall, authenticate, granted, ip_enforced};
use crate::jwt::verify::{self, Assertion};
use crate::state::{ConnectedApp, PermittedUsers, State, User};

/// The audiences Salesforce's login hosts accept; the sandbox also accepts its own base URL.
const LOGIN_AUDIENCES: [&str; 2] = [
    "https://login.salesforce.com",
    "https://test.salesforce.com",
];
/// How far ahead of now an assertion's `exp` may be.
const MAX_EXP_AHEAD_SECONDS: i64 = 3 * 60;
/// The scope of a server-to-server session: the sandbox's stand-in for the app's configured
/// OAuth scopes, without `refresh_token` since these grants return none [I].
const SERVER_SCOPE: &str = "api";

/// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT`. Order: the JWT
/// decodes, `iss` is a known consumer key, the app is installed and not Blocked, the app's
/// certificate verifies the RS256 signature, `aud`, `exp`, `sub` is a user, active,
/// pre-authorized, and the user's Login IP Ranges (always enforced for JWT).
pub fn jwt_bearer(st: &mut State, call: TokenCall<'_>) -> Result<Granted, OAuthError> {
    let jwt = call.param("assertion").and_then(verify::decode);
    let jwt = jwt.ok_or(OAuthError::INVALID_ASSERTION)?;
    let app = st
        .apps
        .get(&jwt.claims.iss)
        .cloned()
        .ok_or(OAuthError::INVALID_CLIENT_ID)?;
    call.attempt.application = Some(app.name.clone());
    // Login history names the user whenever `sub` is one, whatever fails afterwards.
    let user = st.user_by_name(&jwt.claims.sub).cloned();
    call.attempt.username = user.as_ref().map(|u| u.username.clone());
    usable(&app)?;
    check_assertion(&app, &jwt, &call)?;
    let user = user.ok_or(OAuthError::INVALID_ASSERTION)?;
    if !user.active {
        return Err(OAuthError::INACTIVE_USER);
    }
    if !preauthorized(st, &app, &user) {
        return Err(OAuthError::NOT_PREAUTHORIZED);
    }
    // JWT and SAML bearer logins always enforce Login IP Ranges, whatever the relaxation [C].
    if !user.ip_allowed(st.client_ip) {
        return Err(OAuthError::IP_RESTRICTED);
    }
    Ok(session(st, &app, &user, &call, Shape::Bare))
}

/// Installed and not Blocked, as for the user grants.
fn usable(app: &ConnectedApp) -> Result<(), OAuthError> {
    if !app.installed {
        return Err(OAuthError::APP_NOT_INSTALLED);
    }
    if app.blocked {
        return Err(OAuthError::APP_BLOCKED);
    }
    Ok(())
}

/// Signature, audience and expiry, in that order.
fn check_assertion(
    app: &ConnectedApp,
    jwt: &Assertion,
    call: &TokenCall<'_>,
) -> Result<(), OAuthError> {
    let verified = app.certificate.as_ref().is_some_and(|c| jwt.verified_by(c));
    if !verified {
        return Err(OAuthError::INVALID_ASSERTION);
    }
    let own = [call.base.clone(), format!("{}/", call.base)];
    let mut accepted: Vec<&str> = LOGIN_AUDIENCES.to_vec();
    accepted.extend(own.iter().map(String::as_str));
    if !jwt.claims.aud.any_of(&accepted) {
        return Err(OAuthError::INVALID_AUDIENCE);
    }
    let now = call.now.timestamp() as f64;
    let latest = (call.now + Duration::seconds(MAX_EXP_AHEAD_SECONDS)).timestamp() as f64;
    let exp = jwt.claims.exp;
    if exp <= now || exp > latest {
        return Err(OAuthError::EXPIRED_ASSERTION);
    }
    Ok(())
}

/// Admin approved: the user is among `approved_users`. Self-authorize: the user approved the
/// app through the web flow before (the approval may since have been revoked or expired).
fn preauthorized(st: &State, app: &ConnectedApp, user: &User) -> bool {
    match app.permitted_users {
        PermittedUsers::AdminApproved => app.permits(&user.username),
        PermittedUsers::SelfAuthorize => st.ever_approved(&app.client_id, &user.id),
    }
}

/// `grant_type=client_credentials` with the client's id and secret (body or HTTP Basic).
/// Order: client (as for the user grants), not Blocked, a run-as user (a name that matches no
/// user counts as none [I]), active [I], the user's Login IP Ranges under the app's relaxation
/// as for a login [I].
pub fn client_credentials(st: &mut State, mut call: TokenCall<'_>) -> Result<Granted, OAuthError> {
    let app = authenticate(st, &mut call)?;
    if app.blocked {
        return Err(OAuthError::APP_BLOCKED);
    }
    let run_as = app.client_credentials_user.as_deref();
    let user = run_as.and_then(|name| st.user_by_name(name)).cloned();
    let user = user.ok_or(OAuthError::NO_CLIENT_CREDENTIALS_USER)?;
    call.attempt.username = Some(user.username.clone());
    if !user.active {
        return Err(OAuthError::INACTIVE_USER);
    }
    if ip_enforced(&app, false) && !user.ip_allowed(st.client_ip) {
        return Err(OAuthError::IP_RESTRICTED);
    }
    Ok(session(st, &app, &user, &call, Shape::Signed))
}

/// Issues an access token with no approval behind it.
fn session(
    st: &mut State,
    app: &ConnectedApp,
    user: &User,
    call: &TokenCall<'_>,
    shape: Shape,
) -> Granted {
    let access = st.issue_access(
        &user.id,
        None,
        SERVER_SCOPE,
        &app.client_id,
        false,
        call.now,
    );
    let mut granted = granted(app, user, access, None, SERVER_SCOPE.to_owned());
    granted.shape = shape;
    granted
}
