//! Master key rotation: re-seals every stored secret that names a key other than the
//! keyring's primary, in one transaction holding the rows it reads (`FOR UPDATE`), so a
//! rotation is all or nothing and no concurrent write is lost.

use sqlx::{PgConnection, Row};

use super::PgStore;
use crate::StoreResult;
use crate::rows::{SEALED_COLUMNS, SealedColumn};

impl PgStore {
    pub(super) async fn reencrypt_all_rows(&self) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        let mut rewritten = 0;
        for column in SEALED_COLUMNS {
            rewritten += self.reseal_column(&mut tx, column).await?;
        }
        tx.commit().await?;
        Ok(rewritten)
    }

    async fn reseal_column(
        &self,
        conn: &mut PgConnection,
        column: &SealedColumn,
    ) -> StoreResult<u64> {
        let SealedColumn { table, keys, field } = column;
        let key_list = keys.join(", ");
        let found = sqlx::query(&format!(
            "SELECT {key_list}, {field} FROM {table} WHERE {field} IS NOT NULL FOR UPDATE"
        ))
        .fetch_all(&mut *conn)
        .await?;
        let matches = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} = ${}", i + 2))
            .collect::<Vec<_>>()
            .join(" AND ");
        let update = format!("UPDATE {table} SET {field} = $1 WHERE {matches}");
        let mut rewritten = 0;
        for row in found {
            let key_values = keys
                .iter()
                .map(|k| row.try_get::<String, _>(*k))
                .collect::<Result<Vec<_>, _>>()?;
            let sealed: Vec<u8> = row.try_get(*field)?;
            let Some(resealed) = self.vault.reseal(&sealed, &key_values.join("/"), field)? else {
                continue;
            };
            let mut query = sqlx::query(&update).bind(resealed);
            for value in &key_values {
                query = query.bind(value);
            }
            query.execute(&mut *conn).await?;
            rewritten += 1;
        }
        Ok(rewritten)
    }
}
