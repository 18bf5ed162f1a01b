//! The store's integration tests: a backend-neutral conformance suite (`conformance`), run
//! against a fresh SQLite file per test (`sqlite`) and, when `TETHER_TEST_POSTGRES_URL` is
//! set, a fresh PostgreSQL database per test (`postgres`); plus the rotation claims
//! (`secrets`, `master_keys`) on both and the SQLite-only claims about the bytes on disk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;
mod fixtures;
mod master_keys;
mod postgres;
mod secrets;
mod sqlite;
