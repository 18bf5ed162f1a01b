//! Connectors: the app credentials a workspace registers with a provider. A [`ConnectorSpec`]
//! is what the API's JSON and the page's form both become; it is checked here once (provider,
//! credentials, login host on the allowlist, hints within their documented ranges), so no
//! hint can later overflow a deadline.

use serde_json::{Map, Value};
use tether_core::diagnosis::inference::InferredPolicy;
use tether_core::ids::{ConnectorName, WorkspaceId};
use tether_core::secret::ClientSecret;
use tether_store::{Connector, ConnectorDeletion, ConnectorInput};

use super::{ServiceError, ServiceResult};
use crate::state::AppState;

/// The longest `session_timeout_seconds` accepted: one year (Salesforce's longest is 24 h).
pub const MAX_SESSION_TIMEOUT_SECONDS: i64 = 366 * 86_400;
/// The longest refresh-token policy duration accepted: ten years.
pub const MAX_POLICY_SECONDS: i64 = 10 * 366 * 86_400;

/// A connector as a caller describes it, before it is checked.
#[derive(Debug, Clone)]
pub struct ConnectorSpec {
    pub provider: String,
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub login_url: String,
    pub scopes: Vec<String>,
    pub session_timeout_seconds: Option<i64>,
    pub refresh_token_policy: Option<Value>,
}

impl ConnectorSpec {
    /// The connector to store; every refusal says what to fix. The login URL must be an
    /// allowed provider host, since tether sends it secrets.
    pub fn validate(self, hosts: &tether_oauth::ProviderHosts) -> ServiceResult<ConnectorInput> {
        let invalid = |msg: String| Err(ServiceError::Invalid(msg));
        if self.provider != "salesforce" {
            return invalid(format!(
                "provider {:?} is not supported; supported: \"salesforce\"",
                self.provider
            ));
        }
        if self.client_id.trim().is_empty() || self.client_secret.expose().trim().is_empty() {
            return invalid("client_id and client_secret must not be empty".into());
        }
        let login = url::Url::parse(&self.login_url).ok().filter(|u| {
            matches!(u.scheme(), "https" | "http") && u.host().is_some() && u.path() == "/"
        });
        let Some(login) = login else {
            return invalid(format!(
                "login_url {:?} must be an origin such as https://login.salesforce.com",
                self.login_url
            ));
        };
        if !hosts.allows(&login) {
            return invalid(format!(
                "login_url {:?} is not a Salesforce login host (https on login.salesforce.com, test.salesforce.com or a *.my.salesforce.com My Domain); other hosts must be listed in the setting extra_provider_hosts",
                self.login_url
            ));
        }
        if let Some(secs) = self.session_timeout_seconds {
            check_seconds("session_timeout_seconds", secs, MAX_SESSION_TIMEOUT_SECONDS)?;
        }
        if let Some(policy) = &self.refresh_token_policy {
            check_policy(policy)?;
        }
        Ok(ConnectorInput {
            provider: self.provider,
            client_id: self.client_id,
            client_secret: self.client_secret,
            login_url: self.login_url.trim_end_matches('/').to_owned(),
            scopes: self.scopes,
            session_timeout_seconds: self.session_timeout_seconds,
            refresh_token_policy: self.refresh_token_policy,
        })
    }
}

fn check_seconds(what: &str, secs: i64, max: i64) -> ServiceResult<()> {
    if (1..=max).contains(&secs) {
        return Ok(());
    }
    Err(ServiceError::Invalid(format!(
        "{what} must be between 1 and {max} seconds; got {secs}"
    )))
}

