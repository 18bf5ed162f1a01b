//! `/v1/connectors`: the app credentials a workspace registers with a provider.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use tether_core::ids::ConnectorName;
use tether_core::refresh::Grant;
use tether_core::secret::ClientSecret;

use super::views::ConnectorView;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::service::connectors::{self as service, ConnectorSpec};
use crate::state::AppState;

/// The body of `PUT /v1/connectors/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutConnector {
    provider: String,
    #[serde(default)]
    grant: Grant,
    client_id: String,
    #[serde(default)]
    client_secret: Option<ClientSecret>,
    #[serde(default)]
    allowed_usernames: Option<Vec<String>>,
    #[serde(default = "default_login_url")]
    login_url: String,
    #[serde(default = "default_scopes")]
    scopes: Vec<String>,
    #[serde(default)]
    session_timeout_seconds: Option<i64>,
    #[serde(default)]
    refresh_token_policy: Option<Value>,
}

fn default_login_url() -> String {
    "https://login.salesforce.com".to_owned()
}

fn default_scopes() -> Vec<String> {
    vec!["api".to_owned(), "refresh_token".to_owned()]
}

impl From<PutConnector> for ConnectorSpec {
    fn from(body: PutConnector) -> Self {
        ConnectorSpec {
            provider: body.provider,
            grant: body.grant,
            client_id: body.client_id,
            client_secret: body.client_secret,
            allowed_usernames: body.allowed_usernames,
            login_url: body.login_url,
            scopes: body.scopes,
            session_timeout_seconds: body.session_timeout_seconds,
            refresh_token_policy: body.refresh_token_policy,
        }
    }
}

fn parse_name(raw: &str) -> ApiResult<ConnectorName> {
    ConnectorName::parse(raw).map_err(|e| ApiError::InvalidRequest(e.to_string()))
}

/// `PUT /v1/connectors/{name}`.
pub async fn put(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<PutConnector>,
) -> ApiResult<Json<ConnectorView>> {
    let name = parse_name(&name)?;
    let saved = service::put(&state, &ws, &name, body.into()).await?;
    let view = ConnectorView::new(saved.connector, state.settings.callback_url());
    // The certificate is news only when it was just made; GET always shows it.
    Ok(Json(if saved.certificate_issued {
        view
    } else {
        view.without_certificate()
    }))
}

/// `POST /v1/connectors/{name}/certificate`: a pending key pair for a JWT bearer connector,
/// whose certificate the admin uploads before activating it.
pub async fn new_certificate(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(name): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = parse_name(&name)?;
    let certificate = service::new_certificate(&state, &ws, &name).await?;
    let activate = format!("/v1/connectors/{}/certificate/activate", name.as_str());
    Ok((
        StatusCode::CREATED,
        Json(json!({"pending_certificate_pem": certificate, "activate_url": activate})),
    ))
}

/// `POST /v1/connectors/{name}/certificate/activate`: the connector signs with its pending
/// key from now on.
pub async fn activate_certificate(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<ConnectorView>> {
    let name = parse_name(&name)?;
    let connector = service::activate_certificate(&state, &ws, &name).await?;
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
    let connector = service::get(&state, &ws, &name).await?;
    let inferred = service::inferred_policy(&state, &connector).await?;
    let view = ConnectorView::new(connector, state.settings.callback_url());
    Ok(Json(view.with_inferred(inferred)))
}

/// `GET /v1/connectors`.
pub async fn list(State(state): State<AppState>, Caller(ws): Caller) -> ApiResult<Json<Value>> {
    let callback = state.settings.callback_url();
    let connectors: Vec<_> = service::list(&state, &ws)
        .await?
        .into_iter()
        .map(|c| ConnectorView::new(c, callback.clone()))
        .collect();
    Ok(Json(json!({ "connectors": connectors })))
}

/// `DELETE /v1/connectors/{name}`; refused while a connection still uses the connector.
pub async fn delete(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let name = parse_name(&name)?;
    service::delete(&state, &ws, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
