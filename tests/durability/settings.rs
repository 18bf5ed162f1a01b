//! Absurd settings are refused when `tether serve` starts, with a message naming the setting
//! and its allowed range, instead of a service that overflows, spins or never keeps anything
//! alive.

use std::time::{Duration, Instant};

use crate::harness::{MASTER_KEY, Proc, fixed_port, tether_command};

/// How long a refusal may take.
const REFUSED_WITHIN: Duration = Duration::from_secs(5);

/// One absurd value per case: (environment variable, value, setting named in the message).
const CASES: [(&str, &str, &str); 5] = [
    // About 3 million years: a killed process's refreshes would never be retried.
    ("TETHER_LEASE_SECONDS", "99999999999999", "lease_seconds"),
    ("TETHER_LEASE_SECONDS", "0", "lease_seconds"),
    // Every connection refreshed on every scheduler tick.
    ("TETHER_KEEPALIVE_SECONDS", "0", "keepalive_seconds"),
    // u64::MAX: overflows any deadline computed from it.
    (
        "TETHER_PROVIDER_TIMEOUT_SECONDS",
        "18446744073709551615",
        "provider_timeout_seconds",
    ),
    // Every provider call would time out at once.
    (
        "TETHER_PROVIDER_TIMEOUT_SECONDS",
        "0",
        "provider_timeout_seconds",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_settings_are_refused_at_startup_naming_the_setting_and_its_range() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut running = Vec::new();
    for (i, (var, value, _)) in CASES.iter().enumerate() {
        let case_dir = dir.path().join(format!("case-{i}"));
        std::fs::create_dir(&case_dir).expect("case dir");
        let port = fixed_port();
        let mut command = tether_command(&case_dir);
        command
            .arg("serve")
            .env(
                "TETHER_DATABASE",
                format!("sqlite://{}/t.db", case_dir.display()),
            )
            .env("TETHER_MASTER_KEY", MASTER_KEY)
            .env("TETHER_LISTEN", format!("127.0.0.1:{port}"))
            .env("TETHER_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env(var, value);
        let log = case_dir.join("serve.log");
        // The log's header names the case, not the setting, so only tether's words count.
        running.push(Proc::spawn(&format!("case {i}"), command, &log));
    }
    let deadline = Instant::now() + REFUSED_WITHIN;
    let mut wrong = Vec::new();
    for (mut proc, (var, value, setting)) in running.into_iter().zip(CASES) {
        let status = proc
            .exit_within(deadline.saturating_duration_since(Instant::now()))
            .await;
        let said = proc.output();
        let lower = said.to_lowercase();
        let explained =
            lower.contains(setting) && (lower.contains("range") || lower.contains("between"));
        let said: Vec<&str> = said.lines().skip(1).take(8).collect();
        let said = said.join("\n");
        match status {
            Some(status) if !status.success() && explained => {}
            Some(status) => wrong.push(format!(
                "{var}={value}: exited ({status}) without naming {setting} and its range:\n{said}"
            )),
            None => wrong.push(format!(
                "{var}={value}: still running after {REFUSED_WITHIN:?}:\n{said}"
            )),
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n\n"));
}
