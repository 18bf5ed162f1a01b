//! The authorize endpoint: the HTML login and Allow / Deny forms driven with a cookie jar,
//! auto-approve, and the authorize-time errors (redirect mismatch page, PKCE, install, Block).

use reqwest::StatusCode;
use serde_json::{Value, json};
use tether_sandbox::{DEFAULT_PASSWORD, DEFAULT_USERNAME};

use crate::helpers::{
    CALLBACK, assert_redirected_with_error, assert_token_answer, location_param, refused,
    spawn_interactive_sandbox, spawn_sandbox,
};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const S256_CHALLENGE: [(&str, &str); 2] = [
    ("code_challenge", CHALLENGE),
    ("code_challenge_method", "S256"),
];

#[tokio::test]
async fn login_form_then_allow_redirects_with_a_code_that_exchanges() {
    let sandbox = spawn_interactive_sandbox().await;
    let login = sandbox.authorize(&[("state", "xyz")]).await;
    assert_eq!(login.status(), StatusCode::OK);
    let html = login.text().await.unwrap();
    assert!(
        html.contains(r#"<form method="post" action="/services/oauth2/authorize/login">"#),
        "{html}"
    );
    let consent = sandbox.login(DEFAULT_USERNAME, DEFAULT_PASSWORD).await;
    assert_eq!(consent.status(), StatusCode::OK);
    let html = consent.text().await.unwrap();
    assert!(html.contains("<h1>Allow Access?</h1>"), "{html}");
    assert!(html.contains(r#"name="decision" value="allow""#), "{html}");
    let allowed = sandbox.consent("allow").await;
    assert_eq!(allowed.status(), StatusCode::FOUND);
    assert!(
        allowed.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(CALLBACK)
    );
    assert_eq!(location_param(&allowed, "state").as_deref(), Some("xyz"));
    let code = location_param(&allowed, "code").unwrap();
    sandbox.exchange_ok(&code).await;
}

#[tokio::test]
async fn deny_redirects_with_access_denied_and_the_state() {
    let sandbox = spawn_interactive_sandbox().await;
    sandbox.authorize(&[("state", "s1")]).await;
    sandbox.login(DEFAULT_USERNAME, DEFAULT_PASSWORD).await;
    let denied = sandbox.consent("deny").await;
    assert_redirected_with_error(
        &denied,
        "access_denied",
        "end-user denied authorization",
        Some("s1"),
    );
}

#[tokio::test]
async fn wrong_password_shows_the_login_form_again_with_an_error() {
    let sandbox = spawn_interactive_sandbox().await;
    sandbox.authorize(&[]).await;
    let again = sandbox.login(DEFAULT_USERNAME, "wrong").await;
    assert_eq!(again.status(), StatusCode::OK);
    let html = again.text().await.unwrap();
    assert!(
        html.contains("Please check your username and password."),
        "{html}"
    );
    let consent = sandbox.consent("allow").await;
    assert_eq!(
        consent.status(),
        StatusCode::BAD_REQUEST,
        "no Allow before a successful login"
    );
}

#[tokio::test]
async fn html_escapes_user_input_on_the_login_page() {
    let sandbox = spawn_interactive_sandbox().await;
    let page = sandbox
        .authorize(&[("login_hint", "<script>x</script>")])
        .await;
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>x"), "{html}");
    assert!(
        html.contains("&#60;script&#62;x") || html.contains("&lt;script&gt;x"),
        "{html}"
    );
}

#[tokio::test]
async fn auto_approve_issues_the_code_for_the_login_hint_user() {
    let sandbox = spawn_sandbox().await;
    let user = json!({"username": "second@sandbox.example", "password": "pw"});
    let (status, created) = sandbox
        .control(reqwest::Method::POST, "/_sandbox/users", Some(user))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let tokens = sandbox
        .connect_with(&[("login_hint", "second@sandbox.example")])
        .await;
    let user_id = created["id"].as_str().unwrap();
    assert!(
        tokens.body["id"].as_str().unwrap().ends_with(user_id),
        "{}",
        tokens.body
    );
}

#[tokio::test]
async fn unregistered_redirect_uris_and_unknown_clients_get_an_error_page_and_no_redirect() {
    let sandbox = spawn_sandbox().await;
    let cases = [
        (
            "unregistered redirect_uri",
            ("redirect_uri", "https://evil.example/cb"),
            "error=redirect_uri_mismatch&amp;error_description=redirect_uri must match configuration",
        ),
        (
            "unknown client",
            ("client_id", "nope"),
            "error=invalid_client_id&amp;error_description=client identifier invalid",
        ),
    ];
    for (name, param, error) in cases {
        let response = sandbox.authorize(&[param]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(response.headers().get("location"), None, "{name}");
        let html = response.text().await.unwrap();
        assert!(html.contains(error), "{name}: {html}");
    }
}

#[tokio::test]
async fn uninstalled_app_authorize_redirects_with_app_must_be_installed() {
    let sandbox = spawn_sandbox().await;
    sandbox.patch_app(json!({"installed": false})).await;
    let response = sandbox.authorize(&[("state", "st")]).await;
    assert_redirected_with_error(
        &response,
        "invalid_client",
        "app must be installed into org",
        Some("st"),
    );
}

#[tokio::test]
async fn pkce_required_app_refuses_authorize_without_a_challenge() {
    let sandbox = spawn_sandbox().await;
    sandbox.patch_app(json!({"pkce_required": true})).await;
    let response = sandbox.authorize(&[]).await;
    assert_redirected_with_error(
        &response,
        "invalid_request",
        "missing required code challenge",
        None,
    );
    let code = sandbox.authorize_code_with(&S256_CHALLENGE).await;
    let (status, body) = sandbox
        .exchange_code_with(&code, &[("code_verifier", VERIFIER)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// One code exchange: the PKCE parameters sent at authorize, the verifier sent with the code,
/// and the refusal expected (`None`: the exchange works).
struct PkceCase<'a> {
    name: &'a str,
    challenge: &'a [(&'a str, &'a str)],
    verifier: Option<&'a str>,
    refusal: Option<(StatusCode, Value)>,
}

#[tokio::test]
async fn pkce_code_exchanges_check_the_verifier_against_the_challenge() {
    let sandbox = spawn_sandbox().await;
    let plain_challenge = [("code_challenge", CHALLENGE)];
    let cases = [
        PkceCase {
            name: "a wrong verifier gets invalid_request",
            challenge: &S256_CHALLENGE,
            verifier: Some("not-the-verifier"),
            refusal: Some(refused("invalid_request", "invalid code verifier")),
        },
        PkceCase {
            name: "a challenge without a verifier gets invalid_grant",
            challenge: &plain_challenge,
            verifier: None,
            refusal: Some(refused("invalid_grant", "invalid code verifier")),
        },
        PkceCase {
            name: "a challenge without a method is taken as S256",
            challenge: &plain_challenge,
            verifier: Some(VERIFIER),
            refusal: None,
        },
    ];
    for PkceCase {
        name,
        challenge,
        verifier,
        refusal,
    } in cases
    {
        let code = sandbox.authorize_code_with(challenge).await;
        let verifier: Vec<(&str, &str)> =
            verifier.map(|v| ("code_verifier", v)).into_iter().collect();
        let answer = sandbox.exchange_code_with(&code, &verifier).await;
        assert_token_answer(answer, refusal, name);
    }
}

#[tokio::test]
async fn blocked_app_authorize_redirects_with_oauth_app_blocked() {
    let sandbox = spawn_sandbox().await;
    assert_eq!(sandbox.app_action("block", None).await.0, StatusCode::OK);
    let response = sandbox.authorize(&[]).await;
    assert_redirected_with_error(
        &response,
        "OAUTH_APP_BLOCKED",
        "this app is blocked by admin",
        None,
    );
}

#[tokio::test]
async fn immediate_without_auto_approve_redirects_with_immediate_unsuccessful() {
    let sandbox = spawn_interactive_sandbox().await;
    let response = sandbox
        .authorize(&[("immediate", "true"), ("state", "i")])
        .await;
    assert_redirected_with_error(
        &response,
        "immediate_unsuccessful",
        "immediate unsuccessful",
        Some("i"),
    );
}

#[tokio::test]
async fn unsupported_response_type_redirects_with_its_error() {
    let sandbox = spawn_sandbox().await;
    let response = sandbox.authorize(&[("response_type", "token")]).await;
    assert_redirected_with_error(
        &response,
        "unsupported_response_type",
        "response type not supported",
        None,
    );
}
