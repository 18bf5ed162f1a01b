//! Markup in what apps and people type (an end user id) is shown as text, never run.

use crate::flows::signed_in;

const MARKUP: &str = "<b id=\"injected\">bold</b><img src=x onerror=\"document.title='owned'\">";

#[tokio::test]
async fn an_end_user_id_with_markup_is_shown_as_text_on_the_list_and_the_connection_page() {
    let (app, browser) = signed_in().await;
    app.auto_approve(true).await;
    browser.goto(&app.url("/connectors")).await;
    browser.fill("#eu-salesforce", MARKUP).await;
    browser
        .click("section[data-connector=salesforce] button.primary")
        .await;
    browser
        .wait_for_text("Connected. The account is linked")
        .await;
    assert_eq!(browser.text("h1 .end-user").await, MARKUP);
    assert!(browser.find_now("#injected").await.is_none());
    browser.goto(&app.url("/")).await;
    assert_eq!(browser.text("td a.end-user").await, MARKUP);
    assert!(browser.find_now("#injected").await.is_none());
    assert!(browser.find_now("img[src=x]").await.is_none());
}
