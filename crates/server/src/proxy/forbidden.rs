//! Salesforce's 403s seen through the proxy. They pass through unchanged (a request limit is
//! not an expiry), but `API_DISABLED_FOR_ORG` is noted on the connection with its diagnosis:
//! the tokens are fine, yet no API call can work until an admin changes the org or profile.

use axum::response::Response;
use tether_core::cause::Cause;
use tether_core::diagnosis::{Confidence, diagnose};
use tether_core::event::{EventKind, Outcome};
use tether_store::NewEvent;

use super::Call;
use super::problem::ProxyError;
use super::refusal::{provider_error, read_error};
use crate::service::events;

/// Salesforce's error code for an org or profile without API access.
pub const API_DISABLED: &str = "API_DISABLED_FOR_ORG";

/// Handles a 403 answer: passes it back, noting `api_disabled` when Salesforce says so.
pub async fn on_forbidden(
    call: &Call<'_>,
    response: reqwest::Response,
) -> Result<Response, ProxyError> {
    let answer = match read_error(call, response).await {
        Ok(read) => read,
        Err(passed) => return Ok(passed),
    };
    let error = provider_error(&answer.body);
    if error.as_ref().is_some_and(|e| e.error == API_DISABLED) {
        note_api_disabled(call, error).await;
    }
    Ok(answer.pass_back())
}

async fn note_api_disabled(call: &Call<'_>, error: Option<tether_core::refresh::ProviderError>) {
    let Some(connection) = call.connection().await else {
        return;
    };
    let evidence = vec!["The connection's tokens work, but every REST call is refused".to_owned()];
    let diagnosis = diagnose(
        Cause::ApiDisabled,
        Confidence::Certain,
        evidence,
        error.clone(),
    );
    let state = call.state;
    if let Err(err) = state
        .store
        .annotate_connection(call.ws, call.id, &diagnosis)
        .await
    {
        tracing::error!(connection = %call.id, error = %err, "could not note api_disabled");
    }
    let detail = "Salesforce refused the API call: the REST API is not enabled for this org or user (API_DISABLED_FOR_ORG); passed through";
    let event = NewEvent::of(
        &connection,
        state.clock.now(),
        EventKind::Proxied403,
        Outcome::Failure,
        detail,
    )
    .with_provider_error(error);
    events::record(state.store.as_ref(), event).await;
}
