//! The `tether` binary as a user runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::io::{BufRead, BufReader};
use std::path::Path;
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
    assert!(
        out.contains("re-encrypted every secret under master key"),
        "{out}"
    );
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

/// `tether args...` in `dir` with `env` as its only `TETHER_*` variables: its exit status,
/// stdout and stderr.
fn run_with(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let mut command = tether();
    command.args(args).current_dir(dir);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TETHER_") {
            command.env_remove(key);
        }
    }
    let out = command.envs(env.iter().copied()).output().expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `tether serve` on port 0 in `dir` with `env`, once it prints its address.
fn serve(dir: &Path, env: &[(&str, &str)]) -> (Running, String) {
    let mut command = tether();
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TETHER_") {
            command.env_remove(key);
        }
    }
    let mut running = Running(command.envs(env.iter().copied()).spawn().expect("spawn"));
    let stdout = running.0.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("a line");
    let base = line
        .trim()
        .strip_prefix("tether listening on ")
        .unwrap_or_else(|| panic!("listening line: {line:?}"))
        .to_owned();
    (running, base)
}

/// The key id a master key (base64) is named by.
fn key_id(b64: &str) -> String {
    tether_store::crypto::MasterKey::from_base64(b64)
        .expect("key")
        .key_id()
        .to_string()
}

const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_B: &str = "HxwdHhscGRoXGBUWExQREg8QDQ4LDAkKBwgFBgMEAQI=";

#[test]
fn keys_create_without_a_key_on_a_sealed_database_refuses_and_creates_no_key_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/t.db", dir.path().display());
    let env = [("TETHER_DATABASE", db.as_str())];
    run_with(dir.path(), &env, &["keys", "create", "--workspace", "acme"]);
    let generated = std::fs::read_to_string(dir.path().join("tether-data/master.key")).unwrap();
    let first_line = generated.lines().find(|l| !l.starts_with('#')).unwrap();

    let elsewhere = tempfile::tempdir().expect("another directory");
    let (ok, _, stderr) = run_with(
        elsewhere.path(),
        &env,
        &["keys", "create", "--workspace", "acme"],
    );
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "no master key is configured (TETHER_MASTER_KEY or TETHER_MASTER_KEY_FILE) and {} \
             does not exist, but the database is sealed under master key {}",
            elsewhere.path().join("tether-data/master.key").display(),
            key_id(first_line)
        )),
        "{stderr}"
    );
    assert!(stderr.contains("no key was generated"), "{stderr}");
    assert!(
        std::fs::read_dir(elsewhere.path())
            .unwrap()
            .next()
            .is_none(),
        "nothing written"
    );
}

#[test]
fn serve_with_the_wrong_key_refuses_to_start_naming_the_expected_key_id() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/t.db", dir.path().display());
    let right = [
        ("TETHER_DATABASE", db.as_str()),
        ("TETHER_MASTER_KEY", KEY_A),
    ];
    run_with(
        dir.path(),
        &right,
        &["keys", "create", "--workspace", "acme"],
    );

    let wrong = [
        ("TETHER_DATABASE", db.as_str()),
        ("TETHER_MASTER_KEY", KEY_B),
    ];
    let (ok, stdout, stderr) = run_with(dir.path(), &wrong, &["serve", "--listen", "127.0.0.1:0"]);
    assert!(!ok, "refused to start: {stdout}");
    assert!(!stdout.contains("listening"), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "error: the database is sealed under master key {} (primary), which the keyring does \
             not hold (it holds {})",
            key_id(KEY_A),
            key_id(KEY_B)
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "start tether with the keyring that holds master key {}",
            key_id(KEY_A)
        )),
        "{stderr}"
    );
}

#[test]
fn two_rotations_in_a_row_with_the_key_in_the_environment_leave_every_secret_readable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/t.db", dir.path().display());
    let with_env = [
        ("TETHER_DATABASE", db.as_str()),
        ("TETHER_MASTER_KEY", KEY_A),
    ];
    let (_, out, _) = run_with(
        dir.path(),
        &with_env,
        &["keys", "create", "--workspace", "acme"],
    );
    let api_key = out.lines().last().unwrap().to_owned();
    let (running, base) = serve(dir.path(), &with_env);
    let http = reqwest::blocking::Client::new();
    let connector = serde_json::json!({
        "provider": "salesforce", "client_id": "app", "client_secret": "the-client-secret",
        "login_url": "https://login.salesforce.com", "scopes": ["api"],
    });
    let put = http
        .put(format!("{base}/v1/connectors/sf"))
        .bearer_auth(&api_key)
        .json(&connector)
        .send()
        .unwrap();
    assert_eq!(put.status(), 200);
    drop(running);

    // First rotation: the key is in the environment, so the keyring goes to a file named.
    let (ok, out, err) = run_with(
        dir.path(),
        &with_env,
        &["keys", "rotate-master", "--new-keyring", "keys/k1"],
    );
    assert!(ok, "{out}{err}");
    let k1 = dir.path().join("keys/k1");
    assert!(
        out.contains(&format!(
            "from now on set TETHER_MASTER_KEY_FILE={} and unset TETHER_MASTER_KEY",
            k1.display()
        )),
        "{out}"
    );
    let k1_text = std::fs::read_to_string(&k1).unwrap();
    let new_key = k1_text.lines().find(|l| !l.starts_with('#')).unwrap();

    // Rotating again with the old key still in the environment is refused, naming the key
    // the database now expects, and writes nothing.
    let (ok, _, err) = run_with(
        dir.path(),
        &with_env,
        &["keys", "rotate-master", "--new-keyring", "keys/k2"],
    );
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "the database is sealed under master key {} (primary)",
            key_id(new_key)
        )),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&k1).unwrap(),
        k1_text,
        "k1 untouched"
    );
    assert!(!dir.path().join("keys/k2").exists());

    // The documented way: the keyring file from then on; the second rotation retires the
    // keys nothing is sealed under.
    let with_file = [
        ("TETHER_DATABASE", db.as_str()),
        ("TETHER_MASTER_KEY_FILE", "keys/k1"),
    ];
    let (ok, out, err) = run_with(
        dir.path(),
        &with_file,
        &["keys", "rotate-master", "--retire"],
    );
    assert!(ok, "{out}{err}");
    let (ok, out, err) = run_with(
        dir.path(),
        &with_file,
        &["keys", "retire-master", &key_id(KEY_A)],
    );
    assert!(ok, "{out}{err}");
    let held: Vec<String> = std::fs::read_to_string(&k1)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(key_id)
        .collect();
    assert_eq!(held.len(), 1, "only the newest key is left: {held:?}");

    let (running, base) = serve(dir.path(), &with_file);
    let got = http
        .get(format!("{base}/v1/connectors/sf"))
        .bearer_auth(&api_key)
        .send()
        .unwrap();
    assert_eq!(got.status(), 200, "the client secret opens");
    let ready = http.get(format!("{base}/readyz")).send().unwrap();
    assert_eq!(ready.status(), 200);
    drop(running);
    let (_, status, _) = run_with(dir.path(), &with_file, &["keys", "status"]);
    assert!(
        status.contains(&format!("{}  primary", held[0])),
        "{status}"
    );
}

