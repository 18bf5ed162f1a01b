//! How the connectors page fails: every refusal or error of a page handler is one
//! [`PageError`], answered as an HTML page (or a redirect to sign in). 5xx causes are logged
//! here once and never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::render::render;
use super::views::MessagePage;
use crate::error::{InternalCause, error_chain};
use crate::service::ServiceError;
use crate::tokens::TokenError;

/// A page failure, with the answer each variant gives.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No valid session: redirect to the sign-in form (or, when another site sent the
    /// browser here, bounce once through a same-site refresh so the Strict cookie is sent).
    #[error("not signed in")]
    SignedOut { path: String, cross_site: bool },
    /// 403: a form without this session's CSRF token, or posted from another site.
    #[error("this form was not sent from tether's own page")]
    Forbidden,
    /// 404.
    #[error("{0} not found")]
    NotFound(String),
    /// 400: something the person must fix.
    #[error("{0}")]
    Invalid(String),
    /// 500: logged, not shown.
    #[error("internal error")]
    Internal(#[source] InternalCause),
}

impl PageError {
    /// A 500 caused by `err`.
    pub fn internal(err: impl Into<InternalCause>) -> Self {
        PageError::Internal(err.into())
    }
}

impl From<ServiceError> for PageError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::NotFound(what) => PageError::NotFound(what),
            ServiceError::Invalid(why) | ServiceError::Conflict(why) => PageError::Invalid(why),
            ServiceError::ProviderRefused { detail, .. } => PageError::Invalid(detail),
            ServiceError::Token(
                err @ (TokenError::Store(_)
                | TokenError::ConnectorUrl(_)
                | TokenError::RefreshTaskFailed),
            ) => PageError::internal(err),
            ServiceError::Token(other) => PageError::Invalid(other.to_string()),
            ServiceError::Store(err) => PageError::internal(err),
        }
    }
}

impl From<tether_store::StoreError> for PageError {
    fn from(err: tether_store::StoreError) -> Self {
        PageError::internal(err)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, heading, message) = match self {
            PageError::SignedOut { path, cross_site } => return signed_out(&path, cross_site),
            PageError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Refused",
                "This form was not sent from tether's own page, so nothing was changed. \
                 Go back to tether and try again."
                    .to_owned(),
            ),
            PageError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "Not found",
                format!("The {what} does not exist in this workspace."),
            ),
            PageError::Invalid(why) => (StatusCode::BAD_REQUEST, "Not done", why),
            PageError::Internal(cause) => {
                tracing::error!(error = %error_chain(cause.as_ref()), "page handler failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "tether could not do this. Try again.".to_owned(),
                )
            }
        };
        render(status, &MessagePage::new(heading, message))
    }
}

fn signed_out(path: &str, cross_site: bool) -> Response {
    if cross_site {
        // Browsers withhold SameSite=Strict cookies when another site (Salesforce, after a
        // reconnect) redirected here; a same-site refresh of the same URL sends them.
        return render(StatusCode::OK, &super::views::BouncePage { path });
    }
    let target = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", path)
        .finish();
    Redirect::to(&format!("/login?{target}")).into_response()
}
