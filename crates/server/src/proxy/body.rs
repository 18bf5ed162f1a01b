//! Request and response bodies of the proxy: a request body is buffered only when it is small
//! enough to replay after a refresh (its size known up front and at most
//! `proxy_replay_max_bytes`); anything else streams through once. Both directions pass through
//! a byte counter that stops the stream past the configured limit, so memory stays flat
//! whatever the size.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderMap, header};
use futures::{Stream, StreamExt};

use super::client::ProxyLimits;
use super::problem::ProxyError;

/// A boxed error of a body stream.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A stream stopped because it passed its byte limit.
#[derive(Debug, thiserror::Error)]
#[error("the body passed the proxy's limit of {0} bytes")]
pub struct LimitExceeded(pub u64);

/// The body to send upstream, possibly more than once.
#[derive(Debug)]
pub struct OutgoingBody {
    kind: Kind,
    /// Set when a streamed body passed `limit`, so a failed send reads as 413.
    exceeded: Arc<AtomicBool>,
    limit: u64,
}

#[derive(Debug)]
enum Kind {
    Replayable(Bytes),
    Streamed(Option<Body>),
}

impl OutgoingBody {
    /// Reads the client's body: refused up front when its declared length passes
    /// `max_request_bytes`, buffered when small and of known size, streamed otherwise.
    pub async fn from_request(
        body: Body,
        headers: &HeaderMap,
        limits: &ProxyLimits,
    ) -> Result<Self, ProxyError> {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let limit = limits.max_request_bytes;
        if declared.is_some_and(|len| len > limit) {
            return Err(ProxyError::RequestTooLarge { limit });
        }
        let replay_max = limits.replay_max_bytes.min(limit);
        match body.size_hint().exact() {
            Some(len) if len <= replay_max => {
                let cap = usize::try_from(replay_max).unwrap_or(usize::MAX);
                let bytes = axum::body::to_bytes(body, cap)
                    .await
                    .map_err(|e| ProxyError::ClientBody(e.to_string()))?;
                Ok(Self::buffered(bytes, limit))
            }
            _ => Ok(Self::streamed(body, limit)),
        }
    }

    /// A body already in memory (replayable).
    pub fn buffered(bytes: Bytes, limit: u64) -> Self {
        Self {
            kind: Kind::Replayable(bytes),
            exceeded: Arc::default(),
            limit,
        }
    }

    /// A body streamed once, stopped past `limit` bytes.
    pub fn streamed(body: Body, limit: u64) -> Self {
        Self {
            kind: Kind::Streamed(Some(body)),
            exceeded: Arc::default(),
            limit,
        }
    }

    /// Whether the request can be sent again after a refresh.
    pub fn is_replayable(&self) -> bool {
        matches!(self.kind, Kind::Replayable(_))
    }

    /// Whether a streamed body passed its limit.
    pub fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Relaxed)
    }

    /// The most bytes a streamed body may carry.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The body for one attempt; `None` once a streamed body has been sent.
    pub fn attempt(&mut self) -> Option<reqwest::Body> {
        match &mut self.kind {
            Kind::Replayable(bytes) => Some(reqwest::Body::from(bytes.clone())),
            Kind::Streamed(body) => {
                let stream = body.take()?.into_data_stream();
                let limited = limited(stream, self.limit, self.exceeded.clone());
                Some(reqwest::Body::wrap_stream(limited))
            }
        }
    }
}

/// Counts the bytes of `stream` and ends it with [`LimitExceeded`] past `limit`.
pub fn limited<S, E>(
    stream: S,
    limit: u64,
    exceeded: Arc<AtomicBool>,
) -> impl Stream<Item = Result<Bytes, BoxError>> + Send + 'static
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<BoxError>,
{
    let mut seen: u64 = 0;
    stream.map(move |chunk| {
        let chunk = chunk.map_err(Into::into)?;
        seen = seen.saturating_add(chunk.len() as u64);
        if seen > limit {
            exceeded.store(true, Ordering::Relaxed);
            return Err(Box::new(LimitExceeded(limit)) as BoxError);
        }
        Ok(chunk)
    })
}

/// The upstream answer's body as an axum body, stopped past `limit` bytes.
pub fn response_body(response: reqwest::Response, limit: u64) -> Body {
    Body::from_stream(limited(
        response.bytes_stream(),
        limit,
        Arc::new(AtomicBool::new(false)),
    ))
}

/// Reads at most `max` bytes of a body: `Ok(all)` if it fits, else `Err(body)` with the same
/// bytes (the part read, then the rest) for passing through untouched.
pub async fn read_bounded(response: reqwest::Response, max: usize) -> Result<Bytes, Body> {
    let mut stream = response.bytes_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) if buf.len() + chunk.len() <= max => buf.extend_from_slice(&chunk),
            Ok(chunk) => {
                buf.extend_from_slice(&chunk);
                let head =
                    futures::stream::once(async move { Ok::<_, reqwest::Error>(buf.into()) });
                return Err(Body::from_stream(head.chain(stream)));
            }
            Err(err) => {
                let head = futures::stream::once(async move { Ok(Bytes::from(buf)) });
                let tail = futures::stream::once(async move { Err(err) });
                return Err(Body::from_stream(head.chain(tail)));
            }
        }
    }
    Ok(buf.into())
}
