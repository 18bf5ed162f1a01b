//! Signing in and out: the API-key form (with a double-submit cookie, since no session exists
//! yet) and sign-out.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tether_core::ids::{WorkspaceId, random_base62};

use super::error::PageError;
use super::render::{local_path, render};
use super::session::{LOGIN_COOKIE, SESSION_COOKIE, Session, cookie, session_cookie, set_cookie};
use super::views::{Chrome, LoginPage};
use crate::auth::AuthError;
use crate::state::AppState;

/// Query of `GET /login`.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    csrf: String,
    api_key: String,
    #[serde(default)]
    next: String,
}

/// `GET /login`: the form, with a fresh double-submit token.
pub async fn form(State(state): State<AppState>, Query(query): Query<LoginQuery>) -> Response {
    let next = local_path(query.next.as_deref().unwrap_or("/")).to_owned();
    login_page(&state, StatusCode::OK, next, None)
}

/// The sign-in form, answered with `status`; `error` says why the last attempt failed.
pub fn login_page(
    state: &AppState,
    status: StatusCode,
    next: String,
    error: Option<&str>,
) -> Response {
    let token = random_base62(32);
    let page = LoginPage {
        chrome: Chrome {
            title: "Sign in".to_owned(),
            csrf: token.clone(),
            ..Chrome::default()
        },
        next,
        error: error.map(str::to_owned),
    };
    let mut response = render(status, &page);
    let cookie = set_cookie(state, LOGIN_COOKIE, &token, "/login", 3600);
    if let Ok(value) = cookie.parse() {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// `POST /login`: checks the key, then sets the session cookie.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    let same: bool = expected.as_bytes().ct_eq(form.csrf.as_bytes()).into();
    if expected.is_empty() || !same {
        return Err(PageError::Forbidden);
    }
    let next = local_path(&form.next).to_owned();
    match state
        .auth
        .workspace_of(state.store.as_ref(), form.api_key.trim())
        .await
    {
        Ok(ws) => signed_in(&state, &ws, &next).await,
        Err(AuthError::Unauthorized) => Ok(login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            next,
            Some("That API key is not valid. Check it and try again."),
        )),
        Err(AuthError::Store(err)) => Err(err.into()),
    }
}

/// Signs into `ws` (a new session, recorded, in its cookie) and redirects to `next` (a 303
/// that also drops the sign-in cookie).
pub async fn signed_in(
    state: &AppState,
    ws: &WorkspaceId,
    next: &str,
) -> Result<Response, PageError> {
    let cookies = [
        session_cookie(state, ws).await?,
        set_cookie(state, LOGIN_COOKIE, "", "/login", 0),
    ];
    let mut response = (StatusCode::SEE_OTHER, [(LOCATION, next.to_owned())]).into_response();
    for c in cookies {
        if let Ok(value) = c.parse() {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    Ok(response)
}

/// The CSRF field of forms that send nothing else.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

impl CsrfOnly {
    /// Checks the token against the session.
    pub fn check(&self, session: &Session) -> Result<(), PageError> {
        session.check_csrf(&self.csrf)
    }
}

/// `POST /logout`: ends the session on every instance and forgets its cookie.
pub async fn logout(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    form.check(&session)?;
    session.end(&state).await?;
    let cookie = set_cookie(&state, SESSION_COOKIE, "", "/", 0);
    Ok((
        StatusCode::SEE_OTHER,
        [(LOCATION, "/login".to_owned()), (SET_COOKIE, cookie)],
    )
        .into_response())
}
