//! Child processes: the `tether` command with a clean environment, a free fixed port, and
//! [`Proc`], which logs to a file and never outlives its test.

use std::fs::File;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;

use super::{LOG_TAIL, POLL};

/// `tether ...` run in `dir` (so no `tether.toml` of the caller is read), with no `TETHER_*`
/// variable inherited from the environment running the tests.
pub fn tether_command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tether"));
    command
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TETHER_") {
            command.env_remove(key);
        }
    }
    command
}

/// The last `lines` lines of a log file.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A free loopback port below Linux's ephemeral range (32768 and up), so no outgoing
/// connection takes it while tether is down between a kill and its restart.
pub fn fixed_port() -> u16 {
    let mut rng = rand::thread_rng();
    for _ in 0..500 {
        let port = rng.gen_range(20_000..32_000);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port between 20000 and 32000");
}

/// A child process whose stdout and stderr are appended to a log file; killed (SIGKILL) and
/// reaped when dropped, so none outlives its test.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> Proc {
        let mut file = File::options()
            .create(true)
            .append(true)
            .open(log)
            .expect("open log");
        let _ = writeln!(file, "===== {name} =====");
        let stderr = file.try_clone().expect("log handle");
        command.stdin(Stdio::null()).stdout(file).stderr(stderr);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Proc {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`, then reaps it.
    pub fn kill9(&mut self) -> ExitStatus {
        let _ = self.child.kill();
        self.child.wait().expect("reap")
    }

    /// Sends SIGTERM (what systemd, Docker and Kubernetes send to stop a service).
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// Sends the signal named `name` (`TERM`, `HUP`, ...).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {}: {status}", self.pid());
    }

    /// The exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// The exit status once it exits, or `None` if it is still running after `within`.
    pub async fn exit_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            tokio::time::sleep(POLL).await;
        }
        self.exited()
    }

    /// Its log so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Fails the test if it has exited, showing its log.
    pub(super) fn assert_running(&mut self) {
        if let Some(status) = self.exited() {
            panic!(
                "{} exited ({status}):\n{}",
                self.name,
                tail(&self.log, LOG_TAIL)
            );
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
