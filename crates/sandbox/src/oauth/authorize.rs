//! `GET /services/oauth2/authorize` and its two forms: validates the request (salesforce.md
//! section 2), then either redirects at once with a code (auto-approve) or walks the user
//! through a login form and an Allow / Deny page, tied together by a `sbx_login` cookie.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use url::Url;

use super::error::OAuthError;
use super::pages::{ConsentPage, ErrorPage, LoginPage, render};
use crate::shared::Shared;
use crate::state::{
    AuthCode, AuthRequest, CODE_LIFETIME_SECONDS, PendingLogin, State as Org, authorization_code,
    pending_id,
};

const COOKIE: &str = "sbx_login";
/// Scope granted when the request names none (the sandbox's stand-in for the app's
/// configured OAuth scopes).
const DEFAULT_SCOPE: &str = "api refresh_token";
/// Salesforce's login-failure text.
const BAD_LOGIN: &str = "Please check your username and password. If you still can't log in, contact your Salesforce administrator.";
/// Logins in progress kept before abandoned ones are dropped.
const PENDING_CAP: usize = 10_000;
/// Codes kept before expired ones are swept.
const CODE_SWEEP_AT: usize = 10_000;

/// Why an authorize request stops: an error page (no trusted callback) or a redirect back.
enum Stop {
    Page(OAuthError),
    Back(Box<AuthRequest>, OAuthError),
}

/// The authorize endpoint.
pub async fn authorize(
    State(shared): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let now = shared.now();
    let mut st = shared.state.lock();
    let request = match validate(&st, &params) {
        Ok(request) => request,
        Err(Stop::Page(error)) => return error_page(&st, error),
        Err(Stop::Back(request, error)) => return redirect_error(&request, error),
    };
    if st.auto_approve {
        let hint = params
            .get("login_hint")
            .map_or(crate::DEFAULT_USERNAME, String::as_str);
        let user = st
            .user_by_name(hint)
            .filter(|u| u.active)
            .map(|u| u.id.clone());
        return match user {
            Some(user_id) => redirect_code(&mut st, request, user_id, now),
            None => redirect_error(&request, OAuthError::UNKNOWN_LOGIN_HINT),
        };
    }
    if params.get("immediate").is_some_and(|v| v == "true") {
        return redirect_error(&request, OAuthError::IMMEDIATE_UNSUCCESSFUL);
    }
    let page = LoginPage {
        org_id: st.org_id.clone(),
        app_name: app_name(&st, &request.client_id),
        username: params.get("login_hint").cloned().unwrap_or_default(),
        error: None,
    };
    if st.pending.len() >= PENDING_CAP {
        st.pending.clear(); // abandoned logins; a user mid-login just starts again
    }
    let id = pending_id();
    st.pending.insert(
        id.clone(),
        PendingLogin {
            request,
            user_id: None,
        },
    );
    drop(st);
    with_cookie(render(StatusCode::OK, &page), &id)
}

