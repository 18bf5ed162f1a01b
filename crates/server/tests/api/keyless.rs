//! Connections without a refresh token: the JWT bearer grant (tether's key, a certificate
//! uploaded to the Connected App, pre-authorized users) and the client credentials grant (the
//! app's Run As user), made over HTTP alone and kept working by minting, never by a refresh
//! token that a policy could expire.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tether_sandbox::{DEFAULT_USERNAME, JWT_BEARER};

use crate::diagnosis::{create_user, step_titles};
use crate::helpers::{CLIENT_SECRET, TestApp, spawn_app};
use crate::probes::{
    Answer, INVALID_REQUEST, assert_problem_saying, assert_provider_error, problem_type,
};
use crate::support::{ACCOUNTS_QUERY, LIMITS, Says};

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

impl TestApp {
    /// `PUT /v1/connectors/{name}` of the test app with `fields`, without a consumer secret
    /// unless `fields` gives one.
    async fn put_grant_connector(&self, name: &str, fields: Value) -> Answer {
        let mut body = json!({"client_secret": null});
        if let (Some(obj), Some(extra)) = (body.as_object_mut(), fields.as_object()) {
            obj.extend(extra.clone());
        }
        self.put_connector_with(name, body).await
    }

    /// A `jwt_bearer` connector named `jwt`; its certificate.
    async fn jwt_connector(&self) -> String {
        let put = self
            .put_grant_connector("jwt", json!({"grant": "jwt_bearer"}))
            .await;
        assert_eq!(put.status, StatusCode::OK, "{}", put.text);
        put.json()["certificate_pem"].as_str().unwrap().to_owned()
    }

    /// The admin's Setup: the certificate under "Use digital signatures", and Permitted Users
    /// "Admin approved users are pre-authorized" with `approved` users.
    async fn upload_certificate(&self, certificate: &str, approved: &[&str]) {
        self.patch_app(
            json!({"certificate": certificate, "permitted_users": "admin_approved",
                              "approved_users": approved}),
        )
        .await;
    }

    /// `POST /v1/connections`.
    async fn create_connection(&self, body: Value) -> Answer {
        let request = self.api(Method::POST, "/v1/connections").json(&body);
        Answer::of(request.send().await.unwrap()).await
    }

    /// A connection of `connector` for `end_user`, made without a browser; its JSON.
    async fn minted_connection(&self, body: Value) -> Value {
        let made = self.create_connection(body).await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
        made.json()
    }

    /// Login-history rows of `grant_type`.
    async fn token_calls_of(&self, grant_type: &str) -> usize {
        let rows = self.login_history().await;
        rows.iter()
            .filter(|r| r["grant_type"] == grant_type)
            .count()
    }
}

fn problem_of(answer: &Answer, status: StatusCode, code: &str) -> Value {
    assert_eq!(answer.status, status, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["type"], problem_type(code), "{body:#}");
    body
}

/// `POST /v1/connections`, which Salesforce refuses: a 422 `provider-refused`; the problem.
async fn refused_connection(app: &TestApp, body: Value) -> Value {
    let refused = app.create_connection(body).await;
    problem_of(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "provider-refused",
    )
}

/// The body of `POST /v1/connections` connecting the sandbox's default user on `jwt`.
fn default_user_on_jwt() -> Value {
    json!({"connector": "jwt", "end_user_id": "u-1", "username": DEFAULT_USERNAME})
}

/// A JWT bearer connection of the default user, set up as an admin would.
async fn jwt_app() -> (TestApp, String) {
    let app = spawn_app().await;
    let certificate = app.jwt_connector().await;
    app.upload_certificate(&certificate, &[DEFAULT_USERNAME])
        .await;
    let made = app.minted_connection(default_user_on_jwt()).await;
    let id = made["id"].as_str().unwrap().to_owned();
    (app, id)
}

