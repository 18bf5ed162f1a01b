//! Connections: read them, prove one live ("check"), disconnect one, and revoke a refresh
//! token at the provider (the one revoke every flow uses).

use tether_core::cause::Cause;
use tether_core::event::{EventKind, Outcome};
use tether_core::ids::{ConnectionId, WorkspaceId};
use tether_core::secret::RefreshToken;
use tether_core::status::ConnectionStatus;
use tether_oauth::OAuthError;
use tether_store::{
    Connection, ConnectionCount, ConnectionFilter, Connector, Event, NewEvent, PageRequest,
};

use super::paging::{Cursors, checked_limit};
use super::{ServiceError, ServiceResult, events};
use crate::state::AppState;
use crate::tokens::{IssuedToken, RefreshReason, TokenRequest, provider_app};

/// The connection `id` of workspace `ws`.
pub async fn get(
    state: &AppState,
    ws: &WorkspaceId,
    id: &ConnectionId,
) -> ServiceResult<Connection> {
    state
        .store
        .get_connection(ws, id)
        .await?
        .ok_or_else(|| ServiceError::not_found("connection"))
}

/// Connections on one page unless the caller asks for another number.
pub const DEFAULT_PAGE: i64 = 100;
/// The most connections one page holds.
pub const MAX_PAGE: i64 = 1_000;
/// The most events one page of a history holds.
pub const MAX_EVENTS_PAGE: i64 = 500;

/// A page of a listing, with the cursor of the next one (`None` on the last page).
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A page of the workspace's connections matching `filter`, newest first: at most `limit`
/// (1 to [`MAX_PAGE`]), after the place `cursor` names (from the newest when `None`).
pub async fn list(
    state: &AppState,
    ws: &WorkspaceId,
    filter: &ConnectionFilter,
    cursor: Option<&str>,
    limit: i64,
) -> ServiceResult<Page<Connection>> {
    let limit = checked_limit(limit, MAX_PAGE)?;
    let cursors = Cursors::new(&state.signer);
    let after = cursor.map(|c| cursors.read_connections(c)).transpose()?;
    let page = state
        .store
        .list_connections(ws, filter, &PageRequest { after, limit })
        .await?;
    Ok(Page {
        items: page.connections,
        next_cursor: page.next.map(|next| cursors.connections(&next)),
    })
}

/// How many connections the workspace has, per connector and status.
pub async fn counts(state: &AppState, ws: &WorkspaceId) -> ServiceResult<Vec<ConnectionCount>> {
    Ok(state.store.count_connections(ws).await?)
}

/// A page of a connection's history, newest first: at most `limit` (1 to
/// [`MAX_EVENTS_PAGE`]) events, after the one `cursor` names.
pub async fn history(
    state: &AppState,
    ws: &WorkspaceId,
    id: &ConnectionId,
    cursor: Option<&str>,
    limit: i64,
) -> ServiceResult<Page<Event>> {
    let limit = checked_limit(limit, MAX_EVENTS_PAGE)?;
    let cursors = Cursors::new(&state.signer);
    let after = cursor.map(|c| cursors.read_history(c, id)).transpose()?;
    get(state, ws, id).await?;
    let page = state
        .store
        .list_events(ws, id, &PageRequest { after, limit })
        .await?;
    Ok(Page {
        items: page.events,
        next_cursor: page.next.map(|next| cursors.history(id, &next)),
    })
}

/// Proves the connection live now: refreshes if needed, asks the provider's user-info
/// endpoint, and records a `checked` event; the connection as it then stands.
pub async fn check(
    state: &AppState,
    ws: &WorkspaceId,
    id: &ConnectionId,
) -> ServiceResult<Connection> {
    let mut connection = get(state, ws, id).await?;
    let recoverable = connection.status == ConnectionStatus::Expired
        && connection.status_reason.is_some_and(Cause::is_recoverable);
    let connector_refused = connection.status == ConnectionStatus::Degraded
        && connection.failed_connector_generation.is_some();
    if recoverable || connector_refused {
        // Salesforce left the credential alive (or refused the connector itself): if the
        // setting was fixed, in Salesforce or in tether, this refresh brings the connection
        // back (its outcome lands with its events either way).
        let recheck = state
            .tokens
            .refresh_now(ws, id, RefreshReason::Recheck)
            .await;
        if let Err(err) = recheck {
            tracing::debug!(connection = %id, error = ?err, "the recheck did not bring it back");
        }
        connection = get(state, ws, id).await?;
    }
    let outcome = check_live(state, ws, &connection).await;
    let (ok, detail) = match &outcome {
        Ok(username) => (
            true,
            format!("the provider confirmed the session of {username}"),
        ),
        Err(why) => (false, format!("check failed: {why}")),
    };
    let event = NewEvent::of(
        &connection,
        state.clock.now(),
        EventKind::Checked,
        Outcome::of(ok),
        detail,
    );
    events::record(state.store.as_ref(), event).await;
    get(state, ws, id).await
}

