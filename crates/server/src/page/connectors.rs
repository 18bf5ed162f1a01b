//! The connector pages: the list with the callback URL to paste into Salesforce, the add / edit
//! form (consumer key and secret, login host, scopes, policy hints), and Connect an account.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tether_core::ids::{ConnectorName, EndUserId};
use tether_core::secret::ClientSecret;
use tether_store::Connector;

use super::connector_form::{ConnectorForm, fields_of};
use super::error::PageError;
use super::render::{chrome, notice_text, render};
use super::session::Session;
use super::views::{ConnectorFields, ConnectorPage, ConnectorRow, ConnectorsPage};
use crate::service::connect::{SessionPlan, start};
use crate::service::connectors as service;
use crate::state::AppState;

/// `GET /connectors`.
pub async fn list(State(state): State<AppState>, session: Session) -> Result<Response, PageError> {
    let ws = &session.workspace;
    let counts = crate::service::connections::counts(&state, ws).await?;
    let connectors = service::list(&state, ws)
        .await?
        .into_iter()
        .map(|c| ConnectorRow {
            connections: counts
                .iter()
                .filter(|x| x.connector == c.name)
                .map(|x| x.count)
                .sum(),
            name: c.name.to_string(),
            grant: c.input.grant.as_str().to_owned(),
            client_id: c.input.client_id,
            login_url: c.input.login_url,
            scopes: c.input.scopes.join(" "),
        })
        .collect();
    let page = ConnectorsPage {
        chrome: chrome(&session, "Connectors", "connectors"),
        callback_url: state.settings.callback_url(),
        connectors,
        webhooks: super::webhooks::rows(&state, ws).await?,
    };
    Ok(render(StatusCode::OK, &page))
}

/// `GET /connectors/new`.
pub async fn new_form(State(state): State<AppState>, session: Session) -> Response {
    let fields = ConnectorFields {
        grant: "authorization_code".to_owned(),
        login_host: "production".to_owned(),
        scopes: "api refresh_token".to_owned(),
        policy_kind: "none".to_owned(),
        ..ConnectorFields::default()
    };
    form_page(&state, &session, fields, Shown::default(), StatusCode::OK)
}

/// `GET /connectors/{name}`: the edit form.
pub async fn edit_form(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Query(query): Query<EditQuery>,
) -> Result<Response, PageError> {
    let connector = find(&state, &session, &name).await?;
    let inferred = service::inferred_policy(&state, &connector)
        .await?
        .map(|p| p.describe());
    let shown = Shown {
        editing: true,
        inferred_policy: inferred,
        error: None,
        notice: notice_text(query.notice.as_deref()),
        certificate_pem: connector
            .keys
            .active
            .as_ref()
            .map(|k| k.certificate_pem.clone()),
        pending_certificate_pem: connector
            .keys
            .pending
            .as_ref()
            .map(|k| k.certificate_pem.clone()),
    };
    Ok(form_page(
        &state,
        &session,
        fields_of(&connector),
        shown,
        StatusCode::OK,
    ))
}

async fn find(state: &AppState, session: &Session, raw: &str) -> Result<Connector, PageError> {
    let missing = || PageError::NotFound("connector".into());
    let name = ConnectorName::parse(raw).map_err(|_| missing())?;
    service::find(state, &session.workspace, &name)
        .await?
        .ok_or_else(missing)
}

/// What the form shows besides its fields.
#[derive(Debug, Default)]
struct Shown {
    editing: bool,
    inferred_policy: Option<String>,
    error: Option<String>,
    notice: Option<String>,
    certificate_pem: Option<String>,
    pending_certificate_pem: Option<String>,
}

fn form_page(
    state: &AppState,
    session: &Session,
    fields: ConnectorFields,
    shown: Shown,
    status: StatusCode,
) -> Response {
    let title = if shown.editing {
        format!("Connector {}", fields.name)
    } else {
        "Add a connector".to_owned()
    };
    let mut page_chrome = chrome(session, &title, "connectors");
    page_chrome.notice = shown.notice;
    let page = ConnectorPage {
        chrome: page_chrome,
        editing: shown.editing,
        fields,
        callback_url: state.settings.callback_url(),
        inferred_policy: shown.inferred_policy,
        error: shown.error,
        certificate_pem: shown.certificate_pem,
        pending_certificate_pem: shown.pending_certificate_pem,
    };
    render(status, &page)
}

/// `POST /connectors`: adds or updates a connector; a mistake shows the form again.
pub async fn save(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<ConnectorForm>,
) -> Result<Response, PageError> {
    session.check_csrf(&form.csrf)?;
    let editing = form.editing == "1";
    let existing = match ConnectorName::parse(&form.name) {
        Ok(name) => service::find(&state, &session.workspace, &name).await?,
        Err(_) => None,
    };
    let kept_secret: Option<ClientSecret> = existing.and_then(|c| c.input.client_secret);
    let saved = match form.to_spec(kept_secret) {
        Ok((name, spec)) => service::put(&state, &session.workspace, &name, spec)
            .await
            .map(|_| name)
            .map_err(|err| match err {
                crate::service::ServiceError::Invalid(why) => Ok(format!("{why}.")),
                other => Err(other),
            }),
        Err(why) => Err(Ok(why)),
    };
    match saved {
        Ok(name) => Ok(Redirect::to(&format!("/connectors/{name}?notice=saved")).into_response()),
        Err(Err(other)) => Err(other.into()),
        Err(Ok(why)) => {
            let shown = Shown {
                editing,
                error: Some(why),
                ..Shown::default()
            };
            Ok(form_page(
                &state,
                &session,
                form.fields(),
                shown,
                StatusCode::BAD_REQUEST,
            ))
        }
    }
}

/// The Connect an account form.
#[derive(Debug, Deserialize)]
pub struct ConnectForm {
    csrf: String,
    end_user_id: String,
    /// JWT bearer connectors: the Salesforce username.
    #[serde(default)]
    username: String,
}

/// `POST /connectors/{name}/connect`: starts a connect flow that lands on `/connected`; for a
/// connector whose grant needs no browser, makes the connection at once and shows it.
pub async fn connect(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Form(form): Form<ConnectForm>,
) -> Result<Redirect, PageError> {
    session.check_csrf(&form.csrf)?;
    let connector = find(&state, &session, &name).await?;
    let end_user_id = EndUserId::parse(form.end_user_id.trim())
        .map_err(|e| PageError::Invalid(format!("The end user id {e}.")))?;
    if !connector.input.grant.uses_refresh_tokens() {
        let username = form.username.trim();
        let request = crate::service::minted::NewConnection {
            connector: connector.name,
            end_user_id,
            username: (!username.is_empty()).then(|| username.to_owned()),
        };
        let made = crate::service::minted::create(&state, &session.workspace, request).await?;
        return Ok(Redirect::to(&format!("/connections/{}", made.id)));
    }
    let redirect_to = state.settings.url("/connected");
    let plan = SessionPlan::connect(connector.name, end_user_id, Some(redirect_to));
    let started = start(&state, &session.workspace, plan).await?;
    Ok(Redirect::to(&started.connect_url))
}

/// Query of the edit form.
#[derive(Debug, Default, Deserialize)]
pub struct EditQuery {
    notice: Option<String>,
}
