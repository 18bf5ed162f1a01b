//! `GET /oauth/callback`: the provider sends the browser back here with a code (or an error).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tether_core::cause::Cause;
use tether_core::diagnosis::Diagnosis;
use tether_core::ids::ConnectionId;
use tether_core::refresh::{ProviderError, classify};
use tether_oauth::OAuthError;
use tether_oauth::salesforce::TokenResponse;
use tether_store::{Account, ConnectSession, Connector, ConsumeOutcome, NewConnection};

use super::StateSigner;
use crate::metrics::Metrics;
use crate::pages::ResultPage;
use crate::state::AppState;
use crate::tokens::{instance_url_of, provider_app, token_set};

/// What the provider puts on the callback URL.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// How a connect flow failed after its session was identified.
pub(super) struct Failure {
    error: String,
    description: String,
    diagnosis: Option<Diagnosis>,
}

/// `GET /oauth/callback`.
pub async fn callback(
    State(state): State<AppState>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let session = match claim_session(&state, query.state.as_deref()).await {
        Ok(session) => session,
        Err(page) => {
            Metrics::inc(&state.metrics.callback_failures);
            return page;
        }
    };
    match finish(&state, &session, &query).await {
        Ok(id) => success(&session, &id),
        Err(failure) => {
            Metrics::inc(&state.metrics.callback_failures);
            failed(&session, failure)
        }
    }
}

/// Checks the state's signature, then uses it up. Every refusal is a page, nothing stored.
async fn claim_session(state: &AppState, raw: Option<&str>) -> Result<ConnectSession, Response> {
    let refuse = |msg: &str| {
        ResultPage::failure("This sign-in cannot be completed", msg, None)
            .with_status(StatusCode::BAD_REQUEST)
    };
    let raw = raw.ok_or_else(|| refuse("The provider sent no state. Start again from the app."))?;
    if state.signer.verify(raw).is_none() {
        return Err(refuse(
            "The state of this sign-in was altered or is not tether's. Start again from the app.",
        ));
    }
    let now = state.clock.now();
    match state
        .store
        .consume_connect_session(&StateSigner::fingerprint(raw), now)
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

async fn finish(
    state: &AppState,
    session: &ConnectSession,
    query: &CallbackQuery,
) -> Result<ConnectionId, Failure> {
    if let Some(error) = &query.error {
        let description = query.error_description.clone().unwrap_or_default();
        return Err(provider_failure(ProviderError {
            error: error.clone(),
            error_description: Some(description),
        }));
    }
    let code = query.code.as_deref().ok_or_else(|| {
        plain(
            "invalid_request",
            "the provider sent neither a code nor an error",
        )
    })?;
    let connector = state
        .store
        .get_connector(&session.workspace_id, &session.connector)
        .await
        .map_err(|e| internal(&e.to_string()))?
        .ok_or_else(|| {
            plain(
                "connector_deleted",
                "the connector was deleted during the sign-in",
            )
        })?;
    let app = provider_app(&connector).map_err(|_| internal("connector login_url invalid"))?;
    let callback_url = state.settings.callback_url();
    let response = state
        .oauth
        .exchange_code(&app, code, &callback_url, &session.pkce_verifier)
        .await
        .map_err(|e| oauth_failure(&e))?;
    let userinfo = state
        .oauth
        .userinfo(&app, &response.access_token)
        .await
        .map_err(|e| oauth_failure(&e))?;
    let account = Account {
        instance_url: instance_url_of(&response),
        org_id: response.org_id.clone(),
        user_id: response.user_id.clone(),
        username: userinfo.preferred_username,
    };
    match &session.reconnect_of {
        None => create(state, session, &connector, account, response).await,
        Some(id) => {
            super::callback_reconnect::replace(state, session, id, &connector, account, response)
                .await
        }
    }
}

async fn create(
    state: &AppState,
    session: &ConnectSession,
    connector: &Connector,
    account: Account,
    response: TokenResponse,
) -> Result<ConnectionId, Failure> {
    let now = state.clock.now();
    let scopes = response.scopes.clone();
    let new = NewConnection {
        id: ConnectionId::generate(),
        workspace_id: session.workspace_id.clone(),
        connector: session.connector.clone(),
        provider: connector.input.provider.clone(),
        end_user_id: session.end_user_id.clone(),
        account,
        scopes,
        tokens: token_set(&state.oauth, connector, response).await,
        created_at: now,
    };
    let connection = state
        .store
        .insert_connection(&new)
        .await
        .map_err(|e| internal(&e.to_string()))?;
    let detail = format!(
        "connected {} in org {}",
        connection.account.username, connection.account.org_id
    );
    state
        .events
        .record(&connection, now, "connected", "success", &detail, None)
        .await;
    Metrics::inc(&state.metrics.connects);
    Ok(connection.id)
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

fn failed(session: &ConnectSession, failure: Failure) -> Response {
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

pub(super) fn plain(error: &str, description: &str) -> Failure {
    Failure {
        error: error.to_owned(),
        description: description.to_owned(),
        diagnosis: None,
    }
}

pub(super) fn internal(cause: &str) -> Failure {
    tracing::error!(error = cause, "connect callback failed");
    plain(
        "server_error",
        "tether could not store the connection; try again",
    )
}

fn provider_failure(error: ProviderError) -> Failure {
    let failure = tether_core::refresh::RefreshFailure::Provider {
        http_status: 400,
        error: error.clone(),
    };
    let cause = match error.error.as_str() {
        "access_denied" => None,
        _ => Some(classify(&failure).cause()),
    };
    Failure {
        description: error.error_description.clone().unwrap_or_default(),
        error: error.error.clone(),
        diagnosis: cause.map(|c| diagnosis_for(c, error)),
    }
}

fn diagnosis_for(cause: Cause, error: ProviderError) -> Diagnosis {
    tether_core::diagnosis::diagnose(
        cause,
        tether_core::diagnosis::Confidence::Certain,
        vec![],
        Some(error),
    )
}

pub(super) fn oauth_failure(err: &OAuthError) -> Failure {
    match err.provider_error() {
        Some(error) => provider_failure(error.clone()),
        None => plain(
            "provider_unavailable",
            &format!("the provider could not complete the sign-in: {err}"),
        ),
    }
}
