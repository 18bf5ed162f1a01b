//! The HTML pages of the authorize flow (login form, Allow / Deny, OAuth error page): one
//! askama view-model per page, auto-escaped, no external assets.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::error::OAuthError;

/// The login form.
#[derive(Debug, Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub org_id: String,
    pub app_name: String,
    pub username: String,
    pub error: Option<String>,
}

/// The Allow / Deny page.
#[derive(Debug, Template)]
#[template(path = "consent.html")]
pub struct ConsentPage {
    pub org_id: String,
    pub app_name: String,
    pub username: String,
    pub scopes: Vec<String>,
}

/// The page shown when the error cannot go back to a callback.
#[derive(Debug, Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub org_id: String,
    pub error: &'static str,
    pub error_description: &'static str,
}

impl ErrorPage {
    /// The page for `error`.
    pub fn new(org_id: String, error: OAuthError) -> Self {
        Self {
            org_id,
            error: error.error,
            error_description: error.error_description,
        }
    }
}

/// Renders a page with a status; a template failure becomes a plain 500.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "sandbox page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "page failed to render").into_response()
        }
    }
}
