//! The handle every handler shares: the org state behind one mutex, the virtual clock it runs
//! on, and the base URL it advertises (`instance_url`, identity URLs).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use tether_core::clock::{Clock, VirtualClock};
use url::Url;

use crate::state::State;

/// Shared by every route of one sandbox.
#[derive(Debug)]
pub struct Inner {
    pub state: Mutex<State>,
    pub clock: Arc<VirtualClock>,
    pub base_url: Url,
    /// The org's id (fixed for the sandbox's life; kept here so hot paths skip the lock).
    pub org_id: String,
}

/// Cloned into every handler.
pub type Shared = Arc<Inner>;

impl Inner {
    /// The current instant on the virtual clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The base URL without a trailing slash (`http://127.0.0.1:PORT`).
    pub fn base(&self) -> String {
        self.base_url.as_str().trim_end_matches('/').to_owned()
    }

    /// The identity URL of a user: `{base}/id/{orgId}/{userId}`.
    pub fn identity_url(&self, user_id: &str) -> String {
        format!("{}/id/{}/{user_id}", self.base(), self.org_id)
    }
}
