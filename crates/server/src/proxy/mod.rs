//! The Salesforce API proxy: `ANY /v1/proxy/{id}/{path...}` forwards a request to the
//! connection's `instance_url` with a valid access token and streams the answer back.
//!
//! The path is checked before anything is sent ([`path`]); the token comes from the token
//! service (so an expired connection answers 409 without calling Salesforce); headers are
//! filtered ([`headers`]); the request goes out once through the proxy's own client
//! ([`client`]); any answer but a 401 streams back untouched, and a 401 is read and handled
//! ([`refusal`]): refreshed and retried, refused with a diagnosis, or passed through.
//! Salesforce clients work unchanged with `instance_url = {public_url}/v1/proxy/{id}` and a
//! tether API key as their session id: they send it as `Authorization: Bearer` (or, for the
//! Bulk API 1.0, as `X-SFDC-Session`), which is what the [`ProxyCaller`] extractor reads; both
//! carry the connection's access token to Salesforce, never the key. The URLs Salesforce puts
//! in bodies are relative.
//! Clients that keep only the host of `instance_url` (simple-salesforce) use the connection's
//! own host name instead when `proxy_host_suffix` is set ([`host`]): `https://c-{hex}.{suffix}`.

pub mod body;
pub mod client;
pub mod forbidden;
pub mod headers;
pub mod host;
pub mod path;
pub mod problem;
pub mod refusal;
pub mod refused;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tether_core::ids::{ConnectionId, WorkspaceId};
use tether_core::secret::AccessToken;
use tether_store::Connection;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use body::OutgoingBody;
pub use client::{Outgoing, ProxyClient, ProxyLimits};
pub use path::{PathError, ProxyPath};
pub use problem::ProxyError;

use crate::auth::ProxyCaller;
use crate::error::{ApiError, problems};
use crate::metrics::HttpStatusLabels;
use crate::state::AppState;
use crate::tokens::{IssuedToken, TokenError, TokenRequest};

/// Where the proxy is mounted.
const PREFIX: &str = "/v1/proxy/";

/// The proxy route and its operation. It is mounted outside the API's whole-request
/// timeout: it has its own connect, answer and idle-read timeouts, and uploads may take
/// longer than any API call. The route is a wildcard (`{*path}`, any method), which the
/// document writes `/v1/proxy/{id}/{path}` with every method Salesforce's APIs use.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ProxyDoc::openapi()).route(ROUTE, any(handle))
}

/// The proxy's route in the router.
pub const ROUTE: &str = "/v1/proxy/{id}/{*path}";

#[derive(OpenApi)]
#[openapi(paths(handle), modifiers(&OneIdPerMethod))]
struct ProxyDoc;

/// The proxy is one handler under several methods; each operation gets its own id
/// (`proxyGet`, `proxyPost`, ...), as OpenAPI requires.
struct OneIdPerMethod;

impl utoipa::Modify for OneIdPerMethod {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                ("Get", &mut item.get),
                ("Put", &mut item.put),
                ("Post", &mut item.post),
                ("Delete", &mut item.delete),
                ("Options", &mut item.options),
                ("Head", &mut item.head),
                ("Patch", &mut item.patch),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    operation.operation_id = Some(format!("proxy{method}"));
                }
            }
        }
    }
}

/// The proxy's path parameters.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProxyParams {
    /// The connection whose Salesforce instance and token to use.
    #[allow(dead_code)] // documents the path; the handler reads the raw URI
    id: String,
    /// The rest of the path, several segments, appended to `instance_url` (for example
    /// `services/data/v64.0/query`); the query string is passed on unchanged.
    #[allow(dead_code)]
    path: String,
}

problems! {
    /// The proxy's own problems; every other answer is Salesforce's.
    ProxyProblems {
        401 => "`unauthorized` (no API key), or `session-refused`: Salesforce refused the session for the REST API (with `status_reason`, `diagnosis`, `provider_errors`).",
        404 => "`not-found`: no such connection.",
        409 => "`connection-expired` or `conflict` (disconnected), as the token endpoint.",
        413 => "`request-too-large`: over `proxy_max_request_bytes`.",
        502 => "`provider-host-not-allowed`, `provider-response-too-large` or `provider-unreachable`.",
        503 => "`provider-unavailable`, with `Retry-After`.",
        504 => "`provider-timeout`: Salesforce did not answer in time.",
    }
}

/// `ANY /v1/proxy/{id}/{path}`: Salesforce's answer, streamed back.
#[utoipa::path(
    method(get, post, put, patch, delete, head, options),
    path = "/v1/proxy/{id}/{path}",
    tag = "proxy",
    summary = "Forward to the connection's Salesforce instance with a valid access token",
    description = "Any method; the request body and Salesforce's answer stream through. A 401 `Session expired or invalid` is healed once (refresh and replay); every other answer of Salesforce's is passed on as it is. The problems below are tether's own.",
    params(ProxyParams),
    request_body(content = Option<String>, description = "Passed on to Salesforce as it is.", content_type = "*/*"),
    responses(
        (status = "default", description = "Salesforce's answer, status, headers and body, as Salesforce sent it.", content_type = "*/*"),
        ProxyProblems,
    ),
)]
async fn handle(
    State(state): State<AppState>,
    ProxyCaller(ws): ProxyCaller,
    request: Request,
) -> Response {
    let response = proxy(&state, &ws, request)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    let status = response.status().as_u16();
    state
        .metrics
        .proxy_requests
        .get_or_create(&HttpStatusLabels { status })
        .inc();
    response
}

