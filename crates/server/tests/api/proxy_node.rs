//! A real Salesforce client library from the Node.js ecosystem, jsforce (npm, pinned in
//! `tests/node/package-lock.json`), runs unchanged through the proxy against the sandbox:
//! given `instance_url = {tether}/v1/proxy/{id}` and a tether API key as its access token, it
//! queries, updates, retrieves, describes, creates and runs a Bulk API 1.0 query. When
//! Salesforce's session has ended between two runs, tether refreshes behind the proxy and
//! jsforce never sees it. `scripts/test.sh` installs jsforce with `npm ci`.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

fn node_clients() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/node")
}

/// Runs `tests/node/jsforce_proxy.mjs` against connection `id`; what it saw.
async fn run_jsforce(app: &TestApp, id: &str) -> Value {
    let dir = node_clients();
    assert!(
        dir.join("node_modules/jsforce").is_dir(),
        "jsforce is not installed in tests/node: run scripts/test.sh (it runs npm ci there)"
    );
    let output = tokio::process::Command::new("node")
        .arg(dir.join("jsforce_proxy.mjs"))
        .current_dir(&dir)
        .env("TETHER_INSTANCE_URL", app.url(&format!("/v1/proxy/{id}")))
        .env("TETHER_API_KEY", &app.api_key)
        .output()
        .await
        .expect("node runs (Node.js is needed for this test)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "jsforce failed: {stderr}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn jsforce_queries_writes_and_bulk_queries_through_the_proxy_across_an_expired_session() {
    let app = spawn_app().await;
    let id = app.connect().await;

    let first = run_jsforce(&app, &id).await;
    let total = first["total"].as_u64().unwrap();
    assert!(total >= 1, "{first}");
    assert_eq!(
        first,
        json!({
            "total": total,
            "update_success": true,
            "name_after": "Updated by jsforce",
            "describe_name": "Account",
            "created_success": true,
            "bulk_total": total,
        }),
        "every call answered as Salesforce would, and Bulk API 1.0 read the same records"
    );

    // Salesforce's session (2 h by default) ends; the next run works the same, because tether
    // refreshes behind the proxy.
    app.advance(3 * 3600).await;
    let second = run_jsforce(&app, &id).await;
    assert_eq!(second["update_success"], true, "{second}");
    assert_eq!(second["bulk_total"], second["total"], "{second}");
    let events = app.events(&id).await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.contains(&"refreshed"), "{kinds:?}");
}
