//! The org's configuration as an admin sees it in Setup: users and Connected Apps with every
//! policy field of `sandbox.md`, plus the JSON shapes the control API and the seed file use to
//! create and change them.

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize};

use crate::jwt::AppCertificate;

/// The Refresh Token Policy of a Connected App.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RefreshTokenPolicy {
    /// "Refresh token is valid until revoked" (the default).
    UntilRevoked,
    /// "Immediately expire refresh token".
    Immediately,
    /// "Expire refresh token if not used for N" (sliding from the last use).
    Idle { seconds: u64 },
    /// "Expire refresh token after N" (absolute, from the approval).
    Lifetime { seconds: u64 },
}

/// The IP Relaxation policy of a Connected App.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpRelaxation {
    /// "Enforce IP restrictions" (the default).
    Enforce,
    /// "Enforce IP restrictions, but relax for refresh tokens".
    RelaxForRefresh,
    /// "Relax IP restrictions".
    Relax,
}

/// Who may use a Connected App.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermittedUsers {
    /// "All users may self-authorize" (the default).
    SelfAuthorize,
    /// "Admin approved users are pre-authorized": only `approved_users`.
    AdminApproved,
}

/// One user of the org.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    /// 18-character Salesforce id starting with `005`.
    pub id: String,
    pub username: String,
    #[serde(skip)]
    pub password: String,
    pub active: bool,
    /// The profile's Login IP Ranges; empty means no restriction.
    pub login_ip_ranges: Vec<IpNet>,
}

impl User {
    /// Whether the profile's Login IP Ranges let `ip` in (no ranges: everyone).
    pub fn ip_allowed(&self, ip: std::net::IpAddr) -> bool {
        self.login_ip_ranges.is_empty() || self.login_ip_ranges.iter().any(|net| net.contains(&ip))
    }
}

/// A Connected App with its OAuth policies.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectedApp {
    pub name: String,
    pub client_id: String,
    #[serde(skip)]
    pub client_secret: String,
    pub callback_urls: Vec<String>,
    pub refresh_token_policy: RefreshTokenPolicy,
    pub idle_ttl_30d: bool,
    pub ip_relaxation: IpRelaxation,
    pub permitted_users: PermittedUsers,
    pub approved_users: Vec<String>,
    pub session_timeout_seconds: u64,
    pub rotation: bool,
    pub pkce_required: bool,
    pub installed: bool,
    pub api_enabled: bool,
    pub daily_api_limit: u64,
    pub blocked: bool,
    /// "Use digital signatures": verifies JWT bearer assertions; `None` = no certificate.
    pub certificate: Option<AppCertificate>,
    /// The client-credentials flow's "Run As" user (a username); `None` = none.
    pub client_credentials_user: Option<String>,
}

/// Session timeout when an app sets none: 2 hours, Salesforce's default.
pub const DEFAULT_SESSION_TIMEOUT_SECONDS: u64 = 2 * 60 * 60;
/// Daily API request limit when an app sets none (an Enterprise org's base allocation).
pub const DEFAULT_DAILY_API_LIMIT: u64 = 100_000;

impl ConnectedApp {
    /// An app with Salesforce's default policies.
    pub fn with_defaults(client_id: String, client_secret: String, callbacks: Vec<String>) -> Self {
        Self {
            name: client_id.clone(),
            client_id,
            client_secret,
            callback_urls: callbacks,
            refresh_token_policy: RefreshTokenPolicy::UntilRevoked,
            idle_ttl_30d: false,
            ip_relaxation: IpRelaxation::Enforce,
            permitted_users: PermittedUsers::SelfAuthorize,
            approved_users: Vec::new(),
            session_timeout_seconds: DEFAULT_SESSION_TIMEOUT_SECONDS,
            rotation: false,
            pkce_required: false,
            installed: true,
            api_enabled: true,
            daily_api_limit: DEFAULT_DAILY_API_LIMIT,
            blocked: false,
            certificate: None,
            client_credentials_user: None,
        }
    }

    /// Whether `username` may use the app under its Permitted Users policy.
    pub fn permits(&self, username: &str) -> bool {
        match self.permitted_users {
            PermittedUsers::SelfAuthorize => true,
            PermittedUsers::AdminApproved => self.approved_users.iter().any(|u| u == username),
        }
    }

