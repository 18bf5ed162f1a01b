//! The flows of tether, between the HTTP adapters (`api`, `page`, `connect`, `proxy`) and
//! storage: connections (check, disconnect, the one revoke), connect flows (start, authorize,
//! complete), connections minted without a browser (JWT bearer, client credentials),
//! connectors (validate, store, delete) and the diagnosis facts. Adapters parse,
//! call one of these and render; they never reach past them to each other.
//!
//! One error type, [`ServiceError`], which the API turns into problem JSON and the page into
//! HTML.

pub mod connect;
pub mod connections;
pub mod connectors;
pub mod diagnosis;
pub mod events;
pub mod import;
pub mod minted;
pub mod paging;
pub mod webhooks;

use tether_core::cause::Cause;
use tether_core::diagnosis::Diagnosis;
use tether_store::StoreError;

use crate::tokens::TokenError;

/// Why a flow could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The named thing does not exist (in this workspace).
    #[error("{0} not found")]
    NotFound(String),
    /// A parameter or body the caller must fix; the text says how.
    #[error("{0}")]
    Invalid(String),
    /// The request conflicts with the current state; the text says why.
    #[error("{0}")]
    Conflict(String),
    /// The provider refused what the caller handed over (an imported refresh token); the
    /// diagnosis says why and what to do.
    #[error("{detail}")]
    ProviderRefused {
        detail: String,
        cause: Cause,
        diagnosis: Box<Diagnosis>,
    },
    /// Handing out or refreshing a token failed.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// tether's own storage failed.
    #[error("the store failed")]
    Store(#[from] StoreError),
}

impl ServiceError {
    /// `what` was not found.
    pub fn not_found(what: impl Into<String>) -> Self {
        ServiceError::NotFound(what.into())
    }
}

/// Result alias of the flows.
pub type ServiceResult<T> = Result<T, ServiceError>;
