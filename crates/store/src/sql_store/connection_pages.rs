//! Listing connections a page at a time (keyset paging) and counting them per connector and
//! status (per workspace, and over the whole database for `/metrics`). The listing's text is assembled from the filters that are set, so each variant is
//! plain conditions on indexed columns (migration 0004 has one index per filter, each ending in
//! the order's `created_at, id`) and the database walks an index instead of sorting.

use tether_core::ids::WorkspaceId;
use tether_core::status::ConnectionStatus;

use super::SqlStore;
use crate::codec::{Columns, id, ms, status};
use crate::rows::{self, CONNECTION_COLUMNS};
use crate::sql::{Backend, Param, Sql, Statement};
use crate::{
    ConnectionCount, ConnectionCursor, ConnectionFilter, ConnectionPage, PageRequest, StoreResult,
};

/// The rows of one page, read with [`listing_text`] for [`PageRequest::rows_to_read`] rows:
/// its connections and where the next page starts.
pub(super) fn page(
    rows: &[impl Columns],
    request: &PageRequest<ConnectionCursor>,
) -> StoreResult<ConnectionPage> {
    let connections = rows
        .iter()
        .map(rows::connection)
        .collect::<StoreResult<Vec<_>>>()?;
    let (connections, next) = request.split(connections, ConnectionCursor::of);
    Ok(ConnectionPage { connections, next })
}

/// The text of one listing: `CONNECTION_COLUMNS` of the workspace, with the conditions of the
/// filters that are set and of the cursor, newest first, at most `?` rows.
pub(super) fn listing_text(filter: &ConnectionFilter, after: bool) -> String {
    let mut text = format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE workspace_id = ?");
    for (set, condition) in [
        (filter.status.is_some(), " AND status = ?"),
        (filter.connector.is_some(), " AND connector = ?"),
        (filter.end_user_id.is_some(), " AND end_user_id = ?"),
        (after, " AND (created_at, id) < (?, ?)"),
    ] {
        if set {
            text.push_str(condition);
        }
    }
    text.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
    text
}

/// The bind values of [`listing_text`], in order.
pub(super) fn listing_params<'a>(
    workspace: &'a WorkspaceId,
    filter: &'a ConnectionFilter,
    after: Option<&'a ConnectionCursor>,
    limit: i64,
) -> Vec<Param<'a>> {
    let mut params: Vec<Param<'a>> = vec![workspace.as_str().into()];
    params.extend(filter.status.map(|s| ConnectionStatus::as_str(s).into()));
    params.extend(filter.connector.as_ref().map(|c| c.as_str().into()));
    params.extend(filter.end_user_id.as_ref().map(|u| u.as_str().into()));
    if let Some(cursor) = after {
        params.extend([ms(cursor.created_at).into(), cursor.id.as_str().into()]);
    }
    params.push(limit.into());
    params
}

impl<DB: Backend> SqlStore<DB> {
    /// The workspace's counters (`connection_counts`, kept by triggers): a few rows, however
    /// many connections there are.
    pub(super) async fn connection_counts(
        &self,
        workspace: &WorkspaceId,
    ) -> StoreResult<Vec<ConnectionCount>> {
        static COUNT: Sql = Sql::fixed(
            "SELECT connector, status, connections FROM connection_counts
             WHERE workspace_id = ? AND connections > 0
             ORDER BY connector, status",
        );
        let rows = Statement::new(&COUNT)
            .bind(workspace.as_str())
            .fetch_all(self.db())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(ConnectionCount {
                    connector: id(row, "connector")?,
                    status: status(row, "status")?,
                    count: row.int("connections")?,
                })
            })
            .collect()
    }

    pub(super) async fn status_counts(&self) -> StoreResult<Vec<(ConnectionStatus, i64)>> {
        // The counters kept by triggers (`connection_counts`): a few rows per workspace.
        static COUNT: Sql = Sql::fixed(
            "SELECT status, CAST(SUM(connections) AS BIGINT) AS connections FROM connection_counts
             GROUP BY status HAVING SUM(connections) > 0 ORDER BY status",
        );
        let rows = Statement::new(&COUNT).fetch_all(self.db()).await?;
        rows.iter()
            .map(|row| Ok((status(row, "status")?, row.int("connections")?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_filters_that_are_set_become_conditions() {
        let text = listing_text(&ConnectionFilter::default(), false);
        assert!(
            text.ends_with(
                "FROM connections WHERE workspace_id = ? ORDER BY created_at DESC, id DESC LIMIT ?"
            ),
            "{text}"
        );
        let filter = ConnectionFilter {
            status: Some(ConnectionStatus::Expired),
            ..ConnectionFilter::default()
        };
        let text = listing_text(&filter, true);
        assert!(
            text.ends_with(
                "WHERE workspace_id = ? AND status = ? AND (created_at, id) < (?, ?) \
                 ORDER BY created_at DESC, id DESC LIMIT ?"
            ),
            "{text}"
        );
    }

    /// Every listing variant (each combination of filters, with and without a cursor) walks
    /// one of migration 0004's indexes in order: SQLite's plan has no sort step.
    #[tokio::test]
    async fn every_listing_walks_an_index_without_sorting() {
        use sqlx::Row;
        let keyring = crate::crypto::Keyring::new(crate::crypto::MasterKey::generate(), vec![]);
        let store = crate::sqlite::SqliteStore::connect("sqlite::memory:", keyring)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        crate::Admin::migrate(&store)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let ws = WorkspaceId::generate();
        let cursor = ConnectionCursor {
            created_at: chrono::DateTime::UNIX_EPOCH,
            id: tether_core::ids::ConnectionId::generate(),
        };
        for bits in 0..16_u8 {
            let filter = ConnectionFilter {
                status: (bits & 1 != 0).then_some(ConnectionStatus::Active),
                connector: (bits & 2 != 0).then(|| {
                    tether_core::ids::ConnectorName::parse("salesforce")
                        .unwrap_or_else(|e| panic!("{e}"))
                }),
                end_user_id: (bits & 4 != 0).then(|| {
                    tether_core::ids::EndUserId::parse("u-1").unwrap_or_else(|e| panic!("{e}"))
                }),
            };
            let after = (bits & 8 != 0).then_some(&cursor);
            let text = format!(
                "EXPLAIN QUERY PLAN {}",
                listing_text(&filter, after.is_some())
            );
            let mut query = sqlx::query(&text);
            for param in listing_params(&ws, &filter, after, 10) {
                query = match param {
                    Param::Text(value) => query.bind(value.map(|v| v.into_owned())),
                    Param::Int(value) => query.bind(value),
                    other => panic!("unexpected parameter {other:?}"),
                };
            }
            let plan: Vec<String> = query
                .fetch_all(store.pool())
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .iter()
                .map(|row| row.get::<String, _>("detail"))
                .collect();
            let plan = plan.join("; ");
            assert!(
                plan.contains("USING INDEX connections_page"),
                "{filter:?} {after:?}: {plan}"
            );
            assert!(
                !plan.contains("TEMP B-TREE"),
                "{filter:?} {after:?}: {plan}"
            );
        }
    }
}
