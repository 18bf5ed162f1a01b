//! Gathering the facts the diagnosis engine weighs, from what a refresh already read.
//!
//! The engine (`tether_core::diagnosis`) is pure; this module puts together the connection's
//! token ages, the connector's policy hints and policy evidence (one stored record per
//! connector, read with the refresh's context), how many times the same Salesforce user
//! approved the connector since (one indexed count), whether tether itself may have lost a
//! rotated token, and the probe of the access token.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tether_core::cause::Cause;
use tether_core::diagnosis::{
    AccessProbe, Confidence, Diagnosis, Facts, Observation, PolicyHint, diagnose, diagnose_expiry,
};
use tether_core::refresh::{ProviderError, Verdict};
use tether_store::{Connection, EvidenceChange, RefreshContext, Store, StoreResult};

/// What tether knows of its own part in a refusal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnFault {
    /// An earlier attempt on this refresh token was interrupted (a crash, or a stall past
    /// its lease) after it may have reached the provider.
    pub interrupted_attempt: bool,
    /// An earlier attempt's answer never came (a timeout after sending).
    pub unanswered_attempt: bool,
}

/// What a failed refresh brings to its diagnosis.
#[derive(Debug, Clone, Copy)]
pub struct FailedRefresh<'a> {
    /// What the refresh read: the connection, its connector, the policy evidence.
    pub ctx: &'a RefreshContext,
    /// The provider's error, when it named one.
    pub provider_error: Option<&'a ProviderError>,
    pub own: OwnFault,
    /// The probe of the access token (asked only after `invalid_grant`).
    pub probe: Option<AccessProbe>,
    pub now: DateTime<Utc>,
}

/// The diagnosis of a failed refresh, as stored on the connection.
pub async fn for_refresh_failure(
    store: &dyn Store,
    failed: &FailedRefresh<'_>,
    verdict: Verdict,
) -> StoreResult<Diagnosis> {
    let provider_error = failed.provider_error;
    let diagnosis = match verdict {
        Verdict::Expired(cause) => diagnose_expiry(&gather(store, failed, cause).await?),
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
    failed: &FailedRefresh<'_>,
    classified: Cause,
) -> StoreResult<Facts> {
    let FailedRefresh {
        ctx,
        provider_error,
        own,
        probe,
        now,
    } = *failed;
    let connection = &ctx.connection;
    let approved_at = approved_at(connection);
    let last_success = last_success(connection);
    let hint = ctx.connector.input.refresh_token_policy.as_ref();
    let grant = ctx.connector.input.grant;
    // Approvals are refresh tokens: a connection without one is not pushed out by them.
    let approvals_after = match grant.uses_refresh_tokens() {
        true => store.count_approvals_after(connection, approved_at).await?,
        false => 0,
    };
    Ok(Facts {
        classified,
        provider_error: provider_error.cloned(),
        grant,
        observation: observation(connection, now),
        never_refreshed: last_success.is_none(),
        policy_hint: hint.and_then(PolicyHint::from_json),
        idle_ttl_30d_hint: hint
            .and_then(|h| h.get("idle_ttl_30d"))
            .and_then(Value::as_bool)
            == Some(true),
        approvals_after,
        unsaved_rotation: own.unanswered_attempt,
        interrupted_attempt: own.interrupted_attempt,
        probe,
        evidence: ctx.evidence,
    })
}

/// When the connection's current refresh token was approved (connect or reconnect).
fn approved_at(connection: &Connection) -> DateTime<Utc> {
    connection
        .refresh_token_issued_at
        .unwrap_or(connection.created_at)
}

/// The last refresh that worked with the current refresh token's approval.
fn last_success(connection: &Connection) -> Option<DateTime<Utc>> {
    let approved = approved_at(connection);
    connection.last_refreshed_at.filter(|at| *at >= approved)
}

/// The token's ages at `now`: since its approval, at its last success, and unused.
fn observation(connection: &Connection, now: DateTime<Utc>) -> Observation {
    let approved = approved_at(connection);
    let last_success = last_success(connection);
    let last_use = last_success.unwrap_or(approved);
    Observation {
        age_seconds: (now - approved).num_seconds(),
        last_success_age_seconds: last_success.map_or(0, |at| (at - approved).num_seconds()),
        idle_seconds: (now - last_use).num_seconds(),
    }
}

/// What a successful refresh at `now` teaches about the connector's policy: the refresh
/// token survived its gap since its last use, at its age.
pub fn survival(connection: &Connection, now: DateTime<Utc>) -> EvidenceChange {
    let seen = observation(connection, now);
    EvidenceChange::Survived {
        gap_seconds: seen.idle_seconds,
        age_seconds: seen.age_seconds,
    }
}

/// What a refusal teaches, when its diagnosis is evidence about the policy.
pub fn death(diagnosis: &Diagnosis) -> Option<EvidenceChange> {
    diagnosis.policy_death().map(EvidenceChange::Died)
}
