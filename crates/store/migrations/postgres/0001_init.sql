-- tether's schema (PostgreSQL), column for column the SQLite one. Times are BIGINT
-- milliseconds since the Unix epoch; lists and JSON documents are TEXT; columns holding
-- secrets (client_secret, pkce_verifier, access_token, refresh_token) hold only values sealed
-- by the store's keyring (AES-256-GCM, bound to the row's id and the column name).

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY NOT NULL,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    secret_sha256  BYTEA NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE connectors (
    workspace_id             TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                     TEXT NOT NULL,
    provider                 TEXT NOT NULL,
    client_id                TEXT NOT NULL,
    client_secret            BYTEA NOT NULL,
    login_url                TEXT NOT NULL,
    scopes                   TEXT NOT NULL,
    session_timeout_seconds  BIGINT,
    refresh_token_policy     TEXT,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL,
    generation               BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

CREATE TABLE connect_sessions (
    id                       TEXT PRIMARY KEY NOT NULL,
    workspace_id             TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    connector                TEXT NOT NULL,
    end_user_id              TEXT NOT NULL,
    redirect_to              TEXT,
    state_sha256             BYTEA NOT NULL UNIQUE,
    pkce_verifier            BYTEA NOT NULL,
    reconnect_of             TEXT,
    allow_different_account  BOOLEAN NOT NULL,
    created_at               BIGINT NOT NULL,
    expires_at               BIGINT NOT NULL,
    consumed_at              BIGINT
);

-- One row per connection, carrying its current token set and its refresh lease, so the token
-- fast path is a single primary-key read.
CREATE TABLE connections (
    id                           TEXT PRIMARY KEY NOT NULL,
    workspace_id                 TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    connector                    TEXT NOT NULL,
    provider                     TEXT NOT NULL,
    end_user_id                  TEXT NOT NULL,
    status                       TEXT NOT NULL,
    status_reason                TEXT,
    diagnosis                    TEXT,
    instance_url                 TEXT NOT NULL,
    org_id                       TEXT NOT NULL,
    user_id                      TEXT NOT NULL,
    username                     TEXT NOT NULL,
    scopes                       TEXT NOT NULL,
    created_at                   BIGINT NOT NULL,
    last_refreshed_at            BIGINT,
    last_used_at                 BIGINT,
    refresh_token_issued_at      BIGINT,
    access_token                 BYTEA,
    refresh_token                BYTEA,
    token_issued_at              BIGINT NOT NULL,
    access_token_expires_at      BIGINT NOT NULL,
    refresh_at                   BIGINT NOT NULL,
    token_version                BIGINT NOT NULL,
    refresh_failures             INTEGER NOT NULL,
    next_retry_at                BIGINT,
    failed_connector_generation  BIGINT,
    lease_owner                  TEXT,
    lease_until                  BIGINT
);

CREATE INDEX connections_by_workspace ON connections (workspace_id, created_at);
CREATE INDEX connections_by_end_user ON connections (workspace_id, end_user_id);
CREATE INDEX connections_due_for_retry ON connections (status, next_retry_at);

CREATE TABLE events (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    connection_id   TEXT NOT NULL,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    at              BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    detail          TEXT NOT NULL,
    provider_error  TEXT
);

CREATE INDEX events_by_connection ON events (connection_id, seq);
