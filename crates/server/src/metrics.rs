//! What `/metrics` exposes, in the Prometheus text format (0.0.4), with `prometheus-client`.
//!
//! One [`Metrics`] (and so one registry) per `AppState`: tether instances started in one
//! process (the tests) never share a series. Counters and histograms move where the thing
//! they count happens; gauges that read the database are set by [`Metrics::sample`], at most
//! once per [`SAMPLE_EVERY`] of tether's clock however often `/metrics` is scraped.
//!
//! ## Adding a series
//!
//! 1. A field on [`Metrics`] (a `Counter`, a `Family<Labels, Counter>` with a label struct
//!    deriving `EncodeLabelSet`, a `Histogram`, a `Gauge`), documented with what it counts.
//! 2. Make it in [`Metrics::new`], registered as it is made (`r.series`, or `r.seconds` for a
//!    duration), with its name without the `_total` or unit suffix (prometheus-client adds
//!    them) and its help text.
//! 3. Move it where the event happens (`state.metrics.field.inc()`), or, for a gauge read off
//!    the database, set it in [`Metrics::sample`] from one store query (never on a hot path).
//! 4. A row in docs/api.md's metrics table.
//!
//! The webhooks' two were added this way: `tether_webhook_deliveries_total{outcome}`
//! (incremented by the delivery worker with `delivered`, `retried` or `failed`) and
//! `tether_webhook_outbox_oldest_pending_seconds` (set in `sample`, 0 when none is pending).

use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry, Unit};
use tether_core::status::ConnectionStatus;
use tether_store::Store;

/// The `Content-Type` of `/metrics`.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The longest a database-read gauge may be old before a scrape reads it again; scrapes in
/// between answer the last reading.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(15);

/// The outcomes of a token endpoint call (`tether_token_requests_total{outcome}`).
pub const TOKEN_OUTCOMES: [&str; 6] = [
    "served",
    "not_found",
    "expired",
    "disconnected",
    "unavailable",
    "error",
];

/// The label of series counted by outcome.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

/// The labels of a refresh: how it ended, and the cause code of a failure (`none` when it
/// worked or was discarded).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefreshLabels {
    pub outcome: &'static str,
    pub cause: &'static str,
}

/// The label of a per-status series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: &'static str,
}

/// The label of a proxied request: the HTTP status tether answered.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpStatusLabels {
    pub status: u16,
}

/// Every series of one tether instance, and the registry that exposes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Token endpoint calls by outcome: `served`, or the problem that answered
    /// (`not_found`, `expired`, `disconnected`, `unavailable`, `error`).
    pub token_requests: Family<OutcomeLabels, Counter>,
    /// Refresh attempts that held the lease, by outcome (`refreshed`, `degraded`, `expired`,
    /// `superseded`) and cause code.
    pub refreshes: Family<RefreshLabels, Counter>,
    /// How long a refresh attempt took, from taking the lease to its outcome landing.
    pub refresh_duration: Histogram,
    /// Connections per status over the whole database, read by [`Metrics::sample`].
    pub connections: Family<StatusLabels, Gauge>,
    /// Proxied requests by the HTTP status tether answered.
    pub proxy_requests: Family<HttpStatusLabels, Counter>,
    /// How long Salesforce took to answer a proxied request's headers, per attempt.
    pub proxy_upstream_duration: Histogram,
    /// How late the scheduler ran background jobs: the start minus the time they were due.
    pub scheduler_lag: Histogram,
    /// Refreshes that found another process holding the connection's lease and waited.
    pub lease_waits: Counter,
    /// Connections created or reconnected.
    pub connects: Counter,
    /// OAuth callbacks that failed.
    pub callback_failures: Counter,
    /// Refreshes refused after tether lost a rotated refresh token (cause
    /// `refresh_token_reused`): tether's own fault, counted so it is seen.
    pub refresh_token_reused: Counter,
    /// Background jobs (keep-alives, retries, rechecks) this instance claimed and ran.
    pub scheduler_jobs: Counter,
    /// Webhook delivery attempts by outcome: `delivered`, `retried` (failed, tried again
    /// later) or `failed` (the retry schedule is used up).
    pub webhook_deliveries: Family<OutcomeLabels, Counter>,
    /// Age of the oldest event still waiting in the webhooks' outbox, read by
    /// [`Metrics::sample`]; 0 when nothing is pending.
    pub webhook_outbox_oldest_pending: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// When [`Metrics::sample`] last read the database (tether's clock).
    sampled_at: tokio::sync::Mutex<Option<DateTime<Utc>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Buckets of durations from 5 ms to about 80 s.
fn seconds_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

/// Registers each series as it is made, so [`Metrics`] holds exactly what its registry
/// exposes, in the order the fields are made.
struct Registering<'a>(&'a mut Registry);

impl Registering<'_> {
    /// `metric`, registered as `name` with its `help`.
    fn series<M: Metric + Clone>(&mut self, name: &str, help: &str, metric: M) -> M {
        self.0.register(name, help, metric.clone());
        metric
    }

    /// `metric`, registered as `name` with its `help`, in seconds.
    fn seconds<M: Metric + Clone>(&mut self, name: &str, help: &str, metric: M) -> M {
        self.0
            .register_with_unit(name, help, Unit::Seconds, metric.clone());
        metric
    }
}

