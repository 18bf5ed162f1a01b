//! The connectors page lists the workspace's webhooks with their latest deliveries.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::connections::store_connections;
use crate::visitor::Visitor;

#[tokio::test]
async fn the_connectors_page_shows_each_webhook_and_its_latest_deliveries() {
    let (visitor, session) = Visitor::signed_in().await;
    let empty = visitor.html(&session, "/connectors").await;
    assert!(empty.contains("No webhooks yet."), "{empty}");

    // A public address that answers nothing: the delivery stays pending.
    let registered = visitor
        .app
        .api(Method::POST, "/v1/webhooks")
        .json(&json!({"url": "https://203.0.113.7/hooks", "events": ["connection.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let registered: Value = registered.json().await.unwrap();
    store_connections(&visitor.app, 1).await;

    let page = visitor.get(&session, "/connectors").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let id = registered["id"].as_str().unwrap();
    assert!(html.contains(&format!("data-webhook=\"{id}\"")), "{html}");
    assert!(html.contains("https://203.0.113.7/hooks"), "{html}");
    assert!(html.contains("<td>connection.created</td>"), "{html}");
    assert!(!html.contains("whsec_"), "the secret is never shown");
}
