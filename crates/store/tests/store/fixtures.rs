//! Shared test data: a fixed clock origin, and builders for every record the store keeps.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tether_core::ids::{
    ConnectSessionId, ConnectionId, ConnectorName, EndUserId, WorkspaceId, WorkspaceName,
};
use tether_core::secret::{AccessToken, ClientSecret, PkceVerifier, RefreshToken};
use tether_store::{
    Account, ConnectSession, Connection, ConnectorInput, NewConnection, Store, TokenSet,
};

/// A fixed instant with millisecond precision (what the store keeps).
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_700_000_000_123).unwrap()
}

/// `t0` plus `seconds`.
pub fn at(seconds: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(seconds)
}

pub async fn workspace(store: &Arc<dyn Store>, name: &str) -> WorkspaceId {
    let name = WorkspaceName::parse(name).unwrap();
    store.ensure_workspace(&name, t0()).await.unwrap().id
}

pub fn connector_name(name: &str) -> ConnectorName {
    ConnectorName::parse(name).unwrap()
}

pub fn end_user(id: &str) -> EndUserId {
    EndUserId::parse(id).unwrap()
}

pub fn connector_input(secret: &str) -> ConnectorInput {
    ConnectorInput {
        provider: "salesforce".to_owned(),
        client_id: "3MVG9-client".to_owned(),
        client_secret: ClientSecret::new(secret),
        login_url: "https://login.salesforce.com".to_owned(),
        scopes: vec!["api".to_owned(), "refresh_token".to_owned()],
        session_timeout_seconds: Some(7200),
        refresh_token_policy: Some(serde_json::json!({"kind": "valid_until_revoked"})),
    }
}

pub fn account() -> Account {
    Account {
        instance_url: "https://na1.example.my.salesforce.com".to_owned(),
        org_id: "00D000000000001".to_owned(),
        user_id: "005000000000001".to_owned(),
        username: "ada@example.com".to_owned(),
    }
}

/// Tokens issued at `issued`, valid two hours, refreshed after 100 minutes.
pub fn tokens(access: &str, refresh: Option<&str>, issued: DateTime<Utc>) -> TokenSet {
    TokenSet {
        access_token: AccessToken::new(access),
        refresh_token: refresh.map(RefreshToken::new),
        issued_at: issued,
        expires_at: issued + Duration::hours(2),
        refresh_at: issued + Duration::minutes(100),
        instance_url: account().instance_url,
    }
}

pub fn new_connection(workspace: &WorkspaceId, connector: &str, user: &str) -> NewConnection {
    NewConnection {
        id: ConnectionId::generate(),
        workspace_id: workspace.clone(),
        connector: connector_name(connector),
        provider: "salesforce".to_owned(),
        end_user_id: end_user(user),
        account: account(),
        scopes: vec!["api".to_owned(), "refresh_token".to_owned()],
        tokens: tokens("access-1", Some("refresh-1"), t0()),
        created_at: t0(),
    }
}

/// Inserts a fresh connection of `workspace` (connector `salesforce`, end user `u-1`).
pub async fn connection(store: &Arc<dyn Store>, workspace: &WorkspaceId) -> Connection {
    store
        .insert_connection(&new_connection(workspace, "salesforce", "u-1"))
        .await
        .unwrap()
}

pub fn session(workspace: &WorkspaceId, state: u8, expires: DateTime<Utc>) -> ConnectSession {
    ConnectSession {
        id: ConnectSessionId::generate(),
        workspace_id: workspace.clone(),
        connector: connector_name("salesforce"),
        end_user_id: end_user("u-1"),
        redirect_to: Some("https://app.example/done".to_owned()),
        state_sha256: [state; 32],
        pkce_verifier: PkceVerifier::new(format!("verifier-{state}")),
        reconnect_of: None,
        allow_different_account: false,
        created_at: t0(),
        expires_at: expires,
    }
}
