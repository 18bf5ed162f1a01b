//! tether's API, end to end: a real HTTP client against tether on port 0, with its own
//! in-process Salesforce sandbox sharing one virtual clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod consent;
mod helpers;
mod probes;
mod support;

mod client;
mod concurrency;
mod connect;
mod connect_errors;
mod diagnosis;
mod fuzz;
mod history;
mod import;
mod inference;
mod isolation;
mod keepalive;
mod keyless;
mod lifecycle;
mod lifecycle_guards;
mod master_keys;
mod matrix;
mod metrics;
mod openapi;
mod outages;
mod paging;
mod policies;
mod problems;
mod provider_hosts;
mod proxy;
mod proxy_host;
mod proxy_node;
mod proxy_python;
mod reconnect;
mod recovery;
mod tokens;
mod webhooks;
