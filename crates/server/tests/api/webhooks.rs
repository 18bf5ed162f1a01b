//! Webhooks end to end: registration and its refusals, deliveries verified by an independent
//! Standard Webhooks implementation (the `standardwebhooks` package from PyPI, in a Python
//! receiver), a receiver that is down and then back, a webhook disabled after 3 days of
//! failures, and two tether instances on one database delivering each event once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::helpers::{AppOptions, TestApp, spawn_app, spawn_app_with};
use crate::support::Says;

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    body: Value,
}

/// A receiver on loopback that records every request and answers `status`; it can be stopped
/// (the port then refuses connections) and started again on the same port.
struct Receiver {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    stop: Option<(CancellationToken, tokio::task::JoinHandle<()>)>,
}

impl Receiver {
    async fn start() -> Receiver {
        let mut receiver = Receiver {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            received: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
            stop: None,
        };
        receiver.up().await;
        receiver
    }

    fn url(&self) -> String {
        format!("http://{}/hooks/tether", self.addr)
    }

    /// Listens (again, on the same port once it has one).
    async fn up(&mut self) {
        let listener = {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match tokio::net::TcpListener::bind(self.addr).await {
                    Ok(listener) => break listener,
                    Err(e) if Instant::now() < deadline => {
                        eprintln!("rebinding {}: {e}", self.addr);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => panic!("cannot listen on {}: {e}", self.addr),
                }
            }
        };
        self.addr = listener.local_addr().unwrap();
        let (received, status) = (self.received.clone(), self.status.clone());
        let app = axum::Router::new().route(
            "/hooks/tether",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (received, status) = (received.clone(), status.clone());
                async move {
                    let id = headers["webhook-id"].to_str().unwrap().to_owned();
                    let body = serde_json::from_slice(&body).unwrap();
                    received.lock().unwrap().push(Received { id, body });
                    AxumStatus::from_u16(status.load(Ordering::SeqCst)).unwrap()
                }
            }),
        );
        let stop = CancellationToken::new();
        let serving = stop.clone();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { serving.cancelled().await })
                .await
                .unwrap();
        });
        self.stop = Some((stop, task));
    }

    /// Stops listening: connections are refused until [`Receiver::up`].
    async fn down(&mut self) {
        if let Some((stop, task)) = self.stop.take() {
            stop.cancel();
            task.await.unwrap();
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Polls `probe` every 50 ms until it answers `Some`, failing after 60 s with `what`.
async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn register(app: &TestApp, body: Value) -> reqwest::Response {
    app.api(Method::POST, "/v1/webhooks")
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Registers `url` for every event type; the answer (with its secret).
async fn register_url(app: &TestApp, url: &str) -> Value {
    let r = register(app, json!({ "url": url })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

/// Registers `url` for every event type; the webhook's id.
async fn registered_id(app: &TestApp, url: &str) -> String {
    let created = register_url(app, url).await;
    created["id"].as_str().unwrap().to_owned()
}

async fn deliveries(app: &TestApp, webhook: &str) -> Vec<Value> {
    let path = format!("/v1/webhooks/{webhook}/deliveries?limit=500");
    let body = app.api_json(Method::GET, &path, StatusCode::OK).await;
    body["deliveries"].as_array().cloned().unwrap()
}

/// The webhook's deliveries once `done` holds for them (read every 50 ms); after 60 s, fails
/// with `what` and the last listing read.
async fn deliveries_once(
    app: &TestApp,
    webhook: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = deliveries(app, webhook).await;
        if done(&listed) {
            return listed;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within 60 s; the deliveries last listed: {listed:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn webhook(app: &TestApp, id: &str) -> Value {
    let path = format!("/v1/webhooks/{id}");
    app.api_json(Method::GET, &path, StatusCode::OK).await
}

async fn problem(r: reqwest::Response) -> (StatusCode, String) {
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    (
        status,
        body["detail"].as_str().unwrap_or_default().to_owned(),
    )
}

/// How many times each event (by `webhook-id`) was received.
fn times_per_event(received: &[Received]) -> HashMap<&str, usize> {
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for r in received {
        *per_id.entry(r.id.as_str()).or_default() += 1;
    }
    per_id
}

fn allow_private() -> AppOptions {
    AppOptions {
        webhook_allow_private: true,
        ..AppOptions::default()
    }
}

/// Expires `id`: the app's refresh tokens are revoked, two hours pass, and a token request
/// meets the refusal.
async fn expire(app: &TestApp, id: &str) {
    app.revoke_app().await;
    app.advance(2 * 3600).await;
    assert_eq!(app.token(id).await.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_webhook_shows_its_secret_once_and_is_listed_rotated_and_deleted_without_it() {
    let app = spawn_app_with(allow_private()).await;
    let created = register(
        &app,
        json!({"url": "http://127.0.0.1:9/hooks", "events": ["connection.expired", "connection.created", "connection.expired"]}),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("wh_"), "{created}");
    let secret = created["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{created}"
    );
    assert_eq!(
        created["events"],
        json!(["connection.created", "connection.expired"])
    );
    assert_eq!(created["status"], "enabled");

    let listed = app
        .api_json(Method::GET, "/v1/webhooks", StatusCode::OK)
        .await;
    assert_eq!(listed["webhooks"][0]["id"], id);
    assert_eq!(listed["webhooks"][0]["url"], "http://127.0.0.1:9/hooks");
    assert!(!listed.to_string().contains(secret), "{listed}");
    assert!(!listed.to_string().contains("secret"), "{listed}");

    let rotate = format!("/v1/webhooks/{id}/rotate-secret");
    let rotated = app.api_json(Method::POST, &rotate, StatusCode::OK).await;
    let new_secret = rotated["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    assert!(
        rotated["previous_secret_expires_at"].is_string(),
        "{rotated}"
    );
    assert!(!webhook(&app, id).await.to_string().contains("whsec_"));

    let other = app.api_key_of_workspace("other").await;
    let foreign = app
        .http
        .get(format!("{}/v1/webhooks/{id}", app.tether.base))
        .bearer_auth(other)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);

    let path = format!("/v1/webhooks/{id}");
    let deleted = app.api(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let again = app.api(Method::DELETE, &path).send().await.unwrap();
    assert_eq!(
        problem(again).await,
        (StatusCode::NOT_FOUND, "webhook not found".into())
    );
}

#[tokio::test]
async fn a_destination_that_is_not_public_https_or_a_bad_event_type_is_refused_with_a_problem() {
    let app = spawn_app().await;
    let private = Says::Containing("a private, loopback, link-local or otherwise internal address");
    let https = |url: &str| json!({ "url": url });
    // (case, the registration, what its 400's detail says)
    let cases = [
        ("loopback IPv4", https("https://127.0.0.1/hooks"), &private),
        ("localhost", https("https://localhost:8443/hooks"), &private),
        (
            "IPv4-mapped private IPv6",
            https("https://[::ffff:10.0.0.1]/hooks"),
            &private,
        ),
        (
            "link-local metadata",
            https("https://169.254.169.254/latest/meta-data"),
            &private,
        ),
        (
            "unique-local IPv6",
            https("https://[fd00:ec2::254]/"),
            &private,
        ),
        ("carrier-grade NAT", https("https://100.64.0.1/"), &private),
        (
            "plain http",
            https("http://hooks.example.com/"),
            &Says::Exactly("url must be https (http only with the setting webhook_allow_private)"),
        ),
        (
            "an unknown event type",
            json!({"url": "https://8.8.8.8/", "events": ["connection.exploded"]}),
            &Says::StartingWith(
                "events: unknown webhook event type \"connection.exploded\": expected one of connection.created",
            ),
        ),
        (
            "no event types",
            json!({"url": "https://8.8.8.8/", "events": []}),
            &Says::Anything,
        ),
        (
            "no url",
            json!({"events": ["connection.created"]}),
            &Says::Anything,
        ),
    ];
    for (case, body, says) in cases {
        let (status, detail) = problem(register(&app, body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {detail}");
        says.assert(case, &detail);
    }
    let unknown = app
        .send(Method::GET, "/v1/webhooks/wh_nothere/deliveries")
        .await;
    assert_eq!(problem(unknown).await.0, StatusCode::NOT_FOUND);
}

fn receiver_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/webhook_receiver.py")
}

/// The Python receiver: its port, and its JSON lines as they come.
struct PythonReceiver {
    port: u16,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    _child: tokio::process::Child,
}

impl PythonReceiver {
    async fn start(secrets_file: &std::path::Path) -> PythonReceiver {
        let mut child = tokio::process::Command::new("python3")
            .arg(receiver_script())
            .arg(secrets_file)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the receiver starts")
            .unwrap()
            .expect(
                "the receiver prints its port (is standardwebhooks installed? run scripts/test.sh)",
            );
        let port = first
            .strip_prefix("listening on ")
            .unwrap()
            .parse()
            .unwrap();
        PythonReceiver {
            port,
            lines,
            _child: child,
        }
    }

    /// The next delivery the receiver verified (or not).
    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
            .await
            .expect("a delivery within 30 s")
            .unwrap()
            .expect("the receiver is running");
        serde_json::from_str(&line).unwrap()
    }
}

#[tokio::test]
async fn every_delivery_verifies_with_the_standardwebhooks_package_before_and_after_a_rotation() {
    let app = spawn_app_with(allow_private()).await;
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::write(&secrets, "").unwrap();
    let mut receiver = PythonReceiver::start(&secrets).await;
    let created = register_url(&app, &format!("http://127.0.0.1:{}/hook", receiver.port)).await;
    let old = created["secret"].as_str().unwrap().to_owned();
    std::fs::write(&secrets, format!("{old}\n")).unwrap();

    let id = app.connect().await;
    let first = receiver.next().await;
    assert_eq!(first["type"], "connection.created");
    assert_eq!(first["verified_by"], json!([0]), "{first}");
    assert_eq!(first["data"]["connection"]["id"], id.as_str());
    assert_eq!(first["data"]["connection"]["status"], "active");
    let shown = app.connection(&id).await;
    assert_eq!(first["data"]["connection"]["account"], shown["account"]);
    assert_eq!(first["data"]["connection"]["end_user_id"], "u-42");

    let hook = created["id"].as_str().unwrap();
    let rotate = format!("/v1/webhooks/{hook}/rotate-secret");
    let rotated = app.api_json(Method::POST, &rotate, StatusCode::OK).await;
    let new = rotated["secret"].as_str().unwrap();
    std::fs::write(&secrets, format!("{new}\n{old}\n")).unwrap();

    expire(&app, &id).await;
    app.delete_connection(&id).await;
    let mut seen = vec![first.clone()];
    for _ in 0..3 {
        let delivery = receiver.next().await;
        assert_eq!(
            delivery["verified_by"],
            json!([0, 1]),
            "signed by the new secret and, for 24 hours, the old one: {delivery}"
        );
        assert_eq!(delivery["signatures"], 2);
        seen.push(delivery);
    }
    // Deliveries are sent concurrently: the order they arrive in is not the order of events.
    let mut types: Vec<&str> = seen.iter().map(|d| d["type"].as_str().unwrap()).collect();
    types.sort();
    assert_eq!(
        types,
        [
            "connection.created",
            "connection.deleted",
            "connection.expired",
            "connection.refresh_failed",
        ]
    );
    let expired = seen
        .iter()
        .find(|d| d["type"] == "connection.expired")
        .unwrap();
    let expired = &expired["data"]["connection"];
    assert_eq!(
        expired["status"], "expired",
        "the connection as the change left it, not as it is now (disconnected): {expired}"
    );
    assert!(expired["status_reason"].is_string(), "{expired}");
    assert!(
        expired["diagnosis"]["title"].is_string(),
        "the diagnosis is included: {expired}"
    );
    let ids: std::collections::HashSet<&str> = seen
        .iter()
        .map(|d| d["webhook_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 4, "one webhook-id per event");
    // The receiver printed before it answered: the 204 is recorded a moment later.
    let at_first = "every delivery is listed as delivered at the first attempt";
    deliveries_once(&app, hook, at_first, |listed| {
        listed.iter().all(|d| {
            d["status"] == "delivered" && d["attempts"] == 1 && d["last_status_code"] == 204
        })
    })
    .await;
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_every_event_once_it_is_back_and_the_failed_attempts_are_listed()
 {
    // tether's clock also runs in real time: with the default first retry (5 s), a slow
    // machine retried the first event before it raised the third. Retries an hour apart are
    // only reached by moving the clock.
    let app = spawn_app_with(AppOptions {
        settings: Some(|config| config.webhook_retry_seconds = vec![3600, 3600]),
        ..allow_private()
    })
    .await;
    let mut receiver = Receiver::start().await;
    let hook = registered_id(&app, &receiver.url()).await;
    receiver.down().await;

    let first = app.connect().await;
    let second = app.connect_as("u-43", None).await;
    app.delete_connection(&first).await;
    let failed_once = deliveries_once(&app, &hook, "every delivery failed once", |listed| {
        listed.len() == 3 && listed.iter().all(|d| d["attempts"] == 1)
    })
    .await;
    for d in &failed_once {
        assert_eq!(d["status"], "pending", "{d}");
        assert_eq!(d["last_status_code"], Value::Null);
        let error = d["last_error"].as_str().unwrap();
        assert!(error.starts_with("could not connect"), "{error}");
        assert!(
            !error.contains(&receiver.url()),
            "no URL in the error: {error}"
        );
    }
    // The second attempt is due an hour later, on tether's clock; the receiver is still down.
    app.advance(3600).await;
    deliveries_once(&app, &hook, "every delivery failed twice", |listed| {
        listed.iter().all(|d| d["attempts"] == 2)
    })
    .await;
    assert!(receiver.received().is_empty());

    receiver.up().await;
    app.advance(3600).await;
    let delivered = deliveries_once(&app, &hook, "every delivery arrived", |listed| {
        listed.iter().all(|d| d["status"] == "delivered")
    })
    .await;
    // A few more scheduler passes: nothing is due any more, nothing is sent again.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let received = receiver.received();
    let per_id = times_per_event(&received);
    assert!(
        per_id.values().all(|n| *n == 1),
        "each event once: {per_id:?}"
    );
    let mut got: Vec<(String, String)> = received
        .iter()
        .map(|r| {
            (
                r.body["type"].as_str().unwrap().to_owned(),
                r.body["data"]["connection"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    got.sort();
    let mut expected = vec![
        ("connection.created".to_owned(), first.clone()),
        ("connection.created".to_owned(), second.clone()),
        ("connection.deleted".to_owned(), first.clone()),
    ];
    expected.sort();
    assert_eq!(got, expected, "every event of the run");
    for d in &delivered {
        assert_eq!(d["attempts"], 3, "two failed attempts, then the 2xx: {d}");
        assert_eq!(d["last_status_code"], 200);
        assert!(d["delivered_at"].is_string() && d["next_attempt_at"].is_null());
        assert!(per_id.contains_key(d["event_id"].as_str().unwrap()));
    }
    // /metrics counts every attempt by outcome.
    let reading = crate::metrics::read_metrics(&app, &app.tether.base).await;
    let attempts =
        |outcome| reading.value("tether_webhook_deliveries_total", &[("outcome", outcome)]);
    assert_eq!(attempts("delivered"), delivered.len() as f64);
    assert_eq!(attempts("retried"), 2.0 * delivered.len() as f64);
    assert_eq!(attempts("failed"), 0.0);
}

#[tokio::test]
async fn a_webhook_failing_for_three_days_is_disabled_says_so_and_is_enabled_again() {
    let app = spawn_app_with(allow_private()).await;
    let receiver = Receiver::start().await;
    receiver.status.store(500, Ordering::SeqCst);
    let hook = registered_id(&app, &receiver.url()).await;
    app.connect().await;
    deliveries_once(&app, &hook, "the first attempt failed", |listed| {
        listed.first().is_some_and(|d| d["last_status_code"] == 500)
    })
    .await;
    assert_eq!(
        deliveries(&app, &hook).await[0]["last_error"],
        "the receiver answered 500"
    );

    app.advance(3 * 24 * 3600 + 10).await;
    let disabled = eventually("the webhook is disabled", async || {
        let shown = webhook(&app, &hook).await;
        (shown["status"] == "disabled").then_some(shown)
    })
    .await;
    assert!(disabled["disabled_at"].is_string(), "{disabled}");
    let said = eventually("webhook.disabled is sent to it", async || {
        let received = receiver.received();
        received
            .into_iter()
            .find(|r| r.body["type"] == "webhook.disabled")
    })
    .await;
    assert_eq!(said.body["data"]["webhook"]["id"], hook.as_str());
    assert_eq!(said.body["data"]["webhook"]["status"], "disabled");

    receiver.status.store(200, Ordering::SeqCst);
    let enable = format!("/v1/webhooks/{hook}/enable");
    let enabled = app.api_json(Method::POST, &enable, StatusCode::OK).await;
    assert_eq!(
        (enabled["status"].as_str(), &enabled["disabled_at"]),
        (Some("enabled"), &Value::Null)
    );
    app.advance(300).await;
    let resumed = "the pending delivery resumes and arrives";
    deliveries_once(&app, &hook, resumed, |listed| {
        listed
            .iter()
            .any(|d| d["type"] == "connection.created" && d["status"] == "delivered")
    })
    .await;
}

#[tokio::test]
async fn two_instances_on_one_database_deliver_each_event_once() {
    const USERS: usize = 12;
    let app = spawn_app_with(allow_private()).await;
    let receiver = Receiver::start().await;
    let hook = registered_id(&app, &receiver.url()).await;
    let second = app.second_tether().await;
    // Both schedulers run their own loops; both also run a pass at the same moment, over and
    // over, while the events are raised.
    let racing = CancellationToken::new();
    let passes = {
        let (one, two, stop) = (
            app.tether.state.clone(),
            second.state.clone(),
            racing.clone(),
        );
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                tokio::join!(
                    tether_server::scheduler::tick(&one),
                    tether_server::scheduler::tick(&two)
                );
            }
        })
    };
    let mut ids = Vec::new();
    for n in 0..USERS {
        let user = format!("user{n}@sandbox.example");
        crate::diagnosis::create_user(&app, &user).await;
        ids.push(app.connect_as(&format!("u-{n}"), Some(&user)).await);
    }
    for id in &ids[..USERS / 2] {
        app.delete_connection(id).await;
    }
    let expected = USERS + USERS / 2;
    eventually("every event arrived", async || {
        (receiver.received().len() >= expected).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    racing.cancel();
    passes.await.unwrap();
    let received = receiver.received();
    let per_id = times_per_event(&received);
    assert_eq!(per_id.len(), expected, "every event");
    assert!(per_id.values().all(|n| *n == 1), "none twice: {per_id:?}");
    let listed = deliveries(&app, &hook).await;
    assert_eq!(listed.len(), expected);
    assert!(
        listed
            .iter()
            .all(|d| d["status"] == "delivered" && d["attempts"] == 1),
        "{listed:#?}"
    );
}