/// One proxied request: what every attempt of it shares.
#[derive(Debug)]
pub struct Call<'a> {
    pub state: &'a AppState,
    pub ws: &'a WorkspaceId,
    pub id: &'a ConnectionId,
    pub method: &'a Method,
    pub path: &'a ProxyPath,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
}

impl Call<'_> {
    /// Sends one attempt with `issued`, to the instance it belongs to.
    pub async fn send(
        &self,
        issued: &IssuedToken,
        body: &mut OutgoingBody,
    ) -> Result<reqwest::Response, ProxyError> {
        let url = self.path.target(issued.instance_url.as_str(), self.query)?;
        if !self.state.settings.provider_hosts.allows(&url) {
            let host = url.host_str().unwrap_or_default().to_owned();
            return Err(ProxyError::HostNotAllowed(host));
        }
        let out = Outgoing {
            method: self.method,
            url: &url,
            headers: self.headers,
            token: &issued.access_token,
        };
        let started = std::time::Instant::now();
        let answer = self.state.proxy.send(out, body).await;
        let took = started.elapsed().as_secs_f64();
        self.state.metrics.proxy_upstream_duration.observe(took);
        answer
    }

    /// The token to try again with once Salesforce refused `refused`: a new one, refreshed
    /// unless another caller already replaced `refused`.
    pub async fn renewed(&self, refused: AccessToken) -> Result<IssuedToken, TokenError> {
        let request = TokenRequest::Rejected(refused);
        self.state.tokens.token(self.ws, self.id, request).await
    }

    /// The connection, for history and diagnosis (`None` if it cannot be read).
    pub async fn connection(&self) -> Option<Connection> {
        match self.state.store.get_connection(self.ws, self.id).await {
            Ok(found) => found,
            Err(err) => {
                tracing::error!(connection = %self.id, error = %err, "could not read the connection");
                None
            }
        }
    }
}

async fn proxy(
    state: &AppState,
    ws: &WorkspaceId,
    request: Request,
) -> Result<Response, ProxyError> {
    let (parts, body) = request.into_parts();
    let limits = state.proxy.limits();
    if limits.check_host {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        let host = host.or_else(|| parts.uri.authority().map(|a| a.as_str()));
        let suffix = state.settings.proxy_host_suffix.as_ref();
        if !host.is_some_and(|h| host::is_connection_host(suffix, h)) {
            path::host_is_tether(host, &state.settings.public_url)?;
        }
    }
    let (id, path) = split(parts.uri.path())?;
    crate::auth::record_connection(&id);
    if path.is_soap() && soap_action_is_login(&parts.headers) {
        return Err(ProxyError::SoapLogin);
    }
    let mut body = OutgoingBody::from_request(body, &parts.headers, limits).await?;
    let issued = state
        .tokens
        .token(ws, &id, TokenRequest::Current)
        .await
        .map_err(ApiError::from)?;
    let headers = headers::request_headers(&parts.headers);
    let call = Call {
        state,
        ws,
        id: &id,
        method: &parts.method,
        path: &path,
        query: parts.uri.query(),
        headers: &headers,
    };
    let first = call.send(&issued, &mut body).await?;
    match first.status() {
        StatusCode::UNAUTHORIZED => {}
        // The Bulk API 1.0 says a session is dead with 400 InvalidSessionId.
        StatusCode::BAD_REQUEST if path.is_bulk_v1() => {}
        StatusCode::FORBIDDEN => return forbidden::on_forbidden(&call, first).await,
        _ => return state.proxy.stream_back(first),
    }
    refusal::on_unauthorized(&call, issued.access_token, first, &mut body).await
}

/// Whether a SOAP request is a `login` call (`SOAPAction: login`, as SOAP clients send it).
fn soap_action_is_login(headers: &HeaderMap) -> bool {
    headers
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_matches('"').eq_ignore_ascii_case("login"))
}

/// The connection id and checked path of a raw `/v1/proxy/{id}/{path}`.
fn split(raw: &str) -> Result<(ConnectionId, ProxyPath), ProxyError> {
    let not_found = || ProxyError::Api(ApiError::NotFound("connection".into()));
    let rest = raw.strip_prefix(PREFIX).ok_or_else(not_found)?;
    let (id, tail) = rest.split_once('/').ok_or_else(not_found)?;
    let id = ConnectionId::parse(id).map_err(|_| not_found())?;
    Ok((id, ProxyPath::parse(tail)?))
}
