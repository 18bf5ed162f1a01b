//! The playbook: turning a cause into a diagnosis with its title and steps (the rows are in
//! [`super::plays`]), and the steps some diagnoses add: the review every expired connection
//! ends with, and the way out of refresh-token policies for good.

use super::plays::PLAYBOOK;
use super::{Confidence, Diagnosis, Step};
use crate::cause::Cause;
use crate::refresh::ProviderError;

/// A cause's row in the playbook: its title and its steps (title, detail).
#[derive(Debug)]
pub struct Play {
    pub cause: Cause,
    pub title: &'static str,
    pub steps: &'static [(&'static str, &'static str)],
    /// Whether the connection is expired by this cause (and so ends with the review steps).
    pub expires: bool,
}

const EDIT_POLICIES: &str =
    "Setup > Apps > Connected Apps > Manage Connected Apps > (your app) > Edit Policies";

/// The two steps every expired diagnosis ends with.
const REVIEW_STEPS: &[(&str, &str)] = &[
    (
        "Check the other refresh token options",
        "In Edit Policies > OAuth Policies, make sure neither \"Expire refresh token if not used for\" nor \"Expire refresh token after\" is selected.",
    ),
    (
        "Review Login History",
        "Setup > Login History shows failed attempts by the connected app (Login Type \"Remote Access 2.0\"); tether's event history of this connection is the other half of the picture.",
    ),
];

/// Why and how to move a connector to a flow without refresh tokens.
const KEYLESS_FLOW: (&str, &str) = (
    "To stop this for good, switch the connector to the JWT bearer flow",
    "Refresh token policies cannot expire a connection that has no refresh token. Under the JWT bearer flow tether signs a short assertion with its own key whenever it needs an access token, for a user the Connected App pre-authorizes. In tether: PUT /v1/connectors/{name} with \"grant\": \"jwt_bearer\" (the consumer secret becomes optional); its answer holds tether's certificate (certificate_pem). In Salesforce: Setup > App Manager > (your app) > Edit > API (Enable OAuth Settings): tick \"Use digital signatures\", upload that certificate and save; then Manage > Edit Policies > Permitted Users: \"Admin approved users are pre-authorized\"; save; and Manage Profiles (or Manage Permission Sets): add the users' profile or permission set. The connector's live connections then get their access tokens this way for their own Salesforce user; this expired one: delete it and make it again with POST /v1/connections {\"connector\", \"end_user_id\", \"username\"}, no browser needed. When one integration user may act for everyone, the client credentials flow (\"grant\": \"client_credentials\"; Edit Policies > Client Credentials Flow > Run As) needs no per-user setup.",
);

/// Adds the [`KEYLESS_FLOW`] step before the review steps: for deaths by an idle or
/// lifetime policy of a connector using the authorization code flow.
pub fn recommend_keyless_flow(diagnosis: &mut Diagnosis) {
    let review = if play(diagnosis.cause).expires {
        REVIEW_STEPS.len()
    } else {
        0
    };
    let at = diagnosis.steps.len().saturating_sub(review);
    diagnosis.steps.insert(at, step(KEYLESS_FLOW));
}

fn step((title, detail): (&str, &str)) -> Step {
    Step {
        title: title.to_owned(),
        detail: detail.to_owned(),
    }
}

/// The playbook row of a cause.
pub fn play(cause: Cause) -> &'static Play {
    PLAYBOOK
        .iter()
        .find(|p| p.cause == cause)
        .unwrap_or(&PLAYBOOK[PLAYBOOK.len() - 1])
}

/// The path of the Connected App's policy page, for evidence texts.
pub fn edit_policies_path() -> &'static str {
    EDIT_POLICIES
}

