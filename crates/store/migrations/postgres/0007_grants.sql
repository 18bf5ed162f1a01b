-- Connectors whose connections have no refresh token: the JWT bearer and client credentials
-- grants. Column for column the SQLite migration of the same number (see its comments).
ALTER TABLE connectors ADD COLUMN grant_type TEXT NOT NULL DEFAULT 'authorization_code';
ALTER TABLE connectors ADD COLUMN allowed_usernames TEXT;
ALTER TABLE connectors ADD COLUMN jwt_private_key BYTEA;
ALTER TABLE connectors ADD COLUMN jwt_certificate TEXT;
ALTER TABLE connectors ADD COLUMN jwt_pending_private_key BYTEA;
ALTER TABLE connectors ADD COLUMN jwt_pending_certificate TEXT;
ALTER TABLE connectors ALTER COLUMN client_secret DROP NOT NULL;

DROP INDEX connections_keepalive;
CREATE INDEX connections_keepalive
    ON connections (status, COALESCE(last_refreshed_at, refresh_token_issued_at, created_at), id)
    WHERE refresh_token IS NOT NULL;
