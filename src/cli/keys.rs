//! `tether keys`: API keys, and the master key's rotation in steps that running servers
//! survive (`add-master`, `promote-master`, `reencrypt`, `retire-master`; `rotate-master` runs
//! them in order), with `status` to see where a rotation stands. Every subcommand first checks
//! the keyring against the database (`keys::open_store`) and refuses one that does not fit.

use std::path::PathBuf;
use std::time::Duration;

use tether_core::clock::{Clock, SystemClock};
use tether_core::ids::WorkspaceName;
use tether_server::auth::new_api_key;
use tether_server::keys::{self, KeyAdmin, KeySource, Progress};
use tether_store::crypto::KeyId;

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
    /// The master keys the database records, the values sealed under each, and which of them
    /// this keyring holds.
    Status {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Rotation step 1: add a new master key to the keyring file, pending (nothing is sealed
    /// under it until it is made primary).
    AddMaster {
        #[command(flatten)]
        target: NewKeyring,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Rotation step 2: make a pending key the primary; running servers seal under it within
    /// seconds.
    PromoteMaster {
        /// The key id `add-master` printed (8 hex digits).
        #[arg(value_parser = KeyId::parse)]
        key_id: KeyId,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Rotation step 3: re-encrypt every value not sealed under the primary, in batches;
    /// safe to stop and run again.
    Reencrypt {
        #[command(flatten)]
        pace: Pace,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Rotation step 4: retire a key nothing is sealed under any more, and remove it from the
    /// keyring file.
    RetireMaster {
        /// The key id to retire (8 hex digits).
        #[arg(value_parser = KeyId::parse)]
        key_id: KeyId,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Steps 1 to 3 (and 4 with --retire) at once: a new primary key, every secret
    /// re-encrypted under it.
    RotateMaster {
        /// Also retire the key that was primary (waits until running servers follow).
        #[arg(long)]
        retire: bool,
        #[command(flatten)]
        target: NewKeyring,
        #[command(flatten)]
        pace: Pace,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

/// Where a key given in the environment goes with the new key.
#[derive(Debug, clap::Args)]
pub struct NewKeyring {
    /// With TETHER_MASTER_KEY only: a new keyring file (it must not exist) for the key from the
    /// environment and the new key; use it as TETHER_MASTER_KEY_FILE from then on.
    #[arg(long, value_name = "FILE")]
    new_keyring: Option<PathBuf>,
}

/// How fast re-encryption goes.
#[derive(Debug, clap::Args)]
pub struct Pace {
    /// Values re-encrypted per transaction.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    batch_size: u32,
    /// Pause after each batch (milliseconds), to leave the database to live traffic.
    #[arg(long, default_value_t = 0)]
    pause_ms: u64,
}

impl Pace {
    fn get(&self) -> (u32, Duration) {
        (self.batch_size, Duration::from_millis(self.pause_ms))
    }
}

pub async fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Create { workspace, db } => create(&workspace, &db).await,
        KeysCommand::Status { db } => status(&db).await,
        KeysCommand::AddMaster { target, db } => add(&target, &db).await,
        KeysCommand::PromoteMaster { key_id, db } => promote(key_id, &db).await,
        KeysCommand::Reencrypt { pace, db } => reencrypt(&pace, &db).await,
        KeysCommand::RetireMaster { key_id, db } => retire(key_id, &db).await,
        KeysCommand::RotateMaster {
            retire,
            target,
            pace,
            db,
        } => rotate(retire, &target, &pace, &db).await,
    }
}

async fn admin(db: &DatabaseArgs) -> anyhow::Result<KeyAdmin> {
    let config = db.load()?;
    let opened = keys::open_store(&config).await?;
    super::serve::warn_about_key(&opened.source);
    Ok(KeyAdmin::new(opened))
}

async fn create(workspace: &str, db: &DatabaseArgs) -> anyhow::Result<()> {
    let name = WorkspaceName::parse(workspace)?;
    let admin = admin(db).await?;
    let store = admin.store();
    let now = SystemClock.now();
    let ws = store.ensure_workspace(&name, now).await?;
    let made = new_api_key(&ws.id, now);
    store.insert_api_key(&made.record).await?;
    store.close().await;
    println!(
        "API key for workspace {} (shown once; store it now):",
        ws.name
    );
    println!("{}", made.key.expose());
    Ok(())
}

async fn status(db: &DatabaseArgs) -> anyhow::Result<()> {
    let admin = admin(db).await?;
    let status = admin.status().await?;
    println!("keyring: {}", admin.source().describe());
    println!("master keys of the database (key id, state, since, held here, values sealed):");
    for record in &status.records {
        let held = if record.held { "held" } else { "NOT HELD" };
        println!(
            "  {}  {:<8}  {}  {:<8}  {}",
            record.id,
            record.state,
            record.changed_at.format("%Y-%m-%d %H:%M:%S UTC"),
            held,
            status.values_under(record.id)
        );
    }
    for count in &status.counts {
        if !status.records.iter().any(|r| r.id == count.id) {
            println!("  {}  unrecorded: {} values", count.id, count.values);
        }
    }
    admin.store().close().await;
    Ok(())
}

async fn add(target: &NewKeyring, db: &DatabaseArgs) -> anyhow::Result<()> {
    let mut admin = admin(db).await?;
    let added = admin.add(target.new_keyring.as_deref()).await?;
    let file = keyring_file(admin.source());
    if added.new {
        println!("added master key {} to {file} (pending)", added.id);
    } else {
        println!("master key {} is pending already, in {file}", added.id);
    }
    println!(
        "next: give every host that runs tether this keyring file and send its servers SIGHUP \
         (they also read it when they meet the key), then: tether keys promote-master {}",
        added.id
    );
    env_advice(target, admin.source());
    admin.store().close().await;
    Ok(())
}

async fn promote(id: KeyId, db: &DatabaseArgs) -> anyhow::Result<()> {
    let mut admin = admin(db).await?;
    let old = admin.primary();
    admin.promote(id).await?;
    println!(
        "master key {id} is primary: running servers seal under it within {} s",
        keys::KEY_CHECK_EVERY.as_secs()
    );
    if old != id {
        println!("next: tether keys reencrypt, then: tether keys retire-master {old}");
    }
    admin.store().close().await;
    Ok(())
}

async fn reencrypt(pace: &Pace, db: &DatabaseArgs) -> anyhow::Result<()> {
    let mut admin = admin(db).await?;
    let (batch, pause) = pace.get();
    let done = admin.reencrypt(batch, pause, &mut print_progress).await?;
    println!(
        "re-encrypted {done} values under master key {}",
        admin.primary()
    );
    let status = admin.status().await?;
    for record in &status.records {
        let values = status.values_under(record.id);
        if record.id != admin.primary() && record.state.may_seal_values() && values == 0 {
            println!(
                "nothing is sealed under master key {0} any more: tether keys retire-master {0}",
                record.id
            );
        }
    }
    admin.store().close().await;
    Ok(())
}

async fn retire(id: KeyId, db: &DatabaseArgs) -> anyhow::Result<()> {
    let mut admin = admin(db).await?;
    admin.retire(id, &mut print_progress).await?;
    println!(
        "retired master key {id}; {} no longer holds it (remove it from other hosts' copies too)",
        keyring_file(admin.source())
    );
    admin.store().close().await;
    Ok(())
}

async fn rotate(
    retire: bool,
    target: &NewKeyring,
    pace: &Pace,
    db: &DatabaseArgs,
) -> anyhow::Result<()> {
    let mut admin = admin(db).await?;
    let old = admin.primary();
    let new = admin
        .rotate(
            target.new_keyring.as_deref(),
            retire,
            pace.get(),
            &mut print_progress,
        )
        .await?;
    let file = keyring_file(admin.source());
    println!("re-encrypted every secret under master key {new}, now primary, in {file}");
    if retire {
        println!("retired master key {old}");
    } else {
        println!(
            "master key {old} stays in the keyring, unused: tether keys retire-master {old} \
             once every server holds the new keyring"
        );
    }
    env_advice(target, admin.source());
    admin.store().close().await;
    Ok(())
}

fn print_progress(progress: Progress) {
    match progress {
        Progress::Reencrypting { primary, values } => {
            println!("re-encrypting {values} values under master key {primary}");
        }
        Progress::Batch {
            column,
            done,
            total,
        } => println!("re-encrypted {done} of {total} ({column})"),
        Progress::Settling { primary, wait } => println!(
            "waiting {} s until every running server seals under master key {primary}",
            wait.as_secs_f32().ceil()
        ),
    }
}

fn keyring_file(source: &KeySource) -> String {
    source.file().map_or_else(
        || "the environment".to_owned(),
        |file| file.path().display().to_string(),
    )
}

/// After a key from the environment moved into a new keyring file: how to start from now on.
fn env_advice(target: &NewKeyring, source: &KeySource) {
    if let (Some(_), Some(file)) = (&target.new_keyring, source.file()) {
        println!(
            "the keyring is now in {0}: from now on set TETHER_MASTER_KEY_FILE={0} and unset \
             TETHER_MASTER_KEY, and restart running servers that way (a key in the environment \
             cannot change in a running process)",
            file.path().display()
        );
    }
}