#[tokio::test]
async fn a_jwt_bearer_connector_answers_its_certificate_on_creation_and_every_get_but_not_on_edits()
{
    let app = spawn_app().await;
    let certificate = app.jwt_connector().await;
    assert!(
        certificate.starts_with("-----BEGIN CERTIFICATE-----"),
        "{certificate}"
    );
    let got = app.call(Method::GET, "/v1/connectors/jwt").await.json();
    assert_eq!(got["grant"], "jwt_bearer");
    assert_eq!(got["certificate_pem"], certificate.as_str());
    assert!(got.get("client_secret").is_none());

    let edited = app
        .put_grant_connector(
            "jwt",
            json!({"grant": "jwt_bearer", "session_timeout_seconds": 900,
                   "allowed_usernames": [DEFAULT_USERNAME]}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.text);
    assert!(
        edited.json().get("certificate_pem").is_none(),
        "{}",
        edited.text
    );
    let got = app.call(Method::GET, "/v1/connectors/jwt").await.json();
    assert_eq!(
        got["certificate_pem"],
        certificate.as_str(),
        "the key is kept"
    );
    assert_eq!(got["allowed_usernames"], json!([DEFAULT_USERNAME]));

    let switched = app
        .put_grant_connector("jwt", json!({"client_secret": CLIENT_SECRET}))
        .await;
    assert_eq!(switched.json()["grant"], "authorization_code");
    assert!(switched.json().get("certificate_pem").is_none());
    let back = app
        .put_grant_connector("jwt", json!({"grant": "jwt_bearer"}))
        .await;
    let new_certificate = back.json()["certificate_pem"].as_str().unwrap().to_owned();
    assert_ne!(
        new_certificate, certificate,
        "a grant change makes a new key pair"
    );
}

#[tokio::test]
async fn a_jwt_connection_made_over_http_alone_gets_working_tokens_after_100_days_of_immediately_expire()
 {
    let (app, id) = jwt_app().await;
    let connection = app.connection(&id).await;
    assert_eq!(connection["status"], "active");
    assert_eq!(connection["account"]["username"], DEFAULT_USERNAME);
    assert_eq!(connection["account"]["org_id"], "00D000000000001AAA");
    let first = app.working_token(&id).await;

    app.patch_app(json!({"refresh_token_policy": {"kind": "immediately"}}))
        .await;
    for _ in 0..10 {
        app.advance(10 * DAY).await;
        app.working_token(&id).await;
    }
    let later = app.connection(&id).await;
    assert_eq!(later["status"], "active");
    assert_eq!(later["status_reason"], Value::Null);
    assert_ne!(app.access_token(&id).await, first);
    let kinds = app.event_kinds(&id).await;
    assert!(
        kinds
            .iter()
            .all(|k| k != "kept_alive" && k != "lifetime_warning"),
        "{kinds:?}"
    );
    assert_eq!(kinds.last().map(String::as_str), Some("connected"));
}

#[tokio::test]
async fn three_hundred_callers_after_expiry_cause_one_jwt_token_call() {
    let (app, id) = jwt_app().await;
    let before = app.access_token(&id).await;
    app.advance(3 * HOUR).await;
    let calls = app.token_calls_of(JWT_BEARER).await;
    let app = Arc::new(app);
    let callers = (0..300).map(|_| {
        let (app, id) = (app.clone(), id.clone());
        tokio::spawn(async move { app.access_token(&id).await })
    });
    let tokens: Vec<String> = futures::future::join_all(callers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(tokens.iter().all(|t| *t == tokens[0] && *t != before));
    assert_eq!(app.token_calls_of(JWT_BEARER).await, calls + 1);
}

#[tokio::test]
async fn a_user_who_is_not_pre_authorized_is_refused_with_user_not_approved_and_its_steps() {
    let app = spawn_app().await;
    let certificate = app.jwt_connector().await;
    app.upload_certificate(&certificate, &[]).await;
    let body = refused_connection(&app, default_user_on_jwt()).await;
    assert_eq!(body["status_reason"], "user_not_approved");
    assert_provider_error(
        &body["diagnosis"],
        "invalid_grant",
        "user hasn't approved this consumer",
    );
    let titles = step_titles(&body["diagnosis"]);
    assert!(
        titles.contains(&"For the JWT bearer flow, pre-authorize the user".to_owned()),
        "{titles:?}"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("so no connection was made"),
        "{body:#}"
    );
    assert_eq!(app.connection_count().await, 0, "nothing stored");
}

#[tokio::test]
async fn a_certificate_that_does_not_match_is_refused_as_jwt_certificate_mismatch() {
    let app = spawn_app().await;
    app.jwt_connector().await;
    let other = tether_sandbox::jwt::test_keys().unwrap();
    app.upload_certificate(&other.certificate_pem, &[DEFAULT_USERNAME])
        .await;
    let body = refused_connection(&app, default_user_on_jwt()).await;
    assert_eq!(body["status_reason"], "jwt_certificate_mismatch");
    let titles = step_titles(&body["diagnosis"]);
    assert_eq!(
        titles[0],
        "Upload tether's certificate to the Connected App"
    );
    assert_eq!(app.connection_count().await, 0);
}

#[tokio::test]
async fn a_rotated_certificate_is_pending_until_activated_and_then_signs() {
    let (app, id) = jwt_app().await;
    let made = app
        .call(Method::POST, "/v1/connectors/jwt/certificate")
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    let pending = made.json()["pending_certificate_pem"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = app.call(Method::GET, "/v1/connectors/jwt").await.json();
    assert_eq!(got["pending_certificate_pem"], pending.as_str());
    // Until activated, tether signs with the key whose certificate Salesforce holds.
    app.advance(3 * HOUR).await;
    app.access_token(&id).await;

    app.upload_certificate(&pending, &[DEFAULT_USERNAME]).await;
    let activated = app
        .call(Method::POST, "/v1/connectors/jwt/certificate/activate")
        .await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    assert_eq!(activated.json()["certificate_pem"], pending.as_str());
    assert!(activated.json().get("pending_certificate_pem").is_none());
    app.advance(3 * HOUR).await;
    app.working_token(&id).await;
    let again = app
        .call(Method::POST, "/v1/connectors/jwt/certificate/activate")
        .await;
    problem_of(&again, StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn a_client_credentials_connection_runs_as_the_apps_user_and_works_through_the_proxy() {
    let app = spawn_app().await;
    create_user(&app, "integration@sandbox.example").await;
    app.patch_app(json!({"client_credentials_user": "integration@sandbox.example"}))
        .await;
    let put = app
        .put_grant_connector(
            "service",
            json!({"grant": "client_credentials", "client_secret": CLIENT_SECRET}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert!(put.json().get("certificate_pem").is_none());
    let made = app
        .minted_connection(json!({"connector": "service", "end_user_id": "backend"}))
        .await;
    assert_eq!(made["account"]["username"], "integration@sandbox.example");
    let id = made["id"].as_str().unwrap();
    let proxied = app
        .call(Method::GET, &format!("/v1/proxy/{id}/{ACCOUNTS_QUERY}"))
        .await;
    assert_eq!(proxied.status, StatusCode::OK, "{}", proxied.text);
    assert!(proxied.json()["totalSize"].as_i64().unwrap() > 0);
    app.advance(3 * HOUR).await;
    let again = app
        .call(Method::GET, &format!("/v1/proxy/{id}/{LIMITS}"))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(app.token_calls_of("client_credentials").await, 2);
}

#[tokio::test]
async fn a_client_credentials_app_without_a_run_as_user_is_refused_as_client_credentials_disabled()
{
    let app = spawn_app().await;
    app.put_grant_connector(
        "service",
        json!({"grant": "client_credentials", "client_secret": CLIENT_SECRET}),
    )
    .await;
    let service = json!({"connector": "service", "end_user_id": "backend"});
    let body = refused_connection(&app, service).await;
    assert_eq!(body["status_reason"], "client_credentials_disabled");
}

#[tokio::test]
async fn each_grant_refuses_the_way_of_connecting_that_belongs_to_another() {
    let app = spawn_app().await;
    app.jwt_connector().await;
    let client_credentials = json!({"grant": "client_credentials"});
    let usernames = json!({"client_secret": CLIENT_SECRET, "allowed_usernames": ["a@b.c"]});
    // (case, the refusal, what its 400 `invalid-request` says)
    let cases = [
        (
            "a connection without a browser on an authorization code connector",
            app.create_connection(json!({"connector": "salesforce", "end_user_id": "u-1"}))
                .await,
            Says::Containing("POST /v1/connect-sessions"),
        ),
        (
            "a connect session on a JWT bearer connector",
            Answer::of(
                app.create_connect_session(json!({"connector": "jwt", "end_user_id": "u-1"}))
                    .await,
            )
            .await,
            Says::Containing("POST /v1/connections"),
        ),
        (
            "a JWT bearer connection without a username",
            app.create_connection(json!({"connector": "jwt", "end_user_id": "u-1"}))
                .await,
            Says::Anything,
        ),
        (
            "a client credentials connector without a secret",
            app.put_grant_connector("service", client_credentials).await,
            Says::Exactly("client_secret is required for the client_credentials grant"),
        ),
        (
            "allowed_usernames on an authorization code connector",
            app.put_grant_connector("other", usernames).await,
            Says::Exactly("allowed_usernames applies only to the jwt_bearer grant"),
        ),
    ];
    for (case, refused, says) in cases {
        assert_problem_saying(case, &refused, INVALID_REQUEST, &says);
    }
}

#[tokio::test]
async fn allowed_usernames_limit_who_is_connected_and_one_end_user_has_one_connection() {
    let app = spawn_app().await;
    let put = app
        .put_grant_connector(
            "jwt",
            json!({"grant": "jwt_bearer", "allowed_usernames": [DEFAULT_USERNAME]}),
        )
        .await;
    let certificate = put.json()["certificate_pem"].as_str().unwrap().to_owned();
    app.upload_certificate(&certificate, &[DEFAULT_USERNAME])
        .await;
    let calls = app.token_calls_of(JWT_BEARER).await;
    let ceo = app
        .create_connection(
            json!({"connector": "jwt", "end_user_id": "u-2", "username": "ceo@sandbox.example"}),
        )
        .await;
    let body = problem_of(&ceo, StatusCode::BAD_REQUEST, "invalid-request");
    assert_eq!(
        body["detail"],
        "username \"ceo@sandbox.example\" is not in the allowed_usernames of connector \"jwt\""
    );
    assert_eq!(
        app.token_calls_of(JWT_BEARER).await,
        calls,
        "Salesforce is not asked"
    );
    app.minted_connection(default_user_on_jwt()).await;
    let twice = app.create_connection(default_user_on_jwt()).await;
    problem_of(&twice, StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn a_certificate_replaced_in_salesforce_degrades_the_connection_and_check_now_recovers_it() {
    let (app, id) = jwt_app().await;
    let ours = app.call(Method::GET, "/v1/connectors/jwt").await.json()["certificate_pem"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = tether_sandbox::jwt::test_keys().unwrap();
    app.upload_certificate(&other.certificate_pem, &[DEFAULT_USERNAME])
        .await;
    app.advance(3 * HOUR).await;
    let refused = app.token_answer(&id).await;
    let body = problem_of(
        &refused,
        StatusCode::SERVICE_UNAVAILABLE,
        "provider-unavailable",
    );
    assert_eq!(body["status_reason"], "jwt_certificate_mismatch");
    assert_eq!(app.connection(&id).await["status"], "degraded");

    app.upload_certificate(&ours, &[DEFAULT_USERNAME]).await;
    let checked = app.check(&id).await;
    assert_eq!(checked["status"], "active");
    assert_eq!(checked["status_reason"], Value::Null);
}
