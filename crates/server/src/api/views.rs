//! The JSON shapes of api.md, built from store records. No view has a field for a secret.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tether_core::cause::Cause;
use tether_core::diagnosis::Diagnosis;
use tether_core::diagnosis::inference::InferredPolicy;
use tether_core::event::{EventKind, Outcome};
use tether_core::instance::InstanceUrl;
use tether_core::refresh::{Grant, ProviderError};
use tether_store::{Connection, Connector, Event};

/// A connector (docs/api.md, "Connectors"); the client secret is never in it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectorView {
    name: String,
    provider: String,
    /// `authorization_code`, `jwt_bearer` or `client_credentials`.
    #[schema(value_type = String)]
    grant: Grant,
    client_id: String,
    /// JWT bearer only: who may be connected (`null`: anyone the app pre-authorizes).
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_usernames: Option<Vec<String>>,
    login_url: String,
    scopes: Vec<String>,
    session_timeout_seconds: Option<i64>,
    #[schema(value_type = Option<Object>)]
    refresh_token_policy: Option<Value>,
    /// Register this URL as the Connected App's callback URL.
    callback_url: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// What tether read off the connector's expired connections (only on a single GET).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<InferredPolicy>, nullable)]
    inferred_policy: Option<Value>,
    /// JWT bearer: the certificate of the key tether signs with, for the Connected App.
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate_pem: Option<String>,
    /// JWT bearer: the certificate of a rotation's pending key, until it is activated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_certificate_pem: Option<String>,
}

impl ConnectorView {
    /// Adds the inferred policy, described in the words of the Setup screen.
    pub fn with_inferred(
        mut self,
        inferred: Option<tether_core::diagnosis::inference::InferredPolicy>,
    ) -> Self {
        self.inferred_policy = Some(match inferred {
            Some(policy) => {
                let mut value = serde_json::to_value(policy).unwrap_or(Value::Null);
                if let Some(obj) = value.as_object_mut() {
                    obj.insert("description".into(), Value::String(policy.describe()));
                }
                value
            }
            None => Value::Null,
        });
        self
    }

    /// The same view without the certificates (a `PUT` that made no new key).
    pub fn without_certificate(mut self) -> Self {
        self.certificate_pem = None;
        self.pending_certificate_pem = None;
        self
    }

    pub fn new(c: Connector, callback_url: String) -> Self {
        Self {
            name: c.name.to_string(),
            provider: c.input.provider,
            grant: c.input.grant,
            allowed_usernames: c
                .input
                .allowed_usernames
                .filter(|_| c.input.grant == Grant::JwtBearer),
            certificate_pem: c.keys.active.map(|k| k.certificate_pem),
            pending_certificate_pem: c.keys.pending.map(|k| k.certificate_pem),
            client_id: c.input.client_id,
            login_url: c.input.login_url,
            scopes: c.input.scopes,
            session_timeout_seconds: c.input.session_timeout_seconds,
            refresh_token_policy: c.input.refresh_token_policy,
            callback_url,
            created_at: c.created_at,
            updated_at: c.updated_at,
            inferred_policy: None,
        }
    }
}

/// The provider account a connection signed in as.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    #[schema(value_type = String)]
    instance_url: InstanceUrl,
    org_id: String,
    user_id: String,
    username: String,
}

/// A connection (docs/api.md, "The connection object").
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionView {
    #[schema(example = "conn_noBeoWeXyeo1rz06dC7K")]
    id: String,
    connector: String,
    provider: String,
    end_user_id: String,
    #[schema(value_type = tether_core::status::ConnectionStatus)]
    status: &'static str,
    status_reason: Option<Cause>,
    diagnosis: Option<Diagnosis>,
    account: AccountView,
    scopes: Vec<String>,
    created_at: DateTime<Utc>,
    last_refreshed_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    access_token_expires_at: Option<DateTime<Utc>>,
    /// The connection's own host name for Salesforce clients (only with `proxy_host_suffix`).
    #[serde(skip_serializing_if = "Option::is_none")]
    proxy_instance_url: Option<String>,
}

impl ConnectionView {
    /// Adds the `instance_url` that host-routed Salesforce clients use.
    pub fn with_proxy_instance_url(mut self, url: Option<String>) -> Self {
        self.proxy_instance_url = url;
        self
    }
}

impl From<Connection> for ConnectionView {
    fn from(c: Connection) -> Self {
        Self {
            id: c.id.to_string(),
            connector: c.connector.to_string(),
            provider: c.provider,
            end_user_id: c.end_user_id.to_string(),
            status: c.status.as_str(),
            status_reason: c.status_reason,
            diagnosis: c.diagnosis,
            account: AccountView {
                instance_url: c.account.instance_url,
                org_id: c.account.org_id,
                user_id: c.account.user_id,
                username: c.account.username,
            },
            scopes: c.scopes,
            created_at: c.created_at,
            last_refreshed_at: c.last_refreshed_at,
            last_used_at: c.last_used_at,
            access_token_expires_at: c.access_token_expires_at,
            proxy_instance_url: None,
        }
    }
}

/// One entry of a connection's history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    id: String,
    at: DateTime<Utc>,
    kind: EventKind,
    outcome: Outcome,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_error: Option<ProviderError>,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        Self {
            id: e.id.to_string(),
            at: e.event.at,
            kind: e.event.kind,
            outcome: e.event.outcome,
            detail: e.event.detail,
            provider_error: e.event.provider_error,
        }
    }
}
