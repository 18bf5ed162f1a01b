//! The test app of tether's server tests (`api`, `page`, `browser`) and of the benches: one
//! tether and one sandbox in this process on ports of their own, sharing one
//! [`VirtualClock`](tether_core::clock::VirtualClock), with a workspace, an API key, a sandbox
//! Connected App whose callback is this tether and a `salesforce` connector for it
//! ([`spawn_app`], [`spawn_app_with`] and its [`AppOptions`]); then one typed helper per
//! sandbox control and per tether endpoint, and the connect flow over plain HTTP
//! ([`TestApp::connect_as`]).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test support: a panic is the failure report

mod api;
mod app;
mod sandbox;

pub use api::location;
pub use app::{
    AppOptions, CLIENT_ID, CLIENT_SECRET, DEFAULT_PROVIDER_TIMEOUT, TestApp, Tether, http_client,
    postgres_database, sandbox_host, spawn_app, spawn_app_with, start_tether, start_tether_with,
};
