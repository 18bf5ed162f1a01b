-- The durable refresh protocol (see ARCHITECTURE.md, "Durability").
--
-- attempt_*: the write-ahead record of a refresh attempt, written in the same UPDATE that takes
-- the lease and cleared in the same transaction that lands the attempt's outcome. A record
-- still present when the next process takes the lease means an attempt was interrupted after
-- it may have reached the provider.
-- unanswered_attempt_at: when the last attempt that may have reached the provider ended
-- without an answer tether could use (interrupted by a crash, or timed out after sending);
-- cleared by the next refresh that works or by a reconnect. Under refresh token rotation such
-- an attempt may have carried the only valid refresh token.
-- lifetime_warned_at: when the lifetime warning of the current approval was recorded (cleared
-- by a reconnect), so it is given once per approval without reading the history.
-- rotation_seen: the provider has answered a refresh of this connection with a new refresh
-- token at least once (its Connected App rotates refresh tokens).
ALTER TABLE connections ADD COLUMN attempt_owner TEXT;
ALTER TABLE connections ADD COLUMN attempt_version INTEGER;
ALTER TABLE connections ADD COLUMN attempt_started_at INTEGER;
ALTER TABLE connections ADD COLUMN unanswered_attempt_at INTEGER;
ALTER TABLE connections ADD COLUMN rotation_seen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN lifetime_warned_at INTEGER;

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
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, connector),
    FOREIGN KEY (workspace_id, connector) REFERENCES connectors (workspace_id, name)
        ON DELETE CASCADE
);
