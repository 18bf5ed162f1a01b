//! A real Salesforce client library from its own ecosystem, `simple-salesforce` (PyPI), runs a
//! query and a record update through the proxy against the sandbox, with no shim: it is given
//! the connection's `proxy_instance_url` (host-routed, see `proxy_host`) and a tether API key as
//! its session id, and reaches tether over TLS through the test's TLS front.
//! `scripts/test.sh` installs it from `scripts/requirements-test.txt`.

use std::path::PathBuf;

use serde_json::Value;

use crate::helpers::spawn_app;
use crate::proxy_host::{proxy_instance_url, start_host_routed, start_tls_front};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/test_simple_salesforce.py")
}

/// Proxy settings of the calling environment that would route around the TLS front.
const PROXY_VARS: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "CURL_CA_BUNDLE",
];

async fn simple_salesforce_is_installed() -> bool {
    tokio::process::Command::new("python3")
        .args(["-c", "import simple_salesforce"])
        .output()
        .await
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn simple_salesforce_queries_and_updates_a_record_through_the_proxy() {
    assert!(
        simple_salesforce_is_installed().await,
        "python3 cannot import simple_salesforce: run scripts/test.sh (it installs scripts/requirements-test.txt)"
    );
    let app = spawn_app().await;
    let id = app.connect().await;
    let tether = start_host_routed(&app).await;
    let front = start_tls_front(tether.addr).await;
    let instance_url = proxy_instance_url(&app, &tether, &id).await;
    let mut command = tokio::process::Command::new("python3");
    for var in PROXY_VARS {
        command.env_remove(var);
    }
    let output = command
        .arg(script())
        .env("TETHER_INSTANCE_URL", &instance_url)
        .env("TETHER_API_KEY", &app.api_key)
        .env("HTTPS_PROXY", format!("http://{}", front.addr))
        .env("REQUESTS_CA_BUNDLE", &front.ca_file)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "script failed: {stderr}");
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(result["total"].as_u64().unwrap() >= 1, "{result}");
    assert_eq!(result["update_status"], 204);
    assert_eq!(result["name_after"], "Updated by simple-salesforce");
    assert_eq!(
        result["bulk_total"], result["total"],
        "the Bulk API 1.0 query through the proxy reads the same records"
    );
    let host = instance_url.trim_start_matches("https://");
    let targets = front.targets.lock().clone();
    assert!(
        !targets.is_empty(),
        "simple-salesforce never reached the TLS front"
    );
    assert!(
        targets.iter().all(|t| *t == format!("{host}:443")),
        "{targets:?}"
    );
}
