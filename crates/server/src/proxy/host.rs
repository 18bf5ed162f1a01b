//! Host-routed proxying: with `proxy_host_suffix` set (say `proxy.tether.example`), every
//! connection also has a host name of its own, `c-{hex}.proxy.tether.example`, and any request
//! to that host is served exactly as `/v1/proxy/{id}/{path}`. This is what lets Salesforce
//! clients that keep only the host of `instance_url` (simple-salesforce builds
//! `https://{host}/services/data/...` itself) run unchanged behind a TLS-terminating load
//! balancer with a wildcard DNS name and certificate.
//!
//! The label is `c-` followed by the lower-case hex of the id's characters after `conn_`
//! (20 random base62 characters give a 42-character label). Connection ids are case-sensitive
//! base62 and contain `_`, neither of which survives as a DNS label (`_` is not a host-name
//! character, and clients and load balancers may lower-case hosts); hex is lossless under
//! lower-casing, and the label is matched case-insensitively. An id too long for a 63-character
//! label has no host name. The port of `Host` is not compared: behind a load balancer the port
//! the client used is not tether's.
//!
//! [`rewrite`] runs in front of the router and turns such a request into its
//! `/v1/proxy/{id}/...` form, so the proxy's one code path (auth, checks, 401 healing) serves
//! both; a host under the suffix whose label names no connection answers 404 `not-found`.

use std::fmt::Write;

use axum::extract::{Request, State};
use axum::http::{Uri, header};
use axum::response::{IntoResponse, Response};
use tether_core::ids::ConnectionId;

use super::PREFIX;
use super::path::split_host;
use crate::error::ApiError;
use crate::state::AppState;

/// What every connection's host label starts with.
const LABEL_PREFIX: &str = "c-";

/// The longest DNS label.
const MAX_LABEL: usize = 63;

/// A `proxy_host_suffix` that is not a host name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("proxy_host_suffix {0:?} is not a host name such as proxy.tether.example[:port]")]
pub struct InvalidHostSuffix(String);

/// The DNS name under which connections have host names, with the port clients use (kept
/// only for [`HostSuffix::instance_url`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSuffix {
    name: String,
    port: Option<u16>,
}

/// Where a request's `Host` sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRoute {
    /// Not a host under the suffix: the request goes through the router as it is.
    Tether,
    /// The host name of this connection.
    Connection(ConnectionId),
    /// Under the suffix, but the label names no connection.
    Unknown,
}

impl HostSuffix {
    /// Parses `name[:port]`, e.g. `proxy.tether.example` or `proxy.localhost:8443`.
    pub fn parse(raw: &str) -> Result<Self, InvalidHostSuffix> {
        let invalid = || InvalidHostSuffix(raw.to_owned());
        let url = url::Url::parse(&format!("https://{raw}")).map_err(|_| invalid())?;
        let name = match url.host() {
            Some(url::Host::Domain(name)) => name.trim_end_matches('.').to_owned(),
            _ => return Err(invalid()),
        };
        let plain = url.path() == "/" && url.query().is_none() && url.username().is_empty();
        if !plain || name.is_empty() || raw.contains(['/', '@', '?', '#']) {
            return Err(invalid());
        }
        Ok(Self {
            name,
            port: url.port(),
        })
    }

    /// The `instance_url` a Salesforce client uses for `id`; `None` if the id is too long to
    /// be a DNS label.
    pub fn instance_url(&self, id: &ConnectionId) -> Option<String> {
        let label = label(id)?;
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        Some(format!("https://{label}.{}{port}", self.name))
    }

    /// Where a request with this `Host` (any port, any case) goes.
    pub fn route(&self, host: &str) -> HostRoute {
        let (name, _port) = split_host(host);
        let name = name.trim_end_matches('.');
        let Some(label) = name
            .strip_suffix(self.name.as_str())
            .and_then(|rest| rest.strip_suffix('.'))
        else {
            return HostRoute::Tether;
        };
        connection_of(label).map_or(HostRoute::Unknown, HostRoute::Connection)
    }
}

/// `c-` + the lower-case hex of the id after `conn_`, if that fits in a DNS label.
pub fn label(id: &ConnectionId) -> Option<String> {
    let body = id.as_str().strip_prefix(ConnectionId::PREFIX)?;
    let mut label = String::from(LABEL_PREFIX);
    for byte in body.bytes() {
        let _ = write!(label, "{byte:02x}");
    }
    (label.len() <= MAX_LABEL).then_some(label)
}

/// The connection a host label names (hex matched case-insensitively).
fn connection_of(label: &str) -> Option<ConnectionId> {
    let lower = label.to_ascii_lowercase();
    let hex = lower.strip_prefix(LABEL_PREFIX)?;
    if hex.len() % 2 != 0 || !hex.is_ascii() {
        return None;
    }
    let body = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok().map(char::from))
        .collect::<Option<String>>()?;
    ConnectionId::parse(&format!("{}{body}", ConnectionId::PREFIX)).ok()
}

/// Whether `host` is a connection's host name under the configured suffix (the proxy's Host
/// check accepts these besides `public_url`).
pub fn is_connection_host(suffix: Option<&HostSuffix>, host: &str) -> bool {
    suffix.is_some_and(|s| matches!(s.route(host), HostRoute::Connection(_)))
}

/// The `Host` of a request: the header, or the authority of an HTTP/2 request.
pub fn request_host(request: &Request) -> Option<&str> {
    let header = request.headers().get(header::HOST);
    header
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
}

/// Runs in front of the router: a request to a connection's host name becomes
/// `/v1/proxy/{id}{path}?{query}`; one to an unknown label under the suffix answers 404.
pub async fn rewrite(
    State(state): State<AppState>,
    mut request: Request,
) -> Result<Request, Response> {
    let Some(suffix) = state.settings.proxy_host_suffix.as_ref() else {
        return Ok(request);
    };
    let route = request_host(&request).map_or(HostRoute::Tether, |h| suffix.route(h));
    let id = match route {
        HostRoute::Tether => return Ok(request),
        HostRoute::Connection(id) => id,
        HostRoute::Unknown => return Err(not_found()),
    };
    let query = request
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    // One slash only: `//x` stays an empty segment, which the proxy's path check refuses.
    let path = request.uri().path();
    let path = path.strip_prefix('/').unwrap_or(path);
    let uri: Uri = format!("{PREFIX}{id}/{path}{query}")
        .parse()
        .map_err(|_| not_found())?;
    *request.uri_mut() = uri;
    Ok(request)
}

fn not_found() -> Response {
    ApiError::NotFound("connection".into()).into_response()
}

#[cfg(test)]
mod tests;
