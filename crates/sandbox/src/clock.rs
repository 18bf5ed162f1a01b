//! The sandbox's own notion of now: the shared [`VirtualClock`] (which tests and `tether demo`
//! share with tether and move with `POST /_sandbox/clock/advance`) plus an offset of the
//! sandbox's own (`PUT /_sandbox/clock`), so clock-skew tests can put Salesforce ahead of or
//! behind its caller without moving the caller's clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use tether_core::clock::{Clock, VirtualClock};

/// The largest offset accepted either way: ten years.
pub const MAX_OFFSET_SECONDS: i64 = 10 * 366 * 24 * 60 * 60;

/// The shared virtual clock plus the sandbox's skew.
#[derive(Debug)]
pub struct SandboxClock {
    shared: Arc<VirtualClock>,
    offset_seconds: AtomicI64,
}

impl SandboxClock {
    /// A clock that reads the shared one until an offset is set.
    pub fn new(shared: Arc<VirtualClock>) -> Self {
        Self {
            shared,
            offset_seconds: AtomicI64::new(0),
        }
    }

    /// The clock shared with tether (never moved by the offset).
    pub fn shared(&self) -> &Arc<VirtualClock> {
        &self.shared
    }

    /// Sets the skew; `None` when it is beyond [`MAX_OFFSET_SECONDS`].
    pub fn set_offset_seconds(&self, seconds: i64) -> Option<()> {
        if seconds.abs() > MAX_OFFSET_SECONDS {
            return None;
        }
        self.offset_seconds.store(seconds, Ordering::SeqCst);
        Some(())
    }

    /// The current skew in seconds (negative: the sandbox runs behind).
    pub fn offset_seconds(&self) -> i64 {
        self.offset_seconds.load(Ordering::SeqCst)
    }
}

impl Clock for SandboxClock {
    fn now(&self) -> DateTime<Utc> {
        self.shared.now() + Duration::seconds(self.offset_seconds())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_skews_the_sandbox_but_not_the_shared_clock() {
        let shared = Arc::new(VirtualClock::new());
        let clock = SandboxClock::new(shared.clone());
        assert_eq!(clock.set_offset_seconds(-3600), Some(()));
        let skew = shared.now() - clock.now();
        assert!(
            skew >= Duration::seconds(3599) && skew <= Duration::seconds(3601),
            "{skew}"
        );
        assert_eq!(shared.offset(), Duration::zero());
        assert_eq!(clock.set_offset_seconds(MAX_OFFSET_SECONDS + 1), None);
        assert_eq!(clock.offset_seconds(), -3600);
    }
}
