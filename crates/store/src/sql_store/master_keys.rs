//! The master keys the database records (`master_keys`, migration 0003) and the canary that
//! proves each: a known value sealed under that key alone, bound to its key id. A process
//! compares its keyring with these records before it writes anything, and again at every
//! readiness probe and key check, so a wrong key is refused rather than used to seal.
//!
//! A rotation moves a key through `pending` (added to the keyring; every process can learn it
//! before anything is sealed under it), `primary` (the database's primary: every process seals
//! under it once its next check has run), `previous` (values may remain under it until
//! re-encryption moves them) and `retired` (nothing is sealed under it). Each step is one
//! transaction, and repeating a step that is done does nothing.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::instrument;

use super::SqlStore;
use crate::codec::{Columns, parsed, time};
use crate::crypto::{KeyId, KeyIds, Keys};
use crate::keys::{
    KeyCheck, KeyError, KeyState, MasterKeyRecord, ReencryptBatch, SealedCount, SealedCursor,
};
use crate::sql::{Backend, Exec, Sql, Statement};
use crate::{MasterKeys, StoreError, StoreResult};

/// What every canary holds, sealed.
const CANARY: &[u8] = b"tether master key canary v1";
/// The field a canary is sealed for; its record is the key id.
const CANARY_FIELD: &str = "canary";

/// A row of `master_keys`.
struct Recorded {
    id: KeyId,
    state: KeyState,
    canary: Option<Vec<u8>>,
    changed_at: DateTime<Utc>,
}

static SELECT_KEYS: Sql =
    Sql::fixed("SELECT key_id, state, canary, changed_at FROM master_keys ORDER BY changed_at");
static SELECT_KEYS_FOR_UPDATE: Sql = Sql::fixed(
    "SELECT key_id, state, canary, changed_at FROM master_keys ORDER BY changed_at FOR_UPDATE()",
);
static INSERT_KEY: Sql = Sql::fixed(
    "INSERT INTO master_keys (key_id, state, canary, changed_at) VALUES (?, ?, ?, DB_NOW_MS())
     ON CONFLICT DO NOTHING",
);
static SET_STATE: Sql =
    Sql::fixed("UPDATE master_keys SET state = ?, changed_at = DB_NOW_MS() WHERE key_id = ?");
static DEMOTE_PRIMARY: Sql = Sql::fixed(
    "UPDATE master_keys SET state = 'previous', changed_at = DB_NOW_MS() WHERE state = 'primary'",
);
static RETIRE: Sql = Sql::fixed(
    "UPDATE master_keys SET state = 'retired', canary = NULL, changed_at = DB_NOW_MS()
     WHERE key_id = ?",
);
static DB_NOW: Sql = Sql::fixed("SELECT DB_NOW_MS() AS now_ms");

#[async_trait]
impl<DB: Backend> MasterKeys for SqlStore<DB> {
    // Not instrumented: readiness probes and every process's periodic check call it, and the
    // store's spans count the round trips of requests.
    async fn check_master_keys(&self) -> StoreResult<KeyCheck> {
        let mut rows = self.recorded().await?;
        if rows.is_empty() {
            let counts = self.count_sealed().await?;
            if counts.is_empty() {
                return Ok(KeyCheck::Fresh);
            }
            self.adopt(&counts).await?;
            rows = self.recorded().await?;
        }
        self.compare(&rows)
    }

    #[instrument(skip_all)]
    async fn init_master_key(&self) -> StoreResult<KeyCheck> {
        let rows = self.recorded().await?;
        if rows.is_empty() && self.count_sealed().await?.is_empty() {
            let primary = self.vault.keyring().primary().key_id();
            self.insert_key(self.db(), primary, KeyState::Primary)
                .await?;
        }
        self.check_master_keys().await
    }

    fn reload_keyring(&self) -> Result<KeyIds, String> {
        if !self.vault.reload()? {
            return Err(
                "the keyring was given in memory (TETHER_MASTER_KEY): it cannot change \
                        while the process runs"
                    .to_owned(),
            );
        }
        Ok(self.vault.keyring().key_ids())
    }

    fn use_keys(&self, keys: Keys) {
        self.vault.replace(keys);
    }

    fn held_keys(&self) -> KeyIds {
        self.vault.keyring().key_ids()
    }

    #[instrument(skip_all)]
    async fn master_keys(&self) -> StoreResult<Vec<MasterKeyRecord>> {
        let keyring = self.vault.keyring();
        let rows = self.recorded().await?;
        Ok(rows
            .into_iter()
            .map(|row| MasterKeyRecord {
                id: row.id,
                state: row.state,
                changed_at: row.changed_at,
                held: keyring.holds(row.id),
            })
            .collect())
    }

    #[instrument(skip_all)]
    async fn sealed_counts(&self) -> StoreResult<Vec<SealedCount>> {
        self.count_sealed().await
    }

