-- The durable refresh protocol (see ARCHITECTURE.md, "Durability"); the SQLite migration of
-- the same name explains each column.
ALTER TABLE connections ADD COLUMN attempt_owner TEXT;
ALTER TABLE connections ADD COLUMN attempt_version BIGINT;
ALTER TABLE connections ADD COLUMN attempt_started_at BIGINT;
ALTER TABLE connections ADD COLUMN unanswered_attempt_at BIGINT;
ALTER TABLE connections ADD COLUMN rotation_seen BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE connections ADD COLUMN lifetime_warned_at BIGINT;

-- Connector deletion and the connector filter count live connections by index.
CREATE INDEX connections_by_connector ON connections (workspace_id, connector, status);

-- What tether has learned about a connector's Connected App refresh-token policy (the
-- diagnosis's PolicyEvidence, JSON): updated in O(1) with every refresh of its connections,
-- in the same transaction, and kept apart from the connector row so updating it never bumps
-- the connector's generation.
CREATE TABLE connector_evidence (
    workspace_id  TEXT NOT NULL,
    connector     TEXT NOT NULL,
    evidence      TEXT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, connector),
    FOREIGN KEY (workspace_id, connector) REFERENCES connectors (workspace_id, name)
        ON DELETE CASCADE
);
