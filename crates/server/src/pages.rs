//! The few HTML pages a browser sees outside the connectors page: the outcome of a connect
//! flow. Compiled askama templates, auto-escaped.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use tether_core::diagnosis::Diagnosis;

/// The page shown at the end of a connect flow when there is no `redirect_to`, or when the
/// flow cannot be trusted enough to redirect.
#[derive(Debug, Template)]
#[template(path = "result.html")]
pub struct ResultPage {
    pub success: bool,
    pub heading: String,
    pub message: String,
    pub diagnosis: Option<Diagnosis>,
}

impl ResultPage {
    /// A failure page.
    pub fn failure(
        heading: &str,
        message: impl Into<String>,
        diagnosis: Option<Diagnosis>,
    ) -> Self {
        Self {
            success: false,
            heading: heading.to_owned(),
            message: message.into(),
            diagnosis,
        }
    }

    /// The page with a status code.
    pub fn with_status(self, status: StatusCode) -> Response {
        match self.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(err) => {
                tracing::error!(error = %err, "result page failed to render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "tether could not render this page",
                )
                    .into_response()
            }
        }
    }
}
