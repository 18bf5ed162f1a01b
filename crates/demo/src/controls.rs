//! The controls' state: the shared clock, the sandbox app's policy, the one-time sign-ins.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Duration;
use parking_lot::Mutex;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tether_core::clock::VirtualClock;
use tether_core::ids::{WorkspaceId, random_base62};

use tether_server::page::{DemoPanel, PageError};

/// The policies the demo offers: (form value, Setup label, sandbox policy fields).
const POLICIES: [(&str, &str); 4] = [
    ("until_revoked", "Refresh token is valid until revoked"),
    ("immediately", "Immediately expire refresh token"),
    ("idle_1d", "Expire refresh token if not used for 1 day"),
    ("lifetime_7d", "Expire refresh token after 7 days"),
];

/// What the demo's routes act on and its layout hook shows.
#[derive(Debug)]
pub struct DemoControls {
    pub(crate) clock: Arc<VirtualClock>,
    /// The sandbox's base URL, for its control API.
    sandbox_url: url::Url,
    /// The sandbox Connected App the demo's connector uses.
    client_id: String,
    http: reqwest::Client,
    policy: Mutex<&'static str>,
    /// SHA-256 of unused one-time sign-in tokens.
    sign_ins: Mutex<HashMap<[u8; 32], WorkspaceId>>,
}

impl DemoControls {
    /// Controls over `clock` (shared with the sandbox) and the sandbox app `client_id`.
    pub fn new(clock: Arc<VirtualClock>, sandbox_url: url::Url, client_id: &str) -> Self {
        Self {
            clock,
            sandbox_url,
            client_id: client_id.to_owned(),
            http: reqwest::Client::new(),
            policy: Mutex::new("until_revoked"),
            sign_ins: Mutex::default(),
        }
    }

    /// A token for `GET /login/once/{token}` that signs into `workspace` once.
    pub fn issue_sign_in(&self, workspace: &WorkspaceId) -> String {
        let token = random_base62(40);
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.sign_ins.lock().insert(digest, workspace.clone());
        token
    }

    /// The workspace of a one-time token, which dies here.
    pub fn redeem_sign_in(&self, token: &str) -> Option<WorkspaceId> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.sign_ins.lock().remove(&digest)
    }

    /// The layout's demo strip.
    pub fn panel(&self) -> DemoPanel {
        let current = *self.policy.lock();
        let label = POLICIES
            .iter()
            .find(|(v, _)| *v == current)
            .map_or(current, |(_, l)| l);
        DemoPanel {
            offset: offset_label(self.clock.offset()),
            policy: label.to_owned(),
            policies: POLICIES
                .iter()
                .map(|(v, l)| (*v, *l, *v == current))
                .collect(),
        }
    }

    pub(crate) async fn set_policy(&self, value: &str) -> Result<(), PageError> {
        let (key, _) = POLICIES
            .iter()
            .find(|(v, _)| *v == value)
            .ok_or_else(|| PageError::Invalid(format!("unknown policy {value:?}")))?;
        let url = self
            .sandbox_url
            .join(&format!("_sandbox/apps/{}", self.client_id))
            .map_err(PageError::internal)?;
        let response = self
            .http
            .patch(url)
            .json(&json!({ "refresh_token_policy": sandbox_policy(key) }))
            .send()
            .await
            .map_err(PageError::internal)?;
        if !response.status().is_success() {
            return Err(PageError::internal(format!(
                "sandbox answered {}",
                response.status()
            )));
        }
        *self.policy.lock() = key;
        Ok(())
    }
}

fn sandbox_policy(key: &str) -> Value {
    match key {
        "immediately" => json!({"kind": "immediately"}),
        "idle_1d" => json!({"kind": "idle", "seconds": 86_400}),
        "lifetime_7d" => json!({"kind": "lifetime", "seconds": 7 * 86_400}),
        _ => json!({"kind": "until_revoked"}),
    }
}

fn offset_label(offset: Duration) -> String {
    let (days, hours) = (offset.num_days(), offset.num_hours() % 24);
    let unit = if days == 1 { "day" } else { "days" };
    match (days, hours) {
        (0, 0) => "real time".to_owned(),
        (0, h) => format!("+{h} h"),
        (d, 0) => format!("+{d} {unit}"),
        (d, h) => format!("+{d} {unit} {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_time_sign_in_token_works_once() {
        let demo = DemoControls::new(
            Arc::new(VirtualClock::new()),
            url::Url::parse("http://127.0.0.1:1").unwrap_or_else(|e| panic!("{e}")),
            "app",
        );
        let ws = WorkspaceId::generate();
        let token = demo.issue_sign_in(&ws);
        assert_eq!(demo.redeem_sign_in(&token), Some(ws));
        assert_eq!(demo.redeem_sign_in(&token), None);
        assert_eq!(demo.redeem_sign_in("unknown"), None);
    }

    #[test]
    fn the_offset_reads_in_days_and_hours() {
        assert_eq!(offset_label(Duration::zero()), "real time");
        assert_eq!(offset_label(Duration::days(31)), "+31 days");
        assert_eq!(offset_label(Duration::hours(26)), "+1 day 2 h");
        assert_eq!(offset_label(Duration::days(1)), "+1 day");
    }
}
