//! Connect flows: start a connect (or reconnect) session, send the browser to the provider,
//! and complete the flow when the provider sends it back: exchange the code, read who signed
//! in, and store the connection (or replace a reconnected one's tokens) with its event.
//!
//! The first token set is as precious as a rotated one: it is saved at once, retried while
//! the database stalls, and revoked if it can never be stored, so a failed sign-in never
//! leaves an orphaned approval behind.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tether_core::diagnosis::{Confidence, Diagnosis, diagnose};
use tether_core::event::{EventKind, Outcome};
use tether_core::ids::{ConnectSessionId, ConnectionId, ConnectorName, EndUserId, WorkspaceId};
use tether_core::refresh::{Grant, ProviderError, RefreshFailure, classify};
use tether_core::secret::RefreshToken;
use tether_oauth::OAuthError;
use tether_oauth::pkce::{Pkce, challenge_of};
use tether_oauth::salesforce::TokenResponse;
use tether_store::{
    Account, ConnectSession, Connection, Connector, NewConnection, NewEvent, Reconnect, StoreError,
};

use super::connections::{Revoked, revoke, revoke_orphan};
use super::{ServiceError, ServiceResult};
use crate::connect::StateSigner;
use crate::state::AppState;
use crate::tokens::{Landed, instance_url_of, provider_app, token_set};

/// A connect URL stays usable this long.
pub const SESSION_TTL: chrono::Duration = chrono::Duration::minutes(15);

/// How long the callback keeps trying to store a new connection while the database stalls,
/// before it revokes the tokens and says so.
const STORE_DEADLINE: Duration = Duration::from_secs(30);

/// What a connect session is for.
#[derive(Debug, Clone)]
pub struct SessionPlan {
    pub connector: ConnectorName,
    pub end_user_id: EndUserId,
    pub redirect_to: Option<String>,
    pub reconnect_of: Option<ConnectionId>,
    pub allow_different_account: bool,
    /// Prefills the provider's login form.
    pub login_hint: Option<String>,
}

impl SessionPlan {
    /// A new connection of `end_user_id` on `connector`; the browser goes to `redirect_to`
    /// when the flow ends.
    pub fn connect(
        connector: ConnectorName,
        end_user_id: EndUserId,
        redirect_to: Option<String>,
    ) -> Self {
        Self {
            connector,
            end_user_id,
            redirect_to,
            reconnect_of: None,
            allow_different_account: false,
            login_hint: None,
        }
    }

    /// New tokens for `connection`, signed in as the same account; the browser goes to
    /// `redirect_to` when the flow ends.
    pub fn reconnect(connection: Connection, redirect_to: Option<String>) -> Self {
        Self {
            reconnect_of: Some(connection.id),
            ..Self::connect(connection.connector, connection.end_user_id, redirect_to)
        }
    }
}

/// A started connect session.
#[derive(Debug, Clone)]
pub struct StartedSession {
    pub id: ConnectSessionId,
    /// Where to send the browser.
    pub connect_url: String,
    pub expires_at: DateTime<Utc>,
}

/// Stores a connect session for `plan`; shared by the API and the page's Connect and
/// Reconnect buttons.
pub async fn start(
    state: &AppState,
    ws: &WorkspaceId,
    plan: SessionPlan,
) -> ServiceResult<StartedSession> {
    if let Some(url) = &plan.redirect_to {
        validate_redirect(url)?;
    }
    let connector = super::connectors::get(state, ws, &plan.connector).await?;
    if !connector.input.grant.uses_refresh_tokens() {
        return Err(ServiceError::Invalid(format!(
            "connector {:?} uses the {} grant: nobody signs in; make the connection with POST /v1/connections (a failed one recovers by itself once fixed, or with POST /v1/connections/{{id}}/check)",
            plan.connector.as_str(),
            connector.input.grant
        )));
    }
    let now = state.clock.now();
    let id = ConnectSessionId::generate();
    let session = ConnectSession {
        state_sha256: StateSigner::fingerprint(&state.signer.sign(&id)),
        id: id.clone(),
        workspace_id: ws.clone(),
        connector: plan.connector,
        end_user_id: plan.end_user_id,
        redirect_to: plan.redirect_to,
        pkce_verifier: Pkce::generate().verifier,
        reconnect_of: plan.reconnect_of,
        allow_different_account: plan.allow_different_account,
        created_at: now,
        expires_at: now + SESSION_TTL,
    };
    state.store.insert_connect_session(&session).await?;
    let mut connect_url = url::Url::parse(&state.settings.url(&format!("/connect/{id}")))
        .map_err(|e| ServiceError::Invalid(format!("public_url cannot make a connect URL: {e}")))?;
    if let Some(hint) = plan.login_hint {
        connect_url
            .query_pairs_mut()
            .append_pair("login_hint", &hint);
    }
    Ok(StartedSession {
        id,
        connect_url: connect_url.into(),
        expires_at: session.expires_at,
    })
}