/// `refresh_token_policy`: `{"kind": "until_revoked" | "immediately" | "idle" | "lifetime",
/// "seconds": N (idle and lifetime only, whole seconds), "idle_ttl_30d": bool}`.
fn check_policy(policy: &Value) -> ServiceResult<()> {
    let invalid = |msg: &str| Err(ServiceError::Invalid(format!("refresh_token_policy {msg}")));
    let Some(fields) = policy.as_object() else {
        return invalid("must be an object such as {\"kind\": \"idle\", \"seconds\": 86400}");
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !["kind", "seconds", "idle_ttl_30d"].contains(&k.as_str()))
    {
        return invalid(&format!(
            "has an unknown field {unknown:?} (known: kind, seconds, idle_ttl_30d)"
        ));
    }
    if fields.get("idle_ttl_30d").is_some_and(|v| !v.is_boolean()) {
        return invalid("idle_ttl_30d must be true or false");
    }
    match fields.get("kind").and_then(Value::as_str) {
        Some("until_revoked" | "immediately") => no_seconds(fields),
        Some("idle" | "lifetime") => match fields.get("seconds").map(Value::as_i64) {
            Some(Some(secs)) => {
                check_seconds("refresh_token_policy.seconds", secs, MAX_POLICY_SECONDS)
            }
            _ => invalid("seconds must be a whole number of seconds for kind idle or lifetime"),
        },
        _ => invalid("kind must be one of until_revoked, immediately, idle, lifetime"),
    }
}

fn no_seconds(fields: &Map<String, Value>) -> ServiceResult<()> {
    if fields.contains_key("seconds") {
        return Err(ServiceError::Invalid(
            "refresh_token_policy seconds applies only to kind idle or lifetime".into(),
        ));
    }
    Ok(())
}

/// Creates or replaces connector `name`.
pub async fn put(
    state: &AppState,
    ws: &WorkspaceId,
    name: &ConnectorName,
    spec: ConnectorSpec,
) -> ServiceResult<Connector> {
    let input = spec.validate(&state.settings.provider_hosts)?;
    let connector = state
        .store
        .upsert_connector(ws, name, &input, state.clock.now())
        .await?;
    // Degraded connections may recover now, and the keep-alive interval may have changed.
    state.tokens.wake_scheduler();
    Ok(connector)
}

/// Connector `name`, if the workspace has it.
pub async fn find(
    state: &AppState,
    ws: &WorkspaceId,
    name: &ConnectorName,
) -> ServiceResult<Option<Connector>> {
    Ok(state.store.get_connector(ws, name).await?)
}

/// Connector `name`, or not found.
pub async fn get(
    state: &AppState,
    ws: &WorkspaceId,
    name: &ConnectorName,
) -> ServiceResult<Connector> {
    find(state, ws, name)
        .await?
        .ok_or_else(|| ServiceError::not_found(format!("connector {:?}", name.as_str())))
}

/// The policy tether has inferred for the connector's Connected App, if any: read off the
/// connector's evidence record (what its connections' refresh tokens survived and died of).
pub async fn inferred_policy(
    state: &AppState,
    connector: &Connector,
) -> ServiceResult<Option<InferredPolicy>> {
    let evidence = state
        .store
        .connector_evidence(&connector.workspace_id, &connector.name)
        .await?;
    Ok(evidence.infer())
}

/// The workspace's connectors, by name.
pub async fn list(state: &AppState, ws: &WorkspaceId) -> ServiceResult<Vec<Connector>> {
    Ok(state.store.list_connectors(ws).await?)
}

/// Deletes connector `name`; refused while a connection that is not disconnected uses it
/// (its token requests would fail without the app credentials).
pub async fn delete(state: &AppState, ws: &WorkspaceId, name: &ConnectorName) -> ServiceResult<()> {
    match state.store.delete_connector(ws, name).await? {
        ConnectorDeletion::Deleted => Ok(()),
        ConnectorDeletion::NotFound => Err(ServiceError::not_found(format!(
            "connector {:?}",
            name.as_str()
        ))),
        ConnectorDeletion::InUse(n) => {
            let noun = if n == 1 { "connection" } else { "connections" };
            Err(ServiceError::Conflict(format!(
                "connector {} still has {n} {noun}; delete or disconnect them first",
                name.as_str()
            )))
        }
    }
}
