//! `tether keys create` and `tether keys rotate-master`.

use anyhow::Context;
use tether_core::clock::{Clock, SystemClock};
use tether_core::ids::WorkspaceName;
use tether_server::auth::new_api_key;
use tether_server::bootstrap::{self, DEFAULT_KEY_FILE, KeySource};
use tether_store::crypto::MasterKey;

use super::serve::DatabaseArgs;

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Create an API key (and the workspace if needed); prints the key once, on the last line.
    Create {
        /// Workspace name.
        #[arg(long)]
        workspace: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Re-encrypt every stored secret under a new master key; the old key keeps decrypting
    /// until the rewrite is done.
    RotateMaster {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

pub async fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Create { workspace, db } => create(&workspace, &db).await,
        KeysCommand::RotateMaster { db } => rotate(&db).await,
    }
}

async fn create(workspace: &str, db: &DatabaseArgs) -> anyhow::Result<()> {
    let name = WorkspaceName::parse(workspace)?;
    let config = db.load()?;
    let (keyring, source) = bootstrap::load_keyring(&config)?;
    super::serve::warn_about_key(&source);
    let store = bootstrap::open_store(&config, keyring).await?;
    store.migrate().await?;
    let now = SystemClock.now();
    let ws = store.ensure_workspace(&name, now).await?;
    let made = new_api_key(&ws.id, now);
    store.insert_api_key(&made.record).await?;
    println!(
        "API key for workspace {} (shown once; store it now):",
        ws.name
    );
    println!("{}", made.key.expose());
    Ok(())
}

async fn rotate(db: &DatabaseArgs) -> anyhow::Result<()> {
    let config = db.load()?;
    let (keyring, source) = bootstrap::load_keyring(&config)?;
    let rotated = keyring.rotated(MasterKey::generate());
    // The new keyring (new primary, old keys kept) is saved before anything is rewritten,
    // so a crash half-way leaves every value readable.
    match &source {
        KeySource::File(path) | KeySource::Generated(path) => {
            bootstrap::write_key_file(path, &rotated)?
        }
        KeySource::Env => {
            let path = std::path::PathBuf::from(DEFAULT_KEY_FILE).with_extension("rotated");
            bootstrap::write_key_file(&path, &rotated)?;
            println!(
                "TETHER_MASTER_KEY is set: the new keyring was written to {}",
                path.display()
            );
            println!(
                "set TETHER_MASTER_KEY_FILE to that file (or TETHER_MASTER_KEY to its first line) from now on"
            );
        }
    }
    let store = bootstrap::open_store(&config, rotated).await?;
    store.migrate().await?;
    let count = store
        .reencrypt_all()
        .await
        .context("re-encrypting secrets")?;
    println!("re-encrypted {count} secrets under the new master key");
    Ok(())
}
