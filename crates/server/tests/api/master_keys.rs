//! The master key as a running server lives with it: `/readyz` answers a 503 problem naming
//! the key the database expects once the keyring no longer fits, and a master key rotation run
//! by another process while the server serves ends no page session and no connect flow (they
//! are signed with the database's signing key, not the master key).

use std::sync::Arc;

use reqwest::header::COOKIE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tether_server::page::session::session_cookie;
use tether_store::Store;
use tether_store::crypto::{KeyId, Keyring, Keys, MasterKey};

use crate::helpers::{
    DEFAULT_PROVIDER_TIMEOUT, TestApp, location, sandbox_host, spawn_app, start_tether,
};
use crate::probes::{problem_type, query_of};

/// The app's master key.
fn app_key(app: &TestApp) -> MasterKey {
    MasterKey::from_base64(&app.keyring_b64).unwrap()
}

/// Another process's store on the app's database, under `keyring`, checked.
async fn other_process(app: &TestApp, keyring: Keyring) -> Arc<dyn Store> {
    let url = format!("sqlite://{}", app.db_path.display());
    let store = tether_store::open(&url, keyring).await.unwrap();
    store.check_master_keys().await.unwrap();
    store
}

async fn readyz(app: &TestApp) -> (StatusCode, String, Value) {
    let r = app.get_without_key("/readyz").await;
    let status = r.status();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = r.text().await.unwrap();
    (
        status,
        content_type,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

fn assert_not_ready(answer: (StatusCode, String, Value), detail: &str) {
    let (status, content_type, body) = answer;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(
        body,
        json!({
            "type": problem_type("not-ready"),
            "title": "Not ready",
            "status": 503,
            "detail": detail,
        })
    );
}

#[tokio::test]
async fn readyz_answers_503_naming_the_key_when_its_canary_does_not_open() {
    let app = spawn_app().await;
    assert_eq!(readyz(&app).await.0, StatusCode::OK);

    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", app.db_path.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE master_keys SET canary = (SELECT client_secret FROM connectors)")
        .execute(&pool)
        .await
        .unwrap();

    assert_not_ready(
        readyz(&app).await,
        &format!(
            "the keyring's master key {} does not open the database's canary for that key id: \
             it is another key with the same id, or the canary was altered",
            app_key(&app).key_id()
        ),
    );
}

#[tokio::test]
async fn readyz_answers_503_naming_the_new_primary_when_another_process_promotes_a_key_it_lacks() {
    let app = spawn_app().await;
    let (old, new) = (app_key(&app), MasterKey::generate());
    let rotator = other_process(&app, Keyring::new(old.clone(), vec![new.clone()])).await;
    rotator.add_master_key(new.key_id()).await.unwrap();
    assert_eq!(
        readyz(&app).await.0,
        StatusCode::OK,
        "a pending key is not needed"
    );
    rotator.promote_master_key(new.key_id()).await.unwrap();

    assert_not_ready(
        readyz(&app).await,
        &format!(
            "the database is sealed under master key {} (primary), which the keyring does not \
             hold (it holds {})",
            new.key_id(),
            old.key_id()
        ),
    );
}

#[tokio::test]
async fn a_master_key_rotation_ends_no_page_session_and_no_connect_flow_in_progress() {
    let app = spawn_app().await;
    let state = &app.tether.state;
    let cookie = session_cookie(state, &app.workspace).await.unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let connected_before = app.connect().await;
    let started: Value = app
        .create_connect_session(json!({
            "connector": "salesforce",
            "end_user_id": "u-7",
            "redirect_to": "https://app.example/done"
        }))
        .await
        .json()
        .await
        .unwrap();
    let to_provider = app
        .http
        .get(started["connect_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let authorize = location(&to_provider);
    let signed_state = query_of(&authorize)["state"].clone();

    // Rotated by another process while this one serves with the new key added (as SIGHUP
    // gives it after `keys add-master`); the old key retired.
    let (old, new) = (app_key(&app), MasterKey::generate());
    let both = Keyring::new(old.clone(), vec![new.clone()]);
    state.store.use_keys(Keys::from(both.clone()));
    let rotator = other_process(&app, both).await;
    rotator.add_master_key(new.key_id()).await.unwrap();
    rotator.promote_master_key(new.key_id()).await.unwrap();
    assert!(rotator.reencrypt_all().await.unwrap() >= 5);
    rotator
        .retire_master_key(old.key_id(), std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(primary_of(&state.store).await, new.key_id());

    // A server started after the rotation, with the new key alone, accepts what was signed
    // before it.
    let hosts = [sandbox_host(&app.sandbox_base)];
    let restarted = start_tether(
        &app.db_path,
        &new.to_base64(),
        app.clock.clone(),
        DEFAULT_PROVIDER_TIMEOUT,
        &hosts,
    )
    .await;
    assert!(
        restarted
            .state
            .signer
            .verify(tether_server::connect::StateSigner::unbind(&signed_state).0)
            .is_some()
    );
    let page = app
        .http
        .get(format!("{}/", restarted.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK, "still signed in");
    assert!(page.text().await.unwrap().contains("Connections"));
    let path = format!("/v1/connections/{connected_before}/token");
    let token = app
        .api_on(&restarted.base, Method::POST, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::OK);

    // The flow started before the rotation completes.
    let to_callback = app.http.get(&authorize).send().await.unwrap();
    let landed = app.http.get(location(&to_callback)).send().await.unwrap();
    assert!(
        location(&landed).contains("status=active"),
        "{}",
        location(&landed)
    );
}

/// The primary a store seals under after its next check.
async fn primary_of(store: &Arc<dyn Store>) -> KeyId {
    match store.check_master_keys().await.unwrap() {
        tether_store::keys::KeyCheck::Matches { primary } => primary,
        other => panic!("{other:?}"),
    }
}
