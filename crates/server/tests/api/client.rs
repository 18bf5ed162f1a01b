//! `tether-client` against a real tether: every call of the client works, its errors are the
//! problems tether answered, and its types hold every field of the server's real answers (read
//! and written back, each answer is the same JSON).

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tether_client::types::{
    Connection, ConnectionPage, Connector, ConnectorList, CreateConnectSession, EventPage,
    ImportConnection, ListConnections, PutConnector, Reconnect, Token, TokenRequest,
};
use tether_client::{Client, Error};
use tether_core::ids::{ConnectionId, ConnectorName, EndUserId};
use tether_core::secret::{ClientSecret, RefreshToken};
use tether_core::status::ConnectionStatus;

use crate::helpers::{CLIENT_ID, CLIENT_SECRET, TestApp, spawn_app};

fn client(app: &TestApp) -> Client {
    Client::new(&app.tether.base, &app.api_key).unwrap()
}

/// The server's answer to `method path`, read into the client's `T` and written back: the
/// same JSON, so the type lost, renamed or invented nothing.
async fn round_trip<T: DeserializeOwned + Serialize>(app: &TestApp, method: Method, path: &str) {
    let answer = app.api(method.clone(), path).send().await.unwrap();
    assert!(
        answer.status().is_success(),
        "{method} {path}: {}",
        answer.status()
    );
    let raw: Value = answer.json().await.unwrap();
    let typed: T = serde_json::from_value(raw.clone())
        .unwrap_or_else(|e| panic!("{method} {path}: the client cannot read {raw}: {e}"));
    assert_eq!(
        serde_json::to_value(&typed).unwrap(),
        raw,
        "{method} {path}"
    );
}

#[tokio::test]
async fn the_clients_types_read_and_write_back_every_answer_of_the_server_unchanged() {
    let app = spawn_app().await;
    let id = app.connect().await;
    app.token(&id).await;
    let one = format!("/v1/connections/{id}");
    round_trip::<ConnectorList>(&app, Method::GET, "/v1/connectors").await;
    round_trip::<Connector>(&app, Method::GET, "/v1/connectors/salesforce").await;
    round_trip::<ConnectionPage>(&app, Method::GET, "/v1/connections").await;
    round_trip::<Connection>(&app, Method::GET, &one).await;
    round_trip::<Token>(&app, Method::POST, &format!("{one}/token")).await;
    round_trip::<EventPage>(&app, Method::GET, &format!("{one}/events")).await;

    // An expired connection carries a diagnosis.
    app.sandbox_post(&format!("/_sandbox/apps/{CLIENT_ID}/revoke"), json!({}))
        .await;
    let forced = app.force_refresh(&id).await;
    assert_eq!(forced.status(), StatusCode::CONFLICT);
    round_trip::<Connection>(&app, Method::GET, &one).await;
    round_trip::<EventPage>(&app, Method::GET, &format!("{one}/events")).await;
}

