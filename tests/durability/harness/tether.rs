//! `tether serve` as a process on a fixed port and database: its settings, `keys create` and
//! the other key commands, start (until `/readyz`), `kill -9`, SIGTERM, SIGHUP and exit; and
//! a sibling server on the same database.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::{MASTER_KEY, Proc, STARTUP, eventually, fixed_port, http_client, tether_command};

/// tether's timing settings in a scenario.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub provider_timeout_seconds: u64,
    pub lease_seconds: u64,
}

impl Default for Timing {
    /// A short lease, so a killed process's leases lapse within seconds.
    fn default() -> Self {
        Timing {
            provider_timeout_seconds: 2,
            lease_seconds: 9,
        }
    }
}

/// `tether serve` on a fixed port and database, stopped and started again by the test.
#[derive(Debug)]
pub struct Tether {
    pub base: String,
    pub db_path: PathBuf,
    pub timing: Timing,
    dir: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    proc: Option<Proc>,
    starts: usize,
    name: String,
}

impl Tether {
    /// With `key_file`, the master key is written to `keys/master.key` in `dir` and read from
    /// there (`TETHER_MASTER_KEY_FILE`); else it is `TETHER_MASTER_KEY`.
    pub(super) fn new(dir: &Path, timing: Timing, sandbox_base: &str, key_file: bool) -> Tether {
        let port = fixed_port();
        let base = format!("http://127.0.0.1:{port}");
        let db_path = dir.join("tether.db");
        let sandbox_host = sandbox_base.trim_start_matches("http://");
        let key = if key_file {
            let path = dir.join("keys/master.key");
            std::fs::create_dir_all(dir.join("keys")).expect("keys dir");
            std::fs::write(&path, format!("{MASTER_KEY}\n")).expect("keyring file");
            ("TETHER_MASTER_KEY_FILE", path.display().to_string())
        } else {
            ("TETHER_MASTER_KEY", MASTER_KEY.to_owned())
        };
        let env = [
            ("TETHER_DATABASE", format!("sqlite://{}", db_path.display())),
            key,
            ("TETHER_LISTEN", format!("127.0.0.1:{port}")),
            ("TETHER_PUBLIC_URL", base.clone()),
            (
                "TETHER_EXTRA_PROVIDER_HOSTS",
                json!([sandbox_host]).to_string(),
            ),
            (
                "TETHER_PROVIDER_TIMEOUT_SECONDS",
                timing.provider_timeout_seconds.to_string(),
            ),
            ("TETHER_LEASE_SECONDS", timing.lease_seconds.to_string()),
        ];
        Tether {
            base,
            db_path,
            timing,
            dir: dir.to_owned(),
            env: env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            log: dir.join("tether.log"),
            proc: None,
            starts: 0,
            name: "tether serve".to_owned(),
        }
    }

    /// Another `tether serve` on the same database and keys, on a port of its own, logging to
    /// `{name}.log`.
    pub fn sibling(&self, name: &str) -> Tether {
        let port = fixed_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut env = self.env.clone();
        for (key, value) in &mut env {
            match key.as_str() {
                "TETHER_LISTEN" => *value = format!("127.0.0.1:{port}"),
                "TETHER_PUBLIC_URL" => value.clone_from(&base),
                _ => {}
            }
        }
        Tether {
            base,
            db_path: self.db_path.clone(),
            timing: self.timing,
            dir: self.dir.clone(),
            env,
            log: self.dir.join(format!("{name}.log")),
            proc: None,
            starts: 0,
            name: name.to_owned(),
        }
    }

    /// Sets (or replaces) an environment variable of the next start (and of siblings made
    /// after this).
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// `tether ARGS` in the scenario's dir with this server's settings.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = tether_command(&self.dir);
        command.args(args).envs(self.env.iter().cloned());
        command
    }

    /// Runs `tether ARGS` to its end; its stdout, or the test fails with its output.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("run tether");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "tether {args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// The keyring file, when the key is in one.
    pub fn key_file(&self) -> Option<PathBuf> {
        self.env
            .iter()
            .find(|(k, _)| k == "TETHER_MASTER_KEY_FILE")
            .map(|(_, v)| PathBuf::from(v))
    }

    pub fn callback_url(&self) -> String {
        format!("{}/oauth/callback", self.base)
    }

    /// `tether keys create --workspace test`: the key printed on the last line.
    pub(super) fn create_api_key(&self) -> String {
        let out = self
            .command(&["keys", "create", "--workspace", "test"])
            .output()
            .expect("run tether keys create");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "keys create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key = stdout.lines().last().expect("a key line").trim().to_owned();
        assert!(key.starts_with("tk_"), "keys create printed {stdout}");
        key
    }

    /// Starts `tether serve` and waits until `/readyz` answers 200.
    pub async fn start(&mut self) {
        assert!(self.proc.is_none(), "tether is already running");
        self.starts += 1;
        let name = format!("{} #{}", self.name, self.starts);
        let proc = Proc::spawn(&name, self.command(&["serve"]), &self.log);
        let proc = self.proc.insert(proc);
        let http = http_client();
        let url = format!("{}/readyz", self.base);
        eventually("tether answers /readyz", STARTUP, async || {
            proc.assert_running();
            match http.get(&url).timeout(Duration::from_secs(2)).send().await {
                Ok(r) if r.status() == StatusCode::OK => Ok(()),
                Ok(r) => Err(format!("{}", r.status())),
                Err(e) => Err(e.to_string()),
            }
        })
        .await;
    }

    /// `kill -9` the running tether and reap it.
    pub fn kill9(&mut self) {
        let mut proc = self.proc.take().expect("tether is running");
        proc.kill9();
    }

    /// SIGTERM to the running tether.
    pub fn terminate(&self) {
        self.proc.as_ref().expect("tether is running").terminate();
    }

    /// SIGHUP to the running tether: it reads its keyring file again.
    pub fn hangup(&self) {
        self.proc.as_ref().expect("tether is running").signal("HUP");
    }

    /// SIGTERM, then waits for tether to exit: its exit status, or the test fails if it is
    /// still running after `within`. It can be started again.
    pub async fn stop(&mut self, within: Duration) -> ExitStatus {
        self.terminate();
        let status = self.exit_within(within).await;
        status.unwrap_or_else(|| panic!("tether still runs {within:?} after SIGTERM"))
    }

    /// The exit status once tether exits, or `None` if it is still running after `within`;
    /// once it has exited it can be started again.
    pub async fn exit_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let proc = self.proc.as_mut().expect("tether is running");
        let status = proc.exit_within(within).await;
        if status.is_some() {
            self.proc = None;
        }
        status
    }

    /// How many times `tether serve` was started.
    pub fn starts(&self) -> usize {
        self.starts
    }
}
