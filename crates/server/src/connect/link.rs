//! `GET /connect/{id}`: sends the browser to the provider's authorize page.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tether_core::ids::{ConnectSessionId, random_base62};

use crate::pages::ResultPage;
use crate::service::connect::{LinkError, SESSION_TTL, authorize_url};
use crate::state::AppState;

/// Query of `GET /connect/{id}`.
#[derive(Debug, Default, Deserialize)]
pub struct ConnectQuery {
    /// Passed on to the provider's login form.
    login_hint: Option<String>,
}

/// `GET /connect/{id}`.
pub async fn open_connect_url(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ConnectQuery>,
) -> Response {
    let nonce = random_base62(32);
    match authorize_url(&state, &id, &nonce, query.login_hint.as_deref()).await {
        Ok((id, url)) => {
            let cookie = browser_cookie_line(&state, &id, &nonce);
            (
                [(SET_COOKIE, cookie), (CACHE_CONTROL, "no-store".to_owned())],
                Redirect::to(url.as_str()),
            )
                .into_response()
        }
        Err(LinkError::Unusable(why)) => {
            ResultPage::failure("This connect link cannot be used", why, None)
                .with_status(StatusCode::BAD_REQUEST)
        }
        Err(LinkError::Failed(err)) => {
            tracing::error!(error = %crate::error::error_chain(&err), "connect link failed");
            ResultPage::failure(
                "Something went wrong",
                "tether could not start the connection. Try again.",
                None,
            )
            .with_status(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// The name of the cookie that binds connect session `id` to the browser that opened its link
/// (one per session, so two flows in one browser do not overwrite each other's).
pub(crate) fn browser_cookie_name(id: &ConnectSessionId) -> String {
    format!("tether_connect_{id}")
}

/// The binding cookie: only sent to the callback; `SameSite=Lax` because the provider sends
/// the browser back with a cross-site top-level redirect; lives as long as the session.
fn browser_cookie_line(state: &AppState, id: &ConnectSessionId, nonce: &str) -> String {
    let secure = if state.settings.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}={nonce}; Path=/oauth/callback; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        browser_cookie_name(id),
        SESSION_TTL.num_seconds()
    )
}
