-- The master keys the database is sealed under (each with a canary) and the signing keys of
-- connect states and page sessions; the SQLite migration of the same name explains each column.
CREATE TABLE master_keys (
    key_id      TEXT PRIMARY KEY NOT NULL,
    state       TEXT NOT NULL,
    canary      BYTEA,
    changed_at  BIGINT NOT NULL
);

CREATE UNIQUE INDEX master_keys_one_primary ON master_keys (state) WHERE state = 'primary';

CREATE TABLE signing_keys (
    name        TEXT PRIMARY KEY NOT NULL,
    secret      BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);
