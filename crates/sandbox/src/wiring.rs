//! Where the OAuth half meets the REST half (`crate::rest`): builds the record store from the
//! seed, puts the session gate in front of every versioned API route, and serves Bulk API 1.0
//! over the same records.

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use tether_core::clock::SharedClock;

use crate::SandboxError;
use crate::clock::SandboxClock;
use crate::gate::gate;
use crate::rest::{Records, api_routes, public_routes};
use crate::shared::Shared;

pub use crate::rest::RecordSeed;

/// The in-memory records the REST API serves.
pub type RecordStore = Records;

/// The default Accounts and Contacts, or exactly the seed's records when it has some.
pub fn records(
    clock: Arc<SandboxClock>,
    seed: Option<RecordSeed>,
) -> Result<RecordStore, SandboxError> {
    let clock: SharedClock = clock;
    match seed {
        None => Ok(Records::seeded(clock)),
        Some(seed) => {
            Records::from_seed(clock, seed).map_err(|e| SandboxError::Records(e.to_string()))
        }
    }
}

/// `GET /services/data/` (no auth), the versioned API behind the session gate, and Bulk API
/// 1.0 (which checks its own `X-SFDC-Session` header) over the same records.
pub fn rest(shared: &Shared, records: &RecordStore) -> Router {
    let api = api_routes(records.clone()).layer(from_fn_with_state(shared.clone(), gate));
    public_routes()
        .merge(api)
        .merge(crate::bulk::routes(shared.clone(), records.clone()))
}
