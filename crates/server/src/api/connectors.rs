//! `/v1/connectors`: the app credentials a workspace registers with a provider.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use tether_core::ids::{ConnectorName, WorkspaceId};
use tether_core::secret::ClientSecret;
use tether_core::status::ConnectionStatus;
use tether_oauth::ProviderHosts;
use tether_store::{ConnectionFilter, ConnectorInput};

use super::views::ConnectorView;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::AppState;

/// The body of `PUT /v1/connectors/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutConnector {
    pub(crate) provider: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: ClientSecret,
    #[serde(default = "default_login_url")]
    pub(crate) login_url: String,
    #[serde(default = "default_scopes")]
    pub(crate) scopes: Vec<String>,
    #[serde(default)]
    pub(crate) session_timeout_seconds: Option<i64>,
    #[serde(default)]
    pub(crate) refresh_token_policy: Option<Value>,
}

fn default_login_url() -> String {
    "https://login.salesforce.com".to_owned()
}

fn default_scopes() -> Vec<String> {
    vec!["api".to_owned(), "refresh_token".to_owned()]
}

fn parse_name(raw: &str) -> ApiResult<ConnectorName> {
    ConnectorName::parse(raw).map_err(|e| ApiError::InvalidRequest(e.to_string()))
}

impl PutConnector {
    /// Checks the connector the same way for the API and the connectors page's form; the
    /// login URL must be an allowed provider host (`hosts`), since tether sends it secrets.
    pub(crate) fn validate(self, hosts: &ProviderHosts) -> ApiResult<ConnectorInput> {
        if self.provider != "salesforce" {
            return Err(ApiError::InvalidRequest(format!(
                "provider {:?} is not supported; supported: \"salesforce\"",
                self.provider
            )));
        }
        if self.client_id.trim().is_empty() || self.client_secret.expose().trim().is_empty() {
            return Err(ApiError::InvalidRequest(
                "client_id and client_secret must not be empty".into(),
            ));
        }
        let login = url::Url::parse(&self.login_url).ok().filter(|u| {
            matches!(u.scheme(), "https" | "http") && u.host().is_some() && u.path() == "/"
        });
        let Some(login) = login else {
            return Err(ApiError::InvalidRequest(format!(
                "login_url {:?} must be an origin such as https://login.salesforce.com",
                self.login_url
            )));
        };
        if !hosts.allows(&login) {
            return Err(ApiError::InvalidRequest(format!(
                "login_url {:?} is not a Salesforce login host (https on login.salesforce.com, test.salesforce.com or a *.my.salesforce.com My Domain); other hosts must be listed in the setting extra_provider_hosts",
                self.login_url
            )));
        }
        if let Some(secs) = self.session_timeout_seconds
            && secs <= 0
        {
            return Err(ApiError::InvalidRequest(
                "session_timeout_seconds must be positive".into(),
            ));
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

/// `PUT /v1/connectors/{name}`.
pub async fn put(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<PutConnector>,
) -> ApiResult<Json<ConnectorView>> {
    let name = parse_name(&name)?;
    let input = body.validate(&state.settings.provider_hosts)?;
    let connector = state
        .store
        .upsert_connector(&ws, &name, &input, state.clock.now())
        .await?;
    Ok(Json(ConnectorView::new(
        connector,
        state.settings.callback_url(),
    )))
}

/// `GET /v1/connectors/{name}`.
pub async fn get(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<ConnectorView>> {
    let name = parse_name(&name)?;
    let connector = state
        .store
        .get_connector(&ws, &name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("connector {:?}", name.as_str())))?;
    let inferred = crate::diagnosis::inferred_policy(state.store.as_ref(), &connector).await?;
    let view = ConnectorView::new(connector, state.settings.callback_url());
    Ok(Json(view.with_inferred(inferred)))
}

/// `GET /v1/connectors`.
pub async fn list(State(state): State<AppState>, Caller(ws): Caller) -> ApiResult<Json<Value>> {
    let callback = state.settings.callback_url();
    let connectors: Vec<_> = state
        .store
        .list_connectors(&ws)
        .await?
        .into_iter()
        .map(|c| ConnectorView::new(c, callback.clone()))
        .collect();
    Ok(Json(json!({ "connectors": connectors })))
}

/// `DELETE /v1/connectors/{name}`; refused while a connection still uses the connector (its
/// token requests would fail without the app credentials).
pub async fn delete(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let name = parse_name(&name)?;
    let in_use = connections_in_use(&state, &ws, &name).await?;
    if in_use > 0 {
        let noun = if in_use == 1 {
            "connection"
        } else {
            "connections"
        };
        return Err(ApiError::Conflict(format!(
            "connector {} still has {in_use} {noun}; delete or disconnect them first",
            name.as_str()
        )));
    }
    if state.store.delete_connector(&ws, &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("connector {:?}", name.as_str())))
    }
}

/// How many connections of `name` are not disconnected.
async fn connections_in_use(
    state: &AppState,
    ws: &WorkspaceId,
    name: &ConnectorName,
) -> ApiResult<usize> {
    let filter = ConnectionFilter {
        connector: Some(name.clone()),
        ..ConnectionFilter::default()
    };
    let connections = state.store.list_connections(ws, &filter).await?;
    Ok(connections
        .iter()
        .filter(|c| c.status != ConnectionStatus::Disconnected)
        .count())
}
