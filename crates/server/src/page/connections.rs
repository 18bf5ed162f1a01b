//! The connection pages: the list at `/` (counts, filters), one connection with its diagnosis
//! and history, its Check now and Reconnect buttons, and `/connected`, where connect flows
//! started from the page land.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tether_core::ids::{ConnectionId, WorkspaceId};
use tether_core::status::ConnectionStatus;
use tether_store::{Connection, ConnectionFilter};

use super::error::PageError;
use super::render::{chrome, notice_text, render};
use super::session::Session;
use super::signin::CsrfOnly;
use super::views::{ConnectionPage, ConnectionRow, ConnectionsPage, MessagePage, StatusCount};
use crate::service::connect::{SessionPlan, start};
use crate::service::connections as service;
use crate::state::AppState;

/// Query of `GET /`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    connector: Option<String>,
    notice: Option<String>,
}

/// `GET /`: every connection of the workspace, counted per status, filtered.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let all = service::list(&state, &session.workspace, &ConnectionFilter::default()).await?;
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse::<ConnectionStatus>().ok());
    let connector = query.connector.filter(|c| !c.is_empty());
    let rows = all
        .iter()
        .filter(|c| status.is_none_or(|s| c.status == s))
        .filter(|c| {
            connector
                .as_deref()
                .is_none_or(|n| c.connector.as_str() == n)
        })
        .map(ConnectionRow::from)
        .collect();
    let mut names: Vec<String> = crate::service::connectors::list(&state, &session.workspace)
        .await?
        .into_iter()
        .map(|c| c.name.to_string())
        .collect();
    names.sort();
    let mut page_chrome = chrome(&session, "Connections", "connections");
    page_chrome.notice = notice_text(query.notice.as_deref());
    let page = ConnectionsPage {
        chrome: page_chrome,
        counts: StatusCount::all(&all, status),
        total: all.len(),
        rows,
        connectors: names
            .into_iter()
            .map(|n| {
                let selected = connector.as_deref() == Some(n.as_str());
                (n, selected)
            })
            .collect(),
        filtered: status.is_some() || connector.is_some(),
    };
    Ok(render(StatusCode::OK, &page))
}

async fn load(state: &AppState, ws: &WorkspaceId, raw: &str) -> Result<Connection, PageError> {
    let missing = || PageError::NotFound("connection".into());
    let id = ConnectionId::parse(raw).map_err(|_| missing())?;
    Ok(service::get(state, ws, &id).await?)
}

/// Query of `GET /connections/{id}`.
#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    notice: Option<String>,
}

/// `GET /connections/{id}`: status, diagnosis, actions, history.
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, PageError> {
    let connection = load(&state, &session.workspace, &id).await?;
    let events = service::history(&state, &session.workspace, &connection.id, None, 100).await?;
    let diagnosis = connection
        .diagnosis
        .clone()
        .filter(|_| {
            matches!(
                connection.status,
                ConnectionStatus::Expired | ConnectionStatus::Degraded
            )
        })
        .map(Into::into);
    let title = format!("Connection {}", connection.end_user_id);
    let mut page_chrome = chrome(&session, &title, "connections");
    page_chrome.notice = notice_text(query.notice.as_deref());
    let disconnected = connection.status == ConnectionStatus::Disconnected;
    let page = ConnectionPage {
        chrome: page_chrome,
        c: ConnectionRow::from(&connection),
        diagnosis,
        events: events.into_iter().map(Into::into).collect(),
        can_reconnect: !disconnected,
        can_check: !disconnected,
    };
    Ok(render(StatusCode::OK, &page))
}

/// `POST /connections/{id}/check`: the API's check, then back to the page.
pub async fn check(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Redirect, PageError> {
    form.check(&session)?;
    let connection = load(&state, &session.workspace, &id).await?;
    service::check(&state, &session.workspace, &connection.id).await?;
    Ok(Redirect::to(&format!(
        "/connections/{}?notice=checked",
        connection.id
    )))
}

/// `POST /connections/{id}/reconnect`: starts the reconnect flow; it lands on `/connected`.
pub async fn reconnect(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Redirect, PageError> {
    form.check(&session)?;
    let connection = load(&state, &session.workspace, &id).await?;
    let plan = SessionPlan {
        connector: connection.connector,
        end_user_id: connection.end_user_id,
        redirect_to: Some(state.settings.url("/connected?via=reconnect")),
        reconnect_of: Some(connection.id),
        allow_different_account: false,
        login_hint: None,
    };
    let started = start(&state, &session.workspace, plan).await?;
    Ok(Redirect::to(&started.connect_url))
}

/// What the callback appends to `/connected`.
#[derive(Debug, Default, Deserialize)]
pub struct LandingQuery {
    via: Option<String>,
    connection_id: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /connected`: the end of a connect flow started from the page (signed-in only).
pub async fn landing(_signed_in: Session, Query(query): Query<LandingQuery>) -> Response {
    match (query.connection_id, query.error) {
        (Some(id), _) if ConnectionId::parse(&id).is_ok() => {
            let notice = match query.via.as_deref() {
                Some("reconnect") => "reconnected",
                _ => "connected",
            };
            Redirect::to(&format!("/connections/{id}?notice={notice}")).into_response()
        }
        (_, error) => {
            let message = format!(
                "Salesforce did not complete the connection: {} ({}).",
                query.error_description.unwrap_or_default(),
                error.unwrap_or_else(|| "no answer".to_owned())
            );
            render(
                StatusCode::BAD_REQUEST,
                &MessagePage::new("Not connected", message),
            )
        }
    }
}
