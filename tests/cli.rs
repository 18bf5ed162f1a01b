//! The `tether` binary as a user runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::process::{ChildStdout, Command, Stdio};

fn tether() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tether"))
}

/// `tether args...` in `dir` with `env` as its only `TETHER_*` variables.
fn tether_in(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = tether();
    command.args(args).current_dir(dir);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TETHER_") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().copied());
    command
}

/// `tether args...` in `dir` with `env` as its only `TETHER_*` variables: its exit status,
/// stdout and stderr.
fn run_with(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let out = tether_in(dir, env, args).output().expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`run_with`] that must succeed: its stdout.
fn run(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let (ok, stdout, stderr) = run_with(dir, env, args);
    assert!(ok, "{args:?}: {stdout}{stderr}");
    stdout
}

/// [`run_with`] that must fail: its stderr.
fn run_refused(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let (ok, stdout, stderr) = run_with(dir, env, args);
    assert!(!ok, "{args:?} must fail: {stdout}");
    stderr
}

/// A temp dir and the URL of an SQLite database in it.
fn temp_database() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/t.db", dir.path().display());
    (dir, db)
}

/// The settings of the database `db` with the master key `key` in the environment.
fn sealed_under<'a>(db: &'a str, key: &'a str) -> [(&'static str, &'a str); 2] {
    [("TETHER_DATABASE", db), ("TETHER_MASTER_KEY", key)]
}

/// `tether keys create --workspace acme` in `dir` with `env`: the API key it printed last.
fn create_api_key(dir: &Path, env: &[(&str, &str)]) -> String {
    let out = run(dir, env, &["keys", "create", "--workspace", "acme"]);
    out.lines().last().expect("a key line").to_owned()
}

/// Fails unless `output` says `expected`.
fn assert_says(output: &str, expected: &str) {
    assert!(output.contains(expected), "{expected:?} not in:\n{output}");
}

/// Kills the child when the test ends, whatever happens.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running child's stdout, line by line.
type Stdout = Lines<BufReader<ChildStdout>>;

/// Spawns `command` with its stdout piped to the test.
fn spawn(command: &mut Command) -> (Running, Stdout) {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn tether");
    let stdout = child.stdout.take().expect("stdout");
    (Running(child), BufReader::new(stdout).lines())
}

/// The next line of `stdout`.
fn next_line(stdout: &mut Stdout) -> String {
    stdout.next().expect("a line").expect("text")
}

/// The URL of the next line, which must be `{what} listening on URL`.
fn listening_url(stdout: &mut Stdout, what: &str) -> String {
    let line = next_line(stdout);
    line.trim()
        .strip_prefix(&format!("{what} listening on "))
        .unwrap_or_else(|| panic!("listening line: {line:?}"))
        .to_owned()
}

