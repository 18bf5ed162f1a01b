//! A typed client of tether's `/v1` API (docs/api.md): connectors, connect sessions and
//! connections, each call one method, each answer a type of [`types`], each error tether's
//! problem document ([`Problem`]). One `reqwest` client (rustls, no redirects, timeouts) per
//! [`Client`]; the API key is sent as `Authorization: Bearer` and never printed.
//!
//! ```no_run
//! # async fn run() -> Result<(), tether_client::Error> {
//! use tether_client::{Client, types::TokenRequest};
//! let tether = Client::new("http://127.0.0.1:7878", "tk_...")?;
//! let page = tether.list_connections(&Default::default()).await?;
//! for connection in &page.connections {
//!     let token = tether.token(&connection.id, TokenRequest::Current).await?;
//!     println!("{} until {}", connection.id, token.expires_at);
//! }
//! # Ok(()) }
//! ```

pub mod error;
pub mod types;

use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tether_core::ids::{ConnectionId, ConnectorName};
use tether_core::secret::ApiKey;
use url::Url;

pub use error::{Error, Problem};
use types::{
    ConnectSession, Connection, ConnectionPage, Connector, ConnectorList, CreateConnectSession,
    EventPage, ImportConnection, ListConnections, PutConnector, Reconnect, Token, TokenRequest,
};

/// How long a call may take, a refresh at Salesforce included (tether's own limit is 60 s).
const TIMEOUT: Duration = Duration::from_secs(75);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A tether server and an API key of one workspace.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    api_key: ApiKey,
}

