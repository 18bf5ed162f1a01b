//! Two `tether serve` processes on one database share the webhooks' outbox: every event of the
//! run reaches the receiver, and none twice (counted by `webhook-id`), while both schedulers
//! look for due deliveries every second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Options, Scenario, eventually, exclusive};

/// Connections made; half of them are then deleted.
const USERS: usize = 10;

/// A receiver on loopback that answers 200 slowly (so the two instances' passes overlap while
/// deliveries are in flight), counting requests per `webhook-id`.
async fn receiver() -> (String, Arc<Mutex<HashMap<String, usize>>>) {
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let counted = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, _body: Bytes| {
            let counted = counted.clone();
            async move {
                let id = headers["webhook-id"].to_str().unwrap().to_owned();
                *counted.lock().unwrap().entry(id).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tether_processes_on_one_database_deliver_each_event_once() {
    let _turn = exclusive().await;
    let mut s = Scenario::start(Options::rotation(false)).await;
    // The receiver is on loopback over http: allowed by webhook_allow_private.
    s.tether.stop(Duration::from_secs(30)).await;
    s.tether.set_env("TETHER_WEBHOOK_ALLOW_PRIVATE", "1");
    s.tether.start().await;
    let mut sibling = s.tether.sibling("tether serve 2");
    sibling.start().await;

    let (url, seen) = receiver().await;
    let created = s
        .api
        .call(Method::POST, "/v1/webhooks", Some(json!({ "url": url })))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let hook = created.body["id"].as_str().unwrap().to_owned();

    let other = s.api.at(&sibling.base);
    let mut ids = Vec::new();
    for n in 0..USERS {
        ids.push(s.connect_new_user(&format!("u-{n}")).await);
    }
    for (n, id) in ids.iter().take(USERS / 2).enumerate() {
        let api = if n % 2 == 0 { &s.api } else { &other };
        let gone = api
            .call(Method::DELETE, &format!("/v1/connections/{id}"), None)
            .await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT);
    }
    let expected = USERS + USERS / 2;
    let path = format!("/v1/webhooks/{hook}/deliveries?limit=100");
    let listed = eventually(
        "every delivery is delivered",
        Duration::from_secs(60),
        async || {
            let listed = other.call(Method::GET, &path, None).await.body["deliveries"].clone();
            let all = listed.as_array().cloned().unwrap_or_default();
            let done = all.len() == expected && all.iter().all(|d| d["status"] == "delivered");
            if done {
                Ok(all)
            } else {
                Err(format!("{listed}"))
            }
        },
    )
    .await;
    // Several more passes of both schedulers: nothing is due, nothing is sent again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), expected, "every event of the run: {seen:?}");
    assert!(seen.values().all(|n| *n == 1), "none twice: {seen:?}");
    let attempts: Vec<&Value> = listed.iter().map(|d| &d["attempts"]).collect();
    assert!(attempts.iter().all(|a| **a == 1), "{attempts:?}");
}
