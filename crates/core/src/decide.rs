//! What to do when someone asks for a connection's token: a pure decision over what tether
//! knows of the connection at that instant. The server carries it out (serve, join the one
//! refresh, or answer why not).

use chrono::{DateTime, Utc};

use crate::status::ConnectionStatus;

/// What the caller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// A token tether believes valid.
    Current,
    /// The provider refused the caller's token; `is_current` when that is the token tether
    /// would serve (it must be replaced), `false` when it was already replaced.
    Rejected { is_current: bool },
    /// A new token, asked for by a caller (`force_refresh`): a token refreshed within
    /// [`MIN_FORCED_REFRESH_INTERVAL`] is new enough. Under refresh token rotation every
    /// refresh retires the refresh token, and a process that dies between Salesforce's answer
    /// and the save loses the chain; refreshing again within seconds gains nothing but that
    /// risk.
    Force,
    /// A refresh whatever the token (the keep-alive, a scheduled retry).
    Renew,
    /// Whether the provider takes the refresh token again, asked of a connection that expired
    /// for a recoverable cause (Salesforce refused it but left it alive, and a person may have
    /// fixed the setting since): "Check now", or the scheduler when the recheck is due.
    Recheck,
}

/// How recent a refresh must be for a caller's `force_refresh` to be answered with its token.
pub const MIN_FORCED_REFRESH_INTERVAL: chrono::Duration = chrono::Duration::seconds(5);

/// What tether knows of the connection's current token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenState {
    pub status: ConnectionStatus,
    pub has_access_token: bool,
    /// When tether stops serving the token and refreshes.
    pub refresh_at: DateTime<Utc>,
    /// When the provider stops accepting it.
    pub expires_at: DateTime<Utc>,
    /// A degraded connection's next retry after a transient failure.
    pub next_retry_at: Option<DateTime<Utc>>,
    /// When tether last refreshed the token (on its own clock); `None` before the first
    /// refresh of the approval.
    pub refreshed_at: Option<DateTime<Utc>>,
    /// For a connection degraded by its connector's credentials: whether the connector has
    /// changed since (`None` when the failure was not the connector's).
    pub connector_changed: Option<bool>,
    /// For an expired connection: whether its cause left the refresh token alive, so a fixed
    /// setting brings it back (its next recheck is `next_retry_at`).
    pub recoverable: bool,
}

/// How long a caller is told to wait while a connector problem lasts.
pub const CONNECTOR_PROBLEM_RETRY_SECONDS: u64 = 60;

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Hand out the current token.
    Serve,
    /// Refresh first (joining the refresh in flight, if any).
    Refresh,
    /// The connection is degraded and must not be retried yet; the caller may come back after
    /// this many seconds.
    Wait { retry_after_seconds: u64 },
    /// The provider ended the connection: only a person can fix it.
    Expired,
    /// Removed through tether.
    Disconnected,
}

/// The decision for `want` on `state` at `now`.
pub fn decide(state: &TokenState, want: Want, now: DateTime<Utc>) -> Decision {
    match state.status {
        ConnectionStatus::Expired if recheck_due(state, want, now) => return Decision::Refresh,
        ConnectionStatus::Expired => return Decision::Expired,
        ConnectionStatus::Disconnected => return Decision::Disconnected,
        ConnectionStatus::Active | ConnectionStatus::Degraded => {}
    }
    if !needs_refresh(state, want, now) {
        return Decision::Serve;
    }
    match backing_off(state, want, now) {
        Some(_) if want == Want::Current && now < state.expires_at && state.has_access_token => {
            Decision::Serve
        }
        Some(retry_after_seconds) => Decision::Wait {
            retry_after_seconds,
        },
        None => Decision::Refresh,
    }
}

/// Whether an expired connection is tried again: asked to ("Check now", the scheduler), or
/// by any caller once its recheck is due, and only when its cause left the token alive.
fn recheck_due(state: &TokenState, want: Want, now: DateTime<Utc>) -> bool {
    state.recoverable && (want == Want::Recheck || state.next_retry_at.is_some_and(|at| at <= now))
}

/// Whether a caller that wanted `want` may still be served the current token after the
/// refresh failed for a reason that may pass (the provider is down, the token still works).
pub fn serve_through_outage(state: &TokenState, want: Want, now: DateTime<Utc>) -> bool {
    want == Want::Current && state.has_access_token && now < state.expires_at
}

fn needs_refresh(state: &TokenState, want: Want, now: DateTime<Utc>) -> bool {
    let stale = !state.has_access_token || now >= state.refresh_at;
    match want {
        Want::Current => stale,
        Want::Force => stale || !refreshed_recently(state, now),
        Want::Renew | Want::Recheck => true,
        Want::Rejected { is_current } => stale || is_current,
    }
}

/// Whether the current token came from a refresh less than
/// [`MIN_FORCED_REFRESH_INTERVAL`] ago.
fn refreshed_recently(state: &TokenState, now: DateTime<Utc>) -> bool {
    state
        .refreshed_at
        .is_some_and(|at| at <= now && now - at < MIN_FORCED_REFRESH_INTERVAL)
}

