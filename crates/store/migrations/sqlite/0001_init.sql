-- tether's schema. Times are INTEGER milliseconds since the Unix epoch; columns holding
-- secrets (client_secret, pkce_verifier, access_token, refresh_token) hold only values sealed
-- by the store's keyring (AES-256-GCM, bound to the row's id and the column name).

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY NOT NULL,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    secret_sha256  BLOB NOT NULL,
    created_at     INTEGER NOT NULL
);

CREATE TABLE connectors (
    workspace_id             TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                     TEXT NOT NULL,
    provider                 TEXT NOT NULL,
    client_id                TEXT NOT NULL,
    client_secret            BLOB NOT NULL,
    login_url                TEXT NOT NULL,
    scopes                   TEXT NOT NULL,
    session_timeout_seconds  INTEGER,
    refresh_token_policy     TEXT,
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL,
    generation               INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

CREATE TABLE connect_sessions (
    id                       TEXT PRIMARY KEY NOT NULL,
    workspace_id             TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    connector                TEXT NOT NULL,
    end_user_id              TEXT NOT NULL,
    redirect_to              TEXT,
    state_sha256             BLOB NOT NULL UNIQUE,
    pkce_verifier            BLOB NOT NULL,
    reconnect_of             TEXT,
    allow_different_account  INTEGER NOT NULL,
    created_at               INTEGER NOT NULL,
    expires_at               INTEGER NOT NULL,
    consumed_at              INTEGER
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
    created_at                   INTEGER NOT NULL,
    last_refreshed_at            INTEGER,
    last_used_at                 INTEGER,
    refresh_token_issued_at      INTEGER,
    access_token                 BLOB,
    refresh_token                BLOB,
    token_issued_at              INTEGER NOT NULL,
    access_token_expires_at      INTEGER NOT NULL,
    refresh_at                   INTEGER NOT NULL,
    token_version                INTEGER NOT NULL,
    refresh_failures             INTEGER NOT NULL,
    next_retry_at                INTEGER,
    failed_connector_generation  INTEGER,
    lease_owner                  TEXT,
    lease_until                  INTEGER
);

CREATE INDEX connections_by_workspace ON connections (workspace_id, created_at);
CREATE INDEX connections_by_end_user ON connections (workspace_id, end_user_id);
CREATE INDEX connections_due_for_retry ON connections (status, next_retry_at);

CREATE TABLE events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    connection_id   TEXT NOT NULL,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    at              INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    detail          TEXT NOT NULL,
    provider_error  TEXT
);

CREATE INDEX events_by_connection ON events (connection_id, seq);
