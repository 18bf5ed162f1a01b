-- Background jobs that cost what is due, shared exactly once between instances.
--
-- claim_owner / claim_until: the scheduler instance that claimed the connection's due job
-- (a keep-alive, a retry after backoff, or the recheck of a recoverable cause) and until
-- when, by the database's clock. Another instance takes the job only once the claim lapses
-- (its owner died) or the job is no longer due (it was done).
ALTER TABLE connections ADD COLUMN claim_owner TEXT;
ALTER TABLE connections ADD COLUMN claim_until INTEGER;

-- The keep-alive's due query reads the oldest unused refresh tokens of active connections:
-- an index on exactly its expression, so an idle instance reads nothing when nothing is due.
-- (status leads: SQLite's planner, without statistics, then takes this index over the
-- status-only one.)
CREATE INDEX connections_keepalive
    ON connections (status, COALESCE(last_refreshed_at, refresh_token_issued_at, created_at), id);

-- Retries and rechecks that are due.
CREATE INDEX connections_next_retry ON connections (next_retry_at)
    WHERE next_retry_at IS NOT NULL;

-- Degraded connections waiting for their connector to change.
CREATE INDEX connections_failed_on_connector ON connections (workspace_id, connector)
    WHERE failed_connector_generation IS NOT NULL;

-- Retention: events older than events_retention_days and connect sessions long expired are
-- deleted in small batches, found by these indexes.
CREATE INDEX events_by_time ON events (at);
CREATE INDEX connect_sessions_by_expiry ON connect_sessions (expires_at);
