//! A per-process cache of current tokens, so a valid token is served without a database read.
//!
//! An entry lives at most [`TTL`]: a refresh, expiry or disconnect made by another tether
//! process is seen within that time; until then this process may serve the token it cached,
//! which after another process's refresh is still valid at the provider, but after another
//! process's disconnect or a revoke may already be refused (the caller then reports it as
//! `rejected_token`, which goes to the database). Changes made by this process update or drop
//! the entry at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use tether_core::ids::{ConnectionId, WorkspaceId};
use tether_store::CurrentToken;

/// How long an entry may be served without looking at the database again.
pub const TTL: Duration = Duration::from_secs(1);

/// Beyond this many entries, stale ones are swept on insert.
const SWEEP_ABOVE: usize = 50_000;

#[derive(Debug)]
struct Entry {
    workspace: WorkspaceId,
    token: CurrentToken,
    at: Instant,
}

/// Current tokens by connection.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: RwLock<HashMap<ConnectionId, Entry>>,
}

impl TokenCache {
    /// The cached token of `id` if it belongs to `workspace` and is younger than [`TTL`].
    pub fn get(&self, workspace: &WorkspaceId, id: &ConnectionId) -> Option<CurrentToken> {
        let entries = self.entries.read();
        let entry = entries.get(id)?;
        (entry.at.elapsed() < TTL && entry.workspace == *workspace).then(|| entry.token.clone())
    }

    /// Remembers the token just read or written (only tokens that may be served).
    pub fn put(&self, workspace: &WorkspaceId, token: &CurrentToken) {
        if !token.status.serves_tokens() {
            self.forget(&token.connection_id);
            return;
        }
        let mut entries = self.entries.write();
        if entries.len() > SWEEP_ABOVE {
            entries.retain(|_, e| e.at.elapsed() < TTL);
        }
        let entry = Entry {
            workspace: workspace.clone(),
            token: token.clone(),
            at: Instant::now(),
        };
        entries.insert(token.connection_id.clone(), entry);
    }

    /// Drops what is known of `id` (after a failure, a disconnect or a reconnect).
    pub fn forget(&self, id: &ConnectionId) {
        self.entries.write().remove(id);
    }
}
