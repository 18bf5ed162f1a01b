//! A [`Scenario`]: a sandbox, a tether whose connector points at it, an API key, and the
//! logs of both printed if the test fails.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use super::{Api, LOG_TAIL, Org, Proc, STARTUP, Tether, Timing, eventually, tail, tether_command};

/// What a scenario sets up.
#[derive(Debug, Clone)]
pub struct Options {
    /// The sandbox Connected App's policy fields (`{"rotation": true}`, ...).
    pub app_policy: Value,
    /// The connector's `session_timeout_seconds` hint.
    pub session_timeout_hint: Option<u64>,
    pub timing: Timing,
    /// The master key in a keyring file (`TETHER_MASTER_KEY_FILE`) rather than in
    /// `TETHER_MASTER_KEY`.
    pub key_file: bool,
    /// More `TETHER_*` settings of the server (and its siblings).
    pub env: Vec<(&'static str, String)>,
}

impl Options {
    /// Default timing, refresh-token rotation on or off.
    pub fn rotation(on: bool) -> Options {
        Options {
            app_policy: json!({ "rotation": on }),
            session_timeout_hint: None,
            timing: Timing::default(),
            key_file: false,
            env: Vec::new(),
        }
    }

    /// The same, with the master key in a keyring file.
    pub fn with_key_file(self) -> Options {
        Options {
            key_file: true,
            ..self
        }
    }
}

/// A sandbox, a running tether whose connector points at it, and an API key; prints every
/// log's tail if the test fails, then kills both processes and removes the temp dir.
#[derive(Debug)]
pub struct Scenario {
    pub org: Org,
    pub api: Api,
    pub tether: Tether,
    sandbox: Proc,
    dir: tempfile::TempDir,
}

impl Scenario {
    pub async fn start(options: Options) -> Scenario {
        let dir = tempfile::tempdir().expect("temp dir");
        let (sandbox, org) = start_sandbox(dir.path()).await;
        let mut tether = Tether::new(dir.path(), options.timing, &org.base, options.key_file);
        for (key, value) in &options.env {
            tether.set_env(key, value);
        }
        org.create_app(&tether.callback_url(), &options.app_policy)
            .await;
        let api = Api::new(&tether.base, &tether.create_api_key());
        tether.start().await;
        api.put_connector(&org.base, options.session_timeout_hint)
            .await;
        Scenario {
            org,
            api,
            tether,
            sandbox,
            dir,
        }
    }

    /// Creates the sandbox user `{end_user}@durability.example` and connects it; the
    /// connection id.
    pub async fn connect_new_user(&self, end_user: &str) -> String {
        let username = format!("{end_user}@durability.example");
        self.org.create_user(&username).await;
        self.api.connect(end_user, &username).await
    }

    /// Starts a helper process (`name.log` in the scenario's dir), killed with the scenario.
    pub fn spawn_helper(&self, name: &str, command: Command) -> Proc {
        Proc::spawn(name, command, &self.dir.path().join(format!("{name}.log")))
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let Ok(entries) = std::fs::read_dir(self.dir.path()) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                eprintln!(
                    "----- {} (last {LOG_TAIL} lines) -----\n{}",
                    path.display(),
                    tail(&path, LOG_TAIL)
                );
            }
        }
    }
}

/// `tether sandbox --listen 127.0.0.1:0 --auto-approve`, once it answers health.
async fn start_sandbox(dir: &Path) -> (Proc, Org) {
    let mut command = tether_command(dir);
    command.args(["sandbox", "--listen", "127.0.0.1:0", "--auto-approve"]);
    let mut proc = Proc::spawn("tether sandbox", command, &dir.join("sandbox.log"));
    let base = eventually("the sandbox prints its address", STARTUP, async || {
        proc.assert_running();
        let output = proc.output();
        let line = output
            .lines()
            .find_map(|l| l.strip_prefix("sandbox listening on "));
        line.map(str::to_owned)
            .ok_or_else(|| "no listening line yet".to_owned())
    })
    .await;
    let org = Org::new(base);
    org.until_healthy().await;
    (proc, org)
}
