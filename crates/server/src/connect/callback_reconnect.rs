//! The reconnect branch of the callback: new tokens for an existing connection id.

use tether_core::ids::ConnectionId;
use tether_oauth::salesforce::TokenResponse;
use tether_store::{Account, ConnectSession, Connector};

use super::callback::{Failure, internal, plain};
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::tokens::{provider_app, token_set};

/// Replaces the tokens of connection `id`; refuses another account unless the session allows.
pub(super) async fn replace(
    state: &AppState,
    session: &ConnectSession,
    id: &ConnectionId,
    connector: &Connector,
    account: Account,
    response: TokenResponse,
) -> Result<ConnectionId, Failure> {
    let store = &state.store;
    let existing = store
        .get_connection(&session.workspace_id, id)
        .await
        .map_err(|e| internal(&e.to_string()))?
        .ok_or_else(|| {
            plain(
                "connection_deleted",
                "the connection was deleted during the sign-in",
            )
        })?;
    let same_account =
        existing.account.org_id == account.org_id && existing.account.user_id == account.user_id;
    if !same_account && !session.allow_different_account {
        let description = format!(
            "you signed in as {} (org {}), but this connection belongs to {} (org {}); sign in as that user, or reconnect with allow_different_account",
            account.username, account.org_id, existing.account.username, existing.account.org_id
        );
        revoke_quietly(state, connector, response.refresh_token.as_ref()).await;
        return Err(plain("account_mismatch", &description));
    }
    let old_refresh = store
        .refresh_token(id)
        .await
        .map_err(|e| internal(&e.to_string()))?;
    let now = state.clock.now();
    let scopes = response.scopes.clone();
    store
        .replace_connection_tokens(
            id,
            &account,
            &scopes,
            &token_set(&state.oauth, connector, response).await,
            now,
        )
        .await
        .map_err(|e| internal(&e.to_string()))?;
    state.tokens.forget(id);
    let detail = format!(
        "reconnected {} in org {} (was {})",
        account.username, account.org_id, existing.status
    );
    state
        .events
        .record(&existing, now, "reconnected", "success", &detail, None)
        .await;
    revoke_replaced(state, connector, &existing, old_refresh.as_ref()).await;
    Metrics::inc(&state.metrics.connects);
    Ok(existing.id)
}

/// Revokes the replaced refresh token so reconnects do not eat the 5-approvals limit.
async fn revoke_replaced(
    state: &AppState,
    connector: &Connector,
    connection: &tether_store::Connection,
    token: Option<&tether_core::secret::RefreshToken>,
) {
    let Some(token) = token else { return };
    let Ok(app) = provider_app(connector) else {
        return;
    };
    let now = state.clock.now();
    match state.oauth.revoke(&app, token).await {
        Ok(()) => {
            state
                .events
                .record(
                    connection,
                    now,
                    "revoked",
                    "success",
                    "revoked the replaced refresh token",
                    None,
                )
                .await;
        }
        Err(err) => {
            let detail = format!("could not revoke the replaced refresh token: {err}");
            state
                .events
                .record(connection, now, "revoked", "failure", &detail, None)
                .await;
        }
    }
}

async fn revoke_quietly(
    state: &AppState,
    connector: &Connector,
    token: Option<&tether_core::secret::RefreshToken>,
) {
    if let (Some(token), Ok(app)) = (token, provider_app(connector))
        && let Err(err) = state.oauth.revoke(&app, token).await
    {
        tracing::warn!(error = %err, "could not revoke the refused account's token");
    }
}