/// `tether demo` on port 0: its tether URL, its sandbox URL, its API key.
fn demo() -> (Running, String, String, String) {
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
    let (mut tether_url, mut sandbox_url) = (String::new(), String::new());
    let key = loop {
        let line = lines.next().expect("a line").expect("text");
        if let Some(url) = line.strip_prefix("tether listening on ") {
            tether_url = url.to_owned();
        }
        if let Some(url) = line.strip_prefix("sandbox listening on ") {
            sandbox_url = url.to_owned();
        }
        if line.starts_with("tk_") {
            break line;
        }
    };
    (running, tether_url, sandbox_url, key)
}

/// Connects an account through the demo the way a browser does (connect link, sandbox login,
/// Allow, callback).
fn connect_through_demo(tether_url: &str, sandbox_url: &str, key: &str) {
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let location = |r: reqwest::blocking::Response| {
        assert!(
            r.status().is_redirection(),
            "{}: {:?}",
            r.status(),
            r.text()
        );
        r.headers()["location"].to_str().unwrap().to_owned()
    };
    let session: serde_json::Value = http
        .post(format!("{tether_url}/v1/connect-sessions"))
        .bearer_auth(key)
        .json(&serde_json::json!({"connector": "salesforce", "end_user_id": "u-cli"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let authorize = location(
        http.get(session["connect_url"].as_str().unwrap())
            .send()
            .unwrap(),
    );
    assert_eq!(http.get(&authorize).send().unwrap().status(), 200);
    let login = http
        .post(format!("{sandbox_url}/services/oauth2/authorize/login"))
        .form(&[
            ("username", "admin@sandbox.example"),
            ("password", "sandbox"),
        ])
        .send()
        .unwrap();
    assert!(login.status().is_success(), "login: {}", login.status());
    let callback = location(
        http.post(format!("{sandbox_url}/services/oauth2/authorize/consent"))
            .form(&[("decision", "allow")])
            .send()
            .unwrap(),
    );
    let done = http.get(&callback).send().unwrap();
    assert_eq!(done.status(), 200, "the Connected page");
}

#[test]
fn connections_and_doctor_read_a_running_server_through_the_client() {
    let (_demo, tether_url, sandbox_url, key) = demo();
    connect_through_demo(&tether_url, &sandbox_url, &key);
    let dir = tempfile::tempdir().expect("temp dir");
    let server = [
        ("TETHER_URL", tether_url.as_str()),
        ("TETHER_API_KEY", key.as_str()),
    ];

    let (ok, listed, stderr) = run_with(
        dir.path(),
        &server,
        &["connections", "list", "--page-size", "1"],
    );
    assert!(ok, "{stderr}");
    let rows: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{listed}");
    let columns: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(
        columns[1..],
        ["active", "salesforce", "admin@sandbox.example", "u-cli"]
    );
    let id = columns[0];

    let (ok, shown, stderr) = run_with(dir.path(), &server, &["connections", "show", id]);
    assert!(ok, "{stderr}");
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["id"], id);
    assert_eq!(shown["account"]["username"], "admin@sandbox.example");

    let (ok, report, stderr) = run_with(dir.path(), &server, &["doctor", id]);
    assert!(ok, "{stderr}");
    assert!(
        report.starts_with(&format!("Connection {id}\n")),
        "{report}"
    );
    assert!(report.contains("\nStatus: Active\n"), "{report}");

    let (ok, _, stderr) = run_with(
        dir.path(),
        &server,
        &["doctor", "conn_ZZZZZZZZZZZZZZZZZZZZ"],
    );
    assert!(!ok);
    assert!(
        stderr.contains("tether answered 404 not-found: connection not found"),
        "{stderr}"
    );
    let (ok, _, stderr) = run_with(dir.path(), &server, &["connections", "show", "nope"]);
    assert!(!ok);
    assert!(
        stderr.contains("\"nope\" is not a connection id"),
        "{stderr}"
    );
}