impl Client {
    /// A client of the tether at `base_url` (e.g. `http://127.0.0.1:7878`) with `api_key`.
    pub fn new(base_url: &str, api_key: &str) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|source| Error::Transport {
                url: base_url.to_owned(),
                source,
            })?;
        Self::with_http(http, base_url, api_key)
    }

    /// [`Client::new`] with a `reqwest` client of the caller's.
    pub fn with_http(http: reqwest::Client, base_url: &str, api_key: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::BaseUrl {
            url: base_url.to_owned(),
            reason,
        };
        let mut base = Url::parse(base_url).map_err(|e| bad(e.to_string()))?;
        if base.cannot_be_a_base() {
            return Err(bad("it cannot be a base URL".to_owned()));
        }
        let trimmed = base.path().trim_end_matches('/').to_owned();
        base.set_path(&trimmed);
        Ok(Self {
            http,
            base,
            api_key: ApiKey::new(api_key),
        })
    }

    /// The server this client calls.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    // ----- connectors -----

    /// `GET /v1/connectors`, sorted by name.
    pub async fn list_connectors(&self) -> Result<Vec<Connector>, Error> {
        let list: ConnectorList = self
            .json(self.request(Method::GET, "/v1/connectors"))
            .await?;
        Ok(list.connectors)
    }

    /// `GET /v1/connectors/{name}`, with the inferred policy.
    pub async fn get_connector(&self, name: &ConnectorName) -> Result<Connector, Error> {
        let path = connector_path(name);
        self.json(self.request(Method::GET, &path)).await
    }

    /// `PUT /v1/connectors/{name}`: creates or replaces the connector.
    pub async fn put_connector(
        &self,
        name: &ConnectorName,
        body: &PutConnector,
    ) -> Result<Connector, Error> {
        let path = connector_path(name);
        self.json(self.request(Method::PUT, &path).json(body)).await
    }

    /// `DELETE /v1/connectors/{name}`.
    pub async fn delete_connector(&self, name: &ConnectorName) -> Result<(), Error> {
        let path = connector_path(name);
        self.empty(self.request(Method::DELETE, &path)).await
    }

    // ----- connecting -----

    /// `POST /v1/connect-sessions`: the URL to send the end user's browser to.
    pub async fn create_connect_session(
        &self,
        body: &CreateConnectSession,
    ) -> Result<ConnectSession, Error> {
        let request = self
            .request(Method::POST, "/v1/connect-sessions")
            .json(body);
        self.json(request).await
    }

    /// `POST /v1/connections/{id}/reconnect`: a connect flow that renews this connection.
    pub async fn reconnect(
        &self,
        id: &ConnectionId,
        body: &Reconnect,
    ) -> Result<ConnectSession, Error> {
        let path = connection_path(id, "/reconnect");
        self.json(self.request(Method::POST, &path).json(body))
            .await
    }

    // ----- connections -----

    /// `GET /v1/connections`: one page.
    pub async fn list_connections(&self, query: &ListConnections) -> Result<ConnectionPage, Error> {
        let path = format!("/v1/connections?{}", query.query());
        self.json(self.request(Method::GET, &path)).await
    }

    /// Every connection `query` selects, following `next_cursor` from `query.cursor` on.
    pub async fn list_all_connections(
        &self,
        query: &ListConnections,
    ) -> Result<Vec<Connection>, Error> {
        let mut query = query.clone();
        let mut all = Vec::new();
        loop {
            let page = self.list_connections(&query).await?;
            let last = page.connections.is_empty();
            all.extend(page.connections);
            match page.next_cursor {
                Some(next) if !last => query.cursor = Some(next),
                _ => return Ok(all),
            }
        }
    }

    /// `GET /v1/connections/{id}`.
    pub async fn get_connection(&self, id: &ConnectionId) -> Result<Connection, Error> {
        let path = connection_path(id, "");
        self.json(self.request(Method::GET, &path)).await
    }

    /// `POST /v1/connections/import`: a refresh token obtained elsewhere becomes a connection.
    pub async fn import_connection(&self, body: &ImportConnection) -> Result<Connection, Error> {
        let request = self.request(Method::POST, "/v1/connections/import");
        self.json(request.json(body)).await
    }

    /// `POST /v1/connections/{id}/token`.
    pub async fn token(&self, id: &ConnectionId, ask: TokenRequest) -> Result<Token, Error> {
        let path = connection_path(id, "/token");
        let request = match ask {
            TokenRequest::Current => self.request(Method::POST, &path),
            TokenRequest::ForceRefresh => {
                self.request(Method::POST, &format!("{path}?force_refresh=true"))
            }
            TokenRequest::Rejected(token) => {
                self.request(Method::POST, &path).json(&RejectedToken {
                    rejected_token: token.expose(),
                })
            }
        };
        self.json(request).await
    }

    /// `POST /v1/connections/{id}/check`: proves the connection live now; the connection as
    /// it stands after the check (its history says how the check went).
    pub async fn check(&self, id: &ConnectionId) -> Result<Connection, Error> {
        let path = connection_path(id, "/check");
        self.json(self.request(Method::POST, &path)).await
    }

    /// `GET /v1/connections/{id}/events`: a page of the history, newest first.
    pub async fn events(
        &self,
        id: &ConnectionId,
        limit: Option<u16>,
        cursor: Option<&str>,
    ) -> Result<EventPage, Error> {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(limit) = limit {
            query.append_pair("limit", &limit.to_string());
        }
        if let Some(cursor) = cursor {
            query.append_pair("cursor", cursor);
        }
        let path = connection_path(id, &format!("/events?{}", query.finish()));
        self.json(self.request(Method::GET, &path)).await
    }

    /// `DELETE /v1/connections/{id}`: revoke, erase the tokens, `disconnected`.
    pub async fn delete_connection(&self, id: &ConnectionId) -> Result<(), Error> {
        let path = connection_path(id, "");
        self.empty(self.request(Method::DELETE, &path)).await
    }

    // ----- plumbing -----

    fn request(&self, method: Method, path_and_query: &str) -> RequestBuilder {
        let url = format!(
            "{}{path_and_query}",
            self.base.as_str().trim_end_matches('/')
        );
        self.http
            .request(method, url)
            .bearer_auth(self.api_key.expose())
    }

    async fn send(&self, request: RequestBuilder) -> Result<Response, Error> {
        let response = request.send().await.map_err(|source| Error::Transport {
            url: self.base.to_string(),
            source,
        })?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(problem_of(response).await)
        }
    }

    async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, Error> {
        let response = self.send(request).await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|source| Error::Transport {
            url: self.base.to_string(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Unreadable {
            status,
            reason: e.to_string(),
        })
    }

    async fn empty(&self, request: RequestBuilder) -> Result<(), Error> {
        self.send(request).await.map(drop)
    }
}

#[derive(Serialize)]
struct RejectedToken<'a> {
    rejected_token: &'a str,
}

/// The path of connector `name`.
fn connector_path(name: &ConnectorName) -> String {
    format!("/v1/connectors/{}", name.as_str())
}

fn connection_path(id: &ConnectionId, rest: &str) -> String {
    format!("/v1/connections/{}{rest}", id.as_str())
}

/// The error of a non-2xx answer: its problem document, or what made it unreadable.
async fn problem_of(response: Response) -> Error {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let body = response.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<Problem>(&body) {
        Ok(mut problem) => {
            problem.retry_after_seconds = retry_after;
            Error::Problem(Box::new(problem))
        }
        Err(e) => Error::Unreadable {
            status: status.as_u16(),
            reason: unreadable(status, &body, &e),
        },
    }
}

fn unreadable(status: StatusCode, body: &[u8], err: &serde_json::Error) -> String {
    if body.is_empty() {
        format!("{status} without a body")
    } else {
        format!("not a problem document ({err})")
    }
}
