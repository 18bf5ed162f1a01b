//! The `tether` binary as a user runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn tether() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tether"))
}

/// Runs `tether args...` in `dir` without an inherited master key; its stdout, or a failure.
fn run(dir: &tempfile::TempDir, args: &[&str]) -> String {
    let out = tether()
        .args(args)
        .current_dir(dir.path())
        .env_remove("TETHER_MASTER_KEY")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Kills the child when the test ends, whatever happens.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn tether_sandbox_prints_its_listening_line_and_answers_health() {
    let child = tether()
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn tether sandbox");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("a line");
    let url = line
        .trim()
        .strip_prefix("sandbox listening on ")
        .expect("listening line");
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    let body = reqwest::blocking::get(format!("{url}/_sandbox/health"))
        .expect("health")
        .text()
        .expect("body");
    assert_eq!(body, r#"{"ok":true}"#);
}

#[test]
fn keys_create_prints_the_key_alone_on_the_last_line_and_migrate_is_idempotent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/t.db", dir.path().display());
    assert!(run(&dir, &["migrate", "--database", &db]).contains("is up to date"));
    assert!(run(&dir, &["migrate", "--database", &db]).contains("is up to date"));
    let out = run(
        &dir,
        &["keys", "create", "--workspace", "acme", "--database", &db],
    );
    let last = out.lines().last().expect("a last line");
    assert!(last.starts_with("tk_") && !last.contains(' '), "{out}");
    assert!(
        dir.path().join("tether-data/master.key").exists(),
        "generated master key"
    );
}

#[test]
fn rotate_master_re_encrypts_under_a_new_key_and_keeps_the_old_one_to_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/t.db", dir.path().display());
    run(
        &dir,
        &["keys", "create", "--workspace", "acme", "--database", &db],
    );
    let key_file = dir.path().join("tether-data/master.key");
    let keys = |text: &str| {
        text.lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count()
    };
    assert_eq!(
        keys(&std::fs::read_to_string(&key_file).expect("key file")),
        1
    );

    let out = run(&dir, &["keys", "rotate-master", "--database", &db]);
    assert!(out.starts_with("re-encrypted "), "{out}");
    assert_eq!(
        keys(&std::fs::read_to_string(&key_file).expect("key file")),
        2,
        "new key first, old kept"
    );
    // The store still opens and works under the rotated keyring.
    let again = run(
        &dir,
        &["keys", "create", "--workspace", "acme", "--database", &db],
    );
    assert!(
        again.lines().last().is_some_and(|l| l.starts_with("tk_")),
        "{again}"
    );
}

#[test]
fn tether_demo_on_other_ports_sends_the_browser_to_the_sandbox_login_not_a_redirect_mismatch() {
    let child = tether()
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--sandbox-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn tether demo");
    let mut running = Running(child);
    let mut lines = BufReader::new(running.0.stdout.take().expect("stdout")).lines();
    let mut tether_url = String::new();
    let key = loop {
        let line = lines.next().expect("a line").expect("text");
        if let Some(url) = line.strip_prefix("tether listening on ") {
            tether_url = url.to_owned();
        }
        if line.starts_with("tk_") {
            break line;
        }
    };
    assert!(
        tether_url.starts_with("http://127.0.0.1:") && !tether_url.ends_with(":7878"),
        "{tether_url}"
    );
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let session: serde_json::Value = http
        .post(format!("{tether_url}/v1/connect-sessions"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"connector": "salesforce", "end_user_id": "u-1"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let to_sandbox = http
        .get(session["connect_url"].as_str().expect("connect_url"))
        .send()
        .unwrap();
    let authorize = to_sandbox.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let page = http.get(&authorize).send().unwrap();
    assert_eq!(page.status(), 200, "{authorize}");
    let html = page.text().unwrap();
    assert!(!html.contains("redirect_uri_mismatch"), "{html}");
    assert!(
        html.to_lowercase().contains("password"),
        "the login page: {html}"
    );
}

#[test]
fn serve_stops_at_start_on_an_unreachable_database_naming_it_without_the_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = tether()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            "postgres://tether:s3cret-pass@127.0.0.1:1/tether",
        ])
        .current_dir(dir.path())
        .env_remove("TETHER_MASTER_KEY")
        .env("TETHER_DATABASE_CONNECT_TIMEOUT_SECONDS", "3")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "error: cannot connect to the database at postgres://tether:***@127.0.0.1:1/tether: "
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret-pass"), "{stderr}");
}
