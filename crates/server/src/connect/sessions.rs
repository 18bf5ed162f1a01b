//! `POST /v1/connect-sessions`, `POST /v1/connections/{id}/reconnect`, and `GET /connect/{id}`
//! which sends the browser to the provider.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tether_core::ids::{ConnectSessionId, ConnectionId, ConnectorName, EndUserId, WorkspaceId};
use tether_oauth::pkce::{Pkce, challenge_of};
use tether_store::ConnectSession;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, OptionalJson};
use crate::pages::ResultPage;
use crate::state::AppState;
use crate::tokens::TokenError;

/// A connect URL stays usable this long.
pub const SESSION_TTL: Duration = Duration::minutes(15);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    connector: ConnectorName,
    end_user_id: EndUserId,
    #[serde(default)]
    redirect_to: Option<String>,
    /// Prefills the provider's login form.
    #[serde(default)]
    login_hint: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconnectRequest {
    #[serde(default)]
    redirect_to: Option<String>,
    /// Accept a different Salesforce user or org than the connection had.
    #[serde(default)]
    allow_different_account: bool,
}

/// The answer of both endpoints.
#[derive(Debug, Serialize)]
pub struct ConnectSessionCreated {
    id: ConnectSessionId,
    connect_url: String,
    expires_at: DateTime<Utc>,
}

impl ConnectSessionCreated {
    /// Where to send the browser to start the flow.
    pub fn connect_url(&self) -> &str {
        &self.connect_url
    }
}

/// `POST /v1/connect-sessions`.
pub async fn create_session(
    State(state): State<AppState>,
    Caller(ws): Caller,
    ApiJson(body): ApiJson<CreateSession>,
) -> ApiResult<(StatusCode, axum::Json<ConnectSessionCreated>)> {
    let plan = SessionPlan {
        connector: body.connector,
        end_user_id: body.end_user_id,
        redirect_to: body.redirect_to,
        reconnect_of: None,
        allow_different_account: false,
    };
    let (status, axum::Json(mut created)) = start(&state, &ws, plan).await?;
    if let Some(hint) = body.login_hint {
        let mut url = url::Url::parse(&created.connect_url)
            .map_err(|e| ApiError::Internal(format!("connect url: {e}")))?;
        url.query_pairs_mut().append_pair("login_hint", &hint);
        created.connect_url = url.into();
    }
    Ok((status, axum::Json(created)))
}

/// `POST /v1/connections/{id}/reconnect`.
pub async fn reconnect(
    State(state): State<AppState>,
    Caller(ws): Caller,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<ReconnectRequest>,
) -> ApiResult<(StatusCode, axum::Json<ConnectSessionCreated>)> {
    let id = ConnectionId::parse(&id).map_err(|_| ApiError::NotFound("connection".into()))?;
    let connection = state
        .store
        .get_connection(&ws, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound("connection".into()))?;
    let plan = SessionPlan {
        connector: connection.connector,
        end_user_id: connection.end_user_id,
        redirect_to: body.redirect_to,
        reconnect_of: Some(id),
        allow_different_account: body.allow_different_account,
    };
    start(&state, &ws, plan).await
}

/// What a connect session is for; the connectors page builds these too.
pub(crate) struct SessionPlan {
    pub(crate) connector: ConnectorName,
    pub(crate) end_user_id: EndUserId,
    pub(crate) redirect_to: Option<String>,
    pub(crate) reconnect_of: Option<ConnectionId>,
    pub(crate) allow_different_account: bool,
}

/// Stores a connect session for `plan` and answers its connect URL; shared by the API and the
/// connectors page's Connect and Reconnect buttons.
pub(crate) async fn start(
    state: &AppState,
    ws: &WorkspaceId,
    plan: SessionPlan,
) -> ApiResult<(StatusCode, axum::Json<ConnectSessionCreated>)> {
    if let Some(url) = &plan.redirect_to {
        validate_redirect(url)?;
    }
    if state
        .store
        .get_connector(ws, &plan.connector)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound(format!(
            "connector {:?}",
            plan.connector.as_str()
        )));
    }
    let now = state.clock.now();
    let id = ConnectSessionId::generate();
    let session = ConnectSession {
        state_sha256: crate::connect::StateSigner::fingerprint(&state.signer.sign(&id)),
        id: id.clone(),
        workspace_id: ws.clone(),
        connector: plan.connector,
        end_user_id: plan.end_user_id,
        redirect_to: plan.redirect_to,
        pkce_verifier: Pkce::generate().verifier,
        reconnect_of: plan.reconnect_of,
        allow_different_account: plan.allow_different_account,
        created_at: now,
        expires_at: now + SESSION_TTL,
    };
    state.store.insert_connect_session(&session).await?;
    let created = ConnectSessionCreated {
        connect_url: state.settings.url(&format!("/connect/{id}")),
        id,
        expires_at: session.expires_at,
    };
    Ok((StatusCode::CREATED, axum::Json(created)))
}

fn validate_redirect(raw: &str) -> ApiResult<()> {
    let url = url::Url::parse(raw).map_err(|_| {
        ApiError::InvalidRequest(format!("redirect_to {raw:?} is not an absolute URL"))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ApiError::InvalidRequest(
            "redirect_to must be an http or https URL".into(),
        ));
    }
    Ok(())
}

/// `GET /connect/{id}`: redirects the browser to the provider's authorize page.
pub async fn open_connect_url(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<ConnectQuery>,
) -> Response {
    match authorize_redirect(&state, &id, query.login_hint.as_deref()).await {
        Ok(url) => Redirect::to(url.as_str()).into_response(),
        Err(page) => page,
    }
}

/// Query of `GET /connect/{id}`.
#[derive(Debug, Default, Deserialize)]
pub struct ConnectQuery {
    /// Passed on to the provider's login form.
    login_hint: Option<String>,
}

async fn authorize_redirect(
    state: &AppState,
    raw_id: &str,
    login_hint: Option<&str>,
) -> Result<url::Url, Response> {
    let unusable = |msg: &str| {
        ResultPage::failure("This connect link cannot be used", msg, None)
            .with_status(StatusCode::BAD_REQUEST)
    };
    let id = ConnectSessionId::parse(raw_id)
        .map_err(|_| unusable("The link is not a tether connect link."))?;
    let session = match state.store.get_connect_session(&id).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(unusable(
                "This connect link is unknown. Ask the app for a new one.",
            ));
        }
        Err(err) => return Err(internal(&err.to_string())),
    };
    if session.expires_at <= state.clock.now() {
        return Err(unusable(
            "This connect link has expired (links last 15 minutes). Ask the app for a new one.",
        ));
    }
    let connector = match state
        .store
        .get_connector(&session.workspace_id, &session.connector)
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => return Err(unusable("The connector of this link was deleted.")),
        Err(err) => return Err(internal(&err.to_string())),
    };
    let app = crate::tokens::provider_app(&connector).map_err(|e| match e {
        TokenError::Internal(msg) => internal(&msg),
        _ => internal("connector unusable"),
    })?;
    let challenge = challenge_of(session.pkce_verifier.expose());
    state
        .oauth
        .authorize_url(
            &app,
            &state.settings.callback_url(),
            &state.signer.sign(&id),
            &challenge,
            login_hint,
        )
        .map_err(|e| internal(&e.to_string()))
}

fn internal(msg: &str) -> Response {
    tracing::error!(error = msg, "connect link failed");
    ResultPage::failure(
        "Something went wrong",
        "tether could not start the connection. Try again.",
        None,
    )
    .with_status(StatusCode::INTERNAL_SERVER_ERROR)
}
