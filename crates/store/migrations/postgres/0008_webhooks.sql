-- Webhooks (PostgreSQL), column for column the SQLite migration of the same name, which
-- explains each table, column and index.
--
--
-- webhooks.secret / previous_secret: sealed like every secret (bound to the webhook's id and
-- the column name); previous_secret still signs, next to the new one, until
-- previous_secret_until (tether's clock) after a rotation. failing_since: the first failed
-- attempt since the last delivered one; disabled_at: when 3 days of failures disabled it.
CREATE TABLE webhooks (
    id                     TEXT PRIMARY KEY NOT NULL,
    workspace_id           TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url                    TEXT NOT NULL,
    events                 TEXT NOT NULL,
    secret                 BYTEA NOT NULL,
    previous_secret        BYTEA,
    previous_secret_until  BIGINT,
    created_at             BIGINT NOT NULL,
    failing_since          BIGINT,
    disabled_at            BIGINT
);

CREATE INDEX webhooks_by_workspace ON webhooks (workspace_id, created_at);

-- One row per event and webhook (seq: the order they were written in), inserted in the transaction of the change that raised the
-- event (so a crash neither loses nor invents one). event_id is the `webhook-id` receivers
-- dedupe by; subject_id the connection (or, for webhook.disabled, the webhook) it is about;
-- connection: the connection as the change left it (JSON), which the body shows; body the
-- JSON sent, fixed at the first attempt so every retry carries the same bytes.
-- claim_owner / claim_until: the instance sending it and until when (the database's clock),
-- as for the scheduler's jobs (0005_claims.sql).
CREATE TABLE webhook_deliveries (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    webhook_id        TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    workspace_id      TEXT NOT NULL,
    event_id          TEXT NOT NULL,
    event_type        TEXT NOT NULL,
    subject_id        TEXT NOT NULL,
    event_at          BIGINT NOT NULL,
    connection        TEXT,
    body              TEXT,
    status            TEXT NOT NULL,
    attempts          BIGINT NOT NULL,
    last_status_code  BIGINT,
    last_error        TEXT,
    last_attempt_at   BIGINT,
    next_attempt_at   BIGINT,
    delivered_at      BIGINT,
    claim_owner       TEXT,
    claim_until       BIGINT,
    UNIQUE (webhook_id, event_id)
);

-- The deliveries that are due: only pending ones are indexed, so a pass costs what is due.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';

-- A webhook's deliveries, newest first (the order they were written in), paged by seq.
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, seq);
