//! Connectors: the app credentials a workspace registers with a provider. A [`ConnectorSpec`]
//! is what the API's JSON and the page's form both become; it is checked here once (provider,
//! grant, credentials, login host on the allowlist, hints within their documented ranges), so
//! no hint can later overflow a deadline.
//!
//! A JWT bearer connector gets an RSA key pair the first time it is one (created with that
//! grant, or switched to it) and keeps it across every other change; its certificate is
//! rotated in two steps (a pending pair, then its activation once the admin uploaded it),
//! since a Connected App holds one certificate at a time.

use serde_json::{Map, Value};
use tether_core::diagnosis::inference::InferredPolicy;
use tether_core::ids::{ConnectorName, WorkspaceId};
use tether_core::refresh::Grant;
use tether_core::secret::ClientSecret;
use tether_store::{Connector, ConnectorDeletion, ConnectorInput, JwtKeyPair};

use super::{ServiceError, ServiceResult};
use crate::state::AppState;
use crate::tokens::TokenError;

/// The longest `session_timeout_seconds` accepted: one year (Salesforce's longest is 24 h).
pub const MAX_SESSION_TIMEOUT_SECONDS: i64 = 366 * 86_400;
/// The longest refresh-token policy duration accepted: ten years.
pub const MAX_POLICY_SECONDS: i64 = 10 * 366 * 86_400;

/// A connector as a caller describes it, before it is checked.
#[derive(Debug, Clone)]
pub struct ConnectorSpec {
    pub provider: String,
    pub grant: Grant,
    pub client_id: String,
    /// Required except for the JWT bearer grant.
    pub client_secret: Option<ClientSecret>,
    /// JWT bearer only.
    pub allowed_usernames: Option<Vec<String>>,
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
        if self.client_id.trim().is_empty() {
            return invalid("client_id must not be empty".into());
        }
        let blank_secret = self
            .client_secret
            .as_ref()
            .is_some_and(|s| s.expose().trim().is_empty());
        match (self.grant, &self.client_secret) {
            (_, Some(_)) if blank_secret => {
                return invalid(
                    "client_secret must not be empty (leave it out if the grant needs none)".into(),
                );
            }
            (Grant::AuthorizationCode | Grant::ClientCredentials, None) => {
                return invalid(format!(
                    "client_secret is required for the {} grant",
                    self.grant
                ));
            }
            _ => {}
        }
        check_allowed_usernames(self.grant, self.allowed_usernames.as_deref())?;
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
            grant: self.grant,
            client_id: self.client_id,
            client_secret: self.client_secret,
            allowed_usernames: self.allowed_usernames,
            login_url: self.login_url.trim_end_matches('/').to_owned(),
            scopes: self.scopes,
            session_timeout_seconds: self.session_timeout_seconds,
            refresh_token_policy: self.refresh_token_policy,
        })
    }
}