    #[instrument(skip_all)]
    async fn add_master_key(&self, id: KeyId) -> StoreResult<()> {
        self.require_held(id)?;
        let (mut tx, rows) = self.lock_recorded().await?;
        if let Some(other) = rows
            .iter()
            .find(|r| r.state == KeyState::Pending && r.id != id)
        {
            return Err(KeyError::AlreadyPending(other.id).into());
        }
        match rows.iter().find(|r| r.id == id) {
            Some(row) if row.state == KeyState::Retired => {
                Err(wrong_state(row, RETIRED_IS_NEVER_USED))
            }
            Some(_) => Ok(()),
            None => {
                self.insert_key(Exec::tx(&mut tx), id, KeyState::Pending)
                    .await?;
                tx.commit().await?;
                Ok(())
            }
        }
    }

    #[instrument(skip_all)]
    async fn promote_master_key(&self, id: KeyId) -> StoreResult<()> {
        self.require_held(id)?;
        let (mut tx, rows) = self.lock_recorded().await?;
        let row = recorded_key(&rows, id)?;
        match row.state {
            KeyState::Primary => return Ok(()),
            KeyState::Retired => return Err(wrong_state(row, RETIRED_IS_NEVER_USED)),
            KeyState::Pending | KeyState::Previous => self.prove(row)?,
        }
        Statement::<DB>::new(&DEMOTE_PRIMARY)
            .execute(Exec::tx(&mut tx))
            .await?;
        Statement::<DB>::new(&SET_STATE)
            .bind(KeyState::Primary.as_str())
            .bind(id.to_string())
            .execute(Exec::tx(&mut tx))
            .await?;
        tx.commit().await?;
        self.vault.seal_under(id);
        Ok(())
    }

    #[instrument(skip_all)]
    async fn reencrypt_batch(
        &self,
        from: &SealedCursor,
        limit: u32,
    ) -> StoreResult<ReencryptBatch> {
        self.reencrypt_from(from, limit.max(1)).await
    }

