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
