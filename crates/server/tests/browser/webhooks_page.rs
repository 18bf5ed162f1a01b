//! The connectors page lists the workspace's webhooks with their latest deliveries.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tether_core::clock::Clock;
use tether_core::event::{EventKind, Outcome};
use tether_core::ids::{ConnectionId, ConnectorName, EndUserId};
use tether_core::instance::InstanceUrl;
use tether_core::secret::AccessToken;
use tether_store::{Account, NewConnection, NewEvent, TokenSet};

use crate::app::spawn_app;
use crate::http::{get, sign_in};

#[tokio::test]
async fn the_connectors_page_shows_each_webhook_and_its_latest_deliveries() {
    let app = spawn_app(false).await;
    let session = sign_in(&app).await;
    let empty = get(&app, &session, "/connectors")
        .await
        .text()
        .await
        .unwrap();
    assert!(empty.contains("No webhooks yet."), "{empty}");

    // A public address that answers nothing: the delivery stays pending.
    let registered = app
        .http
        .post(format!("{}/v1/webhooks", app.base))
        .bearer_auth(&app.api_key)
        .json(&json!({"url": "https://203.0.113.7/hooks", "events": ["connection.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let registered: Value = registered.json().await.unwrap();

    let workspace = app
        .state
        .store
        .ensure_workspace(
            &tether_core::ids::WorkspaceName::parse("test").unwrap(),
            app.clock.now(),
        )
        .await
        .unwrap()
        .id;
    let now = app.clock.now();
    let new = NewConnection {
        id: ConnectionId::generate(),
        workspace_id: workspace.clone(),
        connector: ConnectorName::parse("salesforce").unwrap(),
        provider: "salesforce".to_owned(),
        end_user_id: EndUserId::parse("u-page").unwrap(),
        account: Account {
            instance_url: InstanceUrl::parse(&app.sandbox_base).unwrap(),
            org_id: "00D000000000001AAA".to_owned(),
            user_id: "005000000000001AAA".to_owned(),
            username: "page@sandbox.example".to_owned(),
        },
        scopes: vec!["api".to_owned()],
        tokens: TokenSet {
            access_token: AccessToken::new("page-access"),
            refresh_token: None,
            issued_at: now,
            expires_at: now + Duration::hours(2),
            refresh_at: now + Duration::minutes(100),
            instance_url: None,
        },
        created_at: now,
    };
    let event = NewEvent {
        connection_id: new.id.clone(),
        workspace_id: workspace,
        at: now,
        kind: EventKind::Connected,
        outcome: Outcome::Success,
        detail: "connected page@sandbox.example".to_owned(),
        provider_error: None,
    };
    app.state
        .store
        .insert_connection(&new, &event)
        .await
        .unwrap();

    let page = get(&app, &session, "/connectors").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let id = registered["id"].as_str().unwrap();
    assert!(html.contains(&format!("data-webhook=\"{id}\"")), "{html}");
    assert!(html.contains("https://203.0.113.7/hooks"), "{html}");
    assert!(html.contains("<td>connection.created</td>"), "{html}");
    assert!(!html.contains("whsec_"), "the secret is never shown");
}
