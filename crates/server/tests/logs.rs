//! Logs never carry a secret: a full connect, refresh (with rotation), proxy and delete run
//! with every crate logging at TRACE, and the captured text holds none of the tokens or the
//! consumer secret.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "api/helpers.rs"]
mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use helpers::{AppOptions, CLIENT_SECRET, spawn_app_with};

/// Everything logged, in memory.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_full_run_logged_at_trace_contains_no_token_and_no_client_secret() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let app = spawn_app_with(AppOptions {
        app_policy: Some(json!({"rotation": true})),
        ..AppOptions::default()
    })
    .await;
    let id = app.connect().await;
    let mut secrets = vec![CLIENT_SECRET.to_owned(), app.api_key.clone()];
    secrets.push(app.access_token(&id).await);
    let conn_id = tether_core::ids::ConnectionId::parse(&id).unwrap();
    let first_refresh = app
        .tether
        .state
        .store
        .refresh_token(&app.workspace, &conn_id)
        .await
        .unwrap()
        .unwrap();
    secrets.push(first_refresh.expose().to_owned());

    app.advance(2 * 3600).await;
    secrets.push(app.access_token(&id).await);
    let rotated = app
        .tether
        .state
        .store
        .refresh_token(&app.workspace, &conn_id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(rotated, first_refresh, "rotation is on");
    secrets.push(rotated.expose().to_owned());
    let proxied = app
        .api(
            reqwest::Method::GET,
            &format!("/v1/proxy/{id}/services/data/v64.0/query?q=SELECT+Name+FROM+Account"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), reqwest::StatusCode::OK);
    let _: Value = proxied.json().await.unwrap();
    let approvals = app.approvals(&["imported@sandbox.example"]).await;
    let given = approvals[0]["refresh_token"].as_str().unwrap().to_owned();
    let imported = app.import_approval(&approvals[0], "u-imported").await;
    assert_eq!(imported.status(), reqwest::StatusCode::CREATED);
    let imported: Value = imported.json().await.unwrap();
    let imported_id = tether_core::ids::ConnectionId::parse(imported["id"].as_str().unwrap());
    let kept = app
        .tether
        .state
        .store
        .refresh_token(&app.workspace, &imported_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    secrets.push(given);
    secrets.push(kept.expose().to_owned());
    let refused = app
        .import(json!({"connector": "salesforce", "end_user_id": "u-refused",
            "refresh_token": "5Aep861-refused-import-token", "instance_url": approvals[0]["instance_url"]}))
        .await;
    assert_eq!(refused.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    secrets.push("5Aep861-refused-import-token".to_owned());
    let deleted = app
        .api(reqwest::Method::DELETE, &format!("/v1/connections/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), reqwest::StatusCode::NO_CONTENT);

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("/v1/connections/"),
        "the capture saw the requests"
    );
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret reached the logs: {}…",
            &secret[..6]
        );
    }
}
