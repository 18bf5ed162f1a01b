//! A refresh costs a fixed, small number of store round trips, however many connections its
//! connector has (and however many of them died): every store call is an `#[instrument]`ed
//! span of the `tether_store` crate, counted here by a tracing layer. Only calls made on behalf
//! of an HTTP request (inside its `request` span, as the refresh flight's span is) count: the
//! instance's own scheduler passes run alongside and are not part of a refresh.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "api/helpers.rs"]
mod helpers;

use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use tracing::span;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::{LookupSpan, Registry};

use helpers::{TestApp, spawn_app};

/// The names of the store calls made for HTTP requests since the last [`StoreCalls::take`].
#[derive(Clone, Default)]
struct StoreCalls(Arc<Mutex<Vec<&'static str>>>);

impl StoreCalls {
    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl<S> Layer<S> for StoreCalls
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let meta = attrs.metadata();
        if !meta.target().starts_with("tether_store") {
            return;
        }
        let for_a_request = ctx
            .span(id)
            .is_some_and(|span| span.scope().any(|s| s.name() == "request"));
        if for_a_request {
            self.0.lock().unwrap().push(meta.name());
        }
    }
}

/// The store calls of one token request that refreshes `id` (its access token has expired).
async fn calls_of_a_refresh(app: &TestApp, calls: &StoreCalls, id: &str) -> Vec<&'static str> {
    calls.take();
    let r = app.token(id).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    calls.take()
}

#[tokio::test]
async fn a_refresh_makes_at_most_five_store_round_trips_however_many_connections_its_connector_has()
{
    let calls = StoreCalls::default();
    tracing::subscriber::set_global_default(Registry::default().with(calls.clone())).unwrap();
    let app = spawn_app().await;

    let first = app.connect_as("u-0", None).await;
    app.access_token(&first).await;
    app.advance(2 * 3600).await;
    let alone = calls_of_a_refresh(&app, &calls, &first).await;

    // Twelve more approvals by the same Salesforce user: the 5-approvals limit revokes the
    // older ones, and their next refreshes record deaths in the connector's evidence.
    let mut others = Vec::new();
    for n in 1..=12 {
        others.push(app.connect_as(&format!("u-{n}"), None).await);
    }
    app.advance(2 * 3600).await;
    let mut expired = 0;
    for id in &others[..others.len() - 1] {
        if app.token(id).await.status() == StatusCode::CONFLICT {
            expired += 1;
        }
    }
    assert_eq!(expired, 7, "u-1 to u-7 lost their approvals");
    let last = others.last().unwrap();
    let among_many = calls_of_a_refresh(&app, &calls, last).await;

    assert!(
        alone.len() <= 5,
        "a refresh made {} store calls: {alone:?}",
        alone.len()
    );
    assert!(
        among_many.len() <= 5,
        "a refresh made {} store calls: {among_many:?}",
        among_many.len()
    );
    // The request's own read of the current token is served from the per-process cache when
    // the token was read within the last second; the refresh's calls are always the same.
    let refresh = |calls: &[&'static str]| {
        calls
            .iter()
            .copied()
            .filter(|call| *call != "current_token")
            .collect::<Vec<_>>()
    };
    assert_eq!(
        refresh(&among_many),
        refresh(&alone),
        "the same store calls with 13 connections, 7 of them just expired, as with one"
    );
    assert!(alone.contains(&"refresh_context") && alone.contains(&"land_refresh"));
}
