-- Connectors whose connections have no refresh token: the JWT bearer and client credentials
-- grants (docs/api.md, "Connectors").
--
-- grant_type: 'authorization_code' (every connector before this), 'jwt_bearer' or
-- 'client_credentials'.
-- client_secret becomes optional (a JWT bearer connector needs none). SQLite cannot drop a
-- NOT NULL constraint in place: the column is copied into a new one, dropped and the new one
-- renamed; the sealed bytes move unchanged and stay bound to the column name client_secret.
-- allowed_usernames: JWT bearer only, a JSON list of the Salesforce usernames a connection may
-- be made for; NULL allows anyone the Connected App pre-authorizes.
-- jwt_private_key / jwt_certificate: the key that signs the connector's assertions (sealed
-- like every secret) and the self-signed certificate the Connected App holds;
-- jwt_pending_*: a pair made for a rotation, until it is activated.
ALTER TABLE connectors ADD COLUMN grant_type TEXT NOT NULL DEFAULT 'authorization_code';
ALTER TABLE connectors ADD COLUMN allowed_usernames TEXT;
ALTER TABLE connectors ADD COLUMN jwt_private_key BLOB;
ALTER TABLE connectors ADD COLUMN jwt_certificate TEXT;
ALTER TABLE connectors ADD COLUMN jwt_pending_private_key BLOB;
ALTER TABLE connectors ADD COLUMN jwt_pending_certificate TEXT;

ALTER TABLE connectors ADD COLUMN client_secret_optional BLOB;
UPDATE connectors SET client_secret_optional = client_secret;
ALTER TABLE connectors DROP COLUMN client_secret;
ALTER TABLE connectors RENAME COLUMN client_secret_optional TO client_secret;

-- The keep-alive uses refresh tokens that would otherwise go idle: connections without one
-- (the JWT bearer and client credentials grants) are none of its business, so its index
-- leaves them out and an idle pass never reads them.
DROP INDEX connections_keepalive;
CREATE INDEX connections_keepalive
    ON connections (status, COALESCE(last_refreshed_at, refresh_token_issued_at, created_at), id)
    WHERE refresh_token IS NOT NULL;