async fn check_live(
    state: &AppState,
    ws: &WorkspaceId,
    connection: &Connection,
) -> Result<String, String> {
    let issued = issue(state, ws, connection, TokenRequest::Current).await?;
    let connector = state
        .store
        .get_connector(ws, &connection.connector)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the connector is gone")?;
    let app =
        provider_app(&connector).map_err(|_| "the connector's login URL is invalid".to_owned())?;
    let refusal = match state.oauth.userinfo(&app, &issued.access_token).await {
        Ok(info) => return Ok(info.preferred_username),
        Err(err) if refused_token(&err) => err,
        Err(err) => return Err(err.to_string()),
    };
    // The provider refused a token tether believed valid (revoked, or its session ended):
    // report it, so the token service refreshes and marks the connection expired, with its
    // diagnosis, if the provider refuses the refresh token too.
    let rejected = TokenRequest::Rejected(issued.access_token.clone());
    let renewed = issue(state, ws, connection, rejected).await?;
    if renewed.access_token == issued.access_token {
        return Err(refusal.to_string());
    }
    state
        .oauth
        .userinfo(&app, &renewed.access_token)
        .await
        .map(|info| info.preferred_username)
        .map_err(|e| e.to_string())
}

async fn issue(
    state: &AppState,
    ws: &WorkspaceId,
    connection: &Connection,
    request: TokenRequest,
) -> Result<IssuedToken, String> {
    state
        .tokens
        .token(ws, &connection.id, request)
        .await
        .map_err(|e| e.to_string())
}

/// A 401 or 403 from the provider: the access token itself is refused.
fn refused_token(err: &OAuthError) -> bool {
    let status = match err {
        OAuthError::Provider { http_status, .. } | OAuthError::HttpStatus { http_status, .. } => {
            *http_status
        }
        _ => return false,
    };
    matches!(status, 401 | 403)
}

/// Disconnects a connection: revokes its refresh token at the provider, erases both tokens,
/// status `disconnected`. Disconnecting twice is not an error.
pub async fn disconnect(
    state: &AppState,
    ws: &WorkspaceId,
    id: &ConnectionId,
) -> ServiceResult<()> {
    let connection = get(state, ws, id).await?;
    if connection.status == ConnectionStatus::Disconnected {
        return Ok(());
    }
    if let Some(token) = state.store.refresh_token(ws, id).await? {
        let connector = state.store.get_connector(ws, &connection.connector).await?;
        revoke(
            state,
            &connection,
            connector.as_ref(),
            &token,
            Revoked::Current,
        )
        .await;
    }
    let detail = format!(
        "{} -> disconnected: removed through tether",
        connection.status
    );
    let event = NewEvent::of(
        &connection,
        state.clock.now(),
        EventKind::StatusChanged,
        Outcome::Success,
        detail,
    );
    state.store.disconnect(ws, id, &event).await?;
    state.tokens.forget(id);
    Ok(())
}

/// Which of a connection's refresh tokens is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// Its current one (the connection is being disconnected).
    Current,
    /// The one a reconnect replaced (so reconnects do not eat the 5-approvals limit).
    Replaced,
}

/// Revokes `token` at the provider with the connector's credentials and records the outcome
/// as a `revoked` event of `connection`.
pub async fn revoke(
    state: &AppState,
    connection: &Connection,
    connector: Option<&Connector>,
    token: &RefreshToken,
    which: Revoked,
) {
    let outcome = match connector.map(provider_app) {
        Some(Ok(app)) => state
            .oauth
            .revoke(&app, token)
            .await
            .map_err(|e| e.to_string()),
        _ => Err("the connector is gone; nothing to revoke with".to_owned()),
    };
    let detail = match (&outcome, which) {
        (Ok(()), Revoked::Current) => "revoked the refresh token at the provider".to_owned(),
        (Ok(()), Revoked::Replaced) => "revoked the replaced refresh token".to_owned(),
        (Err(why), Revoked::Current) => format!("could not revoke the refresh token: {why}"),
        (Err(why), Revoked::Replaced) => {
            format!("could not revoke the replaced refresh token: {why}")
        }
    };
    let event = NewEvent::of(
        connection,
        state.clock.now(),
        EventKind::Revoked,
        Outcome::of(outcome.is_ok()),
        detail,
    );
    events::record(state.store.as_ref(), event).await;
}

/// Revokes a token that belongs to no connection (a sign-in refused after the code was
/// exchanged), so it does not linger as one of the user's five approvals.
pub async fn revoke_orphan(state: &AppState, connector: &Connector, token: &RefreshToken) {
    let Ok(app) = provider_app(connector) else {
        return;
    };
    if let Err(err) = state.oauth.revoke(&app, token).await {
        tracing::warn!(error = %err, "could not revoke a refused sign-in's token");
    }
}
