//! Running the database: migrations, readiness and closing. (The master keys it is sealed
//! under are `master_keys`; re-encrypting its secrets is `reencrypt`.)

use async_trait::async_trait;
use tracing::instrument;

use super::SqlStore;
use crate::sql::{Backend, Sql, Statement};
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
}
