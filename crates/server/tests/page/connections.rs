//! The connections list.

use reqwest::StatusCode;
use tether_core::clock::Clock;
use tether_core::event::{EventKind, Outcome};
use tether_core::ids::{ConnectionId, ConnectorName, EndUserId};
use tether_core::instance::InstanceUrl;
use tether_core::secret::{AccessToken, RefreshToken};
use tether_store::{Account, NewConnection, NewEvent, TokenSet};
use tether_testkit::TestApp;

use crate::visitor::Visitor;

/// Stores `count` connections of the `salesforce` connector for the app's workspace, one
/// second apart (`user-{i}`, the oldest first).
pub async fn store_connections(app: &TestApp, count: i64) {
    let store = &app.tether.state.store;
    let now = app.clock.now();
    for i in 0..count {
        let created_at = now + chrono::Duration::seconds(i);
        let new = NewConnection {
            id: ConnectionId::generate(),
            workspace_id: app.workspace.clone(),
            connector: ConnectorName::parse("salesforce").unwrap(),
            provider: "salesforce".to_owned(),
            end_user_id: EndUserId::parse(&format!("user-{i}")).unwrap(),
            account: Account {
                instance_url: InstanceUrl::parse("https://na1.my.salesforce.com").unwrap(),
                org_id: "00D000000000001AAA".to_owned(),
                user_id: format!("005{i:015}"),
                username: format!("user-{i}@example.com"),
            },
            scopes: vec!["api".to_owned()],
            tokens: TokenSet {
                access_token: AccessToken::new("access"),
                refresh_token: Some(RefreshToken::new("refresh")),
                issued_at: created_at,
                expires_at: created_at + chrono::Duration::hours(2),
                refresh_at: created_at + chrono::Duration::minutes(100),
                instance_url: None,
            },
            created_at,
        };
        let event = NewEvent {
            connection_id: new.id.clone(),
            workspace_id: app.workspace.clone(),
            at: created_at,
            kind: EventKind::Connected,
            outcome: Outcome::Success,
            detail: "stored by the test".to_owned(),
            provider_error: None,
        };
        store.insert_connection(&new, &event).await.unwrap();
    }
}

/// The `href` of the link with `rel="{rel}"`, unescaped.
fn link(html: &str, rel: &str) -> Option<String> {
    let end = html.find(&format!("\" rel=\"{rel}\""))?;
    let start = html[..end].rfind("href=\"")? + 6;
    Some(html[start..end].replace("&amp;", "&").replace("&#38;", "&"))
}

#[tokio::test]
async fn the_connections_list_pages_with_a_next_link_that_keeps_the_filters() {
    let visitor = Visitor::start().await;
    store_connections(&visitor.app, 103).await;
    let session = visitor.sign_in().await;

    let first = visitor
        .get(&session, "/?status=active&connector=salesforce")
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let html = first.text().await.unwrap();
    assert_eq!(html.matches("<tr data-connection=").count(), 100);
    assert!(html.contains("user-102@example.com"), "newest first");
    assert!(
        !html.contains("user-2@example.com"),
        "the oldest is on the next page"
    );
    assert!(html.contains("<b>103</b>"), "the counts cover every page");
    assert_eq!(link(&html, "first"), None);
    let next = link(&html, "next").expect("a Next link");
    assert!(
        next.starts_with("/?status=active&connector=salesforce&cursor="),
        "{next}"
    );

    let second = visitor.get(&session, &next).await;
    assert_eq!(second.status(), StatusCode::OK);
    let html = second.text().await.unwrap();
    assert_eq!(html.matches("<tr data-connection=").count(), 3);
    for oldest in ["user-0@", "user-1@", "user-2@"] {
        assert!(html.contains(oldest), "{oldest} on the last page");
    }
    assert_eq!(link(&html, "next"), None, "the last page has no Next link");
    assert_eq!(
        link(&html, "first").as_deref(),
        Some("/?status=active&connector=salesforce")
    );

    let tampered = format!("{}x", next);
    let refused = visitor.get(&session, &tampered).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn check_now_and_reconnect_need_the_pages_csrf_token_and_a_connection_of_the_workspace() {
    let (visitor, session) = Visitor::signed_in().await;
    store_connections(&visitor.app, 1).await;
    let list = visitor.html(&session, "/").await;
    let at = list.find("data-connection=\"").expect("a connection row") + 17;
    let id = &list[at..at + 25];
    let csrf = visitor.csrf(&session, &format!("/connections/{id}")).await;

    let unknown = "conn_00000000000000000000";
    let forged = (StatusCode::FORBIDDEN, "not sent from tether&#39;s own page");
    let missing = (
        StatusCode::NOT_FOUND,
        "The connection does not exist in this workspace.",
    );
    let refusals = [
        ("check", id, "forged", forged),
        ("reconnect", id, "forged", forged),
        ("check", unknown, csrf.as_str(), missing),
        ("reconnect", unknown, csrf.as_str(), missing),
    ];
    for (action, target, token, (status, says)) in refusals {
        let path = format!("/connections/{target}/{action}");
        let answer = visitor.post(&session, &path, &[("csrf", token)]).await;
        assert_eq!(answer.status(), status, "{path} with token {token}");
        let page = answer.text().await.unwrap();
        assert!(page.contains(says), "{path} with token {token}: {page}");
    }

    let untouched = visitor.html(&session, &format!("/connections/{id}")).await;
    assert!(
        !untouched.contains(">checked<"),
        "a refused form changed nothing"
    );

    let path = format!("/connections/{id}/check");
    let checked = visitor.post(&session, &path, &[("csrf", &csrf)]).await;
    assert_eq!(checked.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        checked.headers()["location"],
        format!("/connections/{id}?notice=checked").as_str()
    );
    let shown = visitor
        .html(&session, &format!("/connections/{id}?notice=checked"))
        .await;
    assert!(
        shown.contains("Checked with Salesforce just now"),
        "{shown}"
    );
    assert!(
        shown.contains(">checked<"),
        "the check is in the history: {shown}"
    );
}
