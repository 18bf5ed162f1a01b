//! A real Salesforce client library from its own ecosystem, `simple-salesforce` (PyPI), runs a
//! query and a record update through the proxy against the sandbox. `scripts/test.sh` installs
//! it from `scripts/requirements-test.txt`.

use std::path::PathBuf;

use serde_json::Value;

use crate::helpers::spawn_app;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/test_simple_salesforce.py")
}

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
    let output = tokio::process::Command::new("python3")
        .arg(script())
        .env(
            "TETHER_PROXY_BASE",
            format!("{}/v1/proxy/{id}", app.tether.base),
        )
        .env("TETHER_API_KEY", &app.api_key)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "script failed: {stderr}");
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(result["total"].as_u64().unwrap() >= 1, "{result}");
    assert_eq!(result["update_status"], 204);
    assert_eq!(result["name_after"], "Updated by simple-salesforce");
}