/// Makes the series of `outcomes` exist at zero, so a rate over them is defined from the start.
fn at_zero(family: &Family<OutcomeLabels, Counter>, outcomes: &[&'static str]) {
    for &outcome in outcomes {
        family.get_or_create(&OutcomeLabels { outcome }).inc_by(0);
    }
}

impl Metrics {
    /// Every series at zero, registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let mut r = Registering(&mut registry);
        let metrics = Self {
            token_requests: r.series(
                "tether_token_requests",
                "Token endpoint calls, by outcome (served, or the problem that answered).",
                Family::default(),
            ),
            refreshes: r.series(
                "tether_refreshes",
                "Refresh attempts, by outcome (refreshed, degraded, expired, superseded) and cause code (none on success).",
                Family::default(),
            ),
            refresh_duration: r.seconds(
                "tether_refresh_duration",
                "Refresh attempts from taking the lease to the outcome landing.",
                seconds_buckets(),
            ),
            connections: r.series(
                "tether_connections",
                "Connections per status across every workspace (read at most every 15 seconds).",
                Family::default(),
            ),
            proxy_requests: r.series(
                "tether_proxy_requests",
                "Proxied requests, by the HTTP status tether answered.",
                Family::default(),
            ),
            proxy_upstream_duration: r.seconds(
                "tether_proxy_upstream_duration",
                "Time until Salesforce answered a proxied request's headers, per attempt.",
                seconds_buckets(),
            ),
            // Background jobs are late by up to a tick normally, and by hours when a backlog
            // or an outage of the instance held them.
            scheduler_lag: r.seconds(
                "tether_scheduler_lag",
                "How late background jobs (retries, rechecks, keep-alives) started after they were due.",
                Histogram::new(exponential_buckets(0.5, 4.0, 10)),
            ),
            lease_waits: r.series(
                "tether_lease_waits",
                "Refreshes that found another instance holding the connection's lease and waited for it.",
                Counter::default(),
            ),
            connects: r.series(
                "tether_connects",
                "Connections created or reconnected.",
                Counter::default(),
            ),
            callback_failures: r.series(
                "tether_callback_failures",
                "OAuth callbacks that failed.",
                Counter::default(),
            ),
            refresh_token_reused: r.series(
                "tether_refresh_token_reused",
                "Connections expired because tether lost a rotated refresh token (crash or lost answer).",
                Counter::default(),
            ),
            scheduler_jobs: r.series(
                "tether_scheduler_jobs",
                "Background jobs (keep-alives, retries, rechecks) this instance claimed and ran.",
                Counter::default(),
            ),
            webhook_deliveries: r.series(
                "tether_webhook_deliveries",
                "Webhook delivery attempts, by outcome (delivered, retried, failed).",
                Family::default(),
            ),
            webhook_outbox_oldest_pending: r.seconds(
                "tether_webhook_outbox_oldest_pending",
                "Age of the oldest event still waiting in the webhooks' outbox (read at most every 15 seconds).",
                Gauge::default(),
            ),
            sampled_at: tokio::sync::Mutex::new(None),
            registry,
        };
        at_zero(
            &metrics.webhook_deliveries,
            &["delivered", "retried", "failed"],
        );
        at_zero(&metrics.token_requests, &TOKEN_OUTCOMES);
        let refreshed = RefreshLabels {
            outcome: "refreshed",
            cause: "none",
        };
        metrics.refreshes.get_or_create(&refreshed).inc_by(0);
        metrics
    }

    /// Counts one token endpoint call.
    pub fn token_request(&self, outcome: &'static str) {
        self.token_requests
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts one refresh attempt and its duration.
    pub fn refresh(&self, outcome: &'static str, cause: &'static str, took: Duration) {
        self.refreshes
            .get_or_create(&RefreshLabels { outcome, cause })
            .inc();
        self.refresh_duration.observe(took.as_secs_f64());
    }

    /// Reads the database-backed gauges again if the last reading is [`SAMPLE_EVERY`] old
    /// at `now`; a failed read keeps the last values (and is tried at the next scrape).
    pub async fn sample(&self, store: &dyn Store, now: DateTime<Utc>) {
        let mut sampled_at = self.sampled_at.lock().await;
        let every = chrono::Duration::from_std(SAMPLE_EVERY).unwrap_or(chrono::Duration::MAX);
        if sampled_at.is_some_and(|at| now.signed_duration_since(at) < every) {
            return;
        }
        match store.count_by_status().await {
            Ok(counts) => {
                for status in ConnectionStatus::ALL {
                    let count = counts
                        .iter()
                        .find(|(s, _)| *s == status)
                        .map_or(0, |(_, n)| *n);
                    let labels = StatusLabels {
                        status: status.as_str(),
                    };
                    self.connections.get_or_create(&labels).set(count);
                }
                *sampled_at = Some(now);
            }
            Err(err) => tracing::warn!(error = %err, "could not count connections for /metrics"),
        }
        match store.oldest_pending_delivery().await {
            Ok(oldest) => {
                let age = oldest.map_or(0.0, |at| {
                    now.signed_duration_since(at)
                        .to_std()
                        .map_or(0.0, |d| d.as_secs_f64())
                });
                self.webhook_outbox_oldest_pending.set(age);
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not read the webhook outbox for /metrics")
            }
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(err) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::error!(error = %err, "could not encode the metrics");
        }
        out
    }
}