    /// Applies every field present in `patch`.
    pub fn apply(&mut self, patch: AppPatch) {
        let AppPatch {
            name,
            client_secret,
            callback_urls,
            refresh_token_policy,
            idle_ttl_30d,
            ip_relaxation,
            permitted_users,
            approved_users,
            session_timeout_seconds,
            rotation,
            pkce_required,
            installed,
            api_enabled,
            daily_api_limit,
            certificate,
            client_credentials_user,
        } = patch;
        set(&mut self.name, name);
        set(&mut self.client_secret, client_secret);
        set(&mut self.callback_urls, callback_urls);
        set(&mut self.refresh_token_policy, refresh_token_policy);
        set(&mut self.idle_ttl_30d, idle_ttl_30d);
        set(&mut self.ip_relaxation, ip_relaxation);
        set(&mut self.permitted_users, permitted_users);
        set(&mut self.approved_users, approved_users);
        set(&mut self.session_timeout_seconds, session_timeout_seconds);
        set(&mut self.rotation, rotation);
        set(&mut self.pkce_required, pkce_required);
        set(&mut self.installed, installed);
        set(&mut self.api_enabled, api_enabled);
        set(&mut self.daily_api_limit, daily_api_limit);
        set(&mut self.certificate, certificate);
        set(&mut self.client_credentials_user, client_credentials_user);
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// Policy fields an admin may change (`PATCH /_sandbox/apps/{client_id}`); absent = unchanged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppPatch {
    pub name: Option<String>,
    pub client_secret: Option<String>,
    pub callback_urls: Option<Vec<String>>,
    pub refresh_token_policy: Option<RefreshTokenPolicy>,
    pub idle_ttl_30d: Option<bool>,
    pub ip_relaxation: Option<IpRelaxation>,
    pub permitted_users: Option<PermittedUsers>,
    pub approved_users: Option<Vec<String>>,
    pub session_timeout_seconds: Option<u64>,
    pub rotation: Option<bool>,
    pub pkce_required: Option<bool>,
    pub installed: Option<bool>,
    pub api_enabled: Option<bool>,
    pub daily_api_limit: Option<u64>,
    /// A PEM X.509 certificate with an RSA key; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    pub certificate: Option<Option<AppCertificate>>,
    /// A username; `null` = no run-as user.
    #[serde(default, deserialize_with = "present")]
    pub client_credentials_user: Option<Option<String>>,
}

/// For fields where `null` means "set to none" and absence means "unchanged".
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A new Connected App (`POST /_sandbox/apps` and the seed file): the three identity fields
/// plus any policy field of [`AppPatch`]; unknown fields are refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "serde_json::Map<String, serde_json::Value>")]
pub struct AppSpec {
    pub client_id: String,
    pub client_secret: String,
    pub callback_urls: Vec<String>,
    pub policy: AppPatch,
}

impl TryFrom<serde_json::Map<String, serde_json::Value>> for AppSpec {
    type Error = String;

    fn try_from(mut map: serde_json::Map<String, serde_json::Value>) -> Result<Self, String> {
        let mut take = |key: &str| {
            map.remove(key)
                .ok_or_else(|| format!("missing field `{key}`"))
        };
        let client_id = take("client_id")?;
        let client_secret = take("client_secret")?;
        let callback_urls = take("callback_urls")?;
        let parse_err = |e: serde_json::Error| e.to_string();
        Ok(Self {
            client_id: serde_json::from_value(client_id).map_err(parse_err)?,
            client_secret: serde_json::from_value(client_secret).map_err(parse_err)?,
            callback_urls: serde_json::from_value(callback_urls).map_err(parse_err)?,
            policy: serde_json::from_value(serde_json::Value::Object(map)).map_err(parse_err)?,
        })
    }
}

impl AppSpec {
    /// The app with defaults for every policy field the spec leaves out.
    pub fn into_app(self) -> ConnectedApp {
        let mut app =
            ConnectedApp::with_defaults(self.client_id, self.client_secret, self.callback_urls);
        app.apply(self.policy);
        app
    }
}

/// A new user (`POST /_sandbox/users` and the seed file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub username: String,
    pub password: String,
    #[serde(default = "default_true")]
    pub active: bool,
    #[serde(default)]
    pub login_ip_ranges: Vec<IpNet>,
}

fn default_true() -> bool {
    true
}

/// Fields of a user an admin may change (`PATCH /_sandbox/users/{username}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub password: Option<String>,
    pub active: Option<bool>,
    pub login_ip_ranges: Option<Vec<IpNet>>,
}

impl User {
    /// Applies every field present in `patch`.
    pub fn apply(&mut self, patch: UserPatch) {
        set(&mut self.password, patch.password);
        set(&mut self.active, patch.active);
        set(&mut self.login_ip_ranges, patch.login_ip_ranges);
    }
}
