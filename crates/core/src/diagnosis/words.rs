//! Durations in the words people read: "31 days", and a round value inside a bracket
//! ("5 days" for somewhere between 4 days 22 hours and 5 days 1 hour). Total over every
//! `i64`: nothing here can overflow or panic.

/// The units a Setup screen or a person counts in, largest first.
const UNITS: [(i64, &str); 4] = [
    (86_400, "day"),
    (3_600, "hour"),
    (60, "minute"),
    (1, "second"),
];

/// "31 days", "4 hours", "12 minutes", "40 seconds" (rounded down; negative reads as 0).
pub fn human(seconds: i64) -> String {
    let (n, unit) = match seconds {
        s if s >= 2 * 86_400 => (s / 86_400, "day"),
        s if s >= 2 * 3_600 => (s / 3_600, "hour"),
        s if s >= 2 * 60 => (s / 60, "minute"),
        s => (s.max(0), "second"),
    };
    count(n, unit)
}

/// A round duration in `(lo, hi]`: in the largest unit that has a whole number of itself
/// there, preferring a multiple of 10, then of 5, else the largest. When the bracket holds
/// no whole unit at all (it is empty or tighter than a second), `hi` in words.
pub fn round_within(lo: i64, hi: i64) -> String {
    UNITS
        .into_iter()
        .find_map(|(unit, name)| {
            let first = (lo.max(0) / unit).saturating_add(1);
            let last = hi / unit;
            (first <= last).then(|| count(roundest(first, last), name))
        })
        .unwrap_or_else(|| human(hi))
}

/// The roundest whole number in `first..=last` (both positive, `first <= last`).
fn roundest(first: i64, last: i64) -> i64 {
    [10, 5]
        .into_iter()
        .map(|step| last - last % step)
        .find(|n| *n >= first)
        .unwrap_or(last)
}

fn count(n: i64, unit: &str) -> String {
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_round_value_prefers_the_largest_unit_and_a_multiple_of_five_or_ten() {
        let day = 86_400;
        assert_eq!(round_within(5 * day - 600, 5 * day + 3_600), "5 days");
        assert_eq!(round_within(25 * day, 31 * day), "30 days");
        assert_eq!(round_within(1, 6), "5 seconds");
        assert_eq!(round_within(8, 9), "9 seconds");
        assert_eq!(round_within(9, 9), "9 seconds");
    }

    proptest! {
        #[test]
        fn words_never_panic_on_any_seconds(lo in any::<i64>(), hi in any::<i64>()) {
            prop_assert!(!human(lo).is_empty());
            prop_assert!(!round_within(lo, hi).is_empty());
        }

        #[test]
        fn the_round_value_lies_inside_the_bracket(lo in 0i64..10_000_000, width in 1i64..10_000_000) {
            let hi = lo + width;
            let words = round_within(lo, hi);
            let (n, unit) = words.split_once(' ').unwrap_or_default();
            let n: i64 = n.parse().unwrap_or_default();
            let secs = UNITS.iter().find(|(_, name)| unit.starts_with(name)).map_or(0, |u| u.0);
            prop_assert!(lo < n * secs && n * secs <= hi, "{words} for ({lo}, {hi}]");
        }
    }
}
