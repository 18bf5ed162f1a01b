//! `tether serve` and `tether migrate`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tether_core::clock::SystemClock;
use tether_server::bootstrap::{self, KeySource};
use tether_server::settings::{ConfigOverrides, ServeConfig};
use tokio_util::sync::CancellationToken;

use super::ConfigArg;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Address to listen on (default 127.0.0.1:7878).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Database URL (default sqlite://tether-data/tether.db).
    #[arg(long)]
    database: Option<String>,
    /// Where browsers and providers reach tether (default http://127.0.0.1:7878).
    #[arg(long)]
    public_url: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Database URL (default sqlite://tether-data/tether.db).
    #[arg(long)]
    database: Option<String>,
}

impl ServeArgs {
    /// The `--config` file, if given.
    pub fn config_file(&self) -> Option<&std::path::Path> {
        self.config.config.as_deref()
    }
}

impl DatabaseArgs {
    /// The `--config` file, if given.
    pub fn config_file(&self) -> Option<&std::path::Path> {
        self.config.config.as_deref()
    }

    /// The settings these flags select.
    pub fn load(&self) -> anyhow::Result<ServeConfig> {
        let flags = ConfigOverrides {
            database: self.database.clone(),
            ..ConfigOverrides::default()
        };
        Ok(ServeConfig::load(self.config.config.as_deref(), &flags)?)
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let flags = ConfigOverrides {
        listen: args.listen,
        database: args.database,
        public_url: args.public_url,
    };
    let config = ServeConfig::load(args.config.config.as_deref(), &flags)?;
    let (keyring, source) = bootstrap::load_keyring(&config)?;
    warn_about_key(&source);
    let state = bootstrap::build_state(&config, keyring, Arc::new(SystemClock)).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    println!("tether listening on http://{}", listener.local_addr()?);
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        super::shutdown_signal().await;
        trigger.cancel();
    });
    tether_server::serve(listener, state, shutdown).await?;
    Ok(())
}

pub fn warn_about_key(source: &KeySource) {
    if let KeySource::Generated(path) = source {
        tracing::warn!(
            path = %path.display(),
            "no master key configured: generated one; back it up, or set TETHER_MASTER_KEY / TETHER_MASTER_KEY_FILE"
        );
    }
}

pub async fn migrate(args: DatabaseArgs) -> anyhow::Result<()> {
    let config = args.load()?;
    let (keyring, _) = bootstrap::load_keyring(&config)?;
    let store = bootstrap::open_store(&config, keyring).await?;
    store.migrate().await?;
    println!(
        "database {} is up to date",
        tether_store::redacted(&config.database)
    );
    Ok(())
}
