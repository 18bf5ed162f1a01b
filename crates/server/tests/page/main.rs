//! tether's connectors page over plain HTTP, no browser: signing in and out, the session
//! cookie, the refusals of forms that are not the page's own, the connector form, the
//! connections list and the webhooks it shows. `browser` drives the same page in Chromium.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod connections;
mod connectors;
mod sessions;
mod visitor;
mod webhooks;
