//! Access-token expiry maths.
//!
//! Salesforce sends no `expires_in`: an access token lives for the Connected App's session
//! timeout. tether estimates the expiry from `issued_at` plus that lifetime and refreshes a
//! margin before it. The margin scales with the lifetime so that a token living 4 seconds is
//! still served for most of them, while a 2-hour token is refreshed 5 minutes early.

use chrono::{DateTime, Duration, Utc};

/// Salesforce's default session timeout when neither the connector nor introspection says.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::hours(2);

/// The longest margin: a token is never refreshed more than this early.
pub const MAX_REFRESH_MARGIN: Duration = Duration::minutes(5);

/// How early before `expires_at` a token of this lifetime is refreshed: a tenth of the
/// lifetime, at most [`MAX_REFRESH_MARGIN`].
pub fn refresh_margin(lifetime: Duration) -> Duration {
    let tenth = lifetime / 10;
    tenth.clamp(Duration::zero(), MAX_REFRESH_MARGIN)
}

/// When a token issued at `issued_at` with `lifetime` stops being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenExpiry {
    /// When the provider will stop accepting it (estimated or learned).
    pub expires_at: DateTime<Utc>,
    /// When tether stops handing it out and refreshes instead.
    pub refresh_at: DateTime<Utc>,
}

impl TokenExpiry {
    /// The expiry of a token issued at `issued_at` that lives `lifetime`.
    pub fn estimate(issued_at: DateTime<Utc>, lifetime: Duration) -> Self {
        let lifetime = lifetime.max(Duration::zero());
        let expires_at = issued_at + lifetime;
        Self {
            expires_at,
            refresh_at: expires_at - refresh_margin(lifetime),
        }
    }

    /// The expiry when the provider states the exact instant (introspection's `exp`).
    pub fn known(issued_at: DateTime<Utc>, expires_at: DateTime<Utc>) -> Self {
        Self::estimate(issued_at, expires_at - issued_at)
    }

    /// Whether tether should still serve the token at `now` without refreshing.
    pub fn is_fresh_at(&self, now: DateTime<Utc>) -> bool {
        now < self.refresh_at
    }

    /// Whether the provider would still accept it at `now` (served while degraded).
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

/// Under "Expire refresh token after N", how long a refresh token of age `age` has left, once
/// it has lived four fifths of `lifetime` (time to warn); `None` before that, or once past.
pub fn lifetime_warning(age: Duration, lifetime: Duration) -> Option<Duration> {
    let left = lifetime - age;
    (age * 5 >= lifetime * 4 && left > Duration::zero()).then_some(left)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn a_two_hour_token_is_refreshed_five_minutes_early() {
        let e = TokenExpiry::estimate(t0(), Duration::hours(2));
        assert_eq!(e.expires_at, t0() + Duration::hours(2));
        assert_eq!(e.refresh_at, t0() + Duration::minutes(115));
    }

    #[test]
    fn a_four_second_token_is_served_for_most_of_its_life() {
        let e = TokenExpiry::estimate(t0(), Duration::seconds(4));
        assert!(e.is_fresh_at(t0() + Duration::milliseconds(3500)));
        assert!(!e.is_fresh_at(t0() + Duration::milliseconds(3700)));
        assert!(e.is_valid_at(t0() + Duration::milliseconds(3700)));
    }

    #[test]
    fn a_lifetime_warning_comes_in_the_last_fifth_only() {
        let ten_days = Duration::days(10);
        assert_eq!(lifetime_warning(Duration::days(7), ten_days), None);
        assert_eq!(
            lifetime_warning(Duration::days(8), ten_days),
            Some(Duration::days(2))
        );
        assert_eq!(lifetime_warning(Duration::days(10), ten_days), None);
    }

    proptest! {
        #[test]
        fn the_refresh_point_lies_in_the_last_tenth_of_the_lifetime(secs in 1i64..200_000) {
            let lifetime = Duration::seconds(secs);
            let e = TokenExpiry::estimate(t0(), lifetime);
            prop_assert!(e.refresh_at <= e.expires_at);
            prop_assert!(e.refresh_at >= t0() + lifetime * 9 / 10);
            prop_assert!(e.expires_at - e.refresh_at <= MAX_REFRESH_MARGIN);
        }
    }
}
