//! The client's host allowlist against a one-shot local provider double.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// Serves `body` as a 200 JSON answer to one request; returns the base URL.
async fn one_answer(body: String) -> Url {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut buf = vec![0_u8; 16 * 1024];
        let _ = socket.read(&mut buf).await;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = socket.write_all(answer.as_bytes()).await;
    });
    Url::parse(&format!("http://{addr}")).unwrap_or_else(|e| panic!("{e}"))
}

fn token_body(instance_url: &str) -> String {
    serde_json::json!({
        "access_token": "00D!AQ",
        "refresh_token": "5Aep",
        "instance_url": instance_url,
        "id": "https://login.salesforce.com/id/00D000000000001AAA/005000000000001AAA",
        "issued_at": "1800000000123",
    })
    .to_string()
}

fn client_allowing(login: &Url) -> OAuthClient {
    let entry = format!(
        "{}:{}",
        login.host_str().unwrap_or_default(),
        login.port().unwrap_or_default()
    );
    let hosts = ProviderHosts::new([entry]).unwrap_or_else(|e| panic!("{e}"));
    OAuthClient::new(HttpSettings::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .with_provider_hosts(hosts)
}

fn app(login_url: Url) -> ProviderApp {
    ProviderApp {
        login_url,
        client_id: "id".into(),
        client_secret: Some(ClientSecret::new("secret")),
        scopes: vec![],
    }
}

/// The client a test refreshes with, made for the double's login URL.
type ClientFor = fn(&Url) -> OAuthClient;

/// A refresh with the client `client_for` makes for the double's URL, the double answering
/// tokens whose instance is `instance_url`.
async fn refresh_answered_with(
    instance_url: &str,
    client_for: ClientFor,
) -> Result<TokenResponse, OAuthError> {
    let login = one_answer(token_body(instance_url)).await;
    client_for(&login)
        .refresh(&app(login), &RefreshToken::new("5Aep"))
        .await
}

/// What the client says of a `what` (`login_url`, `instance_url`) whose host is not allowed.
fn refused_host(what: &str, host: &str) -> String {
    format!("{what} host {host:?} is not an allowed provider host (setting extra_provider_hosts)")
}

/// A client with Salesforce's hosts only.
fn salesforce_only(_: &Url) -> OAuthClient {
    OAuthClient::new(HttpSettings::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_refresh_touching_a_host_outside_the_allowlist_fails_naming_the_host() {
    // (claim, the instance_url the double answers, the client, the error)
    let cases: [(&str, &str, ClientFor, OAuthError); 2] = [
        (
            "an answer naming a metadata instance_url is an invalid response",
            "http://169.254.169.254",
            client_allowing,
            OAuthError::InvalidResponse(refused_host("instance_url", "169.254.169.254")),
        ),
        (
            "no secret is sent to a login_url outside the allowlist",
            "https://na1.salesforce.com",
            salesforce_only,
            OAuthError::InvalidUrl(refused_host("login_url", "127.0.0.1")),
        ),
    ];
    for (claim, instance_url, client_for, error) in cases {
        let answer = refresh_answered_with(instance_url, client_for).await;
        assert_eq!(answer.err(), Some(error), "{claim}");
    }
}

#[tokio::test]
async fn a_refresh_answer_naming_an_allowed_instance_url_is_accepted() {
    let tokens = refresh_answered_with("https://na1.salesforce.com", client_allowing)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        tokens.instance_url.as_ref().map(Url::as_str),
        Some("https://na1.salesforce.com/")
    );
}

#[tokio::test]
async fn a_code_exchange_answer_naming_a_disallowed_instance_url_is_an_invalid_response() {
    let login = one_answer(token_body("https://evil.example")).await;
    let client = client_allowing(&login);
    let verifier = PkceVerifier::new("v".repeat(64));
    let refused = refused_host("instance_url", "evil.example");
    let answer = client
        .exchange_code(&app(login), "code", "https://tether.example/cb", &verifier)
        .await;
    assert_eq!(answer.err(), Some(OAuthError::InvalidResponse(refused)));
}
