//! The sandbox's behaviour as a client sees it over HTTP: one test per behaviour of
//! `sandbox.md`, each against its own sandbox on port 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod approvals;
mod authorize;
mod bulk;
mod client_credentials;
mod clock;
mod control;
mod faults;
mod gate;
mod helpers;
mod identity;
mod jwt;
mod library;
mod lifecycles;
mod policies;
mod rest;
mod token;
