//! The handle every handler shares: the org state behind one mutex, the clock it runs on (the
//! shared virtual clock plus the sandbox's own offset), and the base URL it advertises
//! (`instance_url`, identity URLs).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use tether_core::clock::Clock;
use url::Url;

use crate::clock::SandboxClock;
use crate::state::State;

/// Shared by every route of one sandbox.
#[derive(Debug)]
pub struct Inner {
    pub state: Mutex<State>,
    pub clock: Arc<SandboxClock>,
    pub base_url: Url,
    /// The org's id (fixed for the sandbox's life; kept here so hot paths skip the lock).
    pub org_id: String,
    /// Token answers an `after_grant: "drop"` fault is holding back right now.
    pub held_answers: AtomicU64,
}

/// Cloned into every handler.
pub type Shared = Arc<Inner>;

impl Inner {
    /// The sandbox's now: the virtual clock plus the sandbox's offset.
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
