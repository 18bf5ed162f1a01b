//! The sandbox's behaviour as a client sees it over HTTP: one test per behaviour of
//! `sandbox.md`, each against its own sandbox on port 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authorize;
mod control;
mod gate;
mod helpers;
mod identity;
mod library;
mod policies;
mod rest;
mod token;
