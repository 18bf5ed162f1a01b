//! Access-token lifetimes learned from proxied 401s that a refresh healed. A token Salesforce
//! refused as `Session expired or invalid` at age T, while tether still believed it fresh,
//! says the connector's sessions live at most T: the next tokens of the connector (and the
//! one the heal just landed) are refreshed before that age, never assuming less than
//! [`MIN_LEARNED_LIFETIME`](super::answer::MIN_LEARNED_LIFETIME).

use chrono::Duration;
use tether_core::expiry::TokenExpiry;
use tether_core::ids::{ConnectionId, WorkspaceId};
use tether_core::secret::AccessToken;
use tether_store::{Connector, TokenSet};

use super::service::TokenService;

/// An access token refused as expired while tether believed it fresh, and its age then.
#[derive(Debug)]
pub struct RefusedAge {
    connector: Connector,
    age: Duration,
}

impl TokenService {
    /// The age of `used` now, if it is the connection's current token and tether believed it
    /// fresh (a token refused past its expected life teaches nothing). The age counts from
    /// the later of two estimates of its issue: the provider's `issued_at` and tether's own
    /// send time (its expiry less the lifetime assumed), so neither a skewed provider clock
    /// nor a changed assumption makes it look younger than it was.
    pub async fn refused_age(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
        used: &AccessToken,
    ) -> Option<RefusedAge> {
        let ctx = self.store.refresh_context(ws, id).await.ok()??;
        let token = &ctx.token;
        let now = self.clock.now();
        if token.access_token.as_ref() != Some(used) || now >= token.refresh_at {
            return None;
        }
        let sent = token.expires_at - self.lifetimes.assumed(&ctx.connector);
        let age = (now - token.issued_at).max(now - sent);
        (age > Duration::zero()).then_some(RefusedAge {
            connector: ctx.connector,
            age,
        })
    }

    /// After the refresh healed the refusal: remembers the bound for the connector and
    /// brings the current token's refresh forward to it.
    pub async fn learn_refused_age(
        &self,
        ws: &WorkspaceId,
        id: &ConnectionId,
        refused: RefusedAge,
    ) {
        let Some(lifetime) = self
            .lifetimes
            .learn_at_most(&refused.connector, refused.age)
        else {
            return;
        };
        tracing::info!(connection = %id, connector = %refused.connector.name, seconds = lifetime.num_seconds(), "a healed 401 taught a shorter access-token lifetime");
        let Ok(current) = self.read_current(ws, id).await else {
            return;
        };
        let Some(access_token) = current.access_token.clone() else {
            return;
        };
        let issued = current.refreshed_at.unwrap_or(current.issued_at);
        let expiry = TokenExpiry::estimate(issued, lifetime);
        if expiry.expires_at >= current.expires_at {
            return;
        }
        let tokens = TokenSet {
            access_token,
            refresh_token: None,
            issued_at: current.issued_at,
            expires_at: expiry.expires_at,
            refresh_at: expiry.refresh_at,
            instance_url: Some(current.instance_url.clone()),
        };
        match self
            .store
            .adjust_expiry(ws, id, current.token_version, &tokens)
            .await
        {
            Ok(_) => self.cache.forget(id),
            Err(err) => {
                tracing::warn!(connection = %id, error = %err, "could not record the learned token lifetime")
            }
        }
    }
}
