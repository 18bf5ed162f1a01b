//! `last_used_at` without a write on the token path: uses are noted in memory and written in
//! batches by the scheduler.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use tether_core::ids::{ConnectionId, WorkspaceId};
use tether_store::LastUse;

/// Pending "last used" times, flushed to the store in batches.
#[derive(Debug, Default)]
pub struct UsageTracker {
    pending: Mutex<HashMap<(WorkspaceId, ConnectionId), DateTime<Utc>>>,
}

impl UsageTracker {
    /// Notes that connection `id` of `workspace` was used at `at`.
    pub fn touch(&self, workspace: &WorkspaceId, id: &ConnectionId, at: DateTime<Utc>) {
        let mut pending = self.pending.lock();
        match pending.get_mut(&(workspace.clone(), id.clone())) {
            Some(last) if *last >= at => {}
            Some(last) => *last = at,
            None => {
                pending.insert((workspace.clone(), id.clone()), at);
            }
        }
    }

    /// Takes every pending use, leaving none.
    pub fn drain(&self) -> Vec<LastUse> {
        std::mem::take(&mut *self.pending.lock())
            .into_iter()
            .map(|((workspace, id), at)| LastUse { workspace, id, at })
            .collect()
    }
}
