//! The JSON bodies of tether's `/v1` API (docs/api.md), typed. Every response type also
//! serializes back to the same JSON, which the server's tests check against its real answers
//! (`crates/server/tests/api/client.rs`), so a field the server adds or renames cannot go
//! unnoticed here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use tether_core::cause::Cause;
use tether_core::diagnosis::Diagnosis;
use tether_core::event::{EventKind, Outcome};
use tether_core::ids::{ConnectSessionId, ConnectionId, ConnectorName, EndUserId, EventId};
use tether_core::instance::InstanceUrl;
use tether_core::refresh::ProviderError;
use tether_core::secret::{AccessToken, ClientSecret, RefreshToken};
use tether_core::status::ConnectionStatus;

/// A connector: a provider and the app credentials a workspace registered with it. The
/// client secret is never returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connector {
    pub name: ConnectorName,
    pub provider: String,
    /// `authorization_code`, `jwt_bearer` or `client_credentials`.
    pub grant: String,
    pub client_id: String,
    /// JWT bearer only: who may be connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_usernames: Option<Vec<String>>,
    pub login_url: String,
    pub scopes: Vec<String>,
    pub session_timeout_seconds: Option<i64>,
    /// The declared refresh-token policy (`kind`, `seconds`, `idle_ttl_30d`), as it was put.
    pub refresh_token_policy: Option<Value>,
    /// The URL to register as the Connected App's callback URL.
    pub callback_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Only on `GET /v1/connectors/{name}`: the policy tether read off the connector's
    /// connections (`Some(Value::Null)` when none fits yet).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub inferred_policy: Option<Value>,
    /// JWT bearer: the certificate to upload to the Connected App.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_pem: Option<String>,
    /// JWT bearer: the certificate of a rotation's pending key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_certificate_pem: Option<String>,
}

/// `GET /v1/connectors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorList {
    pub connectors: Vec<Connector>,
}

/// The body of `PUT /v1/connectors/{name}`; a put replaces the connector entirely.
#[derive(Debug, Clone, Serialize)]
pub struct PutConnector {
    pub provider: String,
    pub client_id: String,
    #[serde(serialize_with = "client_secret")]
    pub client_secret: ClientSecret,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_timeout_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_policy: Option<Value>,
}

/// The body of `POST /v1/connect-sessions`.
#[derive(Debug, Clone, Serialize)]
pub struct CreateConnectSession {
    pub connector: ConnectorName,
    pub end_user_id: EndUserId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_hint: Option<String>,
}

/// The optional body of `POST /v1/connections/{id}/reconnect`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reconnect {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_to: Option<String>,
    /// Accept a different Salesforce user or org than the connection had.
    pub allow_different_account: bool,
}

/// The answer of `POST /v1/connect-sessions` and of a reconnect: where to send the browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectSession {
    pub id: ConnectSessionId,
    pub connect_url: String,
    pub expires_at: DateTime<Utc>,
}

/// The provider account a connection signed in as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub instance_url: InstanceUrl,
    pub org_id: String,
    pub user_id: String,
    pub username: String,
}

/// A connection (docs/api.md, "The connection object").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub id: ConnectionId,
    pub connector: ConnectorName,
    pub provider: String,
    pub end_user_id: EndUserId,
    pub status: ConnectionStatus,
    pub status_reason: Option<Cause>,
    pub diagnosis: Option<Diagnosis>,
    pub account: Account,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_refreshed_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub access_token_expires_at: Option<DateTime<Utc>>,
    /// Only on `GET /v1/connections/{id}` with `proxy_host_suffix` set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_instance_url: Option<String>,
}

/// One page of `GET /v1/connections`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionPage {
    pub connections: Vec<Connection>,
    /// Pass as `cursor` for the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

/// Filters and paging of `GET /v1/connections`; `Default` lists the first page of all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListConnections {
    pub status: Option<ConnectionStatus>,
    pub connector: Option<ConnectorName>,
    pub end_user_id: Option<EndUserId>,
    /// 1 to 1,000; the server's default (100) when `None`.
    pub limit: Option<u16>,
    pub cursor: Option<String>,
}

impl ListConnections {
    /// The query string, filters first.
    pub fn query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(status) = self.status {
            query.append_pair("status", status.as_str());
        }
        if let Some(connector) = &self.connector {
            query.append_pair("connector", connector.as_str());
        }
        if let Some(end_user) = &self.end_user_id {
            query.append_pair("end_user_id", end_user.as_str());
        }
        if let Some(limit) = self.limit {
            query.append_pair("limit", &limit.to_string());
        }
        if let Some(cursor) = &self.cursor {
            query.append_pair("cursor", cursor);
        }
        query.finish()
    }
}

/// The body of `POST /v1/connections/import`.
#[derive(Debug, Clone, Serialize)]
pub struct ImportConnection {
    pub connector: ConnectorName,
    pub end_user_id: EndUserId,
    #[serde(serialize_with = "refresh_token")]
    pub refresh_token: RefreshToken,
    pub instance_url: String,
}

/// What the token endpoint is asked for.
#[derive(Debug, Clone, Default)]
pub enum TokenRequest {
    /// A token tether believes valid (refreshed first when needed).
    #[default]
    Current,
    /// Salesforce refused this token: refresh unless it was already replaced.
    Rejected(AccessToken),
    /// A new token now (joining a refresh in flight).
    ForceRefresh,
}

/// The token endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub access_token: AccessToken,
    /// Always `Bearer`.
    pub token_type: String,
    pub instance_url: InstanceUrl,
    pub expires_at: DateTime<Utc>,
}

/// One entry of a connection's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    pub outcome: Outcome,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_error: Option<ProviderError>,
}

/// One page of `GET /v1/connections/{id}/events`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub next_cursor: Option<String>,
}

/// A field that is there, `null` included (absent is `None` by `default`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn client_secret<S: Serializer>(secret: &ClientSecret, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose())
}

fn refresh_token<S: Serializer>(token: &RefreshToken, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(token.expose())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_query_sends_the_filters_that_are_set_encoded_then_the_paging() {
        let query = ListConnections {
            status: Some(ConnectionStatus::Expired),
            connector: None,
            end_user_id: EndUserId::parse("u 1&2").ok(),
            limit: Some(2),
            cursor: Some("c/1=".to_owned()),
        };
        assert_eq!(
            query.query(),
            "status=expired&end_user_id=u+1%262&limit=2&cursor=c%2F1%3D"
        );
        assert_eq!(ListConnections::default().query(), "");
    }

    #[test]
    fn request_bodies_carry_their_secrets_and_leave_out_what_is_unset() {
        let put = PutConnector {
            provider: "salesforce".to_owned(),
            client_id: "3MVG9".to_owned(),
            client_secret: ClientSecret::new("s3cret"),
            login_url: None,
            scopes: None,
            session_timeout_seconds: None,
            refresh_token_policy: None,
        };
        assert_eq!(
            serde_json::to_value(&put).unwrap_or_default(),
            serde_json::json!({"provider": "salesforce", "client_id": "3MVG9", "client_secret": "s3cret"})
        );
        assert!(!format!("{put:?}").contains("s3cret"));
    }
}
