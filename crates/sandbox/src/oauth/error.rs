//! OAuth error answers: the `{"error", "error_description"}` pairs of salesforce.md sections 2
//! and 3, byte for byte, and their HTTP form (every token-endpoint error is a 400).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One OAuth error code with its description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OAuthError {
    pub error: &'static str,
    pub error_description: &'static str,
}

const fn err(error: &'static str, error_description: &'static str) -> OAuthError {
    OAuthError {
        error,
        error_description,
    }
}

impl OAuthError {
    /// Revoked, rotated-out, pushed out by the approval limit, or past its policy.
    pub const EXPIRED_TOKEN: Self = err("invalid_grant", "expired access/refresh token");
    pub const EXPIRED_CODE: Self = err("invalid_grant", "expired authorization code");
    pub const IP_RESTRICTED: Self = err("invalid_grant", "IP restricted or invalid login hours");
    pub const NOT_ADMIN_APPROVED: Self = err(
        "invalid_app_access",
        "user is not admin approved to access this app",
    );
    pub const APP_NOT_INSTALLED: Self = err("invalid_client", "app must be installed into org");
    pub const INVALID_CLIENT_ID: Self = err("invalid_client_id", "client identifier invalid");
    pub const INVALID_CLIENT_CREDENTIALS: Self =
        err("invalid_client", "invalid client credentials");
    /// [C doc, wire text unconfirmed]: the sandbox uses the text of salesforce.md.
    pub const INACTIVE_USER: Self = err("inactive_user", "user is inactive");
    pub const UNSUPPORTED_GRANT_TYPE: Self =
        err("unsupported_grant_type", "grant type not supported");
    pub const REDIRECT_MISMATCH: Self = err(
        "redirect_uri_mismatch",
        "redirect_uri must match configuration",
    );
    /// [C] a challenge was sent at authorize but no verifier at the token endpoint; the
    /// description is the sandbox's choice [I].
    pub const MISSING_VERIFIER: Self = err("invalid_grant", "invalid code verifier");
    /// [C] the verifier does not hash to the challenge; description [I].
    pub const WRONG_VERIFIER: Self = err("invalid_request", "invalid code verifier");
    /// [I] what Salesforce answers while an admin has blocked the app.
    pub const APP_BLOCKED: Self = err("OAUTH_APP_BLOCKED", "this app is blocked by admin");
    /// [I] authorize without `code_challenge` for an app that requires PKCE.
    pub const MISSING_CHALLENGE: Self = err("invalid_request", "missing required code challenge");
    /// [C] the user clicked Deny.
    pub const ACCESS_DENIED: Self = err("access_denied", "end-user denied authorization");
    pub const UNSUPPORTED_RESPONSE_TYPE: Self =
        err("unsupported_response_type", "response type not supported");
    /// [C] `immediate=true` but the user would have to log in or approve.
    pub const IMMEDIATE_UNSUCCESSFUL: Self =
        err("immediate_unsuccessful", "immediate unsuccessful");
    /// A login or consent form posted without a live `sbx_login` cookie [I].
    pub const EXPIRED_SESSION: Self = err(
        "invalid_request",
        "login session expired, start the authorization again",
    );
    /// JWT bearer: a malformed JWT, an alg other than RS256, no certificate on the app, a
    /// signature that does not verify, or a `sub` that names no user [I for the last] [S].
    pub const INVALID_ASSERTION: Self = err("invalid_grant", "invalid assertion");
    /// JWT bearer: `aud` is not a login URL the org accepts [S].
    pub const INVALID_AUDIENCE: Self = err("invalid_grant", "audience is invalid");
    /// JWT bearer: `exp` passed or more than 3 minutes ahead. Salesforce is reported to send the
    /// authorization-code text for an expired JWT [S].
    pub const EXPIRED_ASSERTION: Self = err("invalid_grant", "expired authorization code");
    /// JWT bearer: the user is not pre-authorized (admin approved) or never approved the app
    /// (self-authorize) [S].
    pub const NOT_PREAUTHORIZED: Self = err("invalid_grant", "user hasn't approved this consumer");
    /// Client credentials without a run-as user [S].
    pub const NO_CLIENT_CREDENTIALS_USER: Self =
        err("invalid_grant", "no client credentials user enabled");
    /// `login_hint` names no active user (auto-approve mode) [I].
    pub const UNKNOWN_LOGIN_HINT: Self = err("access_denied", "login_hint names no active user");
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, Json(self)).into_response()
    }
}
