//! Decoding of stored rows into records, shared by every backend: the column lists each
//! SELECT uses and one function per record, opening sealed fields through the [`Vault`].
//!
//! Both schemas name their columns alike, so a backend differs from another only in the SQL
//! around these lists (placeholders, types, locking).

use tether_core::ids::{ConnectSessionId, ConnectionId, ConnectorName, WorkspaceId};
use tether_core::secret::{AccessToken, ClientSecret, PkceVerifier, PrivateKeyPem};

use crate::codec::{
    Columns, digest, id, list, opt_id, opt_json, opt_parsed, opt_time, parsed, status, time,
};
use crate::vault::Vault;
use crate::{
    Account, ApiKeyRecord, ConnectSession, Connection, Connector, ConnectorInput, CurrentToken,
    Event, JwtKeyPair, JwtKeys, NewEvent, StoreResult, Workspace,
};

pub(crate) const WORKSPACE_COLUMNS: &str = "id, name, created_at";

pub(crate) const API_KEY_COLUMNS: &str = "id, workspace_id, secret_sha256, created_at";

pub(crate) const CONNECTOR_COLUMNS: &str = "workspace_id, name, provider, grant_type,
     client_id, client_secret, allowed_usernames, login_url, scopes, session_timeout_seconds,
     refresh_token_policy, created_at, updated_at, generation, jwt_private_key,
     jwt_certificate, jwt_pending_private_key, jwt_pending_certificate";

pub(crate) const SESSION_COLUMNS: &str = "id, workspace_id, connector, end_user_id, redirect_to,
     state_sha256, pkce_verifier, reconnect_of, allow_different_account, created_at, expires_at";

/// Every column of a [`Connection`]; no secret. (The last item is an expression, so the list
/// is qualified without renaming.)
pub(crate) const CONNECTION_COLUMNS: &str = "id, workspace_id, connector, provider, end_user_id,
     status, status_reason, diagnosis, instance_url, org_id, user_id, username, scopes,
     created_at, last_refreshed_at, last_used_at, refresh_token_issued_at,
     access_token_expires_at, refresh_failures, next_retry_at, failed_connector_generation,
     unanswered_attempt_at, rotation_seen, lifetime_warned_at,
     access_token IS NOT NULL AS has_access_token";

/// The token fast path's columns.
pub(crate) const TOKEN_COLUMNS: &str =
    "id, status, status_reason, access_token, instance_url, token_issued_at,
     access_token_expires_at, refresh_at, token_version, next_retry_at,
     failed_connector_generation, last_refreshed_at";

pub(crate) const EVENT_COLUMNS: &str =
    "seq, id, connection_id, workspace_id, at, kind, outcome, detail, provider_error";

/// The AAD record of a connector's client secret: its composite primary key.
pub(crate) fn connector_record(workspace: &WorkspaceId, name: &ConnectorName) -> String {
    format!("{workspace}/{name}")
}

pub(crate) fn workspace(row: &impl Columns) -> StoreResult<Workspace> {
    Ok(Workspace {
        id: id(row, "id")?,
        name: id(row, "name")?,
        created_at: time(row, "created_at")?,
    })
}

pub(crate) fn api_key(row: &impl Columns) -> StoreResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: id(row, "id")?,
        workspace_id: id(row, "workspace_id")?,
        secret_sha256: digest(row, "secret_sha256")?,
        created_at: time(row, "created_at")?,
    })
}

pub(crate) fn connector(vault: &Vault, row: &impl Columns) -> StoreResult<Connector> {
    let workspace_id: WorkspaceId = id(row, "workspace_id")?;
    let name: ConnectorName = id(row, "name")?;
    let record = connector_record(&workspace_id, &name);
    let sealed = row.opt_bytes("client_secret")?;
    let secret = vault.open_opt(sealed.as_deref(), &record, "client_secret")?;
    let input = ConnectorInput {
        provider: row.text("provider")?,
        grant: parsed(row, "grant_type")?,
        client_id: row.text("client_id")?,
        client_secret: secret.map(ClientSecret::new),
        allowed_usernames: opt_json(row, "allowed_usernames")?,
        login_url: row.text("login_url")?,
        scopes: list(row, "scopes")?,
        session_timeout_seconds: row.opt_int("session_timeout_seconds")?,
        refresh_token_policy: opt_json(row, "refresh_token_policy")?,
    };
    let keys = JwtKeys {
        active: jwt_key(vault, row, &record, "jwt_private_key", "jwt_certificate")?,
        pending: jwt_key(
            vault,
            row,
            &record,
            "jwt_pending_private_key",
            "jwt_pending_certificate",
        )?,
    };
    Ok(Connector {
        workspace_id,
        name,
        input,
        keys,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        generation: row.int("generation")?,
    })
}

