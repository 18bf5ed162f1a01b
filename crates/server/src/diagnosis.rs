//! Gathering the facts the diagnosis engine weighs, from tether's own records.
//!
//! The engine (`tether_core::diagnosis`) is pure; this module does the reads: the connection's
//! token ages, the connector's policy hints, how many times the same Salesforce user approved
//! the connector since, what the connector's other expired connections looked like, and
//! whether tether lost a rotated token.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tether_core::cause::Cause;
use tether_core::diagnosis::inference::{InferredPolicy, infer};
use tether_core::diagnosis::{
    Confidence, Diagnosis, Facts, Observation, PolicyHint, diagnose, diagnose_expiry,
};
use tether_core::expiry::DEFAULT_SESSION_TIMEOUT;
use tether_core::refresh::{ProviderError, Verdict};
use tether_core::status::ConnectionStatus;
use tether_store::{Connection, ConnectionFilter, Connector, Store, StoreResult};

/// The event kind written when a rotated refresh token could not be saved.
pub const UNSAVED_ROTATION_EVENT: &str = "refresh_unsaved";

/// Causes whose diagnoses carry an observation that inference may read.
const TOKEN_DEATHS: [Cause; 4] = [
    Cause::RefreshTokenPolicyImmediate,
    Cause::RefreshTokenPolicyLifetime,
    Cause::RefreshTokenIdle,
    Cause::RefreshTokenRevoked,
];

/// The diagnosis of a failed refresh, as stored on the connection.
pub async fn for_refresh_failure(
    store: &dyn Store,
    connection: &Connection,
    connector: &Connector,
    verdict: Verdict,
    provider_error: Option<&ProviderError>,
    now: DateTime<Utc>,
) -> StoreResult<Diagnosis> {
    let diagnosis = match verdict {
        Verdict::Expired(cause) => {
            let facts = gather(store, connection, connector, cause, provider_error, now).await?;
            diagnose_expiry(&facts)
        }
        Verdict::ConnectorProblem(cause) => diagnose(
            cause,
            certain_if(provider_error),
            vec!["Salesforce refused the connector's own credentials, not the user's token".into()],
            provider_error.cloned(),
        ),
        Verdict::Transient(cause) => diagnose(
            cause,
            certain_if(provider_error),
            vec!["The last refresh attempt failed for a reason that may pass".into()],
            provider_error.cloned(),
        ),
    };
    Ok(diagnosis)
}

fn certain_if(provider_error: Option<&ProviderError>) -> Confidence {
    if provider_error.is_some() {
        Confidence::Certain
    } else {
        Confidence::Likely
    }
}

async fn gather(
    store: &dyn Store,
    connection: &Connection,
    connector: &Connector,
    classified: Cause,
    provider_error: Option<&ProviderError>,
    now: DateTime<Utc>,
) -> StoreResult<Facts> {
    let approved_at = connection
        .refresh_token_issued_at
        .unwrap_or(connection.created_at);
    let last_success = connection.last_refreshed_at.filter(|at| *at >= approved_at);
    let last_use = last_success.unwrap_or(approved_at);
    let observation = Observation {
        age_seconds: (now - approved_at).num_seconds(),
        last_success_age_seconds: last_success.map_or(0, |at| (at - approved_at).num_seconds()),
        idle_seconds: (now - last_use).num_seconds(),
    };
    let hint = connector.input.refresh_token_policy.as_ref();
    let approvals_after = store
        .count_approvals_after(
            &connection.workspace_id,
            &connection.connector,
            &connection.account,
            &connection.id,
            approved_at,
        )
        .await?;
    Ok(Facts {
        classified,
        provider_error: provider_error.cloned(),
        observation,
        never_refreshed: last_success.is_none(),
        session_lifetime_seconds: session_lifetime(connector),
        policy_hint: hint.and_then(PolicyHint::from_json),
        idle_ttl_30d_hint: hint
            .and_then(|h| h.get("idle_ttl_30d"))
            .and_then(Value::as_bool)
            == Some(true),
        approvals_after,
        unsaved_rotation: lost_a_rotated_token(store, connection).await?,
        peers: peer_observations(store, connector, Some(connection)).await?,
    })
}

fn session_lifetime(connector: &Connector) -> i64 {
    connector
        .input
        .session_timeout_seconds
        .unwrap_or(DEFAULT_SESSION_TIMEOUT.num_seconds())
}

/// Whether a rotated token was lost since the last refresh that was saved.
async fn lost_a_rotated_token(store: &dyn Store, connection: &Connection) -> StoreResult<bool> {
    let recent = store
        .list_events(&connection.workspace_id, &connection.id, None, 20)
        .await?;
    Ok(recent
        .iter()
        .take_while(|e| e.event.kind != "refreshed" && e.event.kind != "reconnected")
        .any(|e| e.event.kind == UNSAVED_ROTATION_EVENT))
}

/// What the connector's expired connections (other than `except`) looked like when they died.
async fn peer_observations(
    store: &dyn Store,
    connector: &Connector,
    except: Option<&Connection>,
) -> StoreResult<Vec<Observation>> {
    let filter = ConnectionFilter {
        status: Some(ConnectionStatus::Expired),
        connector: Some(connector.name.clone()),
        end_user_id: None,
    };
    let expired = store
        .list_connections(&connector.workspace_id, &filter)
        .await?;
    Ok(expired
        .iter()
        .filter(|c| except.is_none_or(|e| e.id != c.id))
        .filter_map(|c| serde_json::from_value::<Diagnosis>(c.diagnosis.clone()?).ok())
        .filter(|d| TOKEN_DEATHS.contains(&d.cause))
        .filter_map(|d| d.observation)
        .collect())
}

/// The policy tether reads off the connector's expired connections, if they agree.
pub async fn inferred_policy(
    store: &dyn Store,
    connector: &Connector,
) -> StoreResult<Option<InferredPolicy>> {
    let observations = peer_observations(store, connector, None).await?;
    Ok(infer(&observations, session_lifetime(connector)))
}
