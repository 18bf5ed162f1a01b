//! Running the database: migrations, readiness, closing, and master key rotation, which
//! re-seals every stored secret that names a key other than the keyring's primary, in one
//! transaction that no other writer interleaves with (SQLite takes the write lock up front,
//! PostgreSQL locks the rows it reads), so a rotation is all or nothing and no concurrent
//! write is lost.

use async_trait::async_trait;
use sqlx::Transaction;
use tracing::instrument;

use super::SqlStore;
use crate::codec::Columns;
use crate::rows::{SEALED_COLUMNS, SealedColumn};
use crate::sql::{Backend, Exec, Sql, Statement};
use crate::{Admin, StoreResult};

#[async_trait]
impl<DB: Backend> Admin for SqlStore<DB> {
    #[instrument(skip_all)]
    async fn migrate(&self) -> StoreResult<()> {
        DB::migrate(&self.pool).await
    }

    async fn ping(&self) -> StoreResult<()> {
        static PING: Sql = Sql::fixed("SELECT 1");
        Statement::new(&PING).execute(self.db()).await?;
        Ok(())
    }

    async fn close(&self) {
        DB::close(&self.pool).await;
    }

    #[instrument(skip_all)]
    async fn reencrypt_all(&self) -> StoreResult<u64> {
        let mut tx = DB::begin_rewrite(&self.pool).await?;
        let mut rewritten = 0;
        for column in SEALED_COLUMNS {
            rewritten += self.reseal_column(&mut tx, column).await?;
        }
        tx.commit().await?;
        Ok(rewritten)
    }
}

impl<DB: Backend> SqlStore<DB> {
    async fn reseal_column(
        &self,
        tx: &mut Transaction<'static, DB>,
        column: &SealedColumn,
    ) -> StoreResult<u64> {
        let SealedColumn { table, keys, field } = column;
        let key_list = keys.join(", ");
        let lock = DB::LOCK_SELECTED_ROWS;
        let select =
            format!("SELECT {key_list}, {field} FROM {table} WHERE {field} IS NOT NULL{lock}");
        let found = Statement::<DB>::raw(&select)
            .fetch_all(Exec::tx(tx))
            .await?;
        let matches = keys
            .iter()
            .map(|k| format!("{k} = ?"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let update = DB::placeholders(format!("UPDATE {table} SET {field} = ? WHERE {matches}"));
        let mut rewritten = 0;
        for row in found {
            let key_values = keys
                .iter()
                .map(|k| row.text(k))
                .collect::<Result<Vec<_>, _>>()?;
            let sealed = row.bytes(field)?;
            let Some(resealed) = self.vault.reseal(&sealed, &key_values.join("/"), field)? else {
                continue;
            };
            let mut query = Statement::raw(&update).bind(resealed);
            for value in &key_values {
                query = query.bind(value);
            }
            query.execute(Exec::tx(tx)).await?;
            rewritten += 1;
        }
        Ok(rewritten)
    }
}
