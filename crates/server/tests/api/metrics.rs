//! `/metrics` as Prometheus reads it: the text parses with an independent parser
//! (`prometheus-parse`), and its series move as the test acts.

use std::time::Duration;

use prometheus_parse::{Scrape, Value};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};
use crate::support::{ACCOUNTS_QUERY, connected_app};

/// One reading of `/metrics` of the tether at `base`.
pub struct Reading(Scrape);

pub async fn read_metrics(app: &TestApp, base: &str) -> Reading {
    let answer = app
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        answer.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = answer.text().await.unwrap();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = Scrape::parse(lines).expect("Prometheus text");
    let samples = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count();
    assert!(
        samples > 0 && !scrape.samples.is_empty(),
        "no samples in:\n{text}"
    );
    Reading(scrape)
}

impl Reading {
    /// The value of the counter, gauge or plain sample `metric` with exactly `labels` (0 when
    /// the series has not appeared yet).
    pub fn value(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == metric)
            .filter(|s| {
                labels.iter().all(|(k, v)| s.labels.get(k) == Some(v))
                    && s.labels.len() == labels.len()
            })
            .map(|s| match s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
                _ => panic!("{metric} is not a single number"),
            })
            .sum()
    }

    /// The `tether_connections` gauge for `status`.
    pub fn connections(&self, status: &str) -> f64 {
        self.value("tether_connections", &[("status", status)])
    }

    /// How many observations the histogram `metric` (its `_count` series) holds.
    fn observations(&self, metric: &str) -> f64 {
        self.value(&format!("{metric}_count"), &[])
    }

    fn described(&self, metric: &str) -> bool {
        self.0.docs.contains_key(metric)
    }
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_count_token_requests_refreshes_and_proxy_calls() {
    let (app, id) = connected_app().await;
    let base = app.tether.base.clone();
    let before = read_metrics(&app, &base).await;
    let served = [("outcome", "served")];
    let refreshed = [("outcome", "refreshed"), ("cause", "none")];
    assert_eq!(before.value("tether_connects_total", &[]), 1.0);

    assert_eq!(app.token(&id).await.status(), StatusCode::OK);
    let forced = app.force_refresh(&id).await;
    assert_eq!(forced.status(), StatusCode::OK);
    let unknown = app.token("conn_ZZZZZZZZZZZZZZZZZZZZ").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let proxied = app.proxy_get(&id, ACCOUNTS_QUERY).await;
    assert_eq!(proxied.status(), StatusCode::OK);

    let after = read_metrics(&app, &base).await;
    for metric in [
        "tether_token_requests_total",
        "tether_refreshes_total",
        "tether_refresh_duration_seconds",
        "tether_connections",
        "tether_proxy_requests_total",
        "tether_proxy_upstream_duration_seconds",
        "tether_scheduler_lag_seconds",
        "tether_lease_waits_total",
        "tether_connects_total",
    ] {
        assert!(after.described(metric), "{metric} has no HELP line");
    }
    let moved = |metric: &str, labels: &[(&str, &str)]| {
        after.value(metric, labels) - before.value(metric, labels)
    };
    assert_eq!(moved("tether_token_requests_total", &served), 2.0);
    assert_eq!(
        moved("tether_token_requests_total", &[("outcome", "not_found")]),
        1.0
    );
    assert_eq!(moved("tether_refreshes_total", &refreshed), 1.0);
    assert_eq!(
        after.observations("tether_refresh_duration_seconds")
            - before.observations("tether_refresh_duration_seconds"),
        1.0
    );
    assert_eq!(
        moved("tether_proxy_requests_total", &[("status", "200")]),
        1.0
    );
    assert_eq!(
        after.observations("tether_proxy_upstream_duration_seconds"),
        1.0
    );
}