fn validate_redirect(raw: &str) -> ServiceResult<()> {
    let url = url::Url::parse(raw).map_err(|_| {
        ServiceError::Invalid(format!("redirect_to {raw:?} is not an absolute URL"))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ServiceError::Invalid(
            "redirect_to must be an http or https URL".into(),
        ));
    }
    Ok(())
}

/// Why a connect link cannot send the browser on.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The person can do something about it (ask for a new link); the text says what.
    #[error("{0}")]
    Unusable(&'static str),
    #[error(transparent)]
    Failed(#[from] ServiceError),
}

/// The provider's authorize URL for connect session `raw_id`, its state bound to the browser
/// holding cookie `nonce`; also returns the session's id.
pub async fn authorize_url(
    state: &AppState,
    raw_id: &str,
    nonce: &str,
    login_hint: Option<&str>,
) -> Result<(ConnectSessionId, url::Url), LinkError> {
    let id = ConnectSessionId::parse(raw_id)
        .map_err(|_| LinkError::Unusable("The link is not a tether connect link."))?;
    let session = state
        .store
        .get_connect_session(&id)
        .await
        .map_err(ServiceError::from)?
        .ok_or(LinkError::Unusable(
            "This connect link is unknown. Ask the app for a new one.",
        ))?;
    if session.expires_at <= state.clock.now() {
        return Err(LinkError::Unusable(
            "This connect link has expired (links last 15 minutes). Ask the app for a new one.",
        ));
    }
    let connector = state
        .store
        .get_connector(&session.workspace_id, &session.connector)
        .await
        .map_err(ServiceError::from)?
        .ok_or(LinkError::Unusable(
            "The connector of this link was deleted.",
        ))?;
    let app = provider_app(&connector).map_err(ServiceError::from)?;
    let challenge = challenge_of(session.pkce_verifier.expose());
    state
        .oauth
        .authorize_url(
            &app,
            &state.settings.callback_url(),
            &state.signer.sign_bound(&id, nonce),
            &challenge,
            login_hint,
        )
        .map(|url| (id, url))
        .map_err(|e| LinkError::Failed(ServiceError::Invalid(e.to_string())))
}

/// How a connect flow failed after its session was identified: what the app's `redirect_to`
/// receives (`error`, `error_description`), and the diagnosis the failure page shows.
#[derive(Debug)]
pub struct ConnectFailure {
    pub error: String,
    pub description: String,
    pub diagnosis: Option<Diagnosis>,
}

impl ConnectFailure {
    fn plain(error: &str, description: &str) -> Self {
        Self {
            error: error.to_owned(),
            description: description.to_owned(),
            diagnosis: None,
        }
    }

    fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %cause, "connect callback failed");
        Self::plain(
            "server_error",
            "tether could not store the connection; try again",
        )
    }

    /// The provider sent the browser back with an error instead of a code.
    pub fn from_provider(error: ProviderError) -> Self {
        let failure = RefreshFailure::Provider {
            http_status: 400,
            error: error.clone(),
        };
        let cause = match error.error.as_str() {
            "access_denied" => None,
            _ => Some(classify(&failure, Grant::AuthorizationCode).cause()),
        };
        Self {
            description: error.error_description.clone().unwrap_or_default(),
            error: error.error.clone(),
            diagnosis: cause.map(|c| diagnose(c, Confidence::Certain, vec![], Some(error))),
        }
    }

    fn from_oauth(err: &OAuthError) -> Self {
        match err.provider_error() {
            Some(error) => Self::from_provider(error.clone()),
            None => Self::plain(
                "provider_unavailable",
                &format!("the provider could not complete the sign-in: {err}"),
            ),
        }
    }
}

