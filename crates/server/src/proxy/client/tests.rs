//! The forwarding function against a local upstream: 100 MB each way with flat memory, limits,
//! redirects and timeouts. Memory is the process's resident set (`/proc/self/status`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use futures::StreamExt;
use tether_core::secret::AccessToken;
use url::Url;

use super::*;

/// The memory tests run one at a time: both read the same process-wide resident set.
static MEMORY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const HUNDRED_MB: u64 = 100 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// `n` bytes of zeros, made one chunk at a time.
fn zeros(n: u64) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let chunks = n.div_ceil(CHUNK as u64);
    futures::stream::iter(0..chunks).map(move |i| {
        let len = (n - i * CHUNK as u64).min(CHUNK as u64) as usize;
        Ok(Bytes::from(vec![0u8; len]))
    })
}

async fn upstream() -> Url {
    let app = axum::Router::new()
        .route(
            "/big",
            get(|| async { Body::from_stream(zeros(HUNDRED_MB)) }),
        )
        .route(
            "/sized",
            get(|| async { ([(header::CONTENT_LENGTH, "2048")], vec![1u8; 2048]) }),
        )
        .route(
            "/upload",
            post(|body: Body| async move {
                let mut stream = body.into_data_stream();
                let mut total = 0usize;
                while let Some(chunk) = stream.next().await {
                    total += chunk.unwrap().len();
                }
                total.to_string()
            }),
        )
        .route(
            "/redirect",
            get(|| async {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, "http://evil.example/")],
                )
            }),
        )
        .route("/never", get(std::future::pending::<String>));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The growth of the resident set from the start of a measurement to its highest sample,
/// measured by one test at a time.
struct MemoryGrowth {
    _alone: tokio::sync::MutexGuard<'static, ()>,
    before: u64,
    peak: u64,
}

impl MemoryGrowth {
    /// Waits for any other measurement to end, then starts this one.
    async fn start() -> Self {
        let alone = MEMORY.lock().await;
        let before = rss_kib();
        Self {
            _alone: alone,
            before,
            peak: before,
        }
    }

    /// Samples the resident set now.
    fn sample(&mut self) {
        self.peak = self.peak.max(rss_kib());
    }

    /// Asserts that the resident set, sampled once more, never grew by 40 MiB.
    fn assert_flat(mut self) {
        self.sample();
        let growth_mib = self.peak.saturating_sub(self.before) / 1024;
        assert!(growth_mib < 40, "RSS grew by {growth_mib} MiB");
    }
}

async fn forward(
    client: &ProxyClient,
    method: Method,
    url: &Url,
    body: &mut OutgoingBody,
) -> Result<Response, ProxyError> {
    let token = AccessToken::new("00Dtest!token");
    let headers = HeaderMap::new();
    let out = Outgoing {
        method: &method,
        url,
        headers: &headers,
        token: &token,
    };
    client.forward(out, body).await
}

/// The status and the problem document of a GET of `url` that fails, through a client of
/// `limits`.
async fn failed_get(limits: ProxyLimits, url: &Url) -> (StatusCode, serde_json::Value) {
    let response = get_with(limits, url).await.unwrap_err().into_response();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

fn empty() -> OutgoingBody {
    OutgoingBody::buffered(Bytes::new(), ProxyLimits::default().max_request_bytes)
}

/// A GET of `url` without a body, through a client of `limits`.
async fn get_with(limits: ProxyLimits, url: &Url) -> Result<Response, ProxyError> {
    forward(&ProxyClient::new(limits), Method::GET, url, &mut empty()).await
}

#[tokio::test]
async fn a_100_mb_download_streams_through_with_flat_memory() {
    let base = upstream().await;
    let mut memory = MemoryGrowth::start().await;
    let response = get_with(ProxyLimits::default(), &base.join("big").unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.into_body().into_data_stream();
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        total += chunk.unwrap().len() as u64;
        if total % (8 * 1024 * 1024) < CHUNK as u64 {
            memory.sample();
        }
    }
    assert_eq!(total, HUNDRED_MB);
    memory.assert_flat();
}

#[tokio::test]
async fn a_100_mb_upload_streams_through_with_flat_memory() {
    let base = upstream().await;
    let client = ProxyClient::new(ProxyLimits::default());
    let memory = MemoryGrowth::start().await;
    let upload = Body::from_stream(zeros(HUNDRED_MB));
    let mut body = OutgoingBody::streamed(upload, ProxyLimits::default().max_request_bytes);
    let url = base.join("upload").unwrap();
    let response = forward(&client, Method::POST, &url, &mut body)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = axum::body::to_bytes(response.into_body(), 64)
        .await
        .unwrap();
    assert_eq!(text, HUNDRED_MB.to_string().as_bytes());
    memory.assert_flat();
    assert!(
        !body.is_replayable(),
        "a streamed body is never kept for a retry"
    );
}

#[tokio::test]
async fn a_streamed_upload_past_the_limit_is_refused_as_too_large() {
    let base = upstream().await;
    let client = ProxyClient::new(ProxyLimits::default());
    let mut body = OutgoingBody::streamed(Body::from_stream(zeros(2 * 1024 * 1024)), 1024 * 1024);
    let url = base.join("upload").unwrap();
    let err = forward(&client, Method::POST, &url, &mut body)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the request body is larger than the proxy allows (1048576 bytes; setting proxy_max_request_bytes)"
    );
}

#[tokio::test]
async fn a_declared_answer_past_the_limit_is_refused_before_streaming() {
    let base = upstream().await;
    let limits = ProxyLimits {
        max_response_bytes: 1024,
        ..ProxyLimits::default()
    };
    let (status, body) = failed_get(limits, &base.join("sized").unwrap()).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        body,
        serde_json::json!({
            "type": "https://tether.dev/problems/provider-response-too-large",
            "title": "Provider response too large",
            "status": 502,
            "detail": "the provider's answer is larger than the proxy allows (1024 bytes; setting proxy_max_response_bytes)"
        })
    );
}

#[tokio::test]
async fn redirects_are_passed_back_not_followed() {
    let base = upstream().await;
    let response = get_with(ProxyLimits::default(), &base.join("redirect").unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()[header::LOCATION], "http://evil.example/");
}

#[tokio::test]
async fn an_upstream_that_never_answers_times_out_with_the_setting_named() {
    let base = upstream().await;
    let limits = ProxyLimits {
        response_timeout: Duration::from_millis(200),
        ..ProxyLimits::default()
    };
    let (status, body) = failed_get(limits, &base.join("never").unwrap()).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        body["detail"],
        "the provider did not answer within 0 s (setting proxy_response_timeout_seconds)"
    );
    assert_eq!(body["type"], "https://tether.dev/problems/provider-timeout");
}

#[tokio::test]
async fn an_unreachable_upstream_answers_bad_gateway() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = Url::parse(&format!("http://{}/x", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let (status, body) = failed_get(ProxyLimits::default(), &url).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        body["type"],
        "https://tether.dev/problems/provider-unreachable"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("could not reach the provider: error sending request"),
        "{body}"
    );
}