/// `Some(seconds to wait)` while a degraded connection must not be retried.
fn backing_off(state: &TokenState, want: Want, now: DateTime<Utc>) -> Option<u64> {
    if state.status != ConnectionStatus::Degraded {
        return None;
    }
    if let Some(changed) = state.connector_changed {
        // Salesforce refused the connector itself. Fixed in tether, the connector changes;
        // fixed in Salesforce (a certificate uploaded, a Run As user chosen), only asking
        // again tells: when the recheck is due, or when a person asks ("Check now").
        let recheck = want == Want::Recheck || state.next_retry_at.is_some_and(|at| at <= now);
        return (!changed && !recheck).then_some(CONNECTOR_PROBLEM_RETRY_SECONDS);
    }
    let at = state.next_retry_at.filter(|at| *at > now)?;
    let wait = (at - now).num_seconds().max(1);
    Some(u64::try_from(wait).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap_or_default()
    }

    fn active() -> TokenState {
        TokenState {
            status: ConnectionStatus::Active,
            has_access_token: true,
            refresh_at: t(100),
            expires_at: t(110),
            next_retry_at: None,
            refreshed_at: None,
            connector_changed: None,
            recoverable: false,
        }
    }

    #[test]
    fn a_fresh_token_is_served_and_a_stale_one_refreshed() {
        assert_eq!(decide(&active(), Want::Current, t(50)), Decision::Serve);
        assert_eq!(decide(&active(), Want::Current, t(100)), Decision::Refresh);
        assert_eq!(decide(&active(), Want::Force, t(0)), Decision::Refresh);
    }

    #[test]
    fn a_forced_refresh_right_after_a_refresh_is_answered_with_its_token() {
        let state = TokenState {
            refreshed_at: Some(t(0)),
            ..active()
        };
        assert_eq!(decide(&state, Want::Force, t(2)), Decision::Serve);
        assert_eq!(decide(&state, Want::Force, t(5)), Decision::Refresh);
        assert_eq!(decide(&state, Want::Renew, t(2)), Decision::Refresh);
        let rejected = Want::Rejected { is_current: true };
        assert_eq!(decide(&state, rejected, t(2)), Decision::Refresh);
    }

    #[test]
    fn a_rejected_token_is_replaced_only_while_it_is_the_current_one() {
        let rejected = |is_current| Want::Rejected { is_current };
        assert_eq!(decide(&active(), rejected(true), t(0)), Decision::Refresh);
        assert_eq!(decide(&active(), rejected(false), t(0)), Decision::Serve);
    }

    #[test]
    fn expired_and_disconnected_connections_are_refused_whatever_is_asked() {
        for (status, decision) in [
            (ConnectionStatus::Expired, Decision::Expired),
            (ConnectionStatus::Disconnected, Decision::Disconnected),
        ] {
            let state = TokenState { status, ..active() };
            assert_eq!(decide(&state, Want::Force, t(0)), decision);
            assert_eq!(decide(&state, Want::Recheck, t(0)), decision);
        }
    }

    #[test]
    fn an_expired_connection_whose_cause_left_the_token_alive_is_rechecked_when_due_or_asked() {
        let state = TokenState {
            status: ConnectionStatus::Expired,
            recoverable: true,
            next_retry_at: Some(t(300)),
            ..active()
        };
        assert_eq!(decide(&state, Want::Current, t(100)), Decision::Expired);
        assert_eq!(decide(&state, Want::Recheck, t(100)), Decision::Refresh);
        assert_eq!(decide(&state, Want::Current, t(300)), Decision::Refresh);
        let disconnected = TokenState {
            status: ConnectionStatus::Disconnected,
            ..state
        };
        assert_eq!(
            decide(&disconnected, Want::Recheck, t(300)),
            Decision::Disconnected
        );
    }

    #[test]
    fn a_degraded_connection_serves_its_valid_token_and_waits_out_its_backoff() {
        let state = TokenState {
            status: ConnectionStatus::Degraded,
            next_retry_at: Some(t(130)),
            ..active()
        };
        assert_eq!(decide(&state, Want::Current, t(105)), Decision::Serve);
        assert_eq!(
            decide(&state, Want::Current, t(120)),
            Decision::Wait {
                retry_after_seconds: 10
            }
        );
        assert_eq!(
            decide(&state, Want::Force, t(105)),
            Decision::Wait {
                retry_after_seconds: 25
            }
        );
        assert_eq!(decide(&state, Want::Current, t(130)), Decision::Refresh);
    }

    #[test]
    fn a_connector_problem_waits_until_the_connector_changes() {
        let state = |changed| TokenState {
            status: ConnectionStatus::Degraded,
            connector_changed: Some(changed),
            ..active()
        };
        assert_eq!(
            decide(&state(false), Want::Force, t(0)),
            Decision::Wait {
                retry_after_seconds: CONNECTOR_PROBLEM_RETRY_SECONDS
            }
        );
        assert_eq!(decide(&state(true), Want::Force, t(0)), Decision::Refresh);
    }

    #[test]
    fn a_connector_problem_is_tried_again_when_its_recheck_is_due_or_asked_for() {
        let state = TokenState {
            status: ConnectionStatus::Degraded,
            connector_changed: Some(false),
            next_retry_at: Some(t(3600)),
            ..active()
        };
        let wait = Decision::Wait {
            retry_after_seconds: CONNECTOR_PROBLEM_RETRY_SECONDS,
        };
        assert_eq!(decide(&state, Want::Renew, t(3599)), wait);
        assert_eq!(decide(&state, Want::Renew, t(3600)), Decision::Refresh);
        assert_eq!(decide(&state, Want::Recheck, t(0)), Decision::Refresh);
    }

    #[test]
    fn an_outage_is_served_through_only_for_a_current_token_still_valid() {
        assert!(serve_through_outage(&active(), Want::Current, t(105)));
        assert!(!serve_through_outage(&active(), Want::Current, t(110)));
        assert!(!serve_through_outage(&active(), Want::Force, t(105)));
        let _ = Duration::zero();
    }
}
