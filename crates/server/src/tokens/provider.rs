//! What a provider answer becomes: the connector's provider credentials, and a token set with
//! tether's expiry estimate (the connector's hint, else introspection, else 2 hours).

use tether_core::expiry::{DEFAULT_SESSION_TIMEOUT, TokenExpiry};
use tether_oauth::{OAuthClient, ProviderApp};
use tether_store::{Connector, TokenSet};

use super::engine::TokenError;

/// The provider credentials of a connector.
pub fn provider_app(connector: &Connector) -> Result<ProviderApp, TokenError> {
    let login_url = url::Url::parse(&connector.input.login_url)
        .map_err(|e| TokenError::Internal(format!("connector login_url is invalid: {e}")))?;
    Ok(ProviderApp {
        login_url,
        client_id: connector.input.client_id.clone(),
        client_secret: connector.input.client_secret.clone(),
        scopes: connector.input.scopes.clone(),
    })
}

/// The token set of a provider answer, with tether's expiry estimate.
pub async fn token_set(
    oauth: &OAuthClient,
    connector: &Connector,
    response: tether_oauth::salesforce::TokenResponse,
) -> TokenSet {
    let lifetime = access_token_lifetime(oauth, connector, &response).await;
    let expiry = TokenExpiry::estimate(response.issued_at, lifetime);
    let instance_url = instance_url_of(&response);
    TokenSet {
        access_token: response.access_token,
        refresh_token: response.refresh_token,
        issued_at: response.issued_at,
        expires_at: expiry.expires_at,
        refresh_at: expiry.refresh_at,
        instance_url,
    }
}

/// The instance URL of a token response as tether stores it (no trailing slash).
pub fn instance_url_of(response: &tether_oauth::salesforce::TokenResponse) -> String {
    response
        .instance_url
        .as_str()
        .trim_end_matches('/')
        .to_owned()
}

/// How long a new access token lives: the connector's `session_timeout_seconds` hint when the
/// admin gave one; else what introspection says, where the Connected App allows it; else
/// Salesforce's default of 2 hours.
async fn access_token_lifetime(
    oauth: &OAuthClient,
    connector: &Connector,
    response: &tether_oauth::salesforce::TokenResponse,
) -> chrono::Duration {
    if let Some(secs) = connector.input.session_timeout_seconds.filter(|s| *s > 0) {
        return chrono::Duration::seconds(secs);
    }
    let Ok(app) = provider_app(connector) else {
        return DEFAULT_SESSION_TIMEOUT;
    };
    match oauth.introspect(&app, &response.access_token).await {
        Ok(answer) => answer.lifetime().unwrap_or(DEFAULT_SESSION_TIMEOUT),
        Err(err) => {
            tracing::debug!(error = %err, "introspection unavailable; assuming the default session timeout");
            DEFAULT_SESSION_TIMEOUT
        }
    }
}
