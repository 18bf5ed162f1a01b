//! The view models of the connectors page: one struct per page, holding text ready to show, so
//! the templates (`templates/page/*.html`, compiled and auto-escaped) only loop and branch.

use askama::Template;
use chrono::{DateTime, Utc};
use tether_core::diagnosis::{Diagnosis, Step};
use tether_core::event::Outcome;
use tether_core::status::ConnectionStatus;
use tether_store::{Connection, ConnectionCount, Event};

/// What every page's layout shows: title, navigation, the form token, the demo controls.
#[derive(Debug, Default)]
pub struct Chrome {
    pub title: String,
    /// Which navigation entry is current: `connections`, `connectors` or empty.
    pub nav: &'static str,
    pub signed_in: bool,
    /// The session's CSRF token, put in every form.
    pub csrf: String,
    /// A one-line notice at the top (after connecting, reconnecting, checking).
    pub notice: Option<String>,
    /// Only in `tether demo`.
    pub demo: Option<DemoPanel>,
}

/// The demo's "simulate time" and policy controls.
#[derive(Debug)]
pub struct DemoPanel {
    /// How far the shared clock runs ahead of real time, e.g. `+31 days`.
    pub offset: String,
    /// The sandbox Connected App's refresh token policy, as its Setup screen words it.
    pub policy: String,
    /// The choices of the policy form: (value, label, selected).
    pub policies: Vec<(&'static str, &'static str, bool)>,
}

/// A page that only says something (errors, refusals).
#[derive(Debug, Template)]
#[template(path = "page/message.html")]
pub struct MessagePage {
    pub chrome: Chrome,
    pub heading: String,
    pub message: String,
}

impl MessagePage {
    pub fn new(heading: &str, message: String) -> Self {
        Self {
            chrome: Chrome {
                title: heading.to_owned(),
                ..Chrome::default()
            },
            heading: heading.to_owned(),
            message,
        }
    }
}

/// Reloads `path` from tether's own origin, so the browser sends its SameSite=Strict cookie.
#[derive(Debug, Template)]
#[template(path = "page/bounce.html")]
pub struct BouncePage<'a> {
    pub path: &'a str,
}

/// The sign-in form.
#[derive(Debug, Template)]
#[template(path = "page/login.html")]
pub struct LoginPage {
    pub chrome: Chrome,
    pub next: String,
    pub error: Option<String>,
}

/// One connection as the list and the detail page show it.
#[derive(Debug)]
pub struct ConnectionRow {
    pub id: String,
    pub connector: String,
    pub end_user_id: String,
    pub username: String,
    pub user_id: String,
    pub org_id: String,
    pub instance_url: String,
    /// `active`, `degraded`, `expired`, `disconnected` (the badge's class).
    pub status: &'static str,
    /// `Active`, `Degraded`, `Connection Expired`, `Disconnected`.
    pub status_label: &'static str,
    pub status_reason: Option<String>,
    pub created: String,
    pub last_refreshed: String,
    pub last_used: String,
    pub scopes: String,
}

impl From<&Connection> for ConnectionRow {
    fn from(c: &Connection) -> Self {
        Self {
            id: c.id.to_string(),
            connector: c.connector.to_string(),
            end_user_id: c.end_user_id.to_string(),
            username: c.account.username.clone(),
            user_id: c.account.user_id.clone(),
            org_id: c.account.org_id.clone(),
            instance_url: c.account.instance_url.to_string(),
            status: c.status.as_str(),
            status_label: c.status.label(),
            status_reason: c.status_reason.map(|r| r.as_str().to_owned()),
            created: when(Some(c.created_at)),
            last_refreshed: when(c.last_refreshed_at),
            last_used: when(c.last_used_at),
            scopes: c.scopes.join(" "),
        }
    }
}

