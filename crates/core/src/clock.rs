//! Time as a parameter.
//!
//! Every component that needs "now" holds an `Arc<dyn Clock>`. Production uses
//! [`SystemClock`]; tests and `tether demo` use [`VirtualClock`], which follows real time plus
//! an offset that can be moved forward, so tether and the sandbox can share one notion of time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The shared handle every component stores.
pub type SharedClock = Arc<dyn Clock>;

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the wall clock
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Real time plus an offset that only moves forward.
///
/// Starts at real time; [`VirtualClock::advance`] jumps ahead. Time keeps flowing between
/// jumps, so timeouts and lifetimes of a few real seconds still behave.
#[derive(Debug, Default)]
pub struct VirtualClock {
    offset_ms: AtomicI64,
}

impl VirtualClock {
    /// A clock that reads real time until advanced.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by` (negative durations are ignored: time never runs back).
    pub fn advance(&self, by: Duration) {
        let ms = by.num_milliseconds().max(0);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// How far ahead of real time this clock runs.
    pub fn offset(&self) -> Duration {
        Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now() + self.offset()
    }
}

/// A clock frozen at one instant until moved; for unit tests of time rules.
#[derive(Debug)]
pub struct FixedClock {
    at_ms: AtomicI64,
}

impl FixedClock {
    /// A clock that always reads `at` until moved.
    pub fn at(at: DateTime<Utc>) -> Self {
        Self {
            at_ms: AtomicI64::new(at.timestamp_millis()),
        }
    }

    /// Moves the frozen instant forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.at_ms
            .fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.at_ms.load(Ordering::SeqCst)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_moves_forward_by_the_advance_and_never_back() {
        let clock = VirtualClock::new();
        let before = clock.now();
        clock.advance(Duration::days(31));
        clock.advance(Duration::seconds(-100));
        let moved = clock.now() - before;
        assert!(moved >= Duration::days(31), "moved only {moved}");
        assert!(moved < Duration::days(31) + Duration::minutes(1));
    }

    #[test]
    fn fixed_clock_reads_the_same_instant_until_moved() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let clock = FixedClock::at(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::hours(2));
        assert_eq!(clock.now(), start + Duration::hours(2));
    }
}
