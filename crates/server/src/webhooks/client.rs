//! The delivery client: one `reqwest` client for every webhook (rustls, no redirects, no proxy
//! from the environment, connect and whole-request timeouts), whose resolver refuses internal
//! addresses ([`CheckedResolver`]), so the address checked is the address connected to. An
//! answer's body is never read.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use url::Url;

use super::destination::{self, CheckedResolver, DestinationError};

/// Connecting to a receiver.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A whole attempt, from connecting to the answer's headers.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// How an attempt that got no answer ended.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("refused destination: {0}")]
    Destination(#[from] DestinationError),
    #[error("no answer within {}s", ATTEMPT_TIMEOUT.as_secs())]
    Timeout,
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("the request failed: {0}")]
    Other(String),
}

/// The headers of one attempt.
#[derive(Debug)]
pub struct Signed<'a> {
    pub id: &'a str,
    pub timestamp: i64,
    pub signature: &'a str,
}

/// The process's webhook client; cheap to clone.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    /// The client, or why it could not be built (every attempt then fails with it).
    http: Result<reqwest::Client, String>,
    allow_private: bool,
}

impl WebhookClient {
    /// A client allowing private destinations when `allow_private`.
    pub fn new(allow_private: bool) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(ATTEMPT_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(30))
            .dns_resolver(Arc::new(CheckedResolver { allow_private }))
            .user_agent(concat!("tether-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                tracing::error!(error = %e, "the webhook HTTP client could not start");
                e.to_string()
            });
        Self {
            http,
            allow_private,
        }
    }

    /// Whether private destinations are allowed.
    pub fn allow_private(&self) -> bool {
        self.allow_private
    }

    /// POSTs `body` to `url` with the Standard Webhooks headers; the answer's status.
    pub async fn send(
        &self,
        url: &str,
        signed: &Signed<'_>,
        body: String,
    ) -> Result<u16, SendError> {
        let http = self
            .http
            .as_ref()
            .map_err(|e| SendError::Other(e.clone()))?;
        let url = destination::parse(url, self.allow_private)?;
        self.check_literal(&url)?;
        let answer = http
            .post(url)
            .headers(headers(signed)?)
            .body(body)
            .send()
            .await
            .map_err(classify)?;
        Ok(answer.status().as_u16())
    }

    /// An IP literal never meets the resolver: it is checked here.
    fn check_literal(&self, url: &Url) -> Result<(), DestinationError> {
        match destination::literal(url) {
            Some(ip) => {
                let host = url.host_str().unwrap_or_default();
                let addr = std::net::SocketAddr::new(ip, 0);
                destination::allowed(host, &[addr], self.allow_private)
            }
            None => Ok(()),
        }
    }
}

fn headers(signed: &Signed<'_>) -> Result<HeaderMap, SendError> {
    let value = |text: &str| {
        HeaderValue::from_str(text).map_err(|_| SendError::Other("a header is not valid".into()))
    };
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("webhook-id", value(signed.id)?);
    headers.insert("webhook-timestamp", value(&signed.timestamp.to_string())?);
    headers.insert("webhook-signature", value(signed.signature)?);
    Ok(headers)
}

/// What failed, in words without the URL (it may carry the receiver's own token).
fn classify(err: reqwest::Error) -> SendError {
    let mut source: Option<&dyn std::error::Error> = Some(&err);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<DestinationError>() {
            return SendError::Destination(refused.clone());
        }
        source = cause.source();
    }
    let err = err.without_url();
    if err.is_timeout() {
        SendError::Timeout
    } else if err.is_connect() {
        SendError::Connect(root_cause(&err))
    } else {
        SendError::Other(root_cause(&err))
    }
}

/// The innermost cause's words (`Connection refused (os error 111)`).
fn root_cause(err: &dyn std::error::Error) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}