/// A time as people read it; `never` for none.
pub fn when(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "never".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// A status count at the top of the list; also a filter link.
#[derive(Debug)]
pub struct StatusCount {
    pub status: &'static str,
    pub label: &'static str,
    pub count: i64,
    pub selected: bool,
}

impl StatusCount {
    /// One count per status (over every connector), in the order people scan them.
    pub fn all(counts: &[ConnectionCount], selected: Option<ConnectionStatus>) -> Vec<Self> {
        use ConnectionStatus::*;
        [Active, Degraded, Expired, Disconnected]
            .into_iter()
            .map(|s| Self {
                status: s.as_str(),
                label: s.label(),
                count: counts
                    .iter()
                    .filter(|c| c.status == s)
                    .map(|c| c.count)
                    .sum(),
                selected: selected == Some(s),
            })
            .collect()
    }
}

/// `GET /`: a page of the workspace's connections, newest first.
#[derive(Debug, Template)]
#[template(path = "page/connections.html")]
pub struct ConnectionsPage {
    pub chrome: Chrome,
    pub counts: Vec<StatusCount>,
    /// Every connection of the workspace, whatever the filters.
    pub total: i64,
    pub rows: Vec<ConnectionRow>,
    /// The connector filter's choices: (name, selected).
    pub connectors: Vec<(String, bool)>,
    pub filtered: bool,
    /// The link to the next page (filters kept), when there is one.
    pub next_page: Option<String>,
    /// The link back to the first page (filters kept), when this is a later page.
    pub first_page: Option<String>,
}

/// A diagnosis as a person reads it.
#[derive(Debug)]
pub struct DiagnosisView {
    pub title: String,
    pub cause: String,
    pub confidence: &'static str,
    pub evidence: Vec<String>,
    pub steps: Vec<Step>,
}

impl From<Diagnosis> for DiagnosisView {
    fn from(d: Diagnosis) -> Self {
        use tether_core::diagnosis::Confidence::*;
        Self {
            title: d.title,
            cause: serde_json::to_value(d.cause)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            confidence: match d.confidence {
                Certain => "certain",
                Likely => "likely",
                Possible => "possible",
            },
            evidence: d.evidence,
            steps: d.steps,
        }
    }
}

/// One row of the login history.
#[derive(Debug)]
pub struct EventRow {
    pub at: String,
    pub kind: String,
    pub outcome: String,
    pub detail: String,
    pub failed: bool,
}

impl From<Event> for EventRow {
    fn from(e: Event) -> Self {
        Self {
            at: e.event.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            failed: e.event.outcome != Outcome::Success,
            kind: e.event.kind.as_str().to_owned(),
            outcome: e.event.outcome.as_str().to_owned(),
            detail: e.event.detail,
        }
    }
}

/// `GET /connections/{id}`.
#[derive(Debug, Template)]
#[template(path = "page/connection.html")]
pub struct ConnectionPage {
    pub chrome: Chrome,
    pub c: ConnectionRow,
    pub diagnosis: Option<DiagnosisView>,
    pub events: Vec<EventRow>,
    pub can_reconnect: bool,
    pub can_check: bool,
}

/// One connector in the list.
#[derive(Debug)]
pub struct ConnectorRow {
    pub name: String,
    /// `authorization_code`, `jwt_bearer` or `client_credentials`.
    pub grant: String,
    pub client_id: String,
    pub login_url: String,
    pub scopes: String,
    pub connections: i64,
}

/// `GET /connectors`.
#[derive(Debug, Template)]
#[template(path = "page/connectors.html")]
pub struct ConnectorsPage {
    pub chrome: Chrome,
    pub callback_url: String,
    pub connectors: Vec<ConnectorRow>,
    pub webhooks: Vec<WebhookRow>,
}

/// One webhook on the connectors page, with its latest deliveries.
#[derive(Debug)]
pub struct WebhookRow {
    pub id: String,
    pub url: String,
    pub events: String,
    /// `enabled` or `disabled`.
    pub status: &'static str,
    pub deliveries: Vec<DeliveryRow>,
}

/// One delivery of a webhook.
#[derive(Debug)]
pub struct DeliveryRow {
    pub at: String,
    pub event_type: &'static str,
    pub status: &'static str,
    pub attempts: i64,
    /// The last answer's status code, or why the last attempt got none.
    pub last: String,
    pub failed: bool,
}

/// The add / edit form of a connector, filled with what is stored or was just sent.
#[derive(Debug, Default)]
pub struct ConnectorFields {
    pub name: String,
    /// `authorization_code`, `jwt_bearer` or `client_credentials`.
    pub grant: String,
    pub client_id: String,
    /// JWT bearer: the allowed usernames, one per line (empty: anyone pre-authorized).
    pub allowed_usernames: String,
    /// `production`, `sandbox` or `custom`.
    pub login_host: String,
    pub custom_login_url: String,
    pub scopes: String,
    pub session_timeout_seconds: String,
    /// `none`, `until_revoked`, `immediately`, `idle`, `lifetime`.
    pub policy_kind: String,
    pub policy_seconds: String,
    pub idle_ttl_30d: bool,
}

/// `GET /connectors/new` and `GET /connectors/{name}`.
#[derive(Debug, Template)]
#[template(path = "page/connector.html")]
pub struct ConnectorPage {
    pub chrome: Chrome,
    /// False when adding.
    pub editing: bool,
    pub fields: ConnectorFields,
    pub callback_url: String,
    /// What tether read off this connector's expired connections.
    pub inferred_policy: Option<String>,
    pub error: Option<String>,
    /// JWT bearer: the certificate to upload to the Connected App, and a rotation's pending
    /// one.
    pub certificate_pem: Option<String>,
    pub pending_certificate_pem: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_text_in_a_diagnosis_and_the_history_is_escaped() {
        let markup = "<script>alert(1)</script>";
        let page = ConnectionPage {
            chrome: Chrome::default(),
            c: ConnectionRow {
                id: "conn_1".into(),
                connector: "salesforce".into(),
                end_user_id: markup.into(),
                username: markup.into(),
                user_id: String::new(),
                org_id: String::new(),
                instance_url: String::new(),
                status: "expired",
                status_label: "Connection Expired",
                status_reason: Some(markup.into()),
                created: String::new(),
                last_refreshed: String::new(),
                last_used: String::new(),
                scopes: String::new(),
            },
            diagnosis: Some(DiagnosisView {
                title: markup.into(),
                cause: "refresh_token_revoked".into(),
                confidence: "likely",
                evidence: vec![markup.into()],
                steps: vec![Step {
                    title: markup.into(),
                    detail: markup.into(),
                }],
            }),
            events: vec![EventRow {
                at: String::new(),
                kind: "refresh_failed".into(),
                outcome: "failure".into(),
                detail: markup.into(),
                failed: true,
            }],
            can_reconnect: true,
            can_check: true,
        };
        let html = page.render().unwrap_or_else(|e| panic!("{e}"));
        assert!(!html.contains("<script>"), "markup leaked into the page");
        assert_eq!(
            html.matches("&#60;script&#62;alert(1)&#60;/script&#62;")
                .count(),
            8
        );
    }
}
