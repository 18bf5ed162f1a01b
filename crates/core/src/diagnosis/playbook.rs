//! The playbook: every cause with its title and its steps, in the words of Salesforce Setup.

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

const POLICY_STEPS: &[(&str, &str)] = &[
    (
        "Set the Refresh Token Policy to \"Refresh token is valid until revoked\"",
        "In Salesforce: Setup > Apps > Connected Apps > Manage Connected Apps > (your app) > Edit Policies > OAuth Policies > Refresh Token Policy. Choose \"Refresh token is valid until revoked\" and save. Changes can take a few minutes to apply.",
    ),
    (
        "Reconnect",
        "Reconnect the connection in tether; it keeps its id and history.",
    ),
];

/// Every cause with its title and steps.
pub const PLAYBOOK: &[Play] = &[
    Play {
        cause: Cause::RefreshTokenPolicyImmediate,
        title: "Salesforce expired the refresh token immediately, as the Connected App's Refresh Token Policy says",
        steps: POLICY_STEPS,
        expires: true,
    },
    Play {
        cause: Cause::RefreshTokenPolicyLifetime,
        title: "Salesforce expired the refresh token because it reached the maximum age the Connected App allows",
        steps: &[
            (
                "Set the Refresh Token Policy to \"Refresh token is valid until revoked\"",
                "In Salesforce: Setup > Apps > Connected Apps > Manage Connected Apps > (your app) > Edit Policies > OAuth Policies > Refresh Token Policy. Choose \"Refresh token is valid until revoked\" and make sure \"Expire refresh token after\" is not selected; save.",
            ),
            (
                "Reconnect",
                "Reconnect the connection in tether; it keeps its id and history.",
            ),
        ],
        expires: true,
    },
    Play {
        cause: Cause::RefreshTokenIdle,
        title: "Salesforce expired the refresh token because it was not used for too long",
        steps: &[
            (
                "Stop idle refresh tokens from expiring",
                "In Salesforce: Setup > Apps > Connected Apps > Manage Connected Apps > (your app) > Edit Policies > OAuth Policies > Refresh Token Policy. Choose \"Refresh token is valid until revoked\", make sure \"Expire refresh token if not used for\" is not selected, or turn off \"Limit Idle Refresh Token TTL to 30 days\"; save.",
            ),
            (
                "Reconnect",
                "Reconnect the connection in tether; tether's keep-alive then uses the token before an idle limit can expire it.",
            ),
        ],
        expires: true,
    },
    Play {
        cause: Cause::ApprovalLimit,
        title: "Salesforce revoked this refresh token because the same user approved the app 5 more times",
        steps: &[
            (
                "Know the 5-approvals limit",
                "Salesforce keeps at most 5 refresh tokens per user per Connected App; each new approval revokes the oldest.",
            ),
            (
                "Reconnect",
                "Reconnect this connection in tether (a reconnect replaces its token instead of adding one).",
            ),
            (
                "Remove duplicate connections",
                "Delete the other connections of the same Salesforce user that you no longer need.",
            ),
        ],
        expires: true,
    },
    Play {
        cause: Cause::RefreshTokenReused,
        title: "Salesforce revoked the token chain because an already-rotated refresh token was used again",
        steps: &[
            ("Reconnect", "Reconnect the connection in tether."),
            (
                "Report it",
                "tether should never reuse a rotated token: please report this with the connection's event history.",
            ),
        ],
        expires: true,
    },
    Play {
        cause: Cause::RefreshTokenRevoked,
        title: "Salesforce revoked the refresh token",
        steps: &[
            (
                "Find who revoked access",
                "A user (Settings > Connected Apps) or an admin (Setup > Apps > Connected Apps > Connected Apps OAuth Usage) revoked access, or the app was blocked or uninstalled. Unblock or reinstall the app if needed.",
            ),
            (
                "Reconnect",
                "Reconnect the connection in tether; it keeps its id and history.",
            ),
        ],
        expires: true,
    },
    Play {
        cause: Cause::IpRestricted,
        title: "Salesforce refused tether's IP address (Login IP Ranges or Login Hours)",
        steps: &[
            (
                "Relax IP restrictions for the app, or allow tether's IP",
                "In Salesforce: Setup > Apps > Connected Apps > Manage Connected Apps > (your app) > Edit Policies > IP Relaxation: choose \"Relax IP restrictions\" if your security policy allows, or add tether's outgoing IP addresses to the user's profile Login IP Ranges (Setup > Profiles > (profile) > Login IP Ranges).",
            ),
            (
                "Check Login Hours",
                "Setup > Profiles > (profile) > Login Hours must include the hours tether works.",
            ),
        ],
        expires: true,
    },
    Play {
        cause: Cause::SessionBlocked,
        title: "Salesforce refuses this session: the app is blocked or a policy forbids it",
        steps: &[
            (
                "Unblock the app",
                "In Salesforce: Setup > Apps > Connected Apps > Connected Apps OAuth Usage > (your app) > Unblock.",
            ),
            ("Reconnect", "Reconnect the connection in tether."),
        ],
        expires: true,
    },
    Play {
        cause: Cause::UserNotApproved,
        title: "The Salesforce user is not allowed to use this Connected App",
        steps: &[(
            "Allow the user",
            "The app's Permitted Users is \"Admin approved users are pre-authorized\". In Salesforce: Setup > Apps > Connected Apps > Manage Connected Apps > (your app) > Manage Profiles / Manage Permission Sets: add the user's profile or a permission set; or Edit Policies > Permitted Users: \"All users may self-authorize\".",
        )],
        expires: true,
    },
    Play {
        cause: Cause::AppNotInstalled,
        title: "The Connected App is not installed in this Salesforce org",
        steps: &[(
            "Install the app, or connect the right org",
            "In Salesforce: Setup > Apps > Connected Apps > Connected Apps OAuth Usage > (your app) > Install. Or check that the connector's login URL names the right org or My Domain.",
        )],
        expires: false,
    },
    Play {
        cause: Cause::ClientCredentialsInvalid,
        title: "Salesforce refused the connector's consumer key or secret",
        steps: &[(
            "Fix the connector",
            "Copy the Consumer Key and Consumer Secret from Setup > Apps > App Manager > (your app) > View > Manage Consumer Details into the tether connector. This affects every connection of the connector; they recover without a reconnect. A new app can take about 10 minutes to work.",
        )],
        expires: false,
    },
    Play {
        cause: Cause::UserInactive,
        title: "The Salesforce user is inactive or frozen",
        steps: &[(
            "Reactivate the user, or connect as another user",
            "In Salesforce: Setup > Users > Users > (the user) > Edit: tick Active (or Unfreeze), then reconnect; or reconnect as an active user.",
        )],
        expires: true,
    },
    Play {
        cause: Cause::OrgInactive,
        title: "The Salesforce org is locked, closed or suspended",
        steps: &[(
            "Contact Salesforce",
            "The org's administrator must restore the org with Salesforce, then reconnect.",
        )],
        expires: true,
    },
    Play {
        cause: Cause::ApiDisabled,
        title: "The REST API is not enabled for this org or user",
        steps: &[(
            "Enable API access",
            "The org's edition must include API access, and the user's profile needs the \"API Enabled\" permission (Setup > Profiles > (profile) > Administrative Permissions).",
        )],
        expires: false,
    },
    Play {
        cause: Cause::RateLimited,
        title: "Salesforce is limiting requests for now",
        steps: &[(
            "Wait",
            "This passes: tether retries after the limit resets. Check Setup > Company Information > API Requests, Last 24 Hours.",
        )],
        expires: false,
    },
    Play {
        cause: Cause::ProviderUnavailable,
        title: "Salesforce did not answer properly (timeout, connection error or server error)",
        steps: &[(
            "Wait",
            "This usually passes: tether keeps serving the current access token while it is valid and retries with backoff. Check status.salesforce.com.",
        )],
        expires: false,
    },
    Play {
        cause: Cause::UnrecognizedProviderError,
        title: "Salesforce refused the refresh with an error tether does not recognise",
        steps: &[
            (
                "Read the provider error",
                "The provider's exact error is shown with this diagnosis; tether keeps retrying with backoff and keeps serving the current access token while it is valid, since an unknown error is no proof that the refresh token is dead.",
            ),
            (
                "If it persists, reconnect",
                "If the error does not go away, reconnect the connection in tether and report the error text.",
            ),
        ],
        expires: false,
    },
];

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
    let steps = play
        .steps
        .iter()
        .chain(review)
        .map(|(title, detail)| Step {
            title: (*title).to_owned(),
            detail: (*detail).to_owned(),
        })
        .collect();
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
}
