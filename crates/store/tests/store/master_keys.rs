//! The master key claims every backend must meet: the database records the keys it is sealed
//! under, a keyring that does not hold them is refused by id, a rotation in steps (add, make
//! primary, re-encrypt in batches, retire) keeps every secret readable by every process on the
//! database, and the signing key survives it. Each function takes `db`, which opens (and
//! migrates) the same database under the keys given.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tether_core::ids::ConnectorName;
use tether_store::crypto::{KeyIds, Keyring, KeyringSource, Keys, MasterKey};
use tether_store::keys::{KeyCheck, KeyError, KeyState, SealedCount, SealedCursor};
use tether_store::{Connector, Store, StoreError, StoreResult};

use crate::fixtures::{Open, at, connector_input, workspace};
use crate::secrets::{SEALED_VALUES, Secrets, write_secrets};

/// A keyring source a test changes, as an operator edits a keyring file.
#[derive(Debug)]
pub struct EditableSource(pub Mutex<Keyring>);

impl KeyringSource for EditableSource {
    fn load(&self) -> Result<Keyring, String> {
        Ok(self.0.lock().unwrap().clone())
    }
}

fn ring(primary: &MasterKey, previous: &[&MasterKey]) -> Keys {
    Keyring::new(
        primary.clone(),
        previous.iter().map(|k| (*k).clone()).collect(),
    )
    .into()
}

fn key_error(result: Result<impl std::fmt::Debug, StoreError>) -> KeyError {
    match result {
        Err(StoreError::MasterKey(err)) => err,
        other => panic!("expected a master key error, got {other:?}"),
    }
}

/// Asserts that the database records exactly the keys of `expected`, in their states.
async fn assert_states(store: &Arc<dyn Store>, expected: &[(&MasterKey, KeyState)]) {
    let mut recorded: Vec<_> = store
        .master_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.state))
        .collect();
    recorded.sort_by_key(|(id, _)| *id);
    let mut expected: Vec<_> = expected
        .iter()
        .map(|(key, state)| (key.key_id(), *state))
        .collect();
    expected.sort_by_key(|(id, _)| *id);
    assert_eq!(recorded, expected);
}

/// The check of a database whose primary is `key`.
fn matches(key: &MasterKey) -> KeyCheck {
    KeyCheck::Matches {
        primary: key.key_id(),
    }
}

/// Opens the database under `keys`, records the primary and writes the secrets.
async fn initialised(db: &impl Open<Keys>, keys: Keys) -> (Arc<dyn Store>, Secrets) {
    let store = db.open(keys).await;
    store.init_master_key().await.unwrap();
    let secrets = write_secrets(&store).await;
    (store, secrets)
}

/// The rotator's first steps: `key`, held, recorded as pending, then made primary.
async fn make_primary(store: &Arc<dyn Store>, key: &MasterKey) {
    store.add_master_key(key.key_id()).await.unwrap();
    store.promote_master_key(key.key_id()).await.unwrap();
}

/// Writes (seals) the client secret `secret` of the connector `late` of workspace `later`.
async fn write_connector(
    store: &Arc<dyn Store>,
    secret: &str,
    second: i64,
) -> StoreResult<Connector> {
    let ws = workspace(store, "later").await;
    let name = ConnectorName::parse("late").unwrap();
    store
        .upsert_connector(&ws, &name, &connector_input(secret), at(second))
        .await
}

async fn counts(store: &Arc<dyn Store>) -> Vec<SealedCount> {
    store.sealed_counts().await.unwrap()
}

/// Every value a rotation must move: the written secrets and the signing key.
const VALUES: u64 = SEALED_VALUES + 1;

pub async fn a_fresh_database_records_the_keyring_primary_and_refuses_any_other_key(
    db: impl Open<Keys>,
) {
    let (a, b) = (MasterKey::generate(), MasterKey::generate());
    let store = db.open(ring(&a, &[])).await;
    assert_eq!(store.check_master_keys().await.unwrap(), KeyCheck::Fresh);
    let primary = matches(&a);
    assert_eq!(store.init_master_key().await.unwrap(), primary);
    store.close().await;

    let store = db.open(ring(&a, &[])).await;
    assert_eq!(store.check_master_keys().await.unwrap(), primary);
    store.close().await;

    let store = db.open(ring(&b, &[])).await;
    let refused = key_error(store.check_master_keys().await);
    assert_eq!(
        refused.to_string(),
        format!(
            "the database is sealed under master key {} (primary), which the keyring does not \
             hold (it holds {})",
            a.key_id(),
            b.key_id()
        )
    );
    assert_eq!(
        key_error(store.init_master_key().await),
        refused,
        "a second init does not record another primary"
    );
    store.close().await;
}