    #[instrument(skip_all)]
    async fn retire_master_key(&self, id: KeyId, settle: Duration) -> StoreResult<()> {
        let (mut tx, rows) = self.lock_recorded().await?;
        let row = recorded_key(&rows, id)?;
        match row.state {
            KeyState::Retired => return Ok(()),
            KeyState::Primary => {
                return Err(wrong_state(
                    row,
                    "make another key primary and re-encrypt first",
                ));
            }
            KeyState::Previous => self.settled(&mut tx, &rows, settle).await?,
            KeyState::Pending => {}
        }
        let values = self.count_sealed_under(&mut tx, id).await?;
        if values > 0 {
            return Err(KeyError::StillInUse { id, values }.into());
        }
        Statement::<DB>::new(&RETIRE)
            .bind(id.to_string())
            .execute(Exec::tx(&mut tx))
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl<DB: Backend> SqlStore<DB> {
    /// Every recorded key, oldest change first.
    async fn recorded(&self) -> StoreResult<Vec<Recorded>> {
        self.read_recorded(&SELECT_KEYS, self.db()).await
    }

    /// A transaction that changes the recorded keys, and [`SqlStore::recorded`] read in it,
    /// locked until it ends.
    async fn lock_recorded(&self) -> StoreResult<(sqlx::Transaction<'static, DB>, Vec<Recorded>)> {
        let mut tx = DB::begin_rewrite(&self.pool).await?;
        let rows = self
            .read_recorded(&SELECT_KEYS_FOR_UPDATE, Exec::tx(&mut tx))
            .await?;
        Ok((tx, rows))
    }

    async fn read_recorded(
        &self,
        sql: &'static Sql,
        exec: Exec<'_, DB>,
    ) -> StoreResult<Vec<Recorded>> {
        let rows = Statement::<DB>::new(sql).fetch_all(exec).await?;
        rows.iter()
            .map(|row| {
                Ok(Recorded {
                    id: KeyId::parse(&row.text("key_id")?)
                        .map_err(|err| StoreError::Corrupt(format!("master_keys.key_id: {err}")))?,
                    state: parsed(row, "state")?,
                    canary: row.opt_bytes("canary")?,
                    changed_at: time(row, "changed_at")?,
                })
            })
            .collect()
    }

    /// Records the held key `id` in `state`, with its canary (nothing if a row conflicts).
    async fn insert_key(&self, exec: Exec<'_, DB>, id: KeyId, state: KeyState) -> StoreResult<()> {
        let record = id.to_string();
        let canary = self
            .vault
            .keyring()
            .seal_with(id, CANARY, &record, CANARY_FIELD)
            .map_err(|_| KeyError::KeyringLacks(id))?;
        Statement::<DB>::new(&INSERT_KEY)
            .bind(record)
            .bind(state.as_str())
            .bind(canary)
            .execute(exec)
            .await?;
        Ok(())
    }

    /// Records the keys the values of a database that records none are sealed under: the
    /// keyring's primary as primary, the others as previous; refused unless all are held.
    async fn adopt(&self, counts: &[SealedCount]) -> StoreResult<()> {
        for count in counts {
            self.require_held_or(count.id, |held| KeyError::ValuesUnderMissingKey {
                expected: count.id,
                held,
            })?;
        }
        let primary = self.vault.keyring().primary().key_id();
        let mut tx = DB::begin_rewrite(&self.pool).await?;
        self.insert_key(Exec::tx(&mut tx), primary, KeyState::Primary)
            .await?;
        for count in counts.iter().filter(|c| c.id != primary) {
            self.insert_key(Exec::tx(&mut tx), count.id, KeyState::Previous)
                .await?;
        }
        tx.commit().await?;
        tracing::info!(primary = %primary, "recorded the master keys the database is sealed under");
        Ok(())
    }

    /// Checks the recorded keys values may be sealed under, the primary first, and seals under
    /// the primary from now on; refuses to seal while the primary is not held and proven.
    fn compare(&self, rows: &[Recorded]) -> StoreResult<KeyCheck> {
        let primary = rows
            .iter()
            .find(|r| r.state == KeyState::Primary)
            .ok_or_else(|| StoreError::Corrupt("master_keys records no primary".into()))?;
        if let Err(err) = self.held_and_proven(primary) {
            if let StoreError::MasterKey(why) = &err {
                self.vault.refuse_sealing(Some(why.clone()));
            }
            return Err(err);
        }
        self.vault.seal_under(primary.id);
        self.vault.refuse_sealing(None);
        for row in rows.iter().filter(|r| r.state == KeyState::Previous) {
            self.held_and_proven(row)?;
        }
        Ok(KeyCheck::Matches {
            primary: primary.id,
        })
    }

    fn held_and_proven(&self, row: &Recorded) -> StoreResult<()> {
        self.require_held_or(row.id, |held| KeyError::NotHeld {
            expected: row.id,
            state: row.state,
            held,
        })?;
        self.prove(row)
    }

    /// Refuses unless the keyring holds the recorded key and it opens the key's canary.
    fn prove(&self, row: &Recorded) -> StoreResult<()> {
        let canary = row
            .canary
            .as_deref()
            .ok_or_else(|| StoreError::Corrupt(format!("master key {} has no canary", row.id)))?;
        let record = row.id.to_string();
        match self.vault.keyring().open(canary, &record, CANARY_FIELD) {
            Ok(plain) if plain == CANARY => Ok(()),
            _ => Err(KeyError::CanaryFails(row.id).into()),
        }
    }

    fn require_held(&self, id: KeyId) -> StoreResult<()> {
        self.require_held_or(id, |_| KeyError::KeyringLacks(id))
    }

    /// Refuses with `missing(held ids)` unless the keyring holds `id`, re-reading its source
    /// once first if it does not.
    fn require_held_or(
        &self,
        id: KeyId,
        missing: impl FnOnce(KeyIds) -> KeyError,
    ) -> StoreResult<()> {
        if self.vault.keyring().holds(id) || (self.vault.reload_if_due() && self.held(id)) {
            return Ok(());
        }
        Err(missing(self.vault.keyring().key_ids()).into())
    }

    fn held(&self, id: KeyId) -> bool {
        self.vault.keyring().holds(id)
    }

    /// Refuses while the primary has been primary for less than `settle` (database clock).
    async fn settled(
        &self,
        tx: &mut sqlx::Transaction<'static, DB>,
        rows: &[Recorded],
        settle: Duration,
    ) -> StoreResult<()> {
        let Some(primary) = rows.iter().find(|r| r.state == KeyState::Primary) else {
            return Ok(());
        };
        let now = Statement::<DB>::new(&DB_NOW)
            .fetch_one(Exec::tx(tx))
            .await?
            .int("now_ms")?;
        let since_ms = now.saturating_sub(primary.changed_at.timestamp_millis());
        let since = Duration::from_millis(u64::try_from(since_ms).unwrap_or(0));
        if since < settle {
            return Err(KeyError::TooSoon {
                primary: primary.id,
                since,
                settle,
            }
            .into());
        }
        Ok(())
    }
}

/// Why a retired key cannot be added or made primary.
const RETIRED_IS_NEVER_USED: &str = "a retired key is never used again; add a new one";

/// The record of key `id` among `rows`.
fn recorded_key(rows: &[Recorded], id: KeyId) -> StoreResult<&Recorded> {
    Ok(rows
        .iter()
        .find(|r| r.id == id)
        .ok_or(KeyError::NotRecorded(id))?)
}

/// Refuses a change to the key of `row` in its state, for the reason `why`.
fn wrong_state(row: &Recorded, why: &'static str) -> StoreError {
    KeyError::WrongState {
        id: row.id,
        state: row.state,
        why,
    }
    .into()
}
