//! An offline Salesforce org: OAuth endpoints, Connected App policies, a REST subset, login
//! history and a control API, all in memory. See `shared/spec/sandbox.md`.

pub mod rest;
