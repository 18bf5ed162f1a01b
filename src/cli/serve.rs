//! `tether serve` and `tether migrate`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tether_core::clock::SystemClock;
use tether_server::bootstrap;
use tether_server::keys::{self, KeySource};
use tether_server::settings::{ConfigOverrides, ServeConfig};
use tether_store::Store;
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
    config.settings()?;
    let opened = keys::open_store(&config).await?;
    warn_about_key(&opened.source);
    tracing::info!(primary = %opened.primary, keys = %opened.store.held_keys(), "master keyring fits the database");
    let state = bootstrap::state_for(&config, opened.store, Arc::new(SystemClock)).await?;
    tokio::spawn(reload_keys_on_sighup(state.store.clone()));
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
    if let KeySource::Generated(file) = source {
        tracing::warn!(
            path = %file.path().display(),
            "no master key configured and the database was empty: generated one; back it up, or set TETHER_MASTER_KEY_FILE / TETHER_MASTER_KEY"
        );
    }
}

/// SIGHUP: the keyring file is read again, so a key added to it (`tether keys add-master`)
/// is held before it becomes primary. A key given in the environment cannot change.
async fn reload_keys_on_sighup(store: Arc<dyn Store>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: the keyring is re-read only when needed");
            return;
        };
        while hangups.recv().await.is_some() {
            keys::reload(&store).await;
        }
    }
    #[cfg(not(unix))]
    let _ = store;
}

pub async fn migrate(args: DatabaseArgs) -> anyhow::Result<()> {
    let config = args.load()?;
    let opened = keys::open_store(&config).await?;
    warn_about_key(&opened.source);
    opened.store.close().await;
    println!(
        "database {} is up to date",
        tether_store::redacted(&config.database)
    );
    Ok(())
}
