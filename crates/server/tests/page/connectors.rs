//! The connector form: what it saves, and what it keeps when left as shown.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use tether_core::ids::ConnectorName;
use tether_testkit::CLIENT_SECRET;

use crate::visitor::Visitor;

#[tokio::test]
async fn the_connector_form_saves_the_policy_hints_and_keeps_the_secret_when_left_empty() {
    let (visitor, session) = Visitor::signed_in().await;
    let response = visitor
        .save_connector(
            &session,
            "salesforce",
            &[
                ("editing", "1"),
                ("scopes", "api refresh_token"),
                ("policy_kind", "idle"),
                ("policy_seconds", "86400"),
                ("session_timeout_seconds", "900"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[LOCATION],
        "/connectors/salesforce?notice=saved"
    );
    let html = visitor
        .html(&session, "/connectors/salesforce?notice=saved")
        .await;
    assert!(html.contains("Connector saved."));
    assert!(html.contains("<option value=\"idle\" selected>"), "{html}");
    assert!(
        html.contains("name=\"policy_seconds\" min=\"1\" value=\"86400\""),
        "{html}"
    );
    let app = &visitor.app;
    assert!(html.contains(&format!(
        "value=\"{}/oauth/callback\" readonly",
        app.tether.base
    )));
    let name = ConnectorName::parse("salesforce").unwrap();
    let stored = app
        .tether
        .state
        .store
        .get_connector(&app.workspace, &name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.input.client_secret.as_ref().map(|s| s.expose()),
        Some(CLIENT_SECRET)
    );
    assert_eq!(stored.input.session_timeout_seconds, Some(900));
    assert_eq!(
        stored.input.refresh_token_policy,
        Some(serde_json::json!({"kind": "idle", "seconds": 86400}))
    );
}

/// The connector form of a JWT bearer connector as the page shows it once saved.
const JWT_BEARER: [(&str, &str); 3] = [
    ("editing", "1"),
    ("grant", "jwt_bearer"),
    ("allowed_usernames", "admin@sandbox.example"),
];

#[tokio::test]
async fn editing_a_jwt_bearer_connector_on_the_page_keeps_its_grant_key_and_usernames() {
    let (visitor, session) = Visitor::signed_in().await;
    let made = visitor
        .save_connector(&session, "salesforce", &JWT_BEARER)
        .await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    let html = visitor.html(&session, "/connectors/salesforce").await;
    assert!(
        html.contains("name=\"grant\" value=\"jwt_bearer\" checked"),
        "{html}"
    );
    let start = html
        .find("-----BEGIN CERTIFICATE-----")
        .expect("the certificate");
    let certificate = &html[start..start + 200];
    assert!(html.contains(">admin@sandbox.example</textarea>"), "{html}");

    // Saved again as shown (the form carries the grant and the usernames), with a hint.
    let mut as_shown = JWT_BEARER.to_vec();
    as_shown.push(("session_timeout_seconds", "900"));
    let edited = visitor
        .save_connector(&session, "salesforce", &as_shown)
        .await;
    assert_eq!(edited.status(), StatusCode::SEE_OTHER);
    let again = visitor.html(&session, "/connectors/salesforce").await;
    assert!(again.contains(certificate), "the key pair is kept");
    assert!(
        again.contains(">admin@sandbox.example</textarea>"),
        "{again}"
    );
    assert!(again.contains("value=\"900\""), "{again}");
    let list = visitor.html(&session, "/connectors").await;
    assert!(
        list.contains("name=\"username\""),
        "the connect form asks who: {list}"
    );
}
