-- Paging GET /v1/connections; the SQLite migration of the same name explains the indexes.
DROP INDEX connections_by_workspace;
DROP INDEX connections_by_end_user;
CREATE INDEX connections_page ON connections (workspace_id, created_at, id);
CREATE INDEX connections_page_by_status ON connections (workspace_id, status, created_at, id);
CREATE INDEX connections_page_by_connector
    ON connections (workspace_id, connector, created_at, id);
CREATE INDEX connections_page_by_end_user
    ON connections (workspace_id, end_user_id, created_at, id);