#[tokio::test]
async fn a_failed_refresh_is_counted_with_its_outcome_and_cause() {
    let (app, id) = connected_app().await;
    app.sandbox_put(
        "/_sandbox/faults",
        json!({"token_endpoint": {"status": 503, "delay_ms": 0, "count": 1, "grant_type": "refresh_token"}}),
    )
    .await;
    let forced = app.force_refresh(&id).await;
    assert_eq!(forced.status(), StatusCode::SERVICE_UNAVAILABLE);

    let reading = read_metrics(&app, &app.tether.base).await;
    let degraded = [("outcome", "degraded"), ("cause", "provider_unavailable")];
    assert_eq!(reading.value("tether_refreshes_total", &degraded), 1.0);
    assert_eq!(
        reading.value("tether_token_requests_total", &[("outcome", "unavailable")]),
        1.0
    );
}

#[tokio::test]
async fn the_connections_gauge_counts_per_status_and_is_read_at_most_every_15_seconds() {
    let app = spawn_app().await;
    let base = app.tether.base.clone();
    let first = app.connect().await;
    app.connect_as("u-2", None).await;
    let reading = read_metrics(&app, &base).await;
    assert_eq!(reading.connections("active"), 2.0);
    assert_eq!(reading.connections("expired"), 0.0);

    // tether's clock also runs in real time: one quick change between the two scrapes keeps
    // them well within 15 seconds of each other on a loaded machine.
    app.delete_connection(&first).await;
    let soon = read_metrics(&app, &base).await;
    assert_eq!(
        (soon.connections("active"), soon.connections("disconnected")),
        (2.0, 0.0),
        "a scrape within 15 seconds answers the last reading"
    );

    app.advance(15).await;
    let later = read_metrics(&app, &base).await;
    assert_eq!(later.connections("active"), 1.0);
    assert_eq!(later.connections("disconnected"), 1.0);
}

#[tokio::test]
async fn a_keep_alive_run_late_shows_in_the_scheduler_lag() {
    let app = spawn_app().await;
    app.connect().await;
    // The keep-alive is due 7 days after the last refresh; the scheduler runs a day late.
    app.advance_and_tick(8 * 24 * 3600).await;

    // The instance's background loop may have claimed the keep-alive before the test's pass:
    // its observation then comes a moment later.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut reading = read_metrics(&app, &app.tether.base).await;
    while reading.observations("tether_scheduler_lag_seconds") < 1.0
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        reading = read_metrics(&app, &app.tether.base).await;
    }
    assert!(reading.observations("tether_scheduler_lag_seconds") >= 1.0);
    let late = reading.value("tether_scheduler_lag_seconds_sum", &[]);
    assert!(
        (24.0 * 3600.0..25.0 * 3600.0).contains(&late),
        "lag of {late} s"
    );
    assert!(reading.value("tether_scheduler_jobs_total", &[]) >= 1.0);
}

#[tokio::test]
async fn a_refresh_that_finds_another_instance_holding_the_lease_counts_a_lease_wait() {
    let app = spawn_app().await;
    let other = app.second_tether().await;
    let id = app.connect().await;
    // The first refresh stalls at Salesforce while it holds the lease.
    app.sandbox_put(
        "/_sandbox/faults",
        json!({"token_endpoint": {"delay_ms": 1500, "count": 1, "grant_type": "refresh_token"}}),
    )
    .await;
    let path = format!("/v1/connections/{id}/token?force_refresh=true");
    let force = |base: String| app.api_on(&base, Method::POST, &path).send();
    let holder = force(app.tether.base.clone());
    let waiter = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        force(other.base.clone()).await
    };
    let (held, waited) = tokio::join!(holder, waiter);
    assert_eq!(held.unwrap().status(), StatusCode::OK);
    assert_eq!(waited.unwrap().status(), StatusCode::OK);

    assert_eq!(
        read_metrics(&app, &other.base)
            .await
            .value("tether_lease_waits_total", &[]),
        1.0
    );
    let own = read_metrics(&app, &app.tether.base).await;
    assert_eq!(own.value("tether_lease_waits_total", &[]), 0.0);
    assert_eq!(
        own.value("tether_token_requests_total", &[("outcome", "served")]),
        1.0,
        "each instance counts its own requests only"
    );
}
