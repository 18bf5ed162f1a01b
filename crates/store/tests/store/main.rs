//! The store's integration tests: a backend-neutral conformance suite (`conformance`), run
//! here against a fresh SQLite file per test (`sqlite`), plus the SQLite-only claims about
//! the bytes on disk and master key rotation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;
mod fixtures;
mod sqlite;
