//! What a provider answer becomes: the connector's provider credentials, and a token set
//! whose deadlines are on tether's own clock.
//!
//! Salesforce sends no `expires_in`, and its `issued_at` is on its own clock: a provider
//! whose clock runs hours ahead would make a short-lived token look valid for hours. So the
//! lifetime is counted from when tether *sent* the request (never later than when the
//! provider issued the token), and `issued_at` is kept only as evidence. The lifetime is the
//! connector's `session_timeout_seconds` hint, else what introspection (or a healed proxied
//! 401, see `healed`) taught this process about the connector, else Salesforce's default of
//! 2 hours.

use std::collections::HashMap;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use parking_lot::Mutex;
use tether_core::expiry::{DEFAULT_SESSION_TIMEOUT, TokenExpiry};
use tether_core::ids::{ConnectorName, WorkspaceId};
use tether_core::instance::InstanceUrl;
use tether_oauth::salesforce::TokenResponse;
use tether_oauth::{OAuthClient, ProviderApp};
use tether_store::{Connector, TokenSet};

use super::TokenError;

/// How long a learned lifetime is trusted before it is checked again.
const LEARNED_TTL: StdDuration = StdDuration::from_secs(3600);
/// The shortest lifetime a refused access token teaches: Salesforce's shortest session
/// timeout is 15 minutes, so anything below a minute is a clock oddity, not a lifetime.
pub const MIN_LEARNED_LIFETIME: Duration = Duration::seconds(60);

/// The provider credentials of a connector.
pub fn provider_app(connector: &Connector) -> Result<ProviderApp, TokenError> {
    let login_url =
        url::Url::parse(&connector.input.login_url).map_err(TokenError::ConnectorUrl)?;
    Ok(ProviderApp {
        login_url,
        client_id: connector.input.client_id.clone(),
        client_secret: connector.input.client_secret.clone(),
        scopes: connector.input.scopes.clone(),
    })
}

/// The token set of an answer to a request sent at `sent_at` (tether's clock), for a token
/// living `lifetime`.
pub fn token_set(answer: &TokenResponse, sent_at: DateTime<Utc>, lifetime: Duration) -> TokenSet {
    let expiry = TokenExpiry::estimate(sent_at, lifetime);
    TokenSet {
        access_token: answer.access_token.clone(),
        refresh_token: answer.refresh_token.clone(),
        issued_at: answer.issued_at.unwrap_or(sent_at),
        expires_at: expiry.expires_at,
        refresh_at: expiry.refresh_at,
        instance_url: instance_url_of(answer),
    }
}

/// The instance URL of an answer as tether stores it, when the answer named a usable one.
pub fn instance_url_of(answer: &TokenResponse) -> Option<InstanceUrl> {
    let url = answer.instance_url.as_ref()?;
    InstanceUrl::parse(&format!("{}://{}", url.scheme(), url.authority())).ok()
}

/// Access-token lifetimes learned by introspection, per connector, in this process.
#[derive(Debug, Default)]
pub struct Lifetimes {
    learned: Mutex<HashMap<(WorkspaceId, ConnectorName), (Duration, Instant)>>,
}

impl Lifetimes {
    /// The lifetime to assume for a new token of `connector` now: the admin's hint, else a
    /// recently learned one, else the default.
    pub fn assumed(&self, connector: &Connector) -> Duration {
        if let Some(hint) = hinted(connector) {
            return hint;
        }
        self.learned_for(connector)
            .unwrap_or(DEFAULT_SESSION_TIMEOUT)
    }

    /// Whether introspection should run after this connector's next refresh lands (no hint,
    /// nothing learned recently, and a consumer secret to introspect with: a JWT bearer
    /// connector may have none).
    pub fn should_learn(&self, connector: &Connector) -> bool {
        hinted(connector).is_none()
            && self.learned_for(connector).is_none()
            && connector.input.client_secret.is_some()
    }

    /// Asks the provider how long `answer`'s access token lives and remembers it for the
    /// connector; `None` when introspection is not available.
    pub async fn learn(
        &self,
        oauth: &OAuthClient,
        connector: &Connector,
        answer: &TokenResponse,
    ) -> Option<Duration> {
        let app = provider_app(connector).ok()?;
        let lifetime = match oauth.introspect(&app, &answer.access_token).await {
            Ok(found) => found.lifetime()?,
            Err(err) => {
                tracing::debug!(error = %err, "introspection unavailable; keeping the assumed session timeout");
                return None;
            }
        };
        let key = (connector.workspace_id.clone(), connector.name.clone());
        self.learned.lock().insert(key, (lifetime, Instant::now()));
        Some(lifetime)
    }

    /// A proxied call's access token was refused as expired at `age` (and a refresh healed
    /// it): the connector's tokens live at most that long. Remembered (never below
    /// [`MIN_LEARNED_LIFETIME`]) when it is shorter than what is assumed now; the new lifetime,
    /// if it changed. The admin's hint, when given, still wins.
    pub fn learn_at_most(&self, connector: &Connector, age: Duration) -> Option<Duration> {
        if hinted(connector).is_some() {
            return None;
        }
        let bound = age.max(MIN_LEARNED_LIFETIME);
        if bound >= self.assumed(connector) {
            return None;
        }
        let key = (connector.workspace_id.clone(), connector.name.clone());
        self.learned.lock().insert(key, (bound, Instant::now()));
        Some(bound)
    }

    fn learned_for(&self, connector: &Connector) -> Option<Duration> {
        let key = (connector.workspace_id.clone(), connector.name.clone());
        let learned = self.learned.lock();
        let (lifetime, at) = learned.get(&key)?;
        (at.elapsed() < LEARNED_TTL).then_some(*lifetime)
    }
}

/// The connector's `session_timeout_seconds`, when the admin gave one.
fn hinted(connector: &Connector) -> Option<Duration> {
    connector
        .input
        .session_timeout_seconds
        .filter(|s| *s > 0)
        .and_then(Duration::try_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_core::secret::AccessToken;

    fn answer(issued_at: Option<DateTime<Utc>>) -> TokenResponse {
        TokenResponse {
            access_token: AccessToken::new("00D!AQ"),
            refresh_token: None,
            instance_url: url::Url::parse("https://na1.salesforce.com/").ok(),
            identity: None,
            issued_at,
            scopes: vec![],
            oddities: vec![],
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap_or_default()
    }

    #[test]
    fn deadlines_follow_tethers_clock_whatever_the_providers_issued_at_says() {
        let three_hours_ahead = answer(Some(at(3 * 3600)));
        let tokens = token_set(&three_hours_ahead, at(0), Duration::seconds(4));
        assert_eq!(tokens.expires_at, at(4));
        assert!(tokens.refresh_at < at(4));
        assert_eq!(tokens.issued_at, at(3 * 3600), "kept as evidence");
    }

    #[test]
    fn an_answer_without_issued_at_is_dated_when_it_was_asked_for() {
        let tokens = token_set(&answer(None), at(10), Duration::hours(2));
        assert_eq!(tokens.issued_at, at(10));
        assert_eq!(
            tokens.instance_url.map(|u| u.to_string()),
            Some("https://na1.salesforce.com".to_owned())
        );
    }
}