#[tokio::test]
async fn every_call_of_the_client_works_against_tether() {
    let app = spawn_app().await;
    let tether = client(&app);
    let salesforce = ConnectorName::parse("salesforce").unwrap();
    let other = ConnectorName::parse("other").unwrap();

    let put = PutConnector {
        provider: "salesforce".into(),
        client_id: CLIENT_ID.into(),
        client_secret: ClientSecret::new(CLIENT_SECRET),
        login_url: Some(app.sandbox_base.clone()),
        scopes: None,
        session_timeout_seconds: Some(3600),
        refresh_token_policy: Some(json!({"kind": "idle", "seconds": 86400})),
    };
    let created = tether.put_connector(&other, &put).await.unwrap();
    assert_eq!(created.session_timeout_seconds, Some(3600));
    assert_eq!(created.scopes, ["api", "refresh_token"]);
    let names: Vec<_> = tether.list_connectors().await.unwrap();
    assert_eq!(
        names.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["other", "salesforce"]
    );
    let read = tether.get_connector(&other).await.unwrap();
    assert_eq!(read.inferred_policy, Some(Value::Null));
    tether.delete_connector(&other).await.unwrap();

    let session = tether
        .create_connect_session(&CreateConnectSession {
            connector: salesforce.clone(),
            end_user_id: EndUserId::parse("u-7").unwrap(),
            redirect_to: Some("https://app.example/done".into()),
            login_hint: None,
        })
        .await
        .unwrap();
    assert!(session.connect_url.ends_with(session.id.as_str()));

    let id = ConnectionId::parse(&app.connect().await).unwrap();
    app.connect_as("u-2", None).await;
    let query = ListConnections {
        limit: Some(1),
        ..ListConnections::default()
    };
    let all = tether.list_all_connections(&query).await.unwrap();
    assert_eq!(all.len(), 2, "both pages of one");
    let connection = tether.get_connection(&id).await.unwrap();
    assert_eq!(connection.status, ConnectionStatus::Active);
    let token = tether.token(&id, TokenRequest::Current).await.unwrap();
    assert_eq!(token.token_type, "Bearer");
    let forced = tether.token(&id, TokenRequest::ForceRefresh).await.unwrap();
    assert_ne!(forced.access_token, token.access_token);
    let replaced = tether
        .token(&id, TokenRequest::Rejected(token.access_token.clone()))
        .await
        .unwrap();
    assert_eq!(
        replaced.access_token, forced.access_token,
        "already replaced"
    );
    let checked = tether.check(&id).await.unwrap();
    assert_eq!(checked.status, ConnectionStatus::Active);
    let history = tether.events(&id, Some(2), None).await.unwrap();
    assert_eq!(history.events.len(), 2);
    let older = tether
        .events(&id, Some(2), history.next_cursor.as_deref())
        .await
        .unwrap();
    assert_ne!(older.events[0].id, history.events[0].id);
    let renewal = tether.reconnect(&id, &Reconnect::default()).await.unwrap();
    assert!(renewal.connect_url.contains("/connect/"));

    tether.delete_connection(&id).await.unwrap();
    let gone = tether.token(&id, TokenRequest::Current).await.unwrap_err();
    let problem = gone.problem().expect("a problem document");
    assert_eq!((problem.status, problem.code()), (409, "conflict"));
    assert_eq!(
        problem.detail,
        "the connection was disconnected; create a new one"
    );
}

#[tokio::test]
async fn the_clients_error_is_the_problem_tether_answered_with_its_diagnosis() {
    let app = spawn_app().await;
    let tether = client(&app);
    let refused = tether
        .import_connection(&ImportConnection {
            connector: ConnectorName::parse("salesforce").unwrap(),
            end_user_id: EndUserId::parse("u-refused").unwrap(),
            refresh_token: RefreshToken::new("5Aep861-not-a-token"),
            instance_url: app.sandbox_base.clone(),
        })
        .await
        .unwrap_err();
    let problem = refused.problem().expect("a problem document");
    assert_eq!((problem.status, problem.code()), (422, "provider-refused"));
    assert!(problem.status_reason.is_some());
    assert!(problem.diagnosis.is_some());

    let unknown = ConnectionId::parse("conn_ZZZZZZZZZZZZZZZZZZZZ").unwrap();
    let missing = tether.get_connection(&unknown).await.unwrap_err();
    assert_eq!(
        missing.to_string(),
        "tether answered 404 not-found: connection not found"
    );

    let stranger = Client::new(&app.tether.base, "tk_nope_nope").unwrap();
    let refused = stranger.list_connectors().await.unwrap_err();
    assert_eq!(refused.problem().map(|p| p.status), Some(401));

    let nobody = Client::new("http://127.0.0.1:9", "tk_x_y").unwrap();
    assert!(matches!(
        nobody.list_connectors().await,
        Err(Error::Transport { .. })
    ));
}
