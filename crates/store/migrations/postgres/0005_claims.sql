-- Background jobs that cost what is due, shared exactly once between instances; the SQLite
-- migration of the same name explains each column and index.
ALTER TABLE connections ADD COLUMN claim_owner TEXT;
ALTER TABLE connections ADD COLUMN claim_until BIGINT;

CREATE INDEX connections_keepalive
    ON connections (status, (COALESCE(last_refreshed_at, refresh_token_issued_at, created_at)), id);

CREATE INDEX connections_next_retry ON connections (next_retry_at)
    WHERE next_retry_at IS NOT NULL;

CREATE INDEX connections_failed_on_connector ON connections (workspace_id, connector)
    WHERE failed_connector_generation IS NOT NULL;

-- Retention: events older than events_retention_days and connect sessions long expired are
-- deleted in small batches, found by these indexes.
CREATE INDEX events_by_time ON events (at);
CREATE INDEX connect_sessions_by_expiry ON connect_sessions (expires_at);
