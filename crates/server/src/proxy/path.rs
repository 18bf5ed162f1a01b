//! Where a proxied request may go: the path after `/v1/proxy/{id}/`, checked so that the target
//! is always the connection's own `instance_url` host, and the Host check of the incoming
//! request. Pure functions over strings; no I/O.
//!
//! The path is checked in its raw, still percent-encoded form *and* once and twice decoded, so
//! `..`, `%2e%2e`, `%252e%252e`, encoded slashes and backslashes, `@`, empty segments and
//! absolute URLs are all refused instead of being normalised by someone downstream.

use url::Url;

/// Why a proxied path or Host is refused; the text is what the caller reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the proxied path is empty; name a Salesforce resource such as services/data/")]
    Empty,
    #[error("the proxied path may not contain '.' or '..' segments")]
    DotSegment,
    #[error("the proxied path may not contain encoded slashes or backslashes")]
    EncodedSeparator,
    #[error("the proxied path may not contain empty segments ('//')")]
    EmptySegment,
    #[error("the proxied path may not be an absolute URL")]
    AbsoluteUrl,
    #[error("the proxied path may not contain '@'")]
    UserInfo,
    #[error("the proxied path contains a character that is not allowed in a URL path")]
    BadCharacter,
    #[error("the Host header {0:?} does not name tether; the proxy only answers for its own host")]
    ForeignHost(String),
    #[error("the connection's instance_url {0:?} is not a usable http(s) URL")]
    InstanceUrl(String),
}

/// A checked path below the connection's `instance_url`, without its leading slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyPath(String);

impl ProxyPath {
    /// Checks the raw (percent-encoded) path tail of `/v1/proxy/{id}/{tail}`.
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        if raw.is_empty() {
            return Err(PathError::Empty);
        }
        if raw
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ' || b == b'#')
        {
            return Err(PathError::BadCharacter);
        }
        if looks_absolute(raw) {
            return Err(PathError::AbsoluteUrl);
        }
        // A trailing slash (`query/`, as simple-salesforce sends) is an empty last segment.
        let segments = raw.strip_suffix('/').unwrap_or(raw);
        for segment in segments.split('/') {
            check_segment(segment)?;
        }
        Ok(Self(raw.to_owned()))
    }

    /// The path as given, percent-encoding kept.
    /// Whether this is a Bulk API 1.0 path (`services/async/...`), which authenticates only
    /// through `X-SFDC-Session`.
    pub fn is_bulk_v1(&self) -> bool {
        self.0.starts_with("services/async/")
    }

    /// Whether this is a SOAP API path (`services/Soap/...`).
    pub fn is_soap(&self) -> bool {
        self.0.starts_with("services/Soap/")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `instance_url` + `/` + this path + `?query`, proven to stay on the instance's origin.
    pub fn target(&self, instance_url: &str, query: Option<&str>) -> Result<Url, PathError> {
        let bad_instance = || PathError::InstanceUrl(instance_url.to_owned());
        let base = Url::parse(instance_url).map_err(|_| bad_instance())?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(bad_instance());
        }
        let mut target = base.clone();
        let prefix = base.path().trim_end_matches('/');
        target.set_path(&format!("{prefix}/{}", self.0));
        target.set_query(query.filter(|q| !q.is_empty()));
        target.set_fragment(None);
        let same_origin = target.origin() == base.origin();
        let unchanged = target.path() == format!("{prefix}/{}", self.0);
        if !same_origin || !unchanged {
            return Err(PathError::DotSegment);
        }
        Ok(target)
    }
}

/// Whether the tail starts like `scheme:` or `//`, i.e. tries to name another host.
fn looks_absolute(raw: &str) -> bool {
    let decoded = decode(raw);
    [raw, decoded.as_str()].iter().any(|s| {
        let first = s.split('/').next().unwrap_or_default();
        s.starts_with('/') || s.starts_with('\\') || is_scheme_prefix(first)
    })
}

/// `http:`, `https:`, `javascript:`... as the whole first segment's prefix.
fn is_scheme_prefix(segment: &str) -> bool {
    let Some((scheme, _)) = segment.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn check_segment(raw: &str) -> Result<(), PathError> {
    if raw.is_empty() {
        return Err(PathError::EmptySegment);
    }
    let once = decode(raw);
    let twice = decode(&once);
    for form in [raw, once.as_str(), twice.as_str()] {
        if form == "." || form == ".." {
            return Err(PathError::DotSegment);
        }
        if form.contains('@') {
            return Err(PathError::UserInfo);
        }
        if form.contains('\\') {
            return Err(PathError::EncodedSeparator);
        }
        if form.bytes().any(|b| b.is_ascii_control()) {
            return Err(PathError::BadCharacter);
        }
    }
    if once.contains('/') || twice.contains('/') {
        return Err(PathError::EncodedSeparator);
    }
    Ok(())
}

/// Percent-decodes once (invalid escapes stay as they are); lossy for non-UTF-8.
fn decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether an incoming `Host` names tether itself: the authority of `public_url`, or, when
/// that is a loopback address, any loopback name with the same port (`localhost` and
/// `127.0.0.1` are the same tether). No Host at all (HTTP/2 without `:authority`) passes.
pub fn host_is_tether(host: Option<&str>, public_url: &Url) -> Result<(), PathError> {
    let Some(host) = host else {
        return Ok(());
    };
    let (name, port) = split_host(host);
    let public_name = public_url.host_str().unwrap_or_default();
    let public_port = public_url.port_or_known_default();
    let port = port.or_else(|| default_port(public_url.scheme()));
    let same_name =
        name.eq_ignore_ascii_case(public_name) || (is_loopback(public_name) && is_loopback(&name));
    if same_name && port == public_port {
        Ok(())
    } else {
        Err(PathError::ForeignHost(host.to_owned()))
    }
}

pub(crate) fn split_host(host: &str) -> (String, Option<u16>) {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') && !port.contains(']') => {
            (name, port.parse().ok())
        }
        _ => (host, None),
    };
    (name.to_ascii_lowercase(), port)
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

fn is_loopback(name: &str) -> bool {
    matches!(name, "localhost" | "[::1]" | "::1") || name.starts_with("127.")
}

#[cfg(test)]
mod tests;