/// Checks the request in Salesforce's order; only a known client with a registered callback
/// earns a redirect, anything before that is an error page.
fn validate(st: &Org, params: &HashMap<String, String>) -> Result<AuthRequest, Stop> {
    let get = |k: &str| params.get(k).filter(|v| !v.is_empty()).cloned();
    let app = get("client_id")
        .and_then(|id| st.apps.get(&id))
        .ok_or(Stop::Page(OAuthError::INVALID_CLIENT_ID))?;
    let redirect_uri = get("redirect_uri").filter(|uri| app.callback_urls.contains(uri));
    let redirect_uri = redirect_uri.ok_or(Stop::Page(OAuthError::REDIRECT_MISMATCH))?;
    let request = AuthRequest {
        client_id: app.client_id.clone(),
        redirect_uri,
        scope: get("scope").unwrap_or_else(|| DEFAULT_SCOPE.to_owned()),
        state: get("state"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
    };
    let refusal = if get("response_type").as_deref() != Some("code") {
        Some(OAuthError::UNSUPPORTED_RESPONSE_TYPE)
    } else if !app.installed {
        Some(OAuthError::APP_NOT_INSTALLED)
    } else if app.blocked {
        Some(OAuthError::APP_BLOCKED)
    } else if app.pkce_required && request.code_challenge.is_none() {
        Some(OAuthError::MISSING_CHALLENGE)
    } else {
        None
    };
    match refusal {
        Some(error) => Err(Stop::Back(Box::new(request), error)),
        None => Ok(request),
    }
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// `POST /services/oauth2/authorize/login`: checks the password, then shows Allow / Deny.
pub async fn login(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let mut st = shared.state.lock();
    let Some((id, pending)) = pending_login(&st, &headers) else {
        return error_page(&st, OAuthError::EXPIRED_SESSION);
    };
    let app_name = app_name(&st, &pending.request.client_id);
    let user = st
        .user_by_name(&form.username)
        .filter(|u| u.active && u.password == form.password);
    let Some(user_id) = user.map(|u| u.id.clone()) else {
        let page = LoginPage {
            org_id: st.org_id.clone(),
            app_name,
            username: form.username,
            error: Some(BAD_LOGIN.to_owned()),
        };
        return render(StatusCode::OK, &page);
    };
    if let Some(pending) = st.pending.get_mut(&id) {
        pending.user_id = Some(user_id);
    }
    let scopes = pending
        .request
        .scope
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let page = ConsentPage {
        org_id: st.org_id.clone(),
        app_name,
        username: form.username,
        scopes,
    };
    render(StatusCode::OK, &page)
}

/// The Allow / Deny form's field.
#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    decision: String,
}

/// `POST /services/oauth2/authorize/consent`: Allow redirects with a code, Deny with
/// `access_denied`.
pub async fn consent(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<ConsentForm>,
) -> Response {
    let now = shared.now();
    let mut st = shared.state.lock();
    let found = pending_login(&st, &headers).and_then(|(id, p)| Some((id, p.request, p.user_id?)));
    let Some((id, request, user_id)) = found else {
        return error_page(&st, OAuthError::EXPIRED_SESSION);
    };
    st.pending.remove(&id);
    if form.decision == "allow" {
        redirect_code(&mut st, request, user_id, now)
    } else {
        redirect_error(&request, OAuthError::ACCESS_DENIED)
    }
}

/// The 400 error page that answers instead of a redirect.
fn error_page(st: &Org, error: OAuthError) -> Response {
    render(
        StatusCode::BAD_REQUEST,
        &ErrorPage::new(st.org_id.clone(), error),
    )
}

fn pending_login(st: &Org, headers: &HeaderMap) -> Option<(String, PendingLogin)> {
    let id = cookie(headers, COOKIE)?;
    let pending = st.pending.get(&id)?.clone();
    Some((id, pending))
}

fn app_name(st: &Org, client_id: &str) -> String {
    st.apps
        .get(client_id)
        .map_or_else(|| client_id.to_owned(), |a| a.name.clone())
}

/// Issues a code for `user_id` and redirects to the callback with it.
fn redirect_code(
    st: &mut Org,
    request: AuthRequest,
    user_id: String,
    now: DateTime<Utc>,
) -> Response {
    if st.codes.len() >= CODE_SWEEP_AT {
        let horizon = now - Duration::seconds(CODE_LIFETIME_SECONDS);
        st.codes.retain(|_, c| !c.used && c.issued_at > horizon);
    }
    let code = authorization_code();
    let mut pairs = vec![("code", code.clone())];
    pairs.extend(request.state.clone().map(|s| ("state", s)));
    let location = callback(&request.redirect_uri, &pairs);
    st.codes.insert(
        code,
        AuthCode {
            request,
            user_id,
            issued_at: now,
            used: false,
        },
    );
    location
}

/// Redirects to the callback with `error`, `error_description` and `state`.
fn redirect_error(request: &AuthRequest, error: OAuthError) -> Response {
    let mut pairs = vec![
        ("error", error.error.to_owned()),
        ("error_description", error.error_description.to_owned()),
    ];
    pairs.extend(request.state.clone().map(|s| ("state", s)));
    callback(&request.redirect_uri, &pairs)
}

fn callback(redirect_uri: &str, pairs: &[(&str, String)]) -> Response {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            // Salesforce answers authorize with a 302 Found.
            (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
        }
        Err(_) => (StatusCode::BAD_REQUEST, "callback URL is not a valid URL").into_response(),
    }
}

fn with_cookie(mut response: Response, id: &str) -> Response {
    let value = format!("{COOKIE}={id}; Path=/services/oauth2; HttpOnly; SameSite=Lax");
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// The value of cookie `name` from the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}
