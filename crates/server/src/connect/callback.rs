//! `GET /oauth/callback`: the provider sends the browser back here with a code (or an error).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tether_core::ids::ConnectionId;
use tether_core::refresh::ProviderError;
use tether_store::{ConnectSession, ConsumeOutcome};

use super::StateSigner;
use super::link::browser_cookie_name;
use crate::page::session::cookie;
use crate::pages::ResultPage;
use crate::service::connect::{ConnectFailure, complete};
use crate::state::AppState;

/// What the provider puts on the callback URL.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /oauth/callback`.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let session = match claim_session(&state, &headers, query.state.as_deref()).await {
        Ok(session) => session,
        Err(page) => {
            state.metrics.callback_failures.inc();
            return page;
        }
    };
    match finish(&state, &session, &query).await {
        Ok(id) => success(&session, &id),
        Err(failure) => {
            state.metrics.callback_failures.inc();
            failed(&session, failure)
        }
    }
}

async fn finish(
    state: &AppState,
    session: &ConnectSession,
    query: &CallbackQuery,
) -> Result<ConnectionId, ConnectFailure> {
    if let Some(error) = &query.error {
        let description = query.error_description.clone().unwrap_or_default();
        return Err(ConnectFailure::from_provider(ProviderError {
            error: error.clone(),
            error_description: Some(description),
        }));
    }
    let Some(code) = query.code.as_deref() else {
        return Err(ConnectFailure {
            error: "invalid_request".into(),
            description: "the provider sent neither a code nor an error".into(),
            diagnosis: None,
        });
    };
    complete(state, session, code).await
}

/// Checks the state's signature and that this browser opened the connect link (its cookie
/// matches the state's binding), then uses it up. Every refusal is a page, nothing stored,
/// no code exchanged.
async fn claim_session(
    state: &AppState,
    headers: &HeaderMap,
    raw: Option<&str>,
) -> Result<ConnectSession, Response> {
    let refuse = |msg: &str| {
        ResultPage::failure("This sign-in cannot be completed", msg, None)
            .with_status(StatusCode::BAD_REQUEST)
    };
    let raw = raw.ok_or_else(|| refuse("The provider sent no state. Start again from the app."))?;
    let (signed, binding) = StateSigner::unbind(raw);
    let Some(id) = state.signer.verify(signed) else {
        return Err(refuse(
            "The state of this sign-in was altered or is not tether's. Start again from the app.",
        ));
    };
    let nonce = cookie(headers, &browser_cookie_name(&id));
    let same_browser = matches!((binding, nonce), (Some(binding), Some(nonce))
        if state.signer.bound_to(&id, binding, nonce));
    if !same_browser {
        tracing::warn!(session = %id, "refused a callback from a browser that did not open the connect link");
        return Err(refuse(
            "This sign-in was started in another browser. Open the connect link again in this browser.",
        ));
    }
    let now = state.clock.now();
    match state
        .store
        .consume_connect_session(&StateSigner::fingerprint(signed), now)
        .await
    {
        Ok(ConsumeOutcome::Consumed(session)) => Ok(session),
        Ok(ConsumeOutcome::AlreadyUsed) => Err(refuse(
            "This sign-in was already completed; a link works once. Start again from the app if you need to.",
        )),
        Ok(ConsumeOutcome::Expired) => Err(refuse(
            "This sign-in took longer than 15 minutes and expired. Start again from the app.",
        )),
        Ok(ConsumeOutcome::Unknown) => Err(refuse(
            "This sign-in is unknown to tether. Start again from the app.",
        )),
        Err(err) => {
            tracing::error!(error = %err, "consuming a connect session failed");
            Err(ResultPage::failure(
                "Something went wrong",
                "tether could not complete the sign-in. Try again.",
                None,
            )
            .with_status(StatusCode::INTERNAL_SERVER_ERROR))
        }
    }
}

fn success(session: &ConnectSession, id: &ConnectionId) -> Response {
    match redirect_with(
        session,
        &[("connection_id", id.as_str()), ("status", "active")],
    ) {
        Some(redirect) => redirect,
        None => ResultPage {
            success: true,
            heading: "Connected".to_owned(),
            message: format!(
                "Your account is connected (connection {id}). You can close this window."
            ),
            diagnosis: None,
        }
        .with_status(StatusCode::OK),
    }
}

fn failed(session: &ConnectSession, failure: ConnectFailure) -> Response {
    let pairs = [
        ("error", failure.error.as_str()),
        ("error_description", failure.description.as_str()),
    ];
    match redirect_with(session, &pairs) {
        Some(redirect) => redirect,
        None => {
            let message = format!(
                "The connection was not made: {} ({})",
                failure.description, failure.error
            );
            ResultPage::failure("Not connected", message, failure.diagnosis)
                .with_status(StatusCode::BAD_REQUEST)
        }
    }
}

fn redirect_with(session: &ConnectSession, pairs: &[(&str, &str)]) -> Option<Response> {
    let mut url = url::Url::parse(session.redirect_to.as_deref()?).ok()?;
    url.query_pairs_mut().extend_pairs(pairs);
    Some(Redirect::to(url.as_str()).into_response())
}
