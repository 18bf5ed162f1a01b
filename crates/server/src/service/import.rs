//! Importing a connection: a refresh token obtained elsewhere (another tool, an earlier
//! integration) becomes a connection without a browser flow.
//!
//! The token is proved with one refresh at the provider before anything is stored; the account
//! is read the way the connect callback reads it (the identity of the token answer, the
//! username of user-info), and the connection is stored by the callback's own
//! [`store_new`]. A refusal stores nothing and answers the diagnosis of what Salesforce said.
//! The refresh token is never logged and never appears in an answer or an error.

use tether_core::diagnosis::{Confidence, diagnose};
use tether_core::ids::{ConnectorName, EndUserId, WorkspaceId};
use tether_core::instance::InstanceUrl;
use tether_core::refresh::{Grant, Verdict, classify};
use tether_core::secret::RefreshToken;
use tether_core::status::ConnectionStatus;
use tether_oauth::OAuthError;
use tether_oauth::salesforce::TokenResponse;
use tether_store::{Account, Connection, ConnectionFilter, Connector, PageRequest};

use super::connect::{AccountName, SignedIn, refuse_tokens, store_new};
use super::connections::MAX_PAGE;
use super::connectors;
use super::{ServiceError, ServiceResult};
use crate::state::AppState;
use crate::tokens::{TokenError, instance_url_of, provider_app};

/// What the caller hands over.
#[derive(Debug)]
pub struct Import {
    pub connector: ConnectorName,
    pub end_user_id: EndUserId,
    pub refresh_token: RefreshToken,
    /// Where the account lives; used when the provider's answer names no instance.
    pub instance_url: String,
}

/// Imports a connection: checks the input, refreshes once, reads the account, stores.
pub async fn import(
    state: &AppState,
    ws: &WorkspaceId,
    import: Import,
) -> ServiceResult<Connection> {
    let instance_url = allowed_instance(state, &import.instance_url)?;
    let connector = connectors::get(state, ws, &import.connector).await?;
    if !connector.input.grant.uses_refresh_tokens() {
        return Err(ServiceError::Invalid(format!(
            "connector {:?} uses the {} grant, which has no refresh tokens: make the connection with POST /v1/connections",
            import.connector.as_str(),
            connector.input.grant
        )));
    }
    refuse_duplicate(state, ws, &import.connector, &import.end_user_id).await?;
    let app = provider_app(&connector)?;
    let sent_at = state.clock.now();
    let response = state
        .oauth
        .refresh(&app, &import.refresh_token)
        .await
        .map_err(|err| IMPORT.refusal(&err, connector.input.grant))?;
    let account = match account_of(state, &connector, &response, Some(instance_url)).await {
        Ok(account) => account,
        Err(err) => {
            refuse_tokens(state, &connector, &response).await;
            return Err(err);
        }
    };
    let detail = format!("imported a refresh token of {}", AccountName(&account));
    let signed_in = SignedIn {
        kept_refresh_token: Some(import.refresh_token),
        ..SignedIn::new(connector, account, response, sent_at)
    };
    match store_new(state, ws, &import.end_user_id, &signed_in, detail).await {
        Ok(connection) => Ok(connection),
        Err(err) => {
            // Under rotation the answer's refresh token replaced the one given: revoke it
            // rather than leave an approval nobody holds.
            refuse_tokens(state, &signed_in.connector, &signed_in.response).await;
            Err(err.into())
        }
    }
}

/// The instance URL, if it is an origin on an allowed provider host.
fn allowed_instance(state: &AppState, raw: &str) -> ServiceResult<InstanceUrl> {
    let url = InstanceUrl::parse(raw).map_err(|e| ServiceError::Invalid(e.to_string()))?;
    if !state.oauth.provider_hosts().allows(url.url()) {
        return Err(ServiceError::Invalid(format!(
            "instance_url {:?} is not an allowed provider host: tether talks only to \
             Salesforce's hosts and those in extra_provider_hosts",
            url.as_str()
        )));
    }
    Ok(url)
}

