-- Paging GET /v1/connections (keyset paging, newest first: created_at DESC, id DESC).
--
-- Each index leads with what a listing filters on and ends with the order's columns, so a page
-- is a walk along one index that stops after `limit` rows, with no sort, however many
-- connections the workspace has. `id` is the tie-breaker of connections created in the same
-- millisecond, so a cursor (created_at, id) names one place in the order.
--
-- They replace connections_by_workspace (workspace_id, created_at) and connections_by_end_user
-- (workspace_id, end_user_id), which are prefixes of the new ones.
DROP INDEX connections_by_workspace;
DROP INDEX connections_by_end_user;
CREATE INDEX connections_page ON connections (workspace_id, created_at, id);
CREATE INDEX connections_page_by_status ON connections (workspace_id, status, created_at, id);
CREATE INDEX connections_page_by_connector
    ON connections (workspace_id, connector, created_at, id);
CREATE INDEX connections_page_by_end_user
    ON connections (workspace_id, end_user_id, created_at, id);
