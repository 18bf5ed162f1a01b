-- Sign-ins to the connectors page, so that signing out ends one session server-side while
-- the workspace's other sessions go on. The cookie stays signed (it names the workspace and a
-- random nonce); a session is valid only while its row exists. The row holds the SHA-256 of
-- the nonce, never the nonce itself, so a copy of the database signs nobody in.
CREATE TABLE page_sessions (
    nonce_sha256  BLOB PRIMARY KEY NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);

-- Retention: sessions past their expiry are deleted in small batches.
CREATE INDEX page_sessions_by_expiry ON page_sessions (expires_at);

-- How often the keep-alive uses an idle refresh token of this connector's connections, when
-- an idle limit is known (declared by its admin or inferred from its evidence): half that
-- limit (`tether_core::keepalive`), kept up to date when the connector or its evidence
-- changes. NULL: the `keepalive_seconds` setting applies.
ALTER TABLE connectors ADD COLUMN keepalive_every_ms INTEGER;
CREATE INDEX connectors_keepalive ON connectors (keepalive_every_ms)
    WHERE keepalive_every_ms IS NOT NULL;

-- The keep-alive of one such connector reads its oldest unused refresh tokens.
CREATE INDEX connections_keepalive_by_connector
    ON connections (workspace_id, connector, status,
                    COALESCE(last_refreshed_at, refresh_token_issued_at, created_at));

-- Connectors that already declared an idle policy.
UPDATE connectors
   SET keepalive_every_ms = MAX(json_extract(refresh_token_policy, '$.seconds') * 500, 60000)
 WHERE json_extract(refresh_token_policy, '$.kind') = 'idle'
   AND json_type(refresh_token_policy, '$.seconds') IN ('integer', 'real')
   AND json_extract(refresh_token_policy, '$.seconds') > 0;

-- Connections per workspace, connector and status, kept up to date by triggers in the
-- transaction of every change, so the page's counts (and the metrics' gauge) read a few rows
-- instead of counting a workspace's connections.
CREATE TABLE connection_counts (
    workspace_id  TEXT NOT NULL,
    connector     TEXT NOT NULL,
    status        TEXT NOT NULL,
    connections   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, connector, status)
);

INSERT INTO connection_counts (workspace_id, connector, status, connections)
    SELECT workspace_id, connector, status, COUNT(*) FROM connections
    GROUP BY workspace_id, connector, status;

CREATE TRIGGER connection_counts_on_insert AFTER INSERT ON connections BEGIN
    INSERT INTO connection_counts (workspace_id, connector, status, connections)
        VALUES (NEW.workspace_id, NEW.connector, NEW.status, 1)
        ON CONFLICT (workspace_id, connector, status)
        DO UPDATE SET connections = connections + 1;
END;

CREATE TRIGGER connection_counts_on_status AFTER UPDATE OF status ON connections
    WHEN OLD.status IS NOT NEW.status BEGIN
    UPDATE connection_counts SET connections = connections - 1
        WHERE workspace_id = OLD.workspace_id AND connector = OLD.connector
          AND status = OLD.status;
    INSERT INTO connection_counts (workspace_id, connector, status, connections)
        VALUES (NEW.workspace_id, NEW.connector, NEW.status, 1)
        ON CONFLICT (workspace_id, connector, status)
        DO UPDATE SET connections = connections + 1;
END;

CREATE TRIGGER connection_counts_on_delete AFTER DELETE ON connections BEGIN
    UPDATE connection_counts SET connections = connections - 1
        WHERE workspace_id = OLD.workspace_id AND connector = OLD.connector
          AND status = OLD.status;
END;
