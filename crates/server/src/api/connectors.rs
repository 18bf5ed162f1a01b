//! `/v1/connectors`: the app credentials a workspace registers with a provider.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tether_core::ids::ConnectorName;
use tether_core::refresh::Grant;
use tether_core::secret::ClientSecret;

use super::views::ConnectorView;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, CommonProblems, NOT_FOUND, NOT_JSON, problems};
use crate::extract::ApiJson;
use crate::service::connectors::{self as service, ConnectorSpec};
use crate::state::AppState;

/// The body of `PUT /v1/connectors/{name}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutConnector {
    /// `salesforce`.
    provider: String,
    /// `authorization_code` (default), `jwt_bearer` or `client_credentials`.
    #[serde(default)]
    #[schema(value_type = String, default = "authorization_code")]
    grant: Grant,
    /// The consumer key.
    client_id: String,
    /// The consumer secret; stored encrypted, never returned. Optional for `jwt_bearer`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    client_secret: Option<ClientSecret>,
    /// `jwt_bearer` only: the Salesforce usernames a connection may be made for.
    #[serde(default)]
    allowed_usernames: Option<Vec<String>>,
    /// An origin on an allowed provider host.
    #[serde(default = "default_login_url")]
    #[schema(default = "https://login.salesforce.com")]
    login_url: String,
    #[serde(default = "default_scopes")]
    #[schema(default = json!(["api", "refresh_token"]))]
    scopes: Vec<String>,
    /// The Connected App's session timeout, 1 to 31,622,400.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 31_622_400)]
    session_timeout_seconds: Option<i64>,
    /// `{"kind", "seconds"?, "idle_ttl_30d"?}`: what you know of the Refresh Token Policy.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    refresh_token_policy: Option<Value>,
}

/// `GET /v1/connectors`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectorList {
    connectors: Vec<ConnectorView>,
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

/// The connector name in the path.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NameParam {
    /// 1 to 64 lowercase letters, digits, `-` and `_`.
    #[allow(dead_code)] // documents the path; the handlers read it with `Path<String>`
    name: String,
}

fn parse_name(raw: &str) -> ApiResult<ConnectorName> {
    ConnectorName::parse(raw).map_err(|e| ApiError::InvalidRequest(e.to_string()))
}

problems! {
    /// What `PUT /v1/connectors/{name}` answers when it fails.
    PutProblems {
        400 => "`invalid-request`: a field to fix.",
        415 => NOT_JSON,
    }
}

/// `PUT /v1/connectors/{name}`.
#[utoipa::path(
    put,
    operation_id = "putConnector",
    path = "/v1/connectors/{name}",
    tag = "connectors",
    summary = "Create or replace a connector",
    params(NameParam),
    request_body = PutConnector,
    responses(
        (status = 200, description = "The connector.", body = ConnectorView),
        PutProblems,
    ),
)]
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

/// The answer of `POST /v1/connectors/{name}/certificate`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PendingCertificate {
    /// The certificate to upload to the Connected App ("Use digital signatures").
    pending_certificate_pem: String,
    /// Where to switch signing to it once uploaded.
    activate_url: String,
}

problems! {
    /// What `POST /v1/connectors/{name}/certificate` answers when it fails.
    NewCertificateProblems {
        400 => "`invalid-request`: not a JWT bearer connector.",
        404 => NOT_FOUND,
    }
}

/// `POST /v1/connectors/{name}/certificate`: a pending key pair for a JWT bearer connector,
/// whose certificate the admin uploads before activating it.
#[utoipa::path(
    post,
    operation_id = "newConnectorCertificate",
    path = "/v1/connectors/{name}/certificate",
    tag = "connectors",
    summary = "A pending key pair for a JWT bearer connector (certificate rotation, step 1)",
    params(NameParam),
    responses(
        (status = 201, description = "The pending certificate to upload.", body = PendingCertificate),
        NewCertificateProblems,
    ),
)]
pub async fn new_certificate(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(name): Path<String>,
) -> ApiResult<(StatusCode, Json<PendingCertificate>)> {
    let name = parse_name(&name)?;
    let certificate = service::new_certificate(&state, &ws, &name).await?;
    let activate_url = format!("/v1/connectors/{}/certificate/activate", name.as_str());
    Ok((
        StatusCode::CREATED,
        Json(PendingCertificate {
            pending_certificate_pem: certificate,
            activate_url,
        }),
    ))
}

problems! {
    /// What `POST /v1/connectors/{name}/certificate/activate` answers when it fails.
    ActivateCertificateProblems {
        400 => "`invalid-request`: no pending certificate.",
        404 => NOT_FOUND,
    }
}

/// `POST /v1/connectors/{name}/certificate/activate`: the connector signs with its pending
/// key from now on.
#[utoipa::path(
    post,
    operation_id = "activateConnectorCertificate",
    path = "/v1/connectors/{name}/certificate/activate",
    tag = "connectors",
    summary = "Sign with the pending key from now on (certificate rotation, step 2)",
    params(NameParam),
    responses(
        (status = 200, description = "The connector, with its new certificate.", body = ConnectorView),
        ActivateCertificateProblems,
    ),
)]
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

problems! {
    /// What `GET /v1/connectors/{name}` answers when it fails.
    GetProblems {
        400 => "`invalid-request`: not a connector name.",
        404 => NOT_FOUND,
    }
}

/// `GET /v1/connectors/{name}`.
#[utoipa::path(
    get,
    operation_id = "getConnector",
    path = "/v1/connectors/{name}",
    tag = "connectors",
    summary = "A connector, with the policy tether inferred",
    params(NameParam),
    responses(
        (status = 200, description = "The connector and its `inferred_policy`.", body = ConnectorView),
        GetProblems,
    ),
)]
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
#[utoipa::path(
    get,
    operation_id = "listConnectors",
    path = "/v1/connectors",
    tag = "connectors",
    summary = "The workspace's connectors, sorted by name",
    responses(
        (status = 200, description = "Every connector.", body = ConnectorList),
        CommonProblems,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(ws): Caller,
) -> ApiResult<Json<ConnectorList>> {
    let callback = state.settings.callback_url();
    let connectors: Vec<_> = service::list(&state, &ws)
        .await?
        .into_iter()
        .map(|c| ConnectorView::new(c, callback.clone()))
        .collect();
    Ok(Json(ConnectorList { connectors }))
}

problems! {
    /// What `DELETE /v1/connectors/{name}` answers when it fails.
    DeleteProblems {
        400 => "`invalid-request`: not a connector name.",
        404 => NOT_FOUND,
        409 => "`conflict`: connections still use it.",
    }
}

/// `DELETE /v1/connectors/{name}`; refused while a connection still uses the connector.
#[utoipa::path(
    delete,
    operation_id = "deleteConnector",
    path = "/v1/connectors/{name}",
    tag = "connectors",
    summary = "Delete a connector no live connection uses",
    params(NameParam),
    responses(
        (status = 204, description = "Deleted."),
        DeleteProblems,
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let name = parse_name(&name)?;
    service::delete(&state, &ws, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