/// A JWT key pair of a connector row, when both of its columns are set.
fn jwt_key(
    vault: &Vault,
    row: &impl Columns,
    record: &str,
    key_field: &'static str,
    certificate_field: &str,
) -> StoreResult<Option<JwtKeyPair>> {
    let (Some(sealed), Some(certificate_pem)) =
        (row.opt_bytes(key_field)?, row.opt_text(certificate_field)?)
    else {
        return Ok(None);
    };
    Ok(Some(JwtKeyPair {
        private_key: PrivateKeyPem::new(vault.open(&sealed, record, key_field)?),
        certificate_pem,
    }))
}

pub(crate) fn connect_session(vault: &Vault, row: &impl Columns) -> StoreResult<ConnectSession> {
    let session_id: ConnectSessionId = id(row, "id")?;
    let verifier = vault.open(
        &row.bytes("pkce_verifier")?,
        session_id.as_str(),
        "pkce_verifier",
    )?;
    Ok(ConnectSession {
        id: session_id,
        workspace_id: id(row, "workspace_id")?,
        connector: id(row, "connector")?,
        end_user_id: id(row, "end_user_id")?,
        redirect_to: row.opt_text("redirect_to")?,
        state_sha256: digest(row, "state_sha256")?,
        pkce_verifier: PkceVerifier::new(verifier),
        reconnect_of: opt_id(row, "reconnect_of")?,
        allow_different_account: row.flag("allow_different_account")?,
        created_at: time(row, "created_at")?,
        expires_at: time(row, "expires_at")?,
    })
}

/// A [`Connection`] from a row selected with [`CONNECTION_COLUMNS`].
pub(crate) fn connection(row: &impl Columns) -> StoreResult<Connection> {
    let expires_at = time(row, "access_token_expires_at")?;
    Ok(Connection {
        id: id(row, "id")?,
        workspace_id: id(row, "workspace_id")?,
        connector: id(row, "connector")?,
        provider: row.text("provider")?,
        end_user_id: id(row, "end_user_id")?,
        status: status(row, "status")?,
        status_reason: opt_parsed(row, "status_reason")?,
        diagnosis: opt_json(row, "diagnosis")?,
        account: Account {
            instance_url: parsed(row, "instance_url")?,
            org_id: row.text("org_id")?,
            user_id: row.text("user_id")?,
            username: row.text("username")?,
        },
        scopes: list(row, "scopes")?,
        created_at: time(row, "created_at")?,
        last_refreshed_at: opt_time(row, "last_refreshed_at")?,
        last_used_at: opt_time(row, "last_used_at")?,
        refresh_token_issued_at: opt_time(row, "refresh_token_issued_at")?,
        access_token_expires_at: row.flag("has_access_token")?.then_some(expires_at),
        refresh_failures: row.int32("refresh_failures")?,
        next_retry_at: opt_time(row, "next_retry_at")?,
        failed_connector_generation: row.opt_int("failed_connector_generation")?,
        unanswered_attempt_at: opt_time(row, "unanswered_attempt_at")?,
        rotation_seen: row.flag("rotation_seen")?,
        lifetime_warned_at: opt_time(row, "lifetime_warned_at")?,
    })
}

/// A [`CurrentToken`] from a row selected with [`TOKEN_COLUMNS`].
pub(crate) fn current_token(vault: &Vault, row: &impl Columns) -> StoreResult<CurrentToken> {
    let connection_id: ConnectionId = id(row, "id")?;
    let sealed = row.opt_bytes("access_token")?;
    let access = vault.open_opt(sealed.as_deref(), connection_id.as_str(), "access_token")?;
    Ok(CurrentToken {
        connection_id,
        status: status(row, "status")?,
        status_reason: opt_parsed(row, "status_reason")?,
        access_token: access.map(AccessToken::new),
        instance_url: parsed(row, "instance_url")?,
        issued_at: time(row, "token_issued_at")?,
        expires_at: time(row, "access_token_expires_at")?,
        refresh_at: time(row, "refresh_at")?,
        token_version: row.int("token_version")?,
        refreshed_at: opt_time(row, "last_refreshed_at")?,
        next_retry_at: opt_time(row, "next_retry_at")?,
        failed_connector_generation: row.opt_int("failed_connector_generation")?,
    })
}

pub(crate) fn event(row: &impl Columns) -> StoreResult<Event> {
    Ok(Event {
        id: id(row, "id")?,
        seq: row.int("seq")?,
        event: NewEvent {
            connection_id: id(row, "connection_id")?,
            workspace_id: id(row, "workspace_id")?,
            at: time(row, "at")?,
            kind: parsed(row, "kind")?,
            outcome: parsed(row, "outcome")?,
            detail: row.text("detail")?,
            provider_error: opt_json(row, "provider_error")?,
        },
    })
}
