//! The REST API subset (`/services/data/...`): versions, resource map, SOQL queries, sObject
//! CRUD and limits over in-memory records.

pub mod error;

pub use error::RestError;
