//! The crash soak: the kill -9 durability test's loop (`tests/durability/storm.rs`) run for
//! as many kills as asked, against the release binary.
//!
//! ```sh
//! cargo bench --bench crash_soak -- --kills 1000 [--rotation on|off] [--seed N]
//! ```
//!
//! 8 connections (one sandbox user each) take a storm of forced refreshes from 4 clients while
//! `tether serve` is killed with SIGKILL 0.3-1.5 s into each storm and started again on the
//! same port and database. After the last kill it prints the kills, the losses (connections
//! not active with a working token), losses per 1,000 kills, every loss's diagnosis and the
//! wall time. It exits 1 when a loss happened without rotation, or was not diagnosed
//! `refresh_token_reused`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

#[path = "../tests/durability/harness/mod.rs"]
mod harness;
#[path = "../tests/durability/storm.rs"]
mod storm;

use std::process::ExitCode;

use storm::{CrashLoop, Outcome};

const USAGE: &str = "cargo bench --bench crash_soak -- --kills N [--rotation on|off] [--seed N]";

fn main() -> ExitCode {
    let plan = match parse(std::env::args().skip(1)) {
        Ok(plan) => plan,
        Err(problem) => {
            eprintln!("{problem}\nusage: {USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = runtime.block_on(async {
        let (_scenario, outcome) = storm::run(&plan).await;
        outcome
    });
    println!("{}", outcome.report());
    if acceptable(&outcome) {
        ExitCode::SUCCESS
    } else {
        println!("FAILED: a loss without rotation, or one not diagnosed refresh_token_reused");
        ExitCode::FAILURE
    }
}

/// `--kills N` (default 1000), `--rotation on|off` (default on), `--seed N`; `--bench`,
/// which `cargo bench` adds, is ignored.
fn parse(mut args: impl Iterator<Item = String>) -> Result<CrashLoop, String> {
    let mut plan = CrashLoop::new(1000, true);
    plan.progress_every = Some(50);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--bench" => {}
            "--kills" => plan.kills = value()?.parse().map_err(|e| format!("--kills: {e}"))?,
            "--seed" => plan.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--rotation" => {
                plan.rotation = match value()?.as_str() {
                    "on" => true,
                    "off" => false,
                    other => return Err(format!("--rotation {other}: on or off")),
                }
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(plan)
}

/// No loss without rotation; with rotation, every loss named for what it is.
fn acceptable(outcome: &Outcome) -> bool {
    let losses = outcome.losses();
    if !outcome.plan.rotation {
        return losses.is_empty();
    }
    losses.iter().all(|f| {
        f.status == "expired" && f.status_reason.as_deref() == Some("refresh_token_reused")
    })
}