#[test]
fn tether_sandbox_prints_its_listening_line_and_answers_health() {
    let (_running, mut stdout) = spawn(tether().args(["sandbox", "--listen", "127.0.0.1:0"]));
    let url = listening_url(&mut stdout, "sandbox");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let body = reqwest::blocking::get(format!("{url}/_sandbox/health"))
        .expect("health")
        .text()
        .expect("body");
    assert_eq!(body, r#"{"ok":true}"#);
}

#[test]
fn keys_create_prints_the_key_alone_on_the_last_line_and_migrate_is_idempotent() {
    let (dir, db) = temp_database();
    assert!(run(dir.path(), &[], &["migrate", "--database", &db]).contains("is up to date"));
    assert!(run(dir.path(), &[], &["migrate", "--database", &db]).contains("is up to date"));
    let out = run(
        dir.path(),
        &[],
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
fn logs_written_to_a_file_or_a_pipe_are_plain_text_without_colour_codes() {
    let (dir, db) = temp_database();
    let (ok, _, stderr) = run_with(dir.path(), &[], &["migrate", "--database", &db]);
    assert!(ok, "{stderr}");
    assert_says(&stderr, "WARN");
    assert_says(
        &stderr,
        "no master key configured and the database was empty",
    );
    assert!(!stderr.contains('\u{1b}'), "an escape code in: {stderr:?}");
}

#[test]
fn rotate_master_re_encrypts_under_a_new_key_and_keeps_the_old_one_to_read() {
    let (dir, db) = temp_database();
    run(
        dir.path(),
        &[],
        &["keys", "create", "--workspace", "acme", "--database", &db],
    );
    let key_file = dir.path().join("tether-data/master.key");
    assert_eq!(keyring(&key_file).len(), 1);

    let out = run(
        dir.path(),
        &[],
        &["keys", "rotate-master", "--database", &db],
    );
    assert_says(&out, "re-encrypted every secret under master key");
    assert_eq!(keyring(&key_file).len(), 2, "new key first, old kept");
    // The store still opens and works under the rotated keyring.
    let again = run(
        dir.path(),
        &[],
        &["keys", "create", "--workspace", "acme", "--database", &db],
    );
    assert!(
        again.lines().last().is_some_and(|l| l.starts_with("tk_")),
        "{again}"
    );
}

#[test]
fn tether_demo_on_other_ports_sends_the_browser_to_the_sandbox_login_not_a_redirect_mismatch() {
    let demo = Demo::start();
    let tether_url = &demo.tether_url;
    assert!(
        tether_url.starts_with("http://127.0.0.1:") && !tether_url.ends_with(":7878"),
        "{tether_url}"
    );
    let http = browser();
    let connect_url = demo.connect_session(&http, "u-1");
    let authorize = location(http.get(connect_url).send().unwrap());
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
    let (ok, _, stderr) = run_with(
        dir.path(),
        &[("TETHER_DATABASE_CONNECT_TIMEOUT_SECONDS", "3")],
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            "postgres://tether:s3cret-pass@127.0.0.1:1/tether",
        ],
    );
    assert!(!ok);
    assert_says(
        &stderr,
        "error: cannot connect to the database at postgres://tether:***@127.0.0.1:1/tether: ",
    );
    assert!(!stderr.contains("s3cret-pass"), "{stderr}");
}

/// `tether serve` on port 0 in `dir` with `env`, once it prints its address.
fn serve(dir: &Path, env: &[(&str, &str)]) -> (Running, String) {
    let mut command = tether_in(dir, env, &["serve", "--listen", "127.0.0.1:0"]);
    let (running, mut stdout) = spawn(command.stderr(Stdio::null()));
    let base = listening_url(&mut stdout, "tether");
    (running, base)
}

/// The key id a master key (base64) is named by.
fn key_id(b64: &str) -> String {
    tether_store::crypto::MasterKey::from_base64(b64)
        .expect("key")
        .key_id()
        .to_string()
}

/// The keys (base64) a keyring file holds, newest first.
fn keyring(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("keyring file")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_B: &str = "HxwdHhscGRoXGBUWExQREg8QDQ4LDAkKBwgFBgMEAQI=";

#[test]
fn keys_create_without_a_key_on_a_sealed_database_refuses_and_creates_no_key_file() {
    let (dir, db) = temp_database();
    let env = [("TETHER_DATABASE", db.as_str())];
    create_api_key(dir.path(), &env);
    let generated = keyring(&dir.path().join("tether-data/master.key"));

    let elsewhere = tempfile::tempdir().expect("another directory");
    let stderr = run_refused(
        elsewhere.path(),
        &env,
        &["keys", "create", "--workspace", "acme"],
    );
    assert_says(
        &stderr,
        &format!(
            "no master key is configured (TETHER_MASTER_KEY or TETHER_MASTER_KEY_FILE) and {} \
             does not exist, but the database is sealed under master key {}",
            elsewhere.path().join("tether-data/master.key").display(),
            key_id(&generated[0])
        ),
    );
    assert_says(&stderr, "no key was generated");
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
    let (dir, db) = temp_database();
    let right = sealed_under(&db, KEY_A);
    create_api_key(dir.path(), &right);

    let wrong = sealed_under(&db, KEY_B);
    let (ok, stdout, stderr) = run_with(dir.path(), &wrong, &["serve", "--listen", "127.0.0.1:0"]);
    assert!(!ok, "refused to start: {stdout}");
    assert!(!stdout.contains("listening"), "{stdout}");
    assert_says(
        &stderr,
        &format!(
            "error: the database is sealed under master key {} (primary), which the keyring does \
             not hold (it holds {})",
            key_id(KEY_A),
            key_id(KEY_B)
        ),
    );
    assert_says(
        &stderr,
        &format!(
            "start tether with the keyring that holds master key {}",
            key_id(KEY_A)
        ),
    );
}

#[test]
fn two_rotations_in_a_row_with_the_key_in_the_environment_leave_every_secret_readable() {
    let (dir, db) = temp_database();
    let with_env = sealed_under(&db, KEY_A);
    let api_key = create_api_key(dir.path(), &with_env);
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
    let out = run(
        dir.path(),
        &with_env,
        &["keys", "rotate-master", "--new-keyring", "keys/k1"],
    );
    let k1 = dir.path().join("keys/k1");
    assert_says(
        &out,
        &format!(
            "from now on set TETHER_MASTER_KEY_FILE={} and unset TETHER_MASTER_KEY",
            k1.display()
        ),
    );
    let k1_text = std::fs::read_to_string(&k1).unwrap();
    let new_key = &keyring(&k1)[0];

    // Rotating again with the old key still in the environment is refused, naming the key
    // the database now expects, and writes nothing.
    let err = run_refused(
        dir.path(),
        &with_env,
        &["keys", "rotate-master", "--new-keyring", "keys/k2"],
    );
    assert_says(
        &err,
        &format!(
            "the database is sealed under master key {} (primary)",
            key_id(new_key)
        ),
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
    run(
        dir.path(),
        &with_file,
        &["keys", "rotate-master", "--retire"],
    );
    run(
        dir.path(),
        &with_file,
        &["keys", "retire-master", &key_id(KEY_A)],
    );
    let held: Vec<String> = keyring(&k1).iter().map(|k| key_id(k)).collect();
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
    assert_says(&status, &format!("{}  primary", held[0]));
}

/// `tether demo` on port 0, once it has printed its API key.
struct Demo {
    _running: Running,
    tether_url: String,
    sandbox_url: String,
    key: String,
}

impl Demo {
    fn start() -> Demo {
        let (running, mut stdout) = spawn(tether().args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--sandbox-listen",
            "127.0.0.1:0",
        ]));
        let (mut tether_url, mut sandbox_url) = (String::new(), String::new());
        let key = loop {
            let line = next_line(&mut stdout);
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
        Demo {
            _running: running,
            tether_url,
            sandbox_url,
            key,
        }
    }

    /// A connect session for `end_user` on the demo's Salesforce connector: its `connect_url`.
    fn connect_session(&self, http: &reqwest::blocking::Client, end_user: &str) -> String {
        let session: serde_json::Value = http
            .post(format!("{}/v1/connect-sessions", self.tether_url))
            .bearer_auth(&self.key)
            .json(&serde_json::json!({"connector": "salesforce", "end_user_id": end_user}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        session["connect_url"]
            .as_str()
            .expect("connect_url")
            .to_owned()
    }

    /// Connects an account through the demo the way a browser does (connect link, sandbox
    /// login, Allow, callback).
    fn connect(&self, end_user: &str) {
        let http = browser();
        let authorize = location(
            http.get(self.connect_session(&http, end_user))
                .send()
                .unwrap(),
        );
        assert_eq!(http.get(&authorize).send().unwrap().status(), 200);
        let login = http
            .post(format!(
                "{}/services/oauth2/authorize/login",
                self.sandbox_url
            ))
            .form(&[
                ("username", "admin@sandbox.example"),
                ("password", "sandbox"),
            ])
            .send()
            .unwrap();
        assert!(login.status().is_success(), "login: {}", login.status());
        let callback = location(
            http.post(format!(
                "{}/services/oauth2/authorize/consent",
                self.sandbox_url
            ))
            .form(&[("decision", "allow")])
            .send()
            .unwrap(),
        );
        let done = http.get(&callback).send().unwrap();
        assert_eq!(done.status(), 200, "the Connected page");
    }
}

/// A client that follows no redirect and keeps cookies, as a browser driven by hand.
fn browser() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

/// Where a redirect points.
fn location(response: reqwest::blocking::Response) -> String {
    assert!(
        response.status().is_redirection(),
        "{}: {:?}",
        response.status(),
        response.text()
    );
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[test]
fn connections_and_doctor_read_a_running_server_through_the_client() {
    let demo = Demo::start();
    demo.connect("u-cli");
    let dir = tempfile::tempdir().expect("temp dir");
    let server = [
        ("TETHER_URL", demo.tether_url.as_str()),
        ("TETHER_API_KEY", demo.key.as_str()),
    ];

    let listed = run(
        dir.path(),
        &server,
        &["connections", "list", "--page-size", "1"],
    );
    let rows: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{listed}");
    let columns: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(
        columns[1..],
        ["active", "salesforce", "admin@sandbox.example", "u-cli"]
    );
    let id = columns[0];

    let shown = run(dir.path(), &server, &["connections", "show", id]);
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["id"], id);
    assert_eq!(shown["account"]["username"], "admin@sandbox.example");

    let report = run(dir.path(), &server, &["doctor", id]);
    assert!(
        report.starts_with(&format!("Connection {id}\n")),
        "{report}"
    );
    assert_says(&report, "\nStatus: Active\n");

    let stderr = run_refused(
        dir.path(),
        &server,
        &["doctor", "conn_ZZZZZZZZZZZZZZZZZZZZ"],
    );
    assert_says(
        &stderr,
        "tether answered 404 not-found: connection not found",
    );
    let stderr = run_refused(dir.path(), &server, &["connections", "show", "nope"]);
    assert_says(&stderr, "\"nope\" is not a connection id");
}