/// A diagnosis for `cause` with the given confidence and evidence.
pub fn diagnose(
    cause: Cause,
    confidence: Confidence,
    mut evidence: Vec<String>,
    provider_error: Option<ProviderError>,
) -> Diagnosis {
    let play = play(cause);
    if let Some(err) = &provider_error {
        let said = match &err.error_description {
            Some(d) => format!("Salesforce answered {}: {}", err.error, d),
            None => format!("Salesforce answered {}", err.error),
        };
        evidence.insert(0, said);
    }
    let review = if play.expires { REVIEW_STEPS } else { &[] };
    let steps = play.steps.iter().chain(review).copied().map(step).collect();
    Diagnosis {
        cause,
        confidence,
        title: play.title.to_owned(),
        evidence,
        steps,
        provider_error,
        observation: None,
        inferred_policy: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_has_a_playbook_row() {
        for cause in Cause::ALL {
            assert_eq!(play(cause).cause, cause);
        }
    }

    #[test]
    fn an_expired_diagnosis_ends_with_the_review_steps_and_quotes_the_provider() {
        let err = ProviderError::new("invalid_grant", "expired access/refresh token");
        let d = diagnose(
            Cause::RefreshTokenRevoked,
            Confidence::Possible,
            vec![],
            Some(err),
        );
        assert_eq!(
            d.evidence[0],
            "Salesforce answered invalid_grant: expired access/refresh token"
        );
        let titles: Vec<_> = d.steps.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles.last(), Some(&"Review Login History"));
        assert!(titles.contains(&"Reconnect"));
    }

    #[test]
    fn a_connector_problem_has_no_reconnect_step() {
        let d = diagnose(
            Cause::ClientCredentialsInvalid,
            Confidence::Certain,
            vec![],
            None,
        );
        assert!(d.steps.iter().all(|s| s.title != "Reconnect"));
        assert!(d.steps[0].detail.contains("Consumer Secret"));
    }

    #[test]
    fn a_recoverable_cause_says_no_reconnect_is_needed_and_never_asks_for_one() {
        for cause in Cause::ALL.into_iter().filter(|c| c.is_recoverable()) {
            let d = diagnose(cause, Confidence::Certain, vec![], None);
            let titles: Vec<_> = d.steps.iter().map(|s| s.title.as_str()).collect();
            assert!(
                titles.contains(&"No reconnect needed"),
                "{cause}: {titles:?}"
            );
            assert!(!titles.contains(&"Reconnect"), "{cause}: {titles:?}");
        }
    }

    #[test]
    fn a_dead_refresh_token_asks_for_a_reconnect() {
        for cause in Cause::ALL
            .into_iter()
            .filter(|c| c.recovery() == crate::cause::Recovery::Reconnect)
        {
            let d = diagnose(cause, Confidence::Likely, vec![], None);
            assert!(d.steps.iter().any(|s| s.title == "Reconnect"), "{cause}");
        }
    }

    #[test]
    fn the_jwt_and_client_credentials_causes_point_to_their_setup_screens() {
        let detail = |cause| {
            let d = diagnose(cause, Confidence::Certain, vec![], None);
            d.steps
                .iter()
                .map(|s| s.detail.clone())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert!(detail(Cause::JwtCertificateMismatch).contains("\"Use digital signatures\""));
        assert!(detail(Cause::JwtRejected).contains("https://test.salesforce.com"));
        assert!(
            detail(Cause::ClientCredentialsDisabled).contains("Client Credentials Flow > Run As")
        );
        assert!(detail(Cause::RunAsUserInactive).contains("Unfreeze"));
        assert!(
            detail(Cause::UserNotApproved).contains("\"Admin approved users are pre-authorized\"")
        );
    }

    #[test]
    fn the_keyless_flow_step_comes_before_the_review_steps() {
        let mut d = diagnose(Cause::RefreshTokenIdle, Confidence::Likely, vec![], None);
        recommend_keyless_flow(&mut d);
        let titles: Vec<_> = d.steps.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(
            titles[titles.len() - 3..],
            [
                KEYLESS_FLOW.0,
                "Check the other refresh token options",
                "Review Login History"
            ]
        );
        assert!(
            d.steps[titles.len() - 3]
                .detail
                .contains("\"grant\": \"jwt_bearer\"")
        );
    }
}
