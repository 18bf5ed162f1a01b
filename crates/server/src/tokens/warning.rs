//! Warning before a lifetime policy ends a connection.
//!
//! When the connector's admin said (or tether inferred from its evidence) that the Connected
//! App has "Expire refresh token after N", a connection whose approval has lived four fifths
//! of N gets one `lifetime_warning` event,
//! landed with the refresh that noticed, saying how long is left and what to do, so the user
//! reconnects before Salesforce says `invalid_grant`. Once per approval: the connection
//! remembers when it was warned.

use chrono::{DateTime, Duration, Utc};
use tether_core::diagnosis::engine::human;
use tether_core::diagnosis::{PolicyEvidence, PolicyHint, PolicyKind};
use tether_core::event::{EventKind, Outcome};
use tether_core::expiry::lifetime_warning as time_left;
use tether_store::{Connection, Connector, NewEvent};

/// The warning event, when it is due and this approval has not had it.
pub fn lifetime_warning(
    connection: &Connection,
    connector: &Connector,
    evidence: &PolicyEvidence,
    now: DateTime<Utc>,
) -> Option<NewEvent> {
    let lifetime = declared_lifetime(connector).or_else(|| inferred_lifetime(evidence))?;
    let approved = connection
        .refresh_token_issued_at
        .unwrap_or(connection.created_at);
    if connection
        .lifetime_warned_at
        .is_some_and(|at| at >= approved)
    {
        return None;
    }
    let left = time_left(now - approved, lifetime)?;
    let detail = format!(
        "Salesforce will expire this connection's refresh token in about {} (\"Expire refresh token after {}\"): reconnect it before then, or set the Connected App's Refresh Token Policy to \"Refresh token is valid until revoked\"",
        human(left.num_seconds()),
        human(lifetime.num_seconds())
    );
    Some(NewEvent::of(
        connection,
        now,
        EventKind::LifetimeWarning,
        Outcome::Warning,
        detail,
    ))
}

/// The lifetime tether inferred, at its lower bound (so the warning comes early, not late).
fn inferred_lifetime(evidence: &PolicyEvidence) -> Option<Duration> {
    let inferred = evidence.infer()?;
    let bracket = inferred.bracket(PolicyKind::Lifetime)?;
    Duration::try_seconds(bracket.at_least_seconds.max(1))
}

/// The lifetime policy the admin declared.
fn declared_lifetime(connector: &Connector) -> Option<Duration> {
    let hint = connector.input.refresh_token_policy.as_ref()?;
    match PolicyHint::from_json(hint)? {
        PolicyHint::Lifetime { seconds } => Duration::try_seconds(seconds),
        _ => None,
    }
}
