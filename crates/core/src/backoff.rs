//! Retry timing for transient refresh failures: exponential backoff with full jitter.
//!
//! Total over its inputs: any attempt number and any jitter (NaN and infinities included)
//! give a delay between half of [`BASE_DELAY`] and [`MAX_DELAY`].

use chrono::Duration;

/// The first retry comes after about this long.
pub const BASE_DELAY: Duration = Duration::seconds(2);
/// Retries never wait longer than this.
pub const MAX_DELAY: Duration = Duration::minutes(10);

/// The delay before retry number `attempt` (1 = first failure; 0 reads as 1), given `jitter`
/// in `[0, 1)` (clamped there; NaN reads as 0).
///
/// The ceiling doubles with each attempt up to [`MAX_DELAY`]; the delay is drawn from the
/// upper half of the ceiling so retries spread out without ever coming back immediately.
pub fn retry_delay(attempt: u32, jitter: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(20);
    let ceiling_ms = (BASE_DELAY.num_milliseconds() << exp).min(MAX_DELAY.num_milliseconds());
    let jitter = if jitter.is_nan() {
        0.0
    } else {
        jitter.clamp(0.0, 1.0)
    };
    let half = ceiling_ms / 2;
    Duration::milliseconds(half + (half as f64 * jitter) as i64)
}

/// The first recheck of a connection that expired for a recoverable cause comes this long
/// after the refusal: time for a person to read the diagnosis and change the setting. Each
/// recheck Salesforce refuses adds a failed row to the org's login history, so no sooner.
pub const FIRST_RECHECK: Duration = Duration::hours(1);
/// Rechecks never wait longer than this: a fix is found within a day.
pub const MAX_RECHECK: Duration = Duration::days(1);

/// The delay before recheck number `attempt` (1 = after the first refusal; 0 reads as 1):
/// [`FIRST_RECHECK`] doubling up to [`MAX_RECHECK`]. Each is one token call, the cost of
/// noticing a fixed setting without a person pressing "Check now".
pub fn recheck_delay(attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(20);
    let ms = (FIRST_RECHECK.num_milliseconds() << exp).min(MAX_RECHECK.num_milliseconds());
    Duration::milliseconds(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rechecks_start_after_an_hour_and_settle_at_once_a_day() {
        assert_eq!(recheck_delay(0), Duration::hours(1));
        assert_eq!(recheck_delay(1), Duration::hours(1));
        assert_eq!(recheck_delay(2), Duration::hours(2));
        assert_eq!(recheck_delay(5), Duration::hours(16));
        assert_eq!(recheck_delay(6), MAX_RECHECK);
        assert_eq!(recheck_delay(u32::MAX), MAX_RECHECK);
    }

    #[test]
    fn delays_double_until_the_cap() {
        assert_eq!(retry_delay(1, 1.0), Duration::seconds(2));
        assert_eq!(retry_delay(2, 1.0), Duration::seconds(4));
        assert_eq!(retry_delay(3, 0.0), Duration::seconds(4));
        assert_eq!(retry_delay(30, 1.0), MAX_DELAY);
    }

    proptest! {
        #[test]
        fn delays_stay_within_half_and_all_of_the_ceiling(attempt in 1u32..100, jitter in 0.0f64..1.0) {
            let d = retry_delay(attempt, jitter);
            prop_assert!(d >= Duration::seconds(1));
            prop_assert!(d <= MAX_DELAY);
        }

        #[test]
        fn any_attempt_and_any_jitter_give_a_delay_within_bounds(
            attempt in prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()],
            jitter in prop_oneof![
                Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY),
                Just(f64::MAX), Just(f64::MIN), any::<f64>()
            ],
        ) {
            let d = retry_delay(attempt, jitter);
            prop_assert!(d >= Duration::seconds(1));
            prop_assert!(d <= MAX_DELAY);
        }
    }
}
