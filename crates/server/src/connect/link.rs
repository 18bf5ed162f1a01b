//! `GET /connect/{id}`: sends the browser to the provider's authorize page.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::pages::ResultPage;
use crate::service::connect::{LinkError, authorize_url};
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
    match authorize_url(&state, &id, query.login_hint.as_deref()).await {
        Ok(url) => Redirect::to(url.as_str()).into_response(),
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
