//! The person's path through the page: sign in, connect through the sandbox's login and Allow
//! pages, watch the connection expire, read the diagnosis, reconnect; and the refusals.

use serde_json::json;
use tether_testkit::{AppOptions, TestApp, spawn_app_with};

use crate::webdriver::Browser;

/// The test app with the sandbox's login and Allow pages, and the demo's controls if `demo`.
pub async fn spawn_app(demo: bool) -> TestApp {
    spawn_app_with(AppOptions {
        sandbox_pages: true,
        demo,
        ..AppOptions::default()
    })
    .await
}

/// A test app (no demo) and a browser signed in to it with its API key.
pub async fn signed_in() -> (TestApp, Browser) {
    let app = spawn_app(false).await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, &app.api_key).await;
    browser.wait_for_text("No connections yet").await;
    (app, browser)
}

/// Serves `html` at `/` on a new port; answers the URL.
async fn serve_html(html: &str) -> String {
    let html = html.to_owned();
    let router = axum::Router::new().route(
        "/",
        axum::routing::get(move || async move { axum::response::Html(html) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// Signs in with `key` through the form.
pub async fn sign_in(browser: &Browser, app: &TestApp, key: &str) {
    browser.goto(&app.url("/")).await;
    browser.fill("#api_key", key).await;
    browser.click("main form button[type=submit]").await;
}

/// Connects `end_user` through the connectors page; answers the new connection's id.
pub async fn connect(browser: &Browser, app: &TestApp, end_user: &str) -> String {
    browser.goto(&app.url("/connectors")).await;
    browser.fill("#eu-salesforce", end_user).await;
    browser
        .click("section[data-connector=salesforce] button.primary")
        .await;
    log_in_and_allow(browser).await;
    browser
        .wait_for_text("Connected. The account is linked")
        .await;
    browser.text("#connection-id").await
}

/// Opens connection `id`'s page and checks it with Salesforce.
async fn check_with_salesforce(browser: &Browser, app: &TestApp, id: &str) {
    browser.goto(&app.url(&format!("/connections/{id}"))).await;
    browser.click("#check").await;
    browser
        .wait_for_text("Checked with Salesforce just now")
        .await;
}

/// Completes the sandbox's login form and Allow page.
pub async fn log_in_and_allow(browser: &Browser) {
    browser
        .fill("#username", tether_sandbox::DEFAULT_USERNAME)
        .await;
    browser
        .fill("#password", tether_sandbox::DEFAULT_PASSWORD)
        .await;
    browser.click("button[type=submit]").await;
    browser.click("button[value=allow]").await;
}

#[tokio::test]
async fn a_person_connects_sees_the_connection_expire_with_its_cause_and_reconnects_the_same_id() {
    let (app, browser) = signed_in().await;
    browser.goto(&app.url("/connectors/salesforce")).await;
    browser.resize(1200, 1500).await;
    browser.screenshot("connector-form").await;
    browser.resize(390, 844).await;
    browser.goto(&app.url("/connectors")).await;
    browser.screenshot("connectors-phone").await;
    browser.resize(1200, 900).await;

    let id = connect(&browser, &app, "u-42").await;
    assert_eq!(browser.text("#status").await, "Active");
    browser.goto(&app.url("/")).await;
    let row = browser.text(&format!("tr[data-connection={id}]")).await;
    assert!(row.contains("u-42") && row.contains("Active"), "{row}");
    assert!(row.contains(tether_sandbox::DEFAULT_USERNAME), "{row}");
    assert_eq!(browser.text("a[data-status=active] b").await, "1");

    // The admin sets "Immediately expire refresh token"; the access token lapses (2 h).
    app.patch_app(json!({"refresh_token_policy": {"kind": "immediately"}}))
        .await;
    app.advance(3 * 3600).await;
    check_with_salesforce(&browser, &app, &id).await;
    assert_eq!(browser.text("#status").await, "Connection Expired");
    assert_eq!(
        browser.text("#cause").await,
        "refresh_token_policy_immediate"
    );
    let steps = browser.text("#steps").await;
    assert!(
        steps.contains("Edit Policies > OAuth Policies > Refresh Token Policy"),
        "{steps}"
    );
    assert!(
        steps.contains("Refresh token is valid until revoked"),
        "{steps}"
    );
    assert!(
        browser.find_now("#events tr.failed").await.is_some(),
        "the failed refresh is highlighted"
    );
    browser.resize(1200, 1700).await;
    browser.screenshot("connection-expired").await;
    browser.resize(390, 844).await;
    browser.screenshot("connection-expired-phone").await;
    browser.resize(1200, 900).await;

    browser.goto(&app.url("/")).await;
    assert_eq!(browser.text("a[data-status=expired] b").await, "1");
    browser.screenshot("connections-list").await;

    app.patch_app(json!({"refresh_token_policy": {"kind": "until_revoked"}}))
        .await;
    browser.goto(&app.url(&format!("/connections/{id}"))).await;
    browser.click("#reconnect").await;
    log_in_and_allow(&browser).await;
    browser
        .wait_for_text("Reconnected: the same connection is Active again.")
        .await;
    assert_eq!(browser.text("#connection-id").await, id);
    assert_eq!(browser.text("#status").await, "Active");
    assert!(
        browser
            .url()
            .await
            .ends_with(&format!("/connections/{id}?notice=reconnected"))
    );
    assert!(browser.find_now("#diagnosis").await.is_none());
}

#[tokio::test]
async fn a_wrong_api_key_is_refused_and_the_page_stays_signed_out() {
    let app = spawn_app(false).await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, "tk_notakey_000000000000").await;
    let text = browser
        .wait_for_text("That API key is not valid. Check it and try again.")
        .await;
    assert!(text.contains("Sign in"), "{text}");
    browser.goto(&app.url("/connectors")).await;
    browser.find("#api_key").await;
    assert!(browser.url().await.ends_with("/login?next=%2Fconnectors"));
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let (app, browser) = signed_in().await;
    browser.click("header form button[type=submit]").await;
    browser.find("#api_key").await;
    browser.goto(&app.url("/")).await;
    browser.find("#api_key").await;
}

#[tokio::test]
async fn a_form_posted_from_another_site_is_refused_and_changes_nothing() {
    let (app, browser) = signed_in().await;
    let evil = serve_html(&format!(
        "<form method=post action=\"{}/connectors\">\
         <input name=csrf value=guess><input name=name value=evil>\
         <input name=client_id value=k><input name=client_secret value=s>\
         <input name=login_host value=production>\
         <button id=go type=submit>Win a prize</button></form>",
        app.tether.base
    ))
    .await;
    // localhost is another site than 127.0.0.1 for the browser.
    browser.goto(&evil.replace("127.0.0.1", "localhost")).await;
    browser.click("#go").await;
    browser
        .wait_for_text("This form was not sent from tether's own page, so nothing was changed.")
        .await;
    let names: Vec<String> = app
        .tether
        .state
        .store
        .list_connectors(&app.workspace)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name.to_string())
        .collect();
    assert_eq!(names, vec!["salesforce".to_owned()]);
}

#[tokio::test]
async fn the_demo_controls_expire_a_connection_under_the_policy_chosen_on_the_page() {
    let app = spawn_app(true).await;
    let demo = app.demo.clone().unwrap();
    let link = app.url(&format!(
        "/login/once/{}",
        demo.issue_sign_in(&app.workspace)
    ));
    let browser = Browser::start().await;
    browser.goto(&link).await;
    browser.wait_for_text("No connections yet").await;
    assert_eq!(browser.text("#clock-offset").await, "real time");
    browser.resize(390, 844).await;
    assert_eq!(
        browser.horizontal_overflow().await,
        0,
        "the demo controls fit a phone's width"
    );
    browser.screenshot("demo-phone").await;
    browser.resize(1200, 900).await;
    let id = connect(&browser, &app, "demo-user").await;

    browser.click("#demo-policy option[value=idle_1d]").await;
    browser.click("form[action='/demo/policy'] button").await;
    browser
        .wait_for_text("The sandbox Connected App's policy changed")
        .await;
    browser.click("button[value=week]").await;
    browser.wait_for_text("The demo clock moved forward.").await;
    assert_eq!(browser.text("#clock-offset").await, "+7 days");
    check_with_salesforce(&browser, &app, &id).await;
    assert_eq!(browser.text("#status").await, "Connection Expired");
    browser.screenshot("demo-expired").await;

    // The sign-in link is dead once used.
    let again = reqwest::get(&link).await.unwrap();
    assert_eq!(again.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("This sign-in link was already used or is unknown.")
    );
}