pub async fn a_database_sealed_before_keys_were_recorded_records_the_keys_its_values_name(
    db: impl Open<Keys>,
) {
    let (a, b) = (MasterKey::generate(), MasterKey::generate());
    let store = db.open(ring(&a, &[])).await;
    let secrets = write_secrets(&store).await;
    store.close().await;

    let store = db.open(ring(&b, &[])).await;
    assert_eq!(
        key_error(store.check_master_keys().await),
        KeyError::ValuesUnderMissingKey {
            expected: a.key_id(),
            held: KeyIds(vec![b.key_id()])
        }
    );
    assert!(
        store.master_keys().await.unwrap().is_empty(),
        "nothing recorded"
    );
    store.close().await;

    let store = db.open(ring(&b, &[&a])).await;
    assert_eq!(store.check_master_keys().await.unwrap(), matches(&b));
    assert_states(&store, &[(&b, KeyState::Primary), (&a, KeyState::Previous)]).await;
    secrets.assert_readable(&store).await;
    store.close().await;
}

pub async fn a_rotation_in_steps_keeps_every_secret_readable_and_retires_the_old_key(
    db: impl Open<Keys>,
) {
    let (a, b) = (MasterKey::generate(), MasterKey::generate());
    let (store, secrets) = initialised(&db, ring(&a, &[])).await;
    let signing = store.signing_key("state-signer").await.unwrap();
    store.close().await;

    let store = db.open(ring(&a, &[&b])).await;
    store.check_master_keys().await.unwrap();
    store.add_master_key(b.key_id()).await.unwrap();
    make_primary(&store, &b).await;
    assert_states(&store, &[(&a, KeyState::Previous), (&b, KeyState::Primary)]).await;
    secrets.assert_readable(&store).await;

    let mut cursor = SealedCursor::default();
    let mut resealed = 0;
    let mut batches = 0;
    loop {
        let batch = store.reencrypt_batch(&cursor, 1).await.unwrap();
        resealed += batch.resealed;
        batches += 1;
        match batch.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert_eq!(resealed, VALUES);
    assert!(batches > VALUES, "one value per batch");
    assert_eq!(
        counts(&store).await,
        vec![SealedCount {
            id: b.key_id(),
            values: VALUES
        }]
    );
    store
        .retire_master_key(a.key_id(), Duration::ZERO)
        .await
        .unwrap();
    store.close().await;

    let store = db.open(ring(&b, &[])).await;
    assert_eq!(store.check_master_keys().await.unwrap(), matches(&b));
    secrets.assert_readable(&store).await;
    assert_eq!(
        store.signing_key("state-signer").await.unwrap(),
        signing,
        "a master key rotation leaves the signing key as it was"
    );
    assert_states(&store, &[(&a, KeyState::Retired), (&b, KeyState::Primary)]).await;
    store.close().await;
}

pub async fn a_key_is_retired_only_when_nothing_is_sealed_under_it_and_the_primary_has_settled(
    db: impl Open<Keys>,
) {
    let (a, b) = (MasterKey::generate(), MasterKey::generate());
    let (store, _) = initialised(&db, ring(&a, &[&b])).await;
    store.add_master_key(b.key_id()).await.unwrap();
    assert_eq!(
        key_error(store.retire_master_key(a.key_id(), Duration::ZERO).await),
        KeyError::WrongState {
            id: a.key_id(),
            state: KeyState::Primary,
            why: "make another key primary and re-encrypt first"
        }
    );
    store.promote_master_key(b.key_id()).await.unwrap();
    let early = key_error(
        store
            .retire_master_key(a.key_id(), Duration::from_secs(3600))
            .await,
    );
    assert!(
        matches!(early, KeyError::TooSoon { primary, .. } if primary == b.key_id()),
        "{early:?}"
    );
    assert!(early.wait().is_some_and(|w| w > Duration::from_secs(3000)));
    assert_eq!(
        key_error(store.retire_master_key(a.key_id(), Duration::ZERO).await),
        KeyError::StillInUse {
            id: a.key_id(),
            values: SEALED_VALUES
        }
    );
    assert_eq!(store.reencrypt_all().await.unwrap(), SEALED_VALUES);
    store
        .retire_master_key(a.key_id(), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        key_error(store.promote_master_key(a.key_id()).await),
        KeyError::WrongState {
            id: a.key_id(),
            state: KeyState::Retired,
            why: "a retired key is never used again; add a new one"
        }
    );
    store.close().await;
}

pub async fn another_process_follows_the_new_primary_and_reads_the_keyring_again_for_a_new_key(
    db: impl Open<Keys>,
) {
    let (a, b) = (MasterKey::generate(), MasterKey::generate());
    let file = Arc::new(EditableSource(Mutex::new(Keyring::new(a.clone(), vec![]))));
    let keys = Keys {
        ring: Keyring::new(a.clone(), vec![]),
        source: Some(file.clone()),
    };
    let (running, secrets) = initialised(&db, keys).await;

    // The operator adds b to the keyring file; another process makes it primary and moves
    // every value under it. The running process has not read the file since it started.
    *file.0.lock().unwrap() = Keyring::new(a.clone(), vec![b.clone()]);
    let rotator = db.open(ring(&a, &[&b])).await;
    rotator.check_master_keys().await.unwrap();
    make_primary(&rotator, &b).await;
    assert_eq!(rotator.reencrypt_all().await.unwrap(), SEALED_VALUES);

    secrets.assert_readable(&running).await;
    assert_eq!(running.check_master_keys().await.unwrap(), matches(&b));
    write_connector(&running, "written-after", 5).await.unwrap();
    assert_eq!(
        counts(&rotator).await,
        vec![SealedCount {
            id: b.key_id(),
            values: SEALED_VALUES + 1
        }],
        "the running process seals under the new primary after its check"
    );
    running.close().await;
    rotator.close().await;
}

pub async fn a_process_that_cannot_follow_the_new_primary_refuses_to_seal_under_the_old_key(
    db: impl Open<Keys>,
) {
    let (a, b) = (MasterKey::generate(), MasterKey::generate());
    let (stale, secrets) = initialised(&db, ring(&a, &[])).await;
    let rotator = db.open(ring(&a, &[&b])).await;
    rotator.check_master_keys().await.unwrap();
    make_primary(&rotator, &b).await;

    let refused = KeyError::NotHeld {
        expected: b.key_id(),
        state: KeyState::Primary,
        held: KeyIds(vec![a.key_id()]),
    };
    assert_eq!(key_error(stale.check_master_keys().await), refused);
    let write = write_connector(&stale, "would-be-under-a", 5).await;
    assert_eq!(
        key_error(write),
        refused,
        "nothing sealed under the old key"
    );
    secrets.assert_readable(&stale).await;

    // Given the new key (SIGHUP, or a restart), it seals again, under the new primary.
    stale.use_keys(ring(&a, &[&b]));
    stale.check_master_keys().await.unwrap();
    write_connector(&stale, "under-b", 6).await.unwrap();
    let under_b = counts(&rotator)
        .await
        .into_iter()
        .find(|c| c.id == b.key_id());
    assert_eq!(under_b.map(|c| c.values), Some(1));
    stale.close().await;
    rotator.close().await;
}

/// Runs every claim above with `$run!(name)`, which opens a database of its own.
macro_rules! master_key_suite {
    ($run:ident) => {
        $run!(a_fresh_database_records_the_keyring_primary_and_refuses_any_other_key);
        $run!(a_database_sealed_before_keys_were_recorded_records_the_keys_its_values_name);
        $run!(a_rotation_in_steps_keeps_every_secret_readable_and_retires_the_old_key);
        $run!(a_key_is_retired_only_when_nothing_is_sealed_under_it_and_the_primary_has_settled);
        $run!(another_process_follows_the_new_primary_and_reads_the_keyring_again_for_a_new_key);
        $run!(a_process_that_cannot_follow_the_new_primary_refuses_to_seal_under_the_old_key);
    };
}
pub(crate) use master_key_suite;
