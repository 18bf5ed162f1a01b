//! The store's integration tests: a backend-neutral conformance suite (`conformance`), run
//! against a fresh SQLite file per test (`sqlite`) and, when `TETHER_TEST_POSTGRES_URL` is
//! set, a fresh PostgreSQL database per test (`postgres`); plus the rotation claims
//! (`secrets`) on both and the SQLite-only claim about the bytes on disk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;
mod fixtures;
mod postgres;
mod secrets;
mod sqlite;
