//! Durability, process by process: the real `tether` binary run as separate processes next to
//! `tether sandbox`, then killed with SIGKILL, stopped with SIGTERM, starved of its database,
//! fed a provider whose clock is hours off, or started with absurd settings, and judged by
//! what a user reads: the connection's status, its `status_reason` and diagnosis, whether the
//! token it hands out works on the Salesforce REST API, and the org's login history.
//!
//! The tests take turns (`harness::exclusive`): their timeouts are real seconds. Faults and the
//! sandbox clock are set through the sandbox's control API (`shared/spec/sandbox.md`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod harness;
mod storm;

mod claims;
mod db_lock;
mod dropped_answer;
mod kill9;
mod settings;
mod sigterm;
mod skew;
mod webhooks;
