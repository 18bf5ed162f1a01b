//! The provider host allowlist end to end: a connector's `login_url` must be a Salesforce
//! host or listed in `extra_provider_hosts`; a token answer naming another `instance_url` is
//! refused and never stored; and the proxy sends nothing to an `instance_url` outside the list
//! (a connection stored before the list, or by a tether configured differently).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{CLIENT_ID, CLIENT_SECRET, TestApp, Tether, spawn_app};
use crate::probes::{Answer, assert_invalid_request_of, assert_problem};

const QUERY: &str = "services/data/v64.0/query?q=SELECT+Id+FROM+Account";

fn refused_login_url(url: &str) -> String {
    format!(
        "login_url {url:?} is not a Salesforce login host (https on login.salesforce.com, test.salesforce.com or a *.my.salesforce.com My Domain); other hosts must be listed in the setting extra_provider_hosts"
    )
}

async fn call_on(app: &TestApp, tether: &Tether, method: Method, path: &str) -> Answer {
    let request = app.api_on(&tether.base, method, path);
    Answer::of(request.send().await.unwrap()).await
}

/// The sandbox's port, reached under the name `localhost` instead of `127.0.0.1`.
fn sandbox_as_localhost(app: &TestApp) -> (String, String) {
    let url = url::Url::parse(&app.sandbox_base).unwrap();
    let host = format!("localhost:{}", url.port().unwrap());
    (format!("http://{host}"), host)
}

#[tokio::test]
async fn a_connector_login_url_outside_the_provider_hosts_answers_400_naming_the_setting() {
    let app = spawn_app().await;
    for url in [
        "http://169.254.169.254",
        "https://evilsalesforce.com",
        "https://login.salesforce.com.evil.com",
        "https://user@login.salesforce.com",
        "http://login.salesforce.com",
    ] {
        let answer = app
            .put_connector_with("elsewhere", json!({ "login_url": url }))
            .await;
        assert_invalid_request_of(url, &answer, &refused_login_url(url));
    }
    let answer = app.call(Method::GET, "/v1/connectors/elsewhere").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text);
}

#[tokio::test]
async fn salesforce_login_hosts_and_listed_extra_hosts_are_accepted_as_login_urls() {
    let app = spawn_app().await;
    for url in [
        "https://login.salesforce.com",
        "https://test.salesforce.com",
        "https://acme.my.salesforce.com",
        "https://acme--dev.sandbox.my.salesforce.com",
        app.sandbox_base.as_str(),
    ] {
        let answer = app
            .put_connector_with("other", json!({ "login_url": url }))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{url}: {}", answer.text);
        assert_eq!(answer.json()["login_url"], url);
    }
}

#[tokio::test]
async fn a_refresh_answer_naming_an_instance_url_outside_the_list_is_refused_and_not_stored() {
    let app = spawn_app().await;
    let id = app.connect().await;
    // A tether that reaches the sandbox as `localhost` only: the sandbox's answers name
    // `127.0.0.1` as instance_url, which this tether does not allow.
    let (login_url, host) = sandbox_as_localhost(&app);
    let other = app.second_tether_allowing(&[host]).await;
    let body = json!({
        "provider": "salesforce",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "login_url": login_url,
    });
    let put = app
        .api_on(&other.base, Method::PUT, "/v1/connectors/salesforce")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let calls = app.refresh_calls().await;

    let path = format!("/v1/connections/{id}/token?force_refresh=true");
    let answer = call_on(&app, &other, Method::POST, &path).await;

    assert_eq!(app.refresh_calls().await, calls + 1, "the refresh was sent");
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.text
    );
    let connection = app.connection(&id).await;
    assert_eq!(connection["account"]["instance_url"], app.sandbox_base);
    let events = app.events(&id).await;
    assert_eq!(events[0]["outcome"], "failure", "{events:?}");
}

#[tokio::test]
async fn the_proxy_sends_nothing_to_an_instance_url_outside_the_list_and_answers_502() {
    let app = spawn_app().await;
    let id = app.connect().await;
    app.access_token(&id).await;
    let strict = app.second_tether_allowing(&[]).await;
    let stats = app.sandbox_get("/_sandbox/stats").await;

    let path = format!("/v1/proxy/{id}/{QUERY}");
    let answer = call_on(&app, &strict, Method::GET, &path).await;

    assert_problem(
        &answer,
        StatusCode::BAD_GATEWAY,
        "provider-host-not-allowed",
        "Provider host not allowed",
        "the connection's instance_url host \"127.0.0.1\" is not an allowed provider host (setting extra_provider_hosts); tether did not send the request",
    );
    assert_eq!(app.sandbox_get("/_sandbox/stats").await, stats);
}
