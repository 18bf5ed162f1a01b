-- Sign-ins to the connectors page; the SQLite migration of the same name explains them.
CREATE TABLE page_sessions (
    nonce_sha256  BYTEA PRIMARY KEY NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);

CREATE INDEX page_sessions_by_expiry ON page_sessions (expires_at);

ALTER TABLE connectors ADD COLUMN keepalive_every_ms BIGINT;
CREATE INDEX connectors_keepalive ON connectors (keepalive_every_ms)
    WHERE keepalive_every_ms IS NOT NULL;

CREATE INDEX connections_keepalive_by_connector
    ON connections (workspace_id, connector, status,
                    (COALESCE(last_refreshed_at, refresh_token_issued_at, created_at)));

UPDATE connectors
   SET keepalive_every_ms =
       GREATEST(((refresh_token_policy::jsonb ->> 'seconds')::numeric * 500)::bigint, 60000)
 WHERE refresh_token_policy::jsonb ->> 'kind' = 'idle'
   AND CASE WHEN jsonb_typeof(refresh_token_policy::jsonb -> 'seconds') = 'number'
            THEN (refresh_token_policy::jsonb ->> 'seconds')::numeric > 0
            ELSE FALSE END;

-- Connections per workspace, connector and status, kept up to date by triggers; the SQLite
-- migration of the same name explains them.
CREATE TABLE connection_counts (
    workspace_id  TEXT NOT NULL,
    connector     TEXT NOT NULL,
    status        TEXT NOT NULL,
    connections   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, connector, status)
);

INSERT INTO connection_counts (workspace_id, connector, status, connections)
    SELECT workspace_id, connector, status, COUNT(*) FROM connections
    GROUP BY workspace_id, connector, status;

-- A status change touches two counter rows; it locks them in the order of their status names,
-- so two changes in opposite directions cannot deadlock.
CREATE FUNCTION tether_connection_counts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    step RECORD;
BEGIN
    FOR step IN
        SELECT * FROM (
            SELECT OLD.workspace_id AS ws, OLD.connector AS connector, OLD.status AS status,
                   -1 AS delta
             WHERE TG_OP IN ('UPDATE', 'DELETE')
            UNION ALL
            SELECT NEW.workspace_id, NEW.connector, NEW.status, 1
             WHERE TG_OP IN ('INSERT', 'UPDATE')
        ) AS steps ORDER BY status
    LOOP
        INSERT INTO connection_counts (workspace_id, connector, status, connections)
            VALUES (step.ws, step.connector, step.status, step.delta)
            ON CONFLICT (workspace_id, connector, status)
            DO UPDATE SET connections = connection_counts.connections + EXCLUDED.connections;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER connection_counts_on_insert_or_delete AFTER INSERT OR DELETE ON connections
    FOR EACH ROW EXECUTE FUNCTION tether_connection_counts();
CREATE TRIGGER connection_counts_on_status AFTER UPDATE OF status ON connections
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION tether_connection_counts();
