//! Access-token expiry maths.
//!
//! Salesforce sends no `expires_in`: an access token lives for the Connected App's session
//! timeout. tether estimates the expiry from `issued_at` plus that lifetime and refreshes a
//! margin before it. The margin scales with the lifetime so that a token living 4 seconds is
//! still served for most of them, while a 2-hour token is refreshed 5 minutes early.
//!
//! Every function here is total: lifetimes are clamped to [`MAX_ACCESS_TOKEN_LIFETIME`],
//! instants saturate at chrono's limits, and products are taken in `i128`, so no input (a
//! corrupt row, a hostile introspection answer, `i64::MAX` seconds) can panic.

use chrono::{DateTime, Duration, Utc};

/// Salesforce's default session timeout when neither the connector nor introspection says.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::hours(2);

/// The shortest session timeout a connector may declare.
pub const MIN_SESSION_TIMEOUT_SECONDS: i64 = 1;

/// The longest session timeout a connector may declare: 400 days. Salesforce allows at most
/// 24 hours; the headroom is for other providers and test setups. The server can validate
/// `session_timeout_seconds` against `MIN_SESSION_TIMEOUT_SECONDS..=` this.
pub const MAX_SESSION_TIMEOUT_SECONDS: i64 = 400 * 86_400;

/// The longest access-token lifetime tether reasons about; longer ones are clamped to it.
pub const MAX_ACCESS_TOKEN_LIFETIME: Duration = Duration::seconds(MAX_SESSION_TIMEOUT_SECONDS);

/// The longest margin: a token is never refreshed more than this early.
pub const MAX_REFRESH_MARGIN: Duration = Duration::minutes(5);

/// `seconds` as a duration, saturating at chrono's limits instead of panicking as
/// `Duration::seconds` does beyond them.
pub fn saturating_seconds(seconds: i64) -> Duration {
    Duration::try_seconds(seconds).unwrap_or(if seconds < 0 {
        Duration::MIN
    } else {
        Duration::MAX
    })
}

/// The access-token lifetime for a declared session timeout: the default when none is
/// declared, else the timeout clamped to the documented range.
pub fn session_lifetime(timeout_seconds: Option<i64>) -> Duration {
    timeout_seconds.map_or(DEFAULT_SESSION_TIMEOUT, |s| {
        Duration::seconds(s.clamp(MIN_SESSION_TIMEOUT_SECONDS, MAX_SESSION_TIMEOUT_SECONDS))
    })
}

/// How early before `expires_at` a token of this lifetime is refreshed: a tenth of the
/// lifetime, at most [`MAX_REFRESH_MARGIN`], never negative.
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
    /// The expiry of a token issued at `issued_at` that lives `lifetime` (clamped to
    /// `0..=`[`MAX_ACCESS_TOKEN_LIFETIME`]). Near chrono's last instant the expiry saturates
    /// there; `issued_at <= refresh_at <= expires_at` always holds.
    pub fn estimate(issued_at: DateTime<Utc>, lifetime: Duration) -> Self {
        let lifetime = lifetime.clamp(Duration::zero(), MAX_ACCESS_TOKEN_LIFETIME);
        let expires_at = issued_at
            .checked_add_signed(lifetime)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let refresh_at = expires_at
            .checked_sub_signed(refresh_margin(lifetime))
            .unwrap_or(issued_at)
            .max(issued_at);
        Self {
            expires_at,
            refresh_at,
        }
    }

    /// The expiry when the provider states the exact instant (introspection's `exp`).
    pub fn known(issued_at: DateTime<Utc>, expires_at: DateTime<Utc>) -> Self {
        Self::estimate(issued_at, expires_at.signed_duration_since(issued_at))
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
    let left = lifetime.checked_sub(&age)?;
    let age_ms = i128::from(age.num_milliseconds());
    let lifetime_ms = i128::from(lifetime.num_milliseconds());
    (age_ms * 5 >= lifetime_ms * 4 && left > Duration::zero()).then_some(left)
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

    #[test]
    fn a_lifetime_beyond_400_days_is_clamped_and_a_token_at_the_end_of_time_saturates() {
        let e = TokenExpiry::estimate(t0(), Duration::MAX);
        assert_eq!(e.expires_at, t0() + MAX_ACCESS_TOKEN_LIFETIME);
        let last = DateTime::<Utc>::MAX_UTC;
        let e = TokenExpiry::estimate(last, Duration::hours(2));
        assert_eq!((e.refresh_at, e.expires_at), (last, last));
    }

    #[test]
    fn a_declared_session_timeout_is_clamped_to_the_documented_range() {
        assert_eq!(session_lifetime(None), DEFAULT_SESSION_TIMEOUT);
        assert_eq!(session_lifetime(Some(i64::MAX)), MAX_ACCESS_TOKEN_LIFETIME);
        assert_eq!(session_lifetime(Some(-5)), Duration::seconds(1));
        assert_eq!(saturating_seconds(i64::MAX), Duration::MAX);
        assert_eq!(saturating_seconds(i64::MIN), Duration::MIN);
        assert_eq!(saturating_seconds(60), Duration::minutes(1));
    }

    /// Any duration chrono can hold, the extremes often.
    fn duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            Just(Duration::MAX),
            Just(Duration::MIN),
            Just(Duration::zero()),
            any::<i64>().prop_map(saturating_seconds),
            any::<i64>().prop_map(|ms| Duration::try_milliseconds(ms).unwrap_or(Duration::MAX)),
            (-1_000_000i64..1_000_000).prop_map(Duration::seconds),
        ]
    }

    /// Any instant chrono can hold, its limits often.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        let (lo, hi) = (
            DateTime::<Utc>::MIN_UTC.timestamp(),
            DateTime::<Utc>::MAX_UTC.timestamp(),
        );
        prop_oneof![
            Just(DateTime::<Utc>::MIN_UTC),
            Just(DateTime::<Utc>::MAX_UTC),
            (lo..=hi).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap_or_default()),
        ]
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

        #[test]
        fn an_estimate_never_panics_and_orders_issue_refresh_and_expiry(issued in instant(), lifetime in duration()) {
            let e = TokenExpiry::estimate(issued, lifetime);
            prop_assert!(issued <= e.refresh_at && e.refresh_at <= e.expires_at);
            prop_assert!(e.expires_at.signed_duration_since(issued) <= MAX_ACCESS_TOKEN_LIFETIME);
            prop_assert!(e.expires_at.signed_duration_since(e.refresh_at) <= MAX_REFRESH_MARGIN);
        }

        #[test]
        fn a_known_expiry_never_panics_whatever_the_two_instants(issued in instant(), expires in instant()) {
            let e = TokenExpiry::known(issued, expires);
            prop_assert!(issued <= e.refresh_at && e.refresh_at <= e.expires_at);
            if expires >= issued && expires.signed_duration_since(issued) <= MAX_ACCESS_TOKEN_LIFETIME {
                prop_assert_eq!(e.expires_at, expires);
            }
        }

        #[test]
        fn the_margin_is_between_zero_and_five_minutes_for_any_lifetime(lifetime in duration()) {
            let margin = refresh_margin(lifetime);
            prop_assert!(Duration::zero() <= margin && margin <= MAX_REFRESH_MARGIN);
        }

        #[test]
        fn a_lifetime_warning_never_panics_and_leaves_at_most_a_fifth(age in duration(), lifetime in duration()) {
            if let Some(left) = lifetime_warning(age, lifetime) {
                prop_assert!(left > Duration::zero());
                prop_assert!(i128::from(left.num_milliseconds()) * 5 <= i128::from(lifetime.num_milliseconds()));
            }
        }
    }
}
