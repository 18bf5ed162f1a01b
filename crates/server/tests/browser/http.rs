//! The page's cookies and refusals over plain HTTP (no browser): cookie attributes, CSRF and
//! double-submit refusals, sign-in redirects, and routes that exist only in the demo.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::app::{TestApp, spawn_app};

/// Serves `html` at `/` on a new port; answers the URL.
pub async fn serve_html(html: &str) -> String {
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

/// The value of the first `name="csrf"` field of a page.
fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// Signs in over HTTP; answers the `Set-Cookie` of the session.
pub(crate) async fn sign_in(app: &TestApp) -> String {
    let form = app
        .http
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    let login_cookie = set_cookies(&form)[0].split(';').next().unwrap().to_owned();
    let csrf = csrf_of(&form.text().await.unwrap());
    let response = app
        .http
        .post(format!("{}/login", app.base))
        .header(COOKIE, login_cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("api_key", &app.api_key),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("tether_session="))
        .expect("a session cookie")
}

/// The page at `path` with the session cookie.
pub(crate) async fn get(app: &TestApp, session: &str, path: &str) -> reqwest::Response {
    let cookie = session.split(';').next().unwrap().to_owned();
    app.http
        .get(format!("{}{path}", app.base))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_session_cookie_is_http_only_same_site_strict_and_holds_no_api_key() {
    let app = spawn_app(false).await;
    let session = sign_in(&app).await;
    assert!(session.contains("; HttpOnly; SameSite=Strict"), "{session}");
    assert!(!session.contains("Secure"), "http public URL: {session}");
    assert!(session.contains("; Path=/; Max-Age=43200"), "{session}");
    let secret_half = app.api_key.rsplit('_').next().unwrap();
    assert!(!session.contains(secret_half));
    let page = get(&app, &session, "/").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("No connections yet."));
}

#[tokio::test]
async fn a_form_with_the_wrong_csrf_token_is_refused() {
    let app = spawn_app(false).await;
    let session = sign_in(&app).await;
    let cookie = session.split(';').next().unwrap().to_owned();
    let response = app
        .http
        .post(format!("{}/connectors/salesforce/connect", app.base))
        .header(COOKIE, cookie)
        .form(&[("csrf", "forged"), ("end_user_id", "u-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("This form was not sent from tether&#39;s own page, so nothing was changed."),
        "{body}"
    );
}

#[tokio::test]
async fn the_sign_in_form_is_refused_without_its_double_submit_cookie() {
    let app = spawn_app(false).await;
    let response = app
        .http
        .post(format!("{}/login", app.base))
        .form(&[
            ("csrf", "anything"),
            ("api_key", &app.api_key),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(set_cookies(&response).is_empty());
}

#[tokio::test]
async fn a_post_whose_origin_is_another_site_is_refused_before_the_session_is_read() {
    let app = spawn_app(false).await;
    let response = app
        .http
        .post(format!("{}/logout", app.base))
        .header("origin", "http://attacker.example")
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn signing_out_ends_that_session_for_a_copied_cookie_and_leaves_other_sessions_signed_in() {
    let app = spawn_app(false).await;
    let mine = sign_in(&app).await;
    let colleague = sign_in(&app).await;
    let page = get(&app, &mine, "/").await.text().await.unwrap();
    let csrf = csrf_of(&page);
    let copied = mine.split(';').next().unwrap().to_owned();

    let out = app
        .http
        .post(format!("{}/logout", app.base))
        .header(COOKIE, copied.clone())
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(out.headers()[LOCATION], "/login");

    // The browser forgot the cookie; a copy of it no longer signs anyone in.
    let replayed = get(&app, &mine, "/").await;
    assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
    assert_eq!(replayed.headers()[LOCATION], "/login?next=%2F");
    assert_eq!(get(&app, &colleague, "/").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_signed_out_visit_redirects_to_sign_in_and_comes_back_after() {
    let app = spawn_app(false).await;
    let response = app
        .http
        .get(format!("{}/connectors/salesforce", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[LOCATION],
        "/login?next=%2Fconnectors%2Fsalesforce"
    );
    let form = app
        .http
        .get(format!("{}/login?next=//evil.example", app.base))
        .send()
        .await
        .unwrap();
    let html = form.text().await.unwrap();
    assert!(html.contains("name=\"next\" value=\"/\""), "{html}");
}

#[tokio::test]
async fn a_cross_site_arrival_without_the_cookie_reloads_once_from_tether() {
    let app = spawn_app(false).await;
    let response = app
        .http
        .get(format!(
            "{}/connections/conn_x?notice=reconnected",
            app.base
        ))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("content=\"0;url=/connections/conn_x?notice=reconnected\""),
        "{html}"
    );
}

#[tokio::test]
async fn the_demo_routes_do_not_exist_outside_the_demo() {
    let app = spawn_app(false).await;
    let session = sign_in(&app).await;
    let csrf = csrf_of(&get(&app, &session, "/").await.text().await.unwrap());
    let cookie = session.split(';').next().unwrap().to_owned();
    let response = app
        .http
        .post(format!("{}/demo/clock", app.base))
        .header(COOKIE, cookie)
        .form(&[("csrf", csrf.as_str()), ("advance", "day")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let once = app
        .http
        .get(format!("{}/login/once/abc", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(once.status(), StatusCode::NOT_FOUND);
    let page = get(&app, &session, "/").await.text().await.unwrap();
    assert!(!page.contains("Simulate time"));
}

#[tokio::test]
async fn the_connector_form_saves_the_policy_hints_and_keeps_the_secret_when_left_empty() {
    let app = spawn_app(false).await;
    let session = sign_in(&app).await;
    let csrf = csrf_of(
        &get(&app, &session, "/connectors/salesforce")
            .await
            .text()
            .await
            .unwrap(),
    );
    let cookie = session.split(';').next().unwrap().to_owned();
    let response = app
        .http
        .post(format!("{}/connectors", app.base))
        .header(COOKIE, cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("editing", "1"),
            ("name", "salesforce"),
            ("client_id", crate::app::CLIENT_ID),
            ("client_secret", ""),
            ("login_host", "custom"),
            ("custom_login_url", &app.sandbox_base),
            ("scopes", "api refresh_token"),
            ("policy_kind", "idle"),
            ("policy_seconds", "86400"),
            ("session_timeout_seconds", "900"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[LOCATION],
        "/connectors/salesforce?notice=saved"
    );
    let page = get(&app, &session, "/connectors/salesforce?notice=saved").await;
    let html = page.text().await.unwrap();
    assert!(html.contains("Connector saved."));
    assert!(html.contains("<option value=\"idle\" selected>"), "{html}");
    assert!(
        html.contains("name=\"policy_seconds\" min=\"1\" value=\"86400\""),
        "{html}"
    );
    assert!(html.contains(&format!("value=\"{}/oauth/callback\" readonly", app.base)));
    let ws = app
        .state
        .store
        .ensure_workspace(
            &tether_core::ids::WorkspaceName::parse("test").unwrap(),
            tether_core::clock::Clock::now(app.clock.as_ref()),
        )
        .await
        .unwrap();
    let name = tether_core::ids::ConnectorName::parse("salesforce").unwrap();
    let stored = app
        .state
        .store
        .get_connector(&ws.id, &name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.input.client_secret.as_ref().map(|s| s.expose()),
        Some(crate::app::CLIENT_SECRET)
    );
    assert_eq!(stored.input.session_timeout_seconds, Some(900));
    assert_eq!(
        stored.input.refresh_token_policy,
        Some(serde_json::json!({"kind": "idle", "seconds": 86400}))
    );
}

/// Stores `count` connections of the `salesforce` connector for the workspace `test`, one
/// second apart.
async fn store_connections(app: &TestApp, count: i64) {
    use tether_core::clock::Clock;
    use tether_core::event::{EventKind, Outcome};
    use tether_core::ids::{ConnectionId, ConnectorName, EndUserId, WorkspaceName};
    use tether_core::instance::InstanceUrl;
    use tether_core::secret::{AccessToken, RefreshToken};
    use tether_store::{Account, NewConnection, NewEvent, TokenSet};

    let store = &app.state.store;
    let now = app.clock.now();
    let name = WorkspaceName::parse("test").unwrap();
    let ws = store.ensure_workspace(&name, now).await.unwrap().id;
    for i in 0..count {
        let created_at = now + chrono::Duration::seconds(i);
        let new = NewConnection {
            id: ConnectionId::generate(),
            workspace_id: ws.clone(),
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
            workspace_id: ws.clone(),
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
    let app = spawn_app(false).await;
    store_connections(&app, 103).await;
    let session = sign_in(&app).await;

    let first = get(&app, &session, "/?status=active&connector=salesforce").await;
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

    let second = get(&app, &session, &next).await;
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
    let refused = get(&app, &session, &tampered).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}

/// Posts the sign-in form with `headers` added; answers the status.
async fn sign_in_with(app: &TestApp, headers: &[(&str, &str)]) -> StatusCode {
    let form = app
        .http
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    let login_cookie = set_cookies(&form)[0].split(';').next().unwrap().to_owned();
    let csrf = csrf_of(&form.text().await.unwrap());
    let mut request = app
        .http
        .post(format!("{}/login", app.base))
        .header(COOKIE, login_cookie);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .form(&[
            ("csrf", csrf.as_str()),
            ("api_key", &app.api_key),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_form_post_is_checked_against_the_public_url_origin_not_the_host_header() {
    let app = spawn_app(false).await;
    let ours = app.base.trim_end_matches('/').to_owned();
    assert_eq!(
        sign_in_with(&app, &[("origin", &ours)]).await,
        StatusCode::SEE_OTHER
    );
    // A Host header that agrees with another origin does not make that origin tether's.
    let spoofed = [
        ("host", "attacker.example"),
        ("origin", "http://attacker.example"),
    ];
    assert_eq!(sign_in_with(&app, &spoofed).await, StatusCode::FORBIDDEN);
    let other = [("origin", "http://localhost:1")];
    assert_eq!(sign_in_with(&app, &other).await, StatusCode::FORBIDDEN);
}

/// Posts the connector form of `name` as a person editing it would (`fields` over the
/// defaults); answers the status.
async fn save_connector_form(
    app: &TestApp,
    session: &str,
    name: &str,
    fields: &[(&str, &str)],
) -> StatusCode {
    let path = format!("/connectors/{name}");
    let csrf = csrf_of(&get(app, session, &path).await.text().await.unwrap());
    let mut form: Vec<(&str, &str)> = vec![
        ("csrf", csrf.as_str()),
        ("name", name),
        ("client_id", crate::app::CLIENT_ID),
        ("client_secret", ""),
        ("login_host", "custom"),
        ("custom_login_url", &app.sandbox_base),
        ("scopes", "api"),
    ];
    form.extend_from_slice(fields);
    let cookie = session.split(';').next().unwrap().to_owned();
    let response = app
        .http
        .post(format!("{}/connectors", app.base))
        .header(COOKIE, cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    response.status()
}

#[tokio::test]
async fn editing_a_jwt_bearer_connector_on_the_page_keeps_its_grant_key_and_usernames() {
    let app = spawn_app(false).await;
    let session = sign_in(&app).await;
    let made = save_connector_form(
        &app,
        &session,
        "salesforce",
        &[
            ("editing", "1"),
            ("grant", "jwt_bearer"),
            ("allowed_usernames", "admin@sandbox.example"),
        ],
    )
    .await;
    assert_eq!(made, StatusCode::SEE_OTHER);
    let html = get(&app, &session, "/connectors/salesforce")
        .await
        .text()
        .await
        .unwrap();
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
    let edited = save_connector_form(
        &app,
        &session,
        "salesforce",
        &[
            ("editing", "1"),
            ("grant", "jwt_bearer"),
            ("allowed_usernames", "admin@sandbox.example"),
            ("session_timeout_seconds", "900"),
        ],
    )
    .await;
    assert_eq!(edited, StatusCode::SEE_OTHER);
    let again = get(&app, &session, "/connectors/salesforce")
        .await
        .text()
        .await
        .unwrap();
    assert!(again.contains(certificate), "the key pair is kept");
    assert!(
        again.contains(">admin@sandbox.example</textarea>"),
        "{again}"
    );
    assert!(again.contains("value=\"900\""), "{again}");
    let list = get(&app, &session, "/connectors")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("name=\"username\""),
        "the connect form asks who: {list}"
    );
}
