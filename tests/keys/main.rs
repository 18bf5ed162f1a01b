//! The master key's life with real processes: `tether serve` (one or two on one database) and
//! `tether keys ...` run from the built binary next to `tether sandbox`, with the durability
//! tests' harness. A rotation run step by step while two servers answer token requests fails
//! none of them, and a re-encryption killed with SIGKILL half-way is finished by running it
//! again. The tests take turns (`harness::exclusive`): their timeouts are real seconds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

#[path = "../durability/harness/mod.rs"]
mod harness;

mod crash;
mod rotation;

use tether_store::crypto::MasterKey;

/// The key id of the harness's master key, as `tether keys` prints it.
pub fn first_key_id() -> String {
    MasterKey::from_base64(harness::MASTER_KEY)
        .expect("harness key")
        .key_id()
        .to_string()
}

/// The key id `tether keys add-master` printed.
pub fn added_key_id(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("added master key "))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no key id in: {out}"))
        .to_owned()
}

/// The values sealed under `key_id`, as `tether keys status` prints them (0 when absent).
pub fn values_under(status: &str, key_id: &str) -> u64 {
    status
        .lines()
        .find(|l| l.trim_start().starts_with(key_id))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
