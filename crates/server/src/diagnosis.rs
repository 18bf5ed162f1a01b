//! Turning a classified failure into the diagnosis JSON stored on the connection.
//!
//! This is the first reading, from the provider's answer alone; evidence from tether's own
//! records (token age, idle time, approvals) refines it in the diagnosis engine.

use serde_json::Value;
use tether_core::diagnosis::{Confidence, diagnose};
use tether_core::refresh::{ProviderError, Verdict};

/// The diagnosis of a failed refresh, as JSON.
pub fn for_refresh_failure(
    verdict: Verdict,
    provider_error: Option<&ProviderError>,
) -> Option<Value> {
    let cause = verdict.cause();
    let confidence = match (verdict, provider_error) {
        // "expired access/refresh token" fits several causes; the text alone cannot tell.
        (Verdict::Expired(tether_core::cause::Cause::RefreshTokenRevoked), _) => {
            Confidence::Possible
        }
        (_, Some(_)) => Confidence::Certain,
        (_, None) => Confidence::Likely,
    };
    let evidence = match verdict {
        Verdict::Transient(_) => {
            vec!["The last refresh attempt failed for a reason that may pass".to_owned()]
        }
        Verdict::ConnectorProblem(_) => vec![
            "Salesforce refused the connector's own credentials, not the user's token".to_owned(),
        ],
        Verdict::Expired(_) => vec![],
    };
    serde_json::to_value(diagnose(
        cause,
        confidence,
        evidence,
        provider_error.cloned(),
    ))
    .ok()
}