/// Completes a connect flow with the provider's `code`: the connection's id.
pub async fn complete(
    state: &AppState,
    session: &ConnectSession,
    code: &str,
) -> Result<ConnectionId, ConnectFailure> {
    let connector = state
        .store
        .get_connector(&session.workspace_id, &session.connector)
        .await
        .map_err(|e| ConnectFailure::internal(&e))?
        .ok_or_else(|| {
            ConnectFailure::plain(
                "connector_deleted",
                "the connector was deleted during the sign-in",
            )
        })?;
    let app = provider_app(&connector).map_err(|e| ConnectFailure::internal(&e))?;
    let sent_at = state.clock.now();
    let response = state
        .oauth
        .exchange_code(
            &app,
            code,
            &state.settings.callback_url(),
            &session.pkce_verifier,
        )
        .await
        .map_err(|e| ConnectFailure::from_oauth(&e))?;
    let account = match account_of(state, &connector, &response).await {
        Ok(account) => account,
        Err(failure) => {
            refuse_tokens(state, &connector, &response).await;
            return Err(failure);
        }
    };
    let signed_in = SignedIn::new(connector, account, response, sent_at);
    let id = match &session.reconnect_of {
        None => create(state, session, signed_in).await?,
        Some(id) => replace(state, session, id, signed_in).await?,
    };
    state.metrics.connects.inc();
    Ok(id)
}

/// What a successful code exchange (or an import's refresh) brought.
pub(super) struct SignedIn {
    pub connector: Connector,
    pub account: Account,
    pub response: TokenResponse,
    /// When the token call was sent (tether's clock).
    pub sent_at: DateTime<Utc>,
    /// The refresh token to keep when the answer carries none (an import's refresh without
    /// rotation keeps the token it was given).
    pub kept_refresh_token: Option<RefreshToken>,
}

impl SignedIn {
    /// What the token call sent to `connector` at `sent_at` answered for `account`, keeping
    /// no refresh token of its own.
    pub(super) fn new(
        connector: Connector,
        account: Account,
        response: TokenResponse,
        sent_at: DateTime<Utc>,
    ) -> Self {
        Self {
            connector,
            account,
            response,
            sent_at,
            kept_refresh_token: None,
        }
    }
}

/// How history names a Salesforce account: "`username` in org `org_id`".
pub(super) struct AccountName<'a>(pub &'a Account);

impl std::fmt::Display for AccountName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} in org {}", self.0.username, self.0.org_id)
    }
}

/// The provider account of a code exchange: the org and user of its identity URL and the
/// username user-info gives.
async fn account_of(
    state: &AppState,
    connector: &Connector,
    response: &TokenResponse,
) -> Result<Account, ConnectFailure> {
    let odd = |what: &str| ConnectFailure::plain("invalid_response", what);
    let identity = response
        .identity
        .as_ref()
        .ok_or_else(|| odd("the provider's answer named no account (no identity URL)"))?;
    let instance_url = instance_url_of(response)
        .ok_or_else(|| odd("the provider's answer named no instance URL"))?;
    let app = provider_app(connector).map_err(|e| ConnectFailure::internal(&e))?;
    let userinfo = state
        .oauth
        .userinfo(&app, &response.access_token)
        .await
        .map_err(|e| ConnectFailure::from_oauth(&e))?;
    Ok(Account {
        instance_url,
        org_id: identity.org_id.clone(),
        user_id: identity.user_id.clone(),
        username: userinfo.preferred_username,
    })
}

/// Revokes the tokens of a sign-in tether will not keep.
pub(super) async fn refuse_tokens(
    state: &AppState,
    connector: &Connector,
    response: &TokenResponse,
) {
    if let Some(token) = &response.refresh_token {
        revoke_orphan(state, connector, token).await;
    }
}

async fn create(
    state: &AppState,
    session: &ConnectSession,
    signed_in: SignedIn,
) -> Result<ConnectionId, ConnectFailure> {
    let detail = format!("connected {}", AccountName(&signed_in.account));
    let stored = store_new(
        state,
        &session.workspace_id,
        &session.end_user_id,
        &signed_in,
        detail,
    )
    .await;
    match stored {
        Ok(connection) => Ok(connection.id),
        Err(err) => {
            refuse_tokens(state, &signed_in.connector, &signed_in.response).await;
            Err(ConnectFailure::internal(&err))
        }
    }
}

