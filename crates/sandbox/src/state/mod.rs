//! Everything the sandbox org remembers, in memory: users, Connected Apps, authorization codes,
//! refresh-token chains, access tokens, the caller IP, faults, settings, login history and
//! stats. One [`State`] lives behind one mutex; its methods never block or await, so critical
//! sections stay short even under thousands of concurrent refreshes.

mod faults;
pub mod model;
mod sessions;
mod tokens;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

pub use faults::{AfterGrant, Fault, Faults};
pub use model::{
    AppPatch, AppSpec, ConnectedApp, IpRelaxation, PermittedUsers, RefreshTokenPolicy, User,
    UserPatch, UserSpec,
};
pub use sessions::{
    AccessGrant, AccessRecord, AuthCode, AuthRequest, CODE_LIFETIME_SECONDS, Chain, Holder, Issued,
    PendingLogin, chain_expired, session_expired,
};
pub use tokens::{access_token, authorization_code, pending_id, refresh_token, user_id};

/// How many login-history rows are kept (oldest dropped first).
const HISTORY_CAP: usize = 100_000;

/// One row of Setup > Login History.
#[derive(Debug, Clone, Serialize)]
pub struct LoginRow {
    pub login_time: DateTime<Utc>,
    pub username: Option<String>,
    pub login_type: &'static str,
    pub status: String,
    pub application: String,
    pub source_ip: IpAddr,
    pub grant_type: String,
}

/// Counters for `GET /_sandbox/stats`.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// grant_type -> outcome (`success` or the OAuth error code) -> calls.
    pub token_calls: BTreeMap<String, BTreeMap<String, u64>>,
    pub rest_allowed: u64,
    pub rest_rejected: u64,
}

/// The org's API request counter for the current (virtual) day.
#[derive(Debug, Clone, Copy)]
pub struct DailyUsage {
    pub day: NaiveDate,
    pub used: u64,
}

/// The whole in-memory org.
#[derive(Debug)]
pub struct State {
    pub org_id: String,
    /// Users in creation order; found through the two indexes below (never removed).
    pub users: Vec<User>,
    users_by_name: HashMap<String, usize>,
    users_by_id: HashMap<String, usize>,
    pub apps: HashMap<String, ConnectedApp>,
    pub codes: HashMap<String, AuthCode>,
    pub pending: HashMap<String, PendingLogin>,
    pub chains: HashMap<u64, Chain>,
    /// (client id, user id) -> every chain ever opened for that pair, live or not.
    pub approvals: HashMap<(String, String), Vec<u64>>,
    /// Every refresh token ever issued -> its chain (rotated-out tokens stay, for reuse detection).
    pub refresh_tokens: HashMap<String, u64>,
    pub access_tokens: HashMap<String, AccessRecord>,
    pub next_chain: u64,
    /// Size of `access_tokens` at which dead ones are next swept.
    pub next_sweep: usize,
    pub client_ip: IpAddr,
    pub faults: Faults,
    pub auto_approve: bool,
    pub history: VecDeque<LoginRow>,
    pub counters: Counters,
    pub usage: DailyUsage,
}

impl State {
    /// An org with no users or apps, its API counter starting on `today`.
    pub fn empty(org_id: &str, auto_approve: bool, today: NaiveDate) -> Self {
        Self {
            org_id: org_id.to_owned(),
            users: Vec::new(),
            users_by_name: HashMap::new(),
            users_by_id: HashMap::new(),
            apps: HashMap::new(),
            codes: HashMap::new(),
            pending: HashMap::new(),
            chains: HashMap::new(),
            approvals: HashMap::new(),
            refresh_tokens: HashMap::new(),
            access_tokens: HashMap::new(),
            next_chain: 1,
            next_sweep: sessions::MIN_SWEEP_AT,
            client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            faults: Faults::default(),
            auto_approve,
            history: VecDeque::new(),
            counters: Counters::default(),
            usage: DailyUsage {
                day: today,
                used: 0,
            },
        }
    }

    /// The user with this username.
    pub fn user_by_name(&self, username: &str) -> Option<&User> {
        self.users.get(*self.users_by_name.get(username)?)
    }

    /// The user with this username, to change.
    pub fn user_by_name_mut(&mut self, username: &str) -> Option<&mut User> {
        self.users.get_mut(*self.users_by_name.get(username)?)
    }

    /// The user with this id.
    pub fn user_by_id(&self, id: &str) -> Option<&User> {
        self.users.get(*self.users_by_id.get(id)?)
    }

    /// Adds a user; `None` when the username is taken.
    pub fn add_user(&mut self, spec: UserSpec) -> Option<&User> {
        if self.user_by_name(&spec.username).is_some() {
            return None;
        }
        let index = self.users.len();
        let user = User {
            id: user_id(index + 1),
            username: spec.username,
            password: spec.password,
            active: spec.active,
            login_ip_ranges: spec.login_ip_ranges,
        };
        self.users_by_name.insert(user.username.clone(), index);
        self.users_by_id.insert(user.id.clone(), index);
        self.users.push(user);
        self.users.last()
    }

    /// Adds an app; `None` when the client id is taken.
    pub fn add_app(&mut self, app: ConnectedApp) -> Option<&ConnectedApp> {
        if self.apps.contains_key(&app.client_id) {
            return None;
        }
        let id = app.client_id.clone();
        self.apps.insert(id.clone(), app);
        self.apps.get(&id)
    }

    /// Appends a login-history row, dropping the oldest beyond the cap.
    pub fn record_login(&mut self, row: LoginRow) {
        if self.history.len() >= HISTORY_CAP {
            self.history.pop_front();
        }
        self.history.push_back(row);
    }

    /// Counts one token-endpoint call.
    pub fn count_token_call(&mut self, grant_type: &str, outcome: &str) {
        let by_outcome = self
            .counters
            .token_calls
            .entry(grant_type.to_owned())
            .or_default();
        *by_outcome.entry(outcome.to_owned()).or_default() += 1;
    }
}
