//! Which headers cross the proxy. Hop-by-hop headers (RFC 9110 section 7.6.1, and any header
//! the `Connection` header names) never do; neither do tether's own credentials and cookies
//! (the client's `Authorization` carries a tether API key and its cookies belong to tether),
//! the client's `Host` (the target's host is set from the connection's `instance_url`), nor
//! the forwarding headers a reverse proxy in front of tether adds. Everything else is kept.

use axum::http::header::{self, HeaderMap, HeaderName};

use crate::auth::SFDC_SESSION;

/// Headers that belong to one connection, never forwarded either way.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Request headers that describe the hop to tether or belong to tether.
const REQUEST_ONLY: [&str; 9] = [
    "host",
    "authorization",
    SFDC_SESSION,
    "cookie",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
];

/// The headers of the client's request to send on to the provider (without `Authorization`,
/// which the proxy sets to the connection's access token).
/// `X-SFDC-Session` (where clients put their session id, through tether a tether API key) is
/// dropped too: on Bulk API 1.0 paths the client sets it to the access token when it sends.
pub fn request_headers(incoming: &HeaderMap) -> HeaderMap {
    filtered(incoming, &REQUEST_ONLY)
}

/// The headers of the provider's answer to send back. `Set-Cookie` is dropped: a provider
/// cookie would otherwise be stored for tether's host.
pub fn response_headers(incoming: &HeaderMap) -> HeaderMap {
    filtered(incoming, &["set-cookie"])
}

fn filtered(incoming: &HeaderMap, also_drop: &[&str]) -> HeaderMap {
    let named = connection_tokens(incoming);
    let mut out = HeaderMap::with_capacity(incoming.len());
    for (name, value) in incoming {
        let drop = HOP_BY_HOP.contains(&name.as_str())
            || also_drop.contains(&name.as_str())
            || named.contains(name);
        if !drop {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Header names listed in `Connection: a, b` (they are hop-by-hop too).
fn connection_tokens(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, HeaderValue::from_static(v));
        }
        m
    }

    /// The header names of `headers`, in order.
    fn names(headers: &HeaderMap) -> Vec<&str> {
        headers.keys().map(HeaderName::as_str).collect()
    }

    #[test]
    fn request_headers_lose_hop_by_hop_tether_credentials_and_host() {
        let incoming = map(&[
            ("host", "127.0.0.1:7878"),
            ("authorization", "Bearer tk_x_y"),
            ("cookie", "tether_session=1"),
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("transfer-encoding", "chunked"),
            ("x-forwarded-host", "evil.example"),
            ("content-type", "application/json"),
            ("accept-encoding", "gzip"),
            ("sforce-query-options", "batchSize=200"),
        ]);
        assert_eq!(
            names(&request_headers(&incoming)),
            ["content-type", "accept-encoding", "sforce-query-options"]
        );
    }

    #[test]
    fn the_session_header_with_the_api_key_it_carries_never_crosses() {
        let incoming = map(&[
            ("x-sfdc-session", "tk_x_y"),
            ("content-type", "application/xml"),
        ]);
        assert_eq!(names(&request_headers(&incoming)), ["content-type"]);
    }

    #[test]
    fn response_headers_keep_limits_and_types_but_not_cookies() {
        let incoming = map(&[
            ("content-type", "application/json"),
            ("sforce-limit-info", "api-usage=1/15000"),
            ("set-cookie", "BrowserId=1"),
            ("transfer-encoding", "chunked"),
            ("retry-after", "30"),
        ]);
        assert_eq!(
            names(&response_headers(&incoming)),
            ["content-type", "sforce-limit-info", "retry-after"]
        );
    }
}