/// Stores a new connection of `end_user_id` from what signing in (or an import's refresh)
/// brought, with its `connected` event saying `detail`, retrying while the database stalls;
/// then lets the token service learn the connector's token lifetime from the answer. Shared
/// by the connect callback and imports; on an error the caller decides what becomes of the
/// tokens.
pub(super) async fn store_new(
    state: &AppState,
    ws: &WorkspaceId,
    end_user_id: &EndUserId,
    signed_in: &SignedIn,
    detail: String,
) -> Result<Connection, StoreError> {
    let now = state.clock.now();
    let lifetime = state.tokens.assumed_lifetime(&signed_in.connector);
    let mut tokens = token_set(&signed_in.response, signed_in.sent_at, lifetime);
    if tokens.refresh_token.is_none() {
        tokens.refresh_token = signed_in.kept_refresh_token.clone();
    }
    let new = NewConnection {
        id: ConnectionId::generate(),
        workspace_id: ws.clone(),
        connector: signed_in.connector.name.clone(),
        provider: signed_in.connector.input.provider.clone(),
        end_user_id: end_user_id.clone(),
        account: signed_in.account.clone(),
        scopes: signed_in.response.scopes.clone(),
        tokens,
        created_at: now,
    };
    let event = NewEvent {
        connection_id: new.id.clone(),
        workspace_id: new.workspace_id.clone(),
        at: now,
        kind: EventKind::Connected,
        outcome: Outcome::Success,
        detail,
        provider_error: None,
    };
    let connection = durably(|| state.store.insert_connection(&new, &event)).await?;
    let landed = Landed {
        ws: &connection.workspace_id,
        id: &connection.id,
        version: 1,
        tokens: &new.tokens,
        sent_at: signed_in.sent_at,
    };
    let (connector, answer) = (&signed_in.connector, &signed_in.response);
    state.tokens.learn_lifetime(connector, answer, landed).await;
    Ok(connection)
}

/// A reconnect: new tokens for an existing connection id, refused for another account unless
/// the session allows it, and for a connection disconnected since the flow started.
async fn replace(
    state: &AppState,
    session: &ConnectSession,
    id: &ConnectionId,
    signed_in: SignedIn,
) -> Result<ConnectionId, ConnectFailure> {
    let ws = &session.workspace_id;
    let gone = || {
        ConnectFailure::plain(
            "connection_deleted",
            "the connection was disconnected during the sign-in",
        )
    };
    let existing = match state.store.get_connection(ws, id).await {
        Ok(Some(c)) if c.status != tether_core::status::ConnectionStatus::Disconnected => c,
        Ok(_) => {
            refuse_tokens(state, &signed_in.connector, &signed_in.response).await;
            return Err(gone());
        }
        Err(err) => return Err(ConnectFailure::internal(&err)),
    };
    let account = &signed_in.account;
    let same_account =
        existing.account.org_id == account.org_id && existing.account.user_id == account.user_id;
    if !same_account && !session.allow_different_account {
        let description = format!(
            "you signed in as {} (org {}), but this connection belongs to {} (org {}); sign in as that user, or reconnect with allow_different_account",
            account.username, account.org_id, existing.account.username, existing.account.org_id
        );
        refuse_tokens(state, &signed_in.connector, &signed_in.response).await;
        return Err(ConnectFailure::plain("account_mismatch", &description));
    }
    let old_refresh = state
        .store
        .refresh_token(ws, id)
        .await
        .map_err(|e| ConnectFailure::internal(&e))?;
    let replaced = store_reconnect(state, &existing, &signed_in).await;
    match replaced {
        Ok(true) => {}
        Ok(false) => {
            refuse_tokens(state, &signed_in.connector, &signed_in.response).await;
            return Err(gone());
        }
        Err(err) => {
            refuse_tokens(state, &signed_in.connector, &signed_in.response).await;
            return Err(ConnectFailure::internal(&err));
        }
    }
    state.tokens.forget(id);
    // Revoke the replaced refresh token so reconnects do not eat the 5-approvals limit.
    if let Some(old) = old_refresh {
        revoke(
            state,
            &existing,
            Some(&signed_in.connector),
            &old,
            Revoked::Replaced,
        )
        .await;
    }
    Ok(existing.id)
}

async fn store_reconnect(
    state: &AppState,
    existing: &Connection,
    signed_in: &SignedIn,
) -> Result<bool, StoreError> {
    let now = state.clock.now();
    let lifetime = state.tokens.assumed_lifetime(&signed_in.connector);
    let tokens = token_set(&signed_in.response, signed_in.sent_at, lifetime);
    let account = &signed_in.account;
    let detail = format!(
        "reconnected {} (was {})",
        AccountName(account),
        existing.status
    );
    let event = NewEvent::of(
        existing,
        now,
        EventKind::Reconnected,
        Outcome::Success,
        detail,
    );
    let reconnect = Reconnect {
        account: account.clone(),
        scopes: signed_in.response.scopes.clone(),
        tokens,
        now,
        events: vec![event],
    };
    let ws = &existing.workspace_id;
    durably(|| state.store.replace_tokens(ws, &existing.id, &reconnect)).await
}

/// Runs a store write until it succeeds or [`STORE_DEADLINE`] passes, backing off.
pub(super) async fn durably<T, F, Fut>(mut write: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let started = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        match write().await {
            Ok(done) => return Ok(done),
            Err(err) if started.elapsed() + pause < STORE_DEADLINE => {
                tracing::warn!(error = %err, "could not store the new connection yet; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(err) => return Err(err),
        }
    }
}
