//! The one error type of provider calls.

use tether_core::refresh::{ProviderError, RefreshFailure};
use tether_core::secret::RefreshToken;

/// How a provider call failed. Never carries a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The provider answered with an OAuth error body.
    #[error("provider refused ({http_status}): {}", describe(.error))]
    Provider {
        http_status: u16,
        error: ProviderError,
        /// `Retry-After` of the answer, if any (a 429 with an OAuth body carries one).
        retry_after_seconds: Option<u64>,
    },
    /// The provider answered an HTTP error status without an OAuth error body.
    #[error("provider answered HTTP {http_status}")]
    HttpStatus {
        http_status: u16,
        retry_after_seconds: Option<u64>,
    },
    /// No answer within the timeout.
    #[error("provider did not answer in time")]
    Timeout,
    /// Connecting failed: nothing was sent.
    #[error("could not connect to the provider: {0}")]
    Unreachable(String),
    /// The connection broke after it was made.
    #[error("could not reach the provider: {0}")]
    Network(String),
    /// A success status whose body is not what the protocol says (or is forged): nothing of
    /// it is used.
    #[error("provider answered something that is not a valid response: {0}")]
    InvalidResponse(String),
    /// A token answer that cannot be used as one but may carry a new refresh token, which the
    /// caller must keep (the provider may already have retired the old one).
    #[error("provider answered an incomplete token response: {reason}")]
    Incomplete {
        reason: String,
        refresh_token: Option<RefreshToken>,
    },
    /// A URL the caller gave is unusable (tether-side configuration problem).
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
}

fn describe(error: &ProviderError) -> String {
    match &error.error_description {
        Some(d) => format!("{}: {}", error.error, d),
        None => error.error.clone(),
    }
}

impl OAuthError {
    /// The refresh-failure shape the core classifies.
    pub fn as_refresh_failure(&self) -> RefreshFailure {
        match self {
            OAuthError::Provider {
                http_status, error, ..
            } => RefreshFailure::Provider {
                http_status: *http_status,
                error: error.clone(),
            },
            OAuthError::HttpStatus { http_status, .. } => RefreshFailure::HttpStatus {
                http_status: *http_status,
            },
            OAuthError::Timeout => RefreshFailure::Timeout,
            OAuthError::Unreachable(_) | OAuthError::Network(_) => RefreshFailure::Network,
            OAuthError::InvalidResponse(_)
            | OAuthError::Incomplete { .. }
            | OAuthError::InvalidUrl(_) => RefreshFailure::InvalidResponse,
        }
    }

    /// The provider's OAuth error, when it sent one.
    pub fn provider_error(&self) -> Option<&ProviderError> {
        match self {
            OAuthError::Provider { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Seconds the provider asked us to wait, when it said.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            OAuthError::HttpStatus {
                retry_after_seconds,
                ..
            }
            | OAuthError::Provider {
                retry_after_seconds,
                ..
            } => *retry_after_seconds,
            _ => None,
        }
    }

    /// Whether the request may have reached the provider without tether getting its answer:
    /// a timeout or a broken connection after connecting (a refused connection never sent
    /// anything). Under rotation such an attempt may have retired the refresh token.
    pub fn answer_may_be_lost(&self) -> bool {
        matches!(self, OAuthError::Timeout | OAuthError::Network(_))
    }

    /// A new refresh token an unusable answer still carried.
    pub fn salvaged_refresh_token(&self) -> Option<&RefreshToken> {
        match self {
            OAuthError::Incomplete { refresh_token, .. } => refresh_token.as_ref(),
            _ => None,
        }
    }

    pub(crate) fn from_reqwest(err: &reqwest::Error) -> Self {
        if err.is_timeout() {
            OAuthError::Timeout
        } else if err.is_connect() {
            OAuthError::Unreachable(err.without_url_string())
        } else {
            // reqwest's Display never includes request bodies; it may include the URL, which
            // carries no secret in any call this crate makes.
            OAuthError::Network(err.without_url_string())
        }
    }
}

trait WithoutUrl {
    fn without_url_string(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_string(&self) -> String {
        let mut text = self.to_string();
        if let Some(url) = self.url() {
            text = text.replace(url.as_str(), "[provider]");
        }
        text
    }
}
