//! tether's API, end to end: a real HTTP client against tether on port 0, with its own
//! in-process Salesforce sandbox sharing one virtual clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod connect;
mod tokens;
