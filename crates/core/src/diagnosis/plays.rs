//! The playbook's rows: every cause with its title and its steps, in the words of Salesforce
//! Setup (Setup > App Manager, Setup > Apps > Connected Apps > Manage Connected Apps, ...).

use super::playbook::Play;
use crate::cause::Cause;

const RECONNECT: (&str, &str) = (
    "Reconnect",
    "Reconnect the connection in tether; it keeps its id and history.",
);

/// The last step of a cause that leaves the user's refresh token alive.
const NO_RECONNECT: (&str, &str) = (
    "No reconnect needed",
    "Salesforce keeps this connection's refresh token meanwhile: once the setting is fixed, the same connection works again. tether checks again in the background; \"Check now\" on the connection (POST /v1/connections/{id}/check) checks at once.",
);

/// The last step of a connector-level cause.
const CONNECTOR_RECOVERS: (&str, &str) = (
    "No reconnect needed",
    "This affects every connection of the connector; once it is fixed they all work again without a reconnect. tether checks again in the background; \"Check now\" on a connection checks at once.",
);

const POLICY_STEPS: &[(&str, &str)] = &[
    (
        "Set the Refresh Token Policy to \"Refresh token is valid until revoked\"",
        "In Salesforce: Setup > Apps > Connected Apps > Manage Connected Apps > (your app) > Edit Policies > OAuth Policies > Refresh Token Policy. Choose \"Refresh token is valid until revoked\" and save. Changes can take a few minutes to apply.",
    ),
    RECONNECT,
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
            RECONNECT,
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
                "This is tether's fault, not a setting of yours: tether lost the newest refresh token Salesforce gave it (it was stopped mid-refresh, or could not save the answer). Please report this with the connection's event history.",
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
            RECONNECT,
        ],
        expires: true,
    },
    Play {
        cause: Cause::IpRestricted,
        title: "Salesforce refused tether's IP address (Login IP Ranges or Login Hours)",
        steps: &[
            (
                "Relax IP restrictions for the app, or allow tether's IP",
                "In Salesforce: Setup > Apps > Connected Apps > Manage Connected Apps > (your app) > Edit Policies > IP Relaxation: choose \"Relax IP restrictions\" if your security policy allows, or add tether's outgoing IP addresses to the user's profile Login IP Ranges (Setup > Profiles > (profile) > Login IP Ranges). The JWT bearer flow always enforces IP ranges, whatever IP Relaxation says.",
            ),
            (
                "Check Login Hours",
                "Setup > Profiles > (profile) > Login Hours must include the hours tether works.",
            ),
            NO_RECONNECT,
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
        steps: &[
            (
                "Allow the user",
                "The app's Permitted Users is \"Admin approved users are pre-authorized\". In Salesforce: Setup > Apps > Connected Apps > Manage Connected Apps > (your app) > Manage Profiles / Manage Permission Sets: add the user's profile or a permission set; or Edit Policies > Permitted Users: \"All users may self-authorize\".",
            ),
            (
                "For the JWT bearer flow, pre-authorize the user",
                "The JWT bearer flow never asks the user to approve, so the user must be pre-authorized: keep Permitted Users at \"Admin approved users are pre-authorized\" and add the user's profile or permission set under Manage Profiles / Manage Permission Sets.",
            ),
            NO_RECONNECT,
        ],
        expires: true,
    },
    Play {
        cause: Cause::AppNotInstalled,
        title: "The Connected App is not installed in this Salesforce org",
        steps: &[
            (
                "Install the app, or connect the right org",
                "In Salesforce: Setup > Apps > Connected Apps > Connected Apps OAuth Usage > (your app) > Install. Or check that the connector's login URL names the right org or My Domain.",
            ),
            CONNECTOR_RECOVERS,
        ],
        expires: false,
    },
    Play {
        cause: Cause::ClientCredentialsInvalid,
        title: "Salesforce refused the connector's consumer key or secret",
        steps: &[
            (
                "Fix the connector",
                "Copy the Consumer Key and Consumer Secret from Setup > Apps > App Manager > (your app) > View > Manage Consumer Details into the tether connector. A new app can take about 10 minutes to work.",
            ),
            CONNECTOR_RECOVERS,
        ],
        expires: false,
    },
    Play {
        cause: Cause::JwtCertificateMismatch,
        title: "Salesforce refused tether's signed assertion: the Connected App's certificate does not match tether's key",
        steps: &[
            (
                "Upload tether's certificate to the Connected App",
                "In Salesforce: Setup > App Manager > (your app) > Edit > API (Enable OAuth Settings): tick \"Use digital signatures\", choose the certificate tether signs this connector's assertions with, and save. Changes can take a few minutes (up to about 10) to apply.",
            ),
            (
                "Check the consumer key",
                "The connector's client id must be this app's Consumer Key: Setup > App Manager > (your app) > View > Manage Consumer Details.",
            ),
            CONNECTOR_RECOVERS,
        ],
        expires: false,
    },
    Play {
        cause: Cause::JwtRejected,
        title: "Salesforce refused tether's signed assertion: its audience or its expiry is wrong",
        steps: &[
            (
                "Check the connector's login URL",
                "The assertion is addressed to the connector's login URL: https://login.salesforce.com for a production org, https://test.salesforce.com for a sandbox. Fix the connector if it names another host.",
            ),
            (
                "Check the clock of the machine running tether",
                "Salesforce refuses an assertion whose expiry has passed by its own clock; keep the clock of the machine running tether synchronised (NTP).",
            ),
            CONNECTOR_RECOVERS,
        ],
        expires: false,
    },
    Play {
        cause: Cause::ClientCredentialsDisabled,
        title: "The Connected App has no Run As user for the client credentials flow",
        steps: &[
            (
                "Enable the client credentials flow",
                "In Salesforce: Setup > App Manager > (your app) > Edit > API (Enable OAuth Settings): tick \"Enable Client Credentials Flow\" and save.",
            ),
            (
                "Choose a Run As user",
                "Setup > App Manager > (your app) > Manage > Edit Policies > Client Credentials Flow > Run As: choose an active user with the \"API Enabled\" permission; save.",
            ),
            CONNECTOR_RECOVERS,
        ],
        expires: false,
    },
    Play {
        cause: Cause::RunAsUserInactive,
        title: "The Run As user of the client credentials flow is inactive or frozen",
        steps: &[
            (
                "Reactivate the Run As user, or choose another",
                "In Salesforce: Setup > Users > Users > (the user) > Edit: tick Active (or Unfreeze). Or Setup > App Manager > (your app) > Manage > Edit Policies > Client Credentials Flow > Run As: choose an active user.",
            ),
            CONNECTOR_RECOVERS,
        ],
        expires: false,
    },
    Play {
        cause: Cause::UserInactive,
        title: "The Salesforce user is inactive or frozen",
        steps: &[
            (
                "Reactivate the user, or connect as another user",
                "In Salesforce: Setup > Users > Users > (the user) > Edit: tick Active (or Unfreeze). Or connect as an active user instead.",
            ),
            NO_RECONNECT,
        ],
        expires: true,
    },
    Play {
        cause: Cause::OrgInactive,
        title: "The Salesforce org is locked, closed or suspended",
        steps: &[
            (
                "Contact Salesforce",
                "The org's administrator must restore the org with Salesforce.",
            ),
            NO_RECONNECT,
        ],
        expires: true,
    },
    Play {
        cause: Cause::ApiDisabled,
        title: "The REST API is not enabled for this org or user",
        steps: &[
            (
                "Enable API access",
                "The org's edition must include API access, and the user's profile needs the \"API Enabled\" permission (Setup > Profiles > (profile) > Administrative Permissions).",
            ),
            NO_RECONNECT,
        ],
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
