//! Real processes for the durability tests and the crash soak: `tether sandbox` and
//! `tether serve` run from the built binary on loopback, each logging to a file in the
//! scenario's temp dir (printed when a test fails) and killed and reaped when dropped
//! ([`Proc`], [`Tether`], [`Scenario`]); typed helpers for the sandbox's control API
//! ([`Org`]) and tether's HTTP API ([`Api`]); and [`eventually`], which polls with a deadline
//! instead of sleeping a fixed time.

#![allow(dead_code, unused_imports)] // each test binary and the soak bench use a subset

mod api;
mod org;
mod process;
mod scenario;
mod tether;

use std::time::{Duration, Instant};

pub use api::{Answer, Api};
pub use org::Org;
pub use process::{Proc, fixed_port, tail, tether_command};
pub use scenario::{Options, Scenario};
pub use tether::{Tether, Timing};

/// The sandbox Connected App every scenario registers.
pub const CLIENT_ID: &str = "durability-app";
pub const CLIENT_SECRET: &str = "durability-secret";
/// A fixed master key (base64 of the bytes 0..32), so every start of tether opens the same
/// sealed secrets.
pub const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const PASSWORD: &str = "durability-pw";
/// How often [`eventually`] looks again.
const POLL: Duration = Duration::from_millis(25);
/// How long a process gets to start answering (a debug build on 2 busy cores).
const STARTUP: Duration = Duration::from_secs(30);
/// Lines of each log printed when a test fails.
const LOG_TAIL: usize = 120;

/// One process-level scenario at a time: they share 2 cores, and their timeouts (provider
/// timeout, lease, injected delays) are real seconds that a neighbour's load would stretch.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits for this test's turn; hold the guard for the whole test.
pub async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    TURN.lock().await
}

/// Polls `probe` until it answers `Ok`, failing the test after `within` with `what` and the
/// last thing the probe saw (its `Err`).
pub async fn eventually<T>(
    what: &str,
    within: Duration,
    probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    eventually_every(what, within, POLL, probe).await
}

/// Polls `text` (a process's output, a log file) until it contains `needle`, failing the
/// test after `within` with `what` and the text last read.
pub async fn eventually_contains(
    what: &str,
    within: Duration,
    needle: &str,
    mut text: impl FnMut() -> String,
) {
    eventually(what, within, async || {
        let text = text();
        if text.contains(needle) {
            Ok(())
        } else {
            Err(text)
        }
    })
    .await;
}

/// [`eventually`], looking every `every` (for probes that cost the server something, such as
/// a forced refresh answered 503 and logged as an error each time).
pub async fn eventually_every<T>(
    what: &str,
    within: Duration,
    every: Duration,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) => assert!(
                Instant::now() < deadline,
                "{what}: not within {within:?}; last seen: {last}"
            ),
        }
        tokio::time::sleep(every).await;
    }
}

/// A client that never follows redirects (the connect flow is followed by hand) and keeps
/// cookies like a browser (the connect link binds the flow to the browser that opened it).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .timeout(Duration::from_secs(90))
        .build()
        .expect("http client")
}
