-- The master keys the database is sealed under, and a key of its own for signing.
--
-- master_keys: one row per master key the database has known, named by its key id (8 hex
-- digits, the id in the header of every value it seals). state is 'pending' (added to the
-- keyring, nothing sealed under it yet), 'primary' (new values are sealed under it; exactly
-- one), 'previous' (a former primary: values may still be sealed under it) or 'retired'
-- (nothing is sealed under it; no longer needed). canary is a known value sealed under that
-- key alone (bound to its key id), so a process can prove it holds the very key the database
-- was sealed under before it writes anything; a retired key's canary is erased. changed_at is
-- when the key entered its state, by the database's clock.
CREATE TABLE master_keys (
    key_id      TEXT PRIMARY KEY NOT NULL,
    state       TEXT NOT NULL,
    canary      BLOB,
    changed_at  INTEGER NOT NULL
);

CREATE UNIQUE INDEX master_keys_one_primary ON master_keys (state) WHERE state = 'primary';

-- signing_keys: secrets that sign what tether hands to browsers (connect states and page
-- sessions), created once and shared by every process on this database, sealed under the
-- master key like any other secret; a master key rotation re-seals them, never changes them.
CREATE TABLE signing_keys (
    name        TEXT PRIMARY KEY NOT NULL,
    secret      BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);
