//! The sandbox's interactive login (username and password, then Allow / Deny), driven with a
//! cookie-keeping client the way a browser would.

use reqwest::StatusCode;

use crate::helpers::location;

/// Opens `authorize`, logs in as the sandbox's admin, clicks Deny; returns the callback URL
/// the sandbox redirected to.
pub async fn deny(browser: &reqwest::Client, authorize: &str) -> String {
    let login_page = browser.get(authorize).send().await.unwrap();
    assert_eq!(login_page.status(), StatusCode::OK);
    let origin = {
        let url = url::Url::parse(authorize).unwrap();
        url.origin().ascii_serialization()
    };
    let consent_page = browser
        .post(format!("{origin}/services/oauth2/authorize/login"))
        .form(&[
            ("username", "admin@sandbox.example"),
            ("password", "sandbox"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(consent_page.status(), StatusCode::OK);
    let text = consent_page.text().await.unwrap();
    assert!(text.contains("Deny"), "{text}");
    let denied = browser
        .post(format!("{origin}/services/oauth2/authorize/consent"))
        .form(&[("decision", "deny")])
        .send()
        .await
        .unwrap();
    assert!(denied.status().is_redirection(), "{}", denied.status());
    location(&denied)
}
