//! The master key's whole life: where the keyring comes from and whether it fits the database
//! ([`open_store`]), the keyring file and its atomic writes ([`KeyFile`]), what a running
//! server does to follow a rotation ([`watch`], [`reload`]), and the rotation's steps
//! ([`KeyAdmin`]: add a key, make it primary, re-encrypt, retire the old key).
//!
//! Several servers may share one database while a rotation runs: each re-reads its keyring
//! file when it meets a value under a key it does not hold and on SIGHUP, and checks the
//! database's keys every [`KEY_CHECK_EVERY`], sealing under the database's primary from then
//! on. A key given in the environment cannot change in a running process.

mod admin;
mod file;
mod open;

use std::sync::Arc;
use std::time::Duration;

use tether_store::Store;
use tokio_util::sync::CancellationToken;

pub use admin::{KeyAdmin, KeyAdminError, Progress};
pub use file::{KeyFile, KeyFileError};
pub use open::{DEFAULT_KEY_FILE, KeySource, Opened, open_store, open_under};

/// How often a running server compares its keyring with the database's keys and follows the
/// database's primary.
pub const KEY_CHECK_EVERY: Duration = Duration::from_secs(2);

/// How long a new primary must have been primary before the key before it is retired: every
/// running server has checked at least twice by then (and sealed under the new primary), and
/// a value it sealed just before its check has landed (a write waits at most 5 s for SQLite's
/// lock).
pub const RETIRE_SETTLE: Duration = Duration::from_secs(10);

/// Checks the keyring against the database every [`KEY_CHECK_EVERY`] until `shutdown`,
/// logging when the outcome changes (a key the keyring lacks is logged as an error, once).
pub async fn watch(store: Arc<dyn Store>, shutdown: CancellationToken) {
    let mut last: Option<String> = None;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(KEY_CHECK_EVERY) => {}
        }
        let now = match store.check_master_keys().await {
            Ok(check) => format!("{check:?}"),
            Err(err) => format!("error: {err}"),
        };
        if last.as_deref() != Some(&now) {
            log_check(&now, last.is_some());
            last = Some(now);
        }
    }
}

fn log_check(outcome: &str, changed: bool) {
    if let Some(error) = outcome.strip_prefix("error: ") {
        tracing::error!(error, "the keyring does not fit the database's master keys");
    } else if changed {
        tracing::info!(
            check = outcome,
            "the keyring fits the database's master keys"
        );
    }
}

/// Re-reads the keyring's source (SIGHUP) and checks it against the database at once.
pub async fn reload(store: &Arc<dyn Store>) {
    match store.reload_keyring() {
        Ok(held) => tracing::info!(keys = %held, "master keyring re-read"),
        Err(error) => tracing::error!(%error, "cannot re-read the master keyring"),
    }
    if let Err(error) = store.check_master_keys().await {
        tracing::error!(%error, "the keyring does not fit the database's master keys");
    }
}
