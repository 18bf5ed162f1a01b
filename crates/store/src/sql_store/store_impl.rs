//! [`Store`] for [`SqlStore`], once for every backend: each method hands over to the
//! submodule that owns its tables.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tether_core::ids::{
    ApiKeyId, ConnectSessionId, ConnectionId, ConnectorName, WorkspaceId, WorkspaceName,
};
use tether_core::secret::RefreshToken;

use super::SqlStore;
use crate::sql::{Backend, Sql, Statement};
use crate::{
    Account, ApiKeyRecord, ConnectSession, Connection, ConnectionFilter, Connector, ConnectorInput,
    ConsumeOutcome, CurrentToken, Event, FailureUpdate, NewConnection, NewEvent, Store,
    StoreResult, TokenSet, Workspace,
};

#[async_trait]
impl<DB: Backend> Store for SqlStore<DB> {
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

    async fn ensure_workspace(
        &self,
        name: &WorkspaceName,
        now: DateTime<Utc>,
    ) -> StoreResult<Workspace> {
        self.ensure_workspace_row(name, now).await
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        self.insert_api_key_row(key).await
    }

    async fn find_api_key(&self, id: &ApiKeyId) -> StoreResult<Option<ApiKeyRecord>> {
        self.find_api_key_row(id).await
    }

    async fn upsert_connector(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
        input: &ConnectorInput,
        now: DateTime<Utc>,
    ) -> StoreResult<Connector> {
        self.upsert_connector_row(workspace, name, input, now).await
    }

    async fn get_connector(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
    ) -> StoreResult<Option<Connector>> {
        self.get_connector_row(workspace, name).await
    }

    async fn list_connectors(&self, workspace: &WorkspaceId) -> StoreResult<Vec<Connector>> {
        self.list_connector_rows(workspace).await
    }

    async fn delete_connector(
        &self,
        workspace: &WorkspaceId,
        name: &ConnectorName,
    ) -> StoreResult<bool> {
        self.delete_connector_row(workspace, name).await
    }

    async fn insert_connect_session(&self, session: &ConnectSession) -> StoreResult<()> {
        self.insert_connect_session_row(session).await
    }

    async fn get_connect_session(
        &self,
        id: &ConnectSessionId,
    ) -> StoreResult<Option<ConnectSession>> {
        self.get_connect_session_row(id).await
    }

    async fn consume_connect_session(
        &self,
        state_sha256: &[u8; 32],
        now: DateTime<Utc>,
    ) -> StoreResult<ConsumeOutcome> {
        self.consume_connect_session_row(state_sha256, now).await
    }

    async fn insert_connection(&self, connection: &NewConnection) -> StoreResult<Connection> {
        self.insert_connection_row(connection).await
    }

    async fn get_connection(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<Connection>> {
        self.get_connection_row(workspace, id).await
    }

    async fn list_connections(
        &self,
        workspace: &WorkspaceId,
        filter: &ConnectionFilter,
    ) -> StoreResult<Vec<Connection>> {
        self.list_connection_rows(workspace, filter).await
    }

    async fn count_approvals_after(
        &self,
        workspace: &WorkspaceId,
        connector: &ConnectorName,
        account: &Account,
        except: &ConnectionId,
        after: DateTime<Utc>,
    ) -> StoreResult<i64> {
        self.count_approvals_rows(workspace, connector, account, except, after)
            .await
    }

    async fn current_token(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
    ) -> StoreResult<Option<CurrentToken>> {
        self.current_token_row(workspace, id).await
    }

    async fn refresh_token(&self, id: &ConnectionId) -> StoreResult<Option<RefreshToken>> {
        self.refresh_token_value(id).await
    }

    async fn try_lease(
        &self,
        id: &ConnectionId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.try_lease_row(id, owner, now, until).await
    }

    async fn release_lease(&self, id: &ConnectionId, owner: &str) -> StoreResult<()> {
        self.release_lease_row(id, owner).await
    }

    async fn record_refresh_success(
        &self,
        id: &ConnectionId,
        owner: &str,
        expected_version: Option<i64>,
        tokens: &TokenSet,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.record_refresh_success_row(id, owner, expected_version, tokens, now)
            .await
    }

    async fn record_refresh_failure(
        &self,
        id: &ConnectionId,
        owner: &str,
        expected_version: Option<i64>,
        update: &FailureUpdate,
    ) -> StoreResult<bool> {
        self.record_refresh_failure_row(id, owner, expected_version, update)
            .await
    }

    async fn replace_connection_tokens(
        &self,
        id: &ConnectionId,
        account: &Account,
        scopes: &[String],
        tokens: &TokenSet,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.replace_connection_tokens_row(id, account, scopes, tokens, now)
            .await
    }

    async fn annotate_connection(
        &self,
        id: &ConnectionId,
        status_reason: &str,
        diagnosis: &serde_json::Value,
    ) -> StoreResult<()> {
        self.annotate_row(id, status_reason, diagnosis).await
    }

    async fn touch_last_used(&self, uses: &[(ConnectionId, DateTime<Utc>)]) -> StoreResult<()> {
        self.touch_last_used_rows(uses).await
    }

    async fn disconnect(&self, id: &ConnectionId, _now: DateTime<Utc>) -> StoreResult<()> {
        self.disconnect_row(id).await
    }

    async fn due_for_retry(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<(WorkspaceId, ConnectionId)>> {
        self.due_for_retry_rows(now, limit).await
    }

    async fn idle_connections(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<(WorkspaceId, ConnectionId)>> {
        self.idle_connection_rows(before, limit).await
    }

    async fn append_event(&self, event: &NewEvent) -> StoreResult<Event> {
        self.append_event_row(event).await
    }

    async fn list_events(
        &self,
        workspace: &WorkspaceId,
        id: &ConnectionId,
        before_seq: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Event>> {
        self.list_event_rows(workspace, id, before_seq, limit).await
    }

    async fn reencrypt_all(&self) -> StoreResult<u64> {
        self.reencrypt_all_rows().await
    }
}
