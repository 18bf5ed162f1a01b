//! Logs never carry a secret: a full connect, refresh (with rotation), proxy and delete run
//! with every crate logging at TRACE, and the captured text holds none of the tokens or the
//! consumer secret. The same run shows the lines of a request and of a refresh naming their
//! workspace and connection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/support.rs"]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use helpers::CLIENT_SECRET;
use support::{ACCOUNTS_QUERY, app_with_policy};

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
        .json()
        .with_env_filter("trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let app = app_with_policy(json!({"rotation": true})).await;
    let id = app.connect().await;
    let mut secrets = vec![CLIENT_SECRET.to_owned(), app.api_key.clone()];
    secrets.push(app.access_token(&id).await);
    let first_refresh = app.stored_refresh_token(&id).await;
    secrets.push(first_refresh.clone());

    app.advance(2 * 3600).await;
    secrets.push(app.access_token(&id).await);
    let rotated = app.stored_refresh_token(&id).await;
    assert_ne!(rotated, first_refresh, "rotation is on");
    secrets.push(rotated);
    let proxied = app.proxy_get(&id, ACCOUNTS_QUERY).await;
    assert_eq!(proxied.status(), reqwest::StatusCode::OK);
    let _: Value = proxied.json().await.unwrap();
    let approvals = app.approvals(&["imported@sandbox.example"]).await;
    let given = approvals[0]["refresh_token"].as_str().unwrap().to_owned();
    let imported = app.import_approval(&approvals[0], "u-imported").await;
    assert_eq!(imported.status(), reqwest::StatusCode::CREATED);
    let imported: Value = imported.json().await.unwrap();
    let kept = app
        .stored_refresh_token(imported["id"].as_str().unwrap())
        .await;
    secrets.push(given);
    secrets.push(kept);
    let refused = app
        .import(json!({"connector": "salesforce", "end_user_id": "u-refused",
            "refresh_token": "5Aep861-refused-import-token", "instance_url": approvals[0]["instance_url"]}))
        .await;
    assert_eq!(refused.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    secrets.push("5Aep861-refused-import-token".to_owned());
    app.delete_connection(&id).await;

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

    assert_lines_name_workspace_and_connection(&logs, app.workspace.as_str(), &id);
}

/// The closing line of every request about the connection, and every line of its refreshes,
/// carry the caller's workspace and the connection as fields.
fn assert_lines_name_workspace_and_connection(logs: &str, workspace: &str, id: &str) {
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let about = format!("/v1/connections/{id}");
    let closing: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "finished processing request")
        .filter(|l| {
            l["span"]["path"]
                .as_str()
                .is_some_and(|p| p.starts_with(&about))
        })
        .collect();
    assert!(closing.len() >= 3, "{} closing lines", closing.len());
    for line in closing {
        assert_eq!(line["span"]["workspace"], workspace, "{line}");
        assert_eq!(line["span"]["connection"], id, "{line}");
    }
    let refresh: Vec<&Value> = lines
        .iter()
        .filter_map(|l| {
            l["spans"]
                .as_array()?
                .iter()
                .find(|s| s["name"] == "refresh")
        })
        .collect();
    assert!(!refresh.is_empty(), "no line of a refresh");
    for span in refresh {
        assert_eq!(span["workspace"], workspace, "{span}");
        assert!(
            span["connection"]
                .as_str()
                .is_some_and(|c| c.starts_with("conn_")),
            "{span}"
        );
    }
}