/// `allowed_usernames`: JWT bearer only, and then a list of at least one username.
fn check_allowed_usernames(grant: Grant, usernames: Option<&[String]>) -> ServiceResult<()> {
    let Some(usernames) = usernames else {
        return Ok(());
    };
    let invalid = |msg: &str| Err(ServiceError::Invalid(format!("allowed_usernames {msg}")));
    if grant != Grant::JwtBearer {
        return invalid("applies only to the jwt_bearer grant");
    }
    if usernames.is_empty() {
        return invalid(
            "must name at least one username, or be left out to allow every user the Connected App pre-authorizes",
        );
    }
    if usernames
        .iter()
        .any(|u| u.trim().is_empty() || u.trim() != u)
    {
        return invalid("must not hold empty usernames or spaces around them");
    }
    Ok(())
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

/// A connector as saved.
#[derive(Debug)]
pub struct Saved {
    pub connector: Connector,
    /// A JWT bearer connector was made, or switched to that grant: its certificate is new
    /// and must be uploaded to the Connected App.
    pub certificate_issued: bool,
}

/// Creates or replaces connector `name`. A connector that becomes a JWT bearer connector
/// gets a new key pair; one that stays one keeps its own.
pub async fn put(
    state: &AppState,
    ws: &WorkspaceId,
    name: &ConnectorName,
    spec: ConnectorSpec,
) -> ServiceResult<Saved> {
    let input = spec.validate(&state.settings.provider_hosts)?;
    let has_key = |c: &Connector| c.input.grant == Grant::JwtBearer && c.keys.active.is_some();
    let before = find(state, ws, name).await?;
    let mut key = None;
    if input.grant == Grant::JwtBearer && !before.as_ref().is_some_and(has_key) {
        key = Some(new_key(state, ws, name).await?);
    }
    loop {
        let connector = state
            .store
            .put_connector(ws, name, &input, key.as_ref(), state.clock.now())
            .await?;
        // A concurrent change took the key this one meant to keep: make one after all.
        if input.grant == Grant::JwtBearer && !has_key(&connector) && key.is_none() {
            key = Some(new_key(state, ws, name).await?);
            continue;
        }
        let active = connector.keys.active.as_ref().map(|k| &k.certificate_pem);
        let certificate_issued = key.is_some_and(|k| active == Some(&k.certificate_pem));
        // Degraded connections may recover now, and the keep-alive interval may have changed.
        state.tokens.wake_scheduler();
        return Ok(Saved {
            connector,
            certificate_issued,
        });
    }
}

/// A new key pair for connector `name`, made on a blocking thread (an RSA key takes a
/// fraction of a second of CPU).
async fn new_key(
    state: &AppState,
    ws: &WorkspaceId,
    name: &ConnectorName,
) -> ServiceResult<JwtKeyPair> {
    let common_name = format!("tether {ws}/{name}");
    let now = state.clock.now();
    let made = tokio::task::spawn_blocking(move || tether_oauth::jwt::generate(&common_name, now))
        .await
        .map_err(|_| TokenError::RefreshTaskFailed)?
        .map_err(TokenError::Signing)?;
    let (private_key, certificate_pem) = made;
    Ok(JwtKeyPair {
        private_key,
        certificate_pem,
    })
}

/// Connector `name` if it is a JWT bearer connector; a conflict naming its grant otherwise.
async fn jwt_connector(
    state: &AppState,
    ws: &WorkspaceId,
    name: &ConnectorName,
) -> ServiceResult<Connector> {
    let connector = get(state, ws, name).await?;
    if connector.input.grant != Grant::JwtBearer {
        return Err(ServiceError::Conflict(format!(
            "connector {} uses the {} grant; certificates belong to jwt_bearer connectors",
            name.as_str(),
            connector.input.grant
        )));
    }
    Ok(connector)
}

/// Step one of a certificate rotation: a new pending key pair for JWT bearer connector
/// `name` (replacing an earlier pending one); its certificate, to upload to the Connected
/// App. The connector keeps signing with its current key.
pub async fn new_certificate(
    state: &AppState,
    ws: &WorkspaceId,
    name: &ConnectorName,
) -> ServiceResult<String> {
    jwt_connector(state, ws, name).await?;
    let key = new_key(state, ws, name).await?;
    let saved = state
        .store
        .set_pending_jwt_key(ws, name, &key, state.clock.now())
        .await?;
    saved.ok_or_else(|| {
        ServiceError::Conflict(format!(
            "connector {} changed meanwhile; try again",
            name.as_str()
        ))
    })?;
    Ok(key.certificate_pem)
}

/// Step two: JWT bearer connector `name` signs with its pending key from now on (the old
/// key is erased). A change of the connector: connections it degraded are tried again.
pub async fn activate_certificate(
    state: &AppState,
    ws: &WorkspaceId,
    name: &ConnectorName,
) -> ServiceResult<Connector> {
    jwt_connector(state, ws, name).await?;
    let activated = state
        .store
        .activate_pending_jwt_key(ws, name, state.clock.now())
        .await?;
    activated.ok_or_else(|| {
        ServiceError::Conflict(format!(
            "connector {} has no pending certificate: POST /v1/connectors/{}/certificate makes one",
            name.as_str(),
            name.as_str()
        ))
    })
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
