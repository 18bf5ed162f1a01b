//! The connection pages: the list at `/` (counts, filters), one connection with its diagnosis
//! and history, its Check now and Reconnect buttons, and `/connected`, where connect flows
//! started from the page land.

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tether_core::ids::{ConnectionId, ConnectorName, WorkspaceId};
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
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
    notice: Option<String>,
}

impl ListQuery {
    /// The filters set (an unknown status or connector name is no filter, as an empty one).
    fn filter(&self) -> ConnectionFilter {
        let set = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        ConnectionFilter {
            status: set(&self.status).and_then(|s| s.parse::<ConnectionStatus>().ok()),
            connector: set(&self.connector).and_then(|c| ConnectorName::parse(&c).ok()),
            end_user_id: None,
        }
    }
}

/// `/` with `filter` and, when given, `cursor` in its query.
fn list_url(filter: &ConnectionFilter, cursor: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(status) = filter.status {
        query.append_pair("status", status.as_str());
    }
    if let Some(connector) = &filter.connector {
        query.append_pair("connector", connector.as_str());
    }
    if let Some(cursor) = cursor {
        query.append_pair("cursor", cursor);
    }
    let query = query.finish();
    if query.is_empty() {
        "/".to_owned()
    } else {
        format!("/?{query}")
    }
}

/// `GET /`: a page of the workspace's connections, filtered, newest first, with the counts
/// per status and a link to the next page that keeps the filters.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let ws = &session.workspace;
    let filter = query.filter();
    let cursor = query.cursor.as_deref().filter(|c| !c.is_empty());
    let page = service::list(&state, ws, &filter, cursor, service::DEFAULT_PAGE).await?;
    let counts = service::counts(&state, ws).await?;
    let mut names: Vec<String> = crate::service::connectors::list(&state, ws)
        .await?
        .into_iter()
        .map(|c| c.name.to_string())
        .collect();
    names.sort();
    let mut page_chrome = chrome(&session, "Connections", "connections");
    page_chrome.notice = notice_text(query.notice.as_deref());
    let selected = filter.connector.as_ref().map(|c| c.as_str());
    let view = ConnectionsPage {
        chrome: page_chrome,
        counts: StatusCount::all(&counts, filter.status),
        total: counts.iter().map(|c| c.count).sum(),
        rows: page.items.iter().map(ConnectionRow::from).collect(),
        connectors: names
            .into_iter()
            .map(|n| {
                let chosen = selected == Some(n.as_str());
                (n, chosen)
            })
            .collect(),
        filtered: filter.status.is_some() || filter.connector.is_some(),
        next_page: page
            .next_cursor
            .as_deref()
            .map(|next| list_url(&filter, Some(next))),
        first_page: cursor.map(|_| list_url(&filter, None)),
    };
    Ok(render(StatusCode::OK, &view))
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
    let events = events.items;
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
    // Nobody signs in to a JWT bearer or client credentials connection: no Reconnect.
    let connector =
        crate::service::connectors::find(&state, &session.workspace, &connection.connector).await?;
    let signs_in = connector.is_none_or(|c| c.input.grant.uses_refresh_tokens());
    let page = ConnectionPage {
        chrome: page_chrome,
        c: ConnectionRow::from(&connection),
        diagnosis,
        events: events.into_iter().map(Into::into).collect(),
        can_reconnect: !disconnected && signs_in,
        can_check: !disconnected,
    };
    Ok(render(StatusCode::OK, &page))
}

/// A form posted about one of the workspace's connections: the signed-in session whose CSRF
/// token the form carried, and the connection the path names. Read in the order the handlers
/// always did: the session, the path, the form, the token, then the connection.
pub struct ConnectionForm {
    session: Session,
    connection: Connection,
}

impl FromRequest<AppState> for ConnectionForm {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let session = Session::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Path(id) = Path::<String>::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Form(form) = Form::<CsrfOnly>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let checked = async {
            form.check(&session)?;
            load(state, &session.workspace, &id).await
        };
        let connection = checked.await.map_err(IntoResponse::into_response)?;
        Ok(Self {
            session,
            connection,
        })
    }
}

/// `POST /connections/{id}/check`: the API's check, then back to the page.
pub async fn check(
    State(state): State<AppState>,
    form: ConnectionForm,
) -> Result<Redirect, PageError> {
    let id = form.connection.id;
    service::check(&state, &form.session.workspace, &id).await?;
    Ok(Redirect::to(&format!("/connections/{id}?notice=checked")))
}

/// `POST /connections/{id}/reconnect`: starts the reconnect flow; it lands on `/connected`.
pub async fn reconnect(
    State(state): State<AppState>,
    form: ConnectionForm,
) -> Result<Redirect, PageError> {
    let redirect_to = state.settings.url("/connected?via=reconnect");
    let plan = SessionPlan::reconnect(form.connection, Some(redirect_to));
    let started = start(&state, &form.session.workspace, plan).await?;
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
