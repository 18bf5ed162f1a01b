//! Master key rotation: re-seals every stored secret that names a key other than the
//! keyring's primary, in one transaction, so a rotation is all or nothing.

use sqlx::{Row, SqliteConnection};

use super::SqliteStore;
use crate::{StoreError, StoreResult};

/// A column holding sealed values, with the key columns whose values (joined by `/`) are the
/// AAD record, as the writers in the sibling modules seal them.
struct SealedColumn {
    table: &'static str,
    keys: &'static [&'static str],
    field: &'static str,
}

const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        table: "connectors",
        keys: &["workspace_id", "name"],
        field: "client_secret",
    },
    SealedColumn {
        table: "connect_sessions",
        keys: &["id"],
        field: "pkce_verifier",
    },
    SealedColumn {
        table: "connections",
        keys: &["id"],
        field: "access_token",
    },
    SealedColumn {
        table: "connections",
        keys: &["id"],
        field: "refresh_token",
    },
];

impl SqliteStore {
    pub(super) async fn reencrypt_all_rows(&self) -> StoreResult<u64> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut rewritten = 0;
        for column in SEALED_COLUMNS {
            rewritten += self.reseal_column(&mut tx, column).await?;
        }
        tx.commit().await?;
        Ok(rewritten)
    }

    async fn reseal_column(
        &self,
        conn: &mut SqliteConnection,
        column: &SealedColumn,
    ) -> StoreResult<u64> {
        let SealedColumn { table, keys, field } = column;
        let key_list = keys.join(", ");
        let rows = sqlx::query(&format!(
            "SELECT {key_list}, {field} FROM {table} WHERE {field} IS NOT NULL"
        ))
        .fetch_all(&mut *conn)
        .await?;
        let matches = keys
            .iter()
            .map(|k| format!("{k} = ?"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let update = format!("UPDATE {table} SET {field} = ? WHERE {matches}");
        let mut rewritten = 0;
        for row in rows {
            let sealed: Vec<u8> = row.try_get(*field)?;
            if self.keyring.is_primary(&sealed) {
                continue;
            }
            let key_values = keys
                .iter()
                .map(|k| row.try_get::<String, _>(*k))
                .collect::<Result<Vec<_>, _>>()?;
            let resealed = self.reseal(&sealed, &key_values.join("/"), field)?;
            let mut query = sqlx::query(&update).bind(resealed);
            for value in &key_values {
                query = query.bind(value);
            }
            query.execute(&mut *conn).await?;
            rewritten += 1;
        }
        Ok(rewritten)
    }

    fn reseal(&self, sealed: &[u8], record: &str, field: &'static str) -> StoreResult<Vec<u8>> {
        let plain =
            self.keyring
                .open(sealed, record, field)
                .map_err(|err| StoreError::Decrypt {
                    record: record.to_owned(),
                    field,
                    reason: err.to_string(),
                })?;
        self.keyring.seal(&plain, record, field).map_err(|err| {
            StoreError::Corrupt(format!("cannot encrypt {field} of {record}: {err}"))
        })
    }
}
