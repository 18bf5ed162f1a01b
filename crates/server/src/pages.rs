//! The few HTML pages a browser sees outside the connectors page: the outcome of a connect
//! flow. Compiled askama templates, auto-escaped.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
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
        crate::page::render(status, &self)
    }
}
