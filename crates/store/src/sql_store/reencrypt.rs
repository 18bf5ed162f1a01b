//! Re-encryption under the primary key, and counting values per key, over the registry of
//! sealed columns (`crate::sealed`).
//!
//! Re-encryption walks column after column in key order, a batch at a time, each batch its own
//! short transaction (SQLite holds its write lock for one batch, never for the whole walk, so
//! refreshes land between batches; PostgreSQL locks only the batch's rows). A batch reads only
//! values not yet under the primary, so a walk cut short by a crash is resumed by walking
//! again: what is done is skipped. A value a writer replaced while the batch ran is left to
//! the writer, whose value is already under its own primary.

use std::collections::BTreeMap;

use sqlx::Transaction;

use super::SqlStore;
use crate::codec::Columns;
use crate::crypto::KeyId;
use crate::keys::{ReencryptBatch, SealedCount, SealedCursor};
use crate::sealed::{SEALED_COLUMNS, SealedColumn};
use crate::sql::{Backend, Exec, Statement};
use crate::{StoreError, StoreResult};

impl<DB: Backend> SqlStore<DB> {
    /// One batch of re-encryption from `from` (see [`crate::MasterKeys::reencrypt_batch`]).
    pub(super) async fn reencrypt_from(
        &self,
        from: &SealedCursor,
        limit: u32,
    ) -> StoreResult<ReencryptBatch> {
        let Some(column) = SEALED_COLUMNS.get(from.column) else {
            return Ok(ReencryptBatch {
                column: String::new(),
                resealed: 0,
                next: None,
            });
        };
        let primary = self.vault.keyring().primary().key_id();
        let mut tx = DB::begin_rewrite(&self.pool).await?;
        let select = DB::dialect(&column.select_batch(from.after.is_some()));
        let mut query = Statement::<DB>::raw(&select).bind(&primary.as_bytes()[..]);
        for value in from.after.iter().flatten() {
            query = query.bind(value.as_str());
        }
        let rows = query
            .bind(i64::from(limit))
            .fetch_all(Exec::tx(&mut tx))
            .await?;
        let update = DB::dialect(&column.update_value());
        let mut resealed = 0;
        let mut last = None;
        for row in &rows {
            let keys = column.key_values(row)?;
            let sealed = row.bytes(column.field)?;
            if let Some(new) = self.vault.reseal(&sealed, &keys.join("/"), column.field)? {
                let mut query = Statement::<DB>::raw(&update).bind(new);
                for value in &keys {
                    query = query.bind(value.as_str());
                }
                resealed += query.bind(&sealed[..]).execute(Exec::tx(&mut tx)).await?;
            }
            last = Some(keys);
        }
        tx.commit().await?;
        let full = rows.len() >= usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(ReencryptBatch {
            column: column.name(),
            resealed,
            next: next_cursor(from.column, full.then_some(last).flatten()),
        })
    }

    /// How many values are sealed under each key id, over every sealed column.
    pub(super) async fn count_sealed(&self) -> StoreResult<Vec<SealedCount>> {
        let mut counts: BTreeMap<KeyId, u64> = BTreeMap::new();
        for column in SEALED_COLUMNS {
            let text = DB::dialect(&column.count_by_key());
            for row in Statement::<DB>::raw(&text).fetch_all(self.db()).await? {
                let id = key_id(column, &row.bytes("key_id")?)?;
                let values = u64::try_from(row.int("n")?).unwrap_or(0);
                *counts.entry(id).or_default() += values;
            }
        }
        Ok(counts
            .into_iter()
            .map(|(id, values)| SealedCount { id, values })
            .collect())
    }

    /// How many values are sealed under `id`, read in a transaction.
    pub(super) async fn count_sealed_under(
        &self,
        tx: &mut Transaction<'static, DB>,
        id: KeyId,
    ) -> StoreResult<u64> {
        let mut total = 0;
        for column in SEALED_COLUMNS {
            let (table, field) = (column.table, column.field);
            let text = DB::dialect(&format!(
                "SELECT COUNT(*) AS n FROM {table}
                 WHERE {field} IS NOT NULL AND substr({field}, 2, 4) = ?"
            ));
            let row = Statement::<DB>::raw(&text)
                .bind(&id.as_bytes()[..])
                .fetch_one(Exec::tx(tx))
                .await?;
            total += u64::try_from(row.int("n")?).unwrap_or(0);
        }
        Ok(total)
    }
}

/// Where the walk goes after a batch of the column at `column`: on in that column after the
/// row `last` when the batch was full, else to the start of the next column, if any.
fn next_cursor(column: usize, last: Option<Vec<String>>) -> Option<SealedCursor> {
    match last {
        Some(after) => Some(SealedCursor {
            column,
            after: Some(after),
        }),
        None => (column + 1 < SEALED_COLUMNS.len()).then(|| SealedCursor {
            column: column + 1,
            after: None,
        }),
    }
}

/// The key id a sealed value's header bytes name.
fn key_id(column: &SealedColumn, bytes: &[u8]) -> StoreResult<KeyId> {
    let bytes: [u8; 4] = bytes.try_into().map_err(|_| {
        StoreError::Corrupt(format!(
            "a value of {} is too short to be sealed",
            column.name()
        ))
    })?;
    Ok(KeyId::from_bytes(bytes))
}
