//! The REST API subset (`/services/data/...`): versions, resource map, SOQL queries, sObject
//! CRUD and limits over in-memory records.
//!
//! Authentication is not done here: the sandbox's session gate (outside this module) checks
//! the bearer token, applies Block / IP / API-enabled / daily-limit rules and faults, inserts
//! an [`ApiUsage`] request extension and adds `Sforce-Limit-Info` to the response.

mod body;
mod cursors;
pub mod error;
mod handlers;
mod ids;
mod query;
mod record_error;
mod records;
mod routes;
mod schema;
mod seed;
mod soql;
mod validate;
mod values;
mod versions;

pub use body::RowJson;
pub use cursors::Page;
pub use error::RestError;
pub use ids::generate as record_id;
pub use query::Row;
pub use record_error::RecordError;
pub use records::Records;
pub use routes::{api_routes, public_routes};
pub use seed::{RecordSeed, SeedError};
pub use versions::ApiVersion;

/// The canonical name of an sObject type the org serves (e.g. `account` -> `Account`).
pub fn sobject_name(name: &str) -> Option<&'static str> {
    schema::find(name).map(|t| t.name)
}

/// The org's daily API usage after counting the current request; inserted as a request
/// extension by the session gate, read by the `limits` resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiUsage {
    /// Requests counted today, including this one.
    pub used: u64,
    /// The org's daily API request limit.
    pub max: u64,
}
