//! Counters exposed at `/metrics` in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide counters.
#[derive(Debug, Default)]
pub struct Metrics {
    pub token_requests: AtomicU64,
    pub token_errors: AtomicU64,
    pub connects: AtomicU64,
    pub callback_failures: AtomicU64,
    /// Refreshes refused after tether lost a rotated refresh token (cause
    /// `refresh_token_reused`): tether's own fault, counted so it is seen.
    pub refresh_token_reused: AtomicU64,
    /// Background jobs (keep-alives, retries, rechecks) this instance claimed and ran.
    pub scheduler_jobs: AtomicU64,
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let rows = [
            (
                "tether_token_requests_total",
                "Token endpoint calls.",
                &self.token_requests,
            ),
            (
                "tether_token_errors_total",
                "Token endpoint calls that answered an error.",
                &self.token_errors,
            ),
            (
                "tether_connects_total",
                "Connections created or reconnected.",
                &self.connects,
            ),
            (
                "tether_callback_failures_total",
                "OAuth callbacks that failed.",
                &self.callback_failures,
            ),
            (
                "tether_refresh_token_reused_total",
                "Connections expired because tether lost a rotated refresh token (crash or lost answer).",
                &self.refresh_token_reused,
            ),
            (
                "tether_scheduler_jobs_total",
                "Background jobs (keep-alives, retries, rechecks) this instance claimed and ran.",
                &self.scheduler_jobs,
            ),
        ];
        for (name, help, counter) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out
    }
}
