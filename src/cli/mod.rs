//! Command-line interface (api.md, CLI): one subcommand per module.

mod client;
mod demo;
mod keys;
mod sandbox;
mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// tether keeps OAuth connections (Salesforce first) alive and explains them when they die.
#[derive(Debug, Parser)]
#[command(name = "tether", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// tether plus the Salesforce sandbox, a demo workspace and connector, ready to try.
    Demo(demo::DemoArgs),
    /// Run the service.
    Serve(serve::ServeArgs),
    /// Run the offline Salesforce org.
    Sandbox(sandbox::SandboxArgs),
    /// API keys and the master key.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Apply database schema migrations.
    Migrate(serve::DatabaseArgs),
    /// List or show connections of a running server.
    #[command(subcommand)]
    Connections(client::ConnectionsCommand),
    /// Explain a connection: status, cause, evidence and the steps to fix it.
    Doctor(client::DoctorArgs),
    /// Check a connection with Salesforce now; brings back one whose cause an admin fixed.
    Check(client::DoctorArgs),
}

impl Cli {
    /// Whether logs should be JSON lines: the `log_json` setting of the command's settings
    /// file (`--config`, else `tether.toml`) or `TETHER_LOG_JSON`.
    pub fn log_json(&self) -> bool {
        let file = match &self.command {
            Command::Serve(args) => args.config_file(),
            Command::Migrate(args) => args.config_file(),
            _ => None,
        };
        tether_server::settings::ServeConfig::log_json_of(file)
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`), coloured only on a terminal (a
/// log file or a collector gets plain text). Nothing tether logs carries a token: secrets
/// have no `Display` and request spans record the path only.
pub fn init_tracing(json: bool) {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Runs the chosen command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo(args) => demo::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Sandbox(args) => sandbox::run(args).await,
        Command::Keys(cmd) => keys::run(cmd).await,
        Command::Migrate(args) => serve::migrate(args).await,
        Command::Connections(cmd) => client::connections(cmd).await,
        Command::Doctor(args) => client::doctor(args).await,
        Command::Check(args) => client::check(args).await,
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

/// A config file path flag shared by commands that read settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// Settings file (default: ./tether.toml if present).
    #[arg(long)]
    config: Option<PathBuf>,
}