/// Refuses a new connection (imported or minted) for an end user who already has a live
/// connection on the connector.
pub(super) async fn refuse_duplicate(
    state: &AppState,
    ws: &WorkspaceId,
    connector: &ConnectorName,
    end_user_id: &EndUserId,
) -> ServiceResult<()> {
    let filter = ConnectionFilter {
        connector: Some(connector.clone()),
        end_user_id: Some(end_user_id.clone()),
        status: None,
    };
    let existing = state
        .store
        .list_connections(ws, &filter, &PageRequest::first(MAX_PAGE))
        .await?;
    match existing
        .connections
        .iter()
        .find(|c| c.status != ConnectionStatus::Disconnected)
    {
        Some(live) => Err(ServiceError::Conflict(format!(
            "end user {:?} already has connection {} on connector {:?}; reconnect or delete it \
             instead",
            end_user_id.as_str(),
            live.id,
            connector.as_str()
        ))),
        None => Ok(()),
    }
}

/// The account of a token answer: the org and user of its identity URL (else user-info's),
/// the username of user-info, and the instance the answer names (else the one given, if
/// any).
pub(super) async fn account_of(
    state: &AppState,
    connector: &Connector,
    response: &TokenResponse,
    given: Option<InstanceUrl>,
) -> ServiceResult<Account> {
    let app = provider_app(connector)?;
    let Some(instance_url) = instance_url_of(response).or(given) else {
        return Err(ServiceError::Token(TokenError::Unavailable {
            detail: "Salesforce's token answer named no instance URL, so no connection was made"
                .to_owned(),
            retry_after_seconds: 1,
            cause: None,
            diagnosis: None,
        }));
    };
    let info = state
        .oauth
        .userinfo(&app, &response.access_token)
        .await
        .map_err(|err| IMPORT.refusal(&err, connector.input.grant))?;
    let (org_id, user_id) = match &response.identity {
        Some(identity) => (identity.org_id.clone(), identity.user_id.clone()),
        None => (info.organization_id, info.user_id),
    };
    Ok(Account {
        instance_url,
        org_id,
        user_id,
        username: info.preferred_username,
    })
}

/// How a refused first token call is told: what Salesforce refused, which attempt it was,
/// and what that left undone.
#[derive(Debug, Clone, Copy)]
pub(super) struct Refusal {
    pub refused: &'static str,
    pub attempt: &'static str,
    pub outcome: &'static str,
}

const IMPORT: Refusal = Refusal {
    refused: "the refresh token",
    attempt: "the import",
    outcome: "nothing was imported",
};

impl Refusal {
    /// What a provider failure answers: a refusal with its diagnosis (`422
    /// provider-refused`), or, for a failure that may pass, the token endpoint's
    /// `provider-unavailable`.
    pub(super) fn refusal(self, err: &OAuthError, grant: Grant) -> ServiceError {
        let provider_error = err.provider_error().cloned();
        match classify(&err.as_refresh_failure(), grant) {
            Verdict::Expired(cause) | Verdict::ConnectorProblem(cause) => {
                self.refused_with(cause, err, provider_error)
            }
            Verdict::Transient(cause) => self.unavailable(cause, err, provider_error),
        }
    }

    fn refused_with(
        self,
        cause: tether_core::cause::Cause,
        err: &OAuthError,
        provider_error: Option<tether_core::refresh::ProviderError>,
    ) -> ServiceError {
        let said = match &provider_error {
            Some(e) => match &e.error_description {
                Some(description) => format!("{}: {description}", e.error),
                None => e.error.clone(),
            },
            None => err.to_string(),
        };
        let diagnosis = diagnose(cause, Confidence::Likely, Vec::new(), provider_error);
        ServiceError::ProviderRefused {
            detail: format!(
                "Salesforce refused {} ({said}), so {}; likely cause: {}",
                self.refused, self.outcome, diagnosis.title
            ),
            cause,
            diagnosis: Box::new(diagnosis),
        }
    }

    fn unavailable(
        self,
        cause: tether_core::cause::Cause,
        err: &OAuthError,
        provider_error: Option<tether_core::refresh::ProviderError>,
    ) -> ServiceError {
        ServiceError::Token(TokenError::Unavailable {
            detail: format!(
                "{} could not reach Salesforce, so {}: {err}",
                self.attempt, self.outcome
            ),
            retry_after_seconds: err.retry_after_seconds().unwrap_or(1).max(1),
            cause: Some(cause),
            diagnosis: Some(Box::new(diagnose(
                cause,
                Confidence::Likely,
                Vec::new(),
                provider_error,
            ))),
        })
    }
}
