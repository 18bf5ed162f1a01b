//! Token lifecycles: authorization codes, refresh-token chains (one per approval, rotated in
//! place), access tokens and their idle timeout, the 5-approvals limit, revocation, and the
//! refresh-token policies evaluated on the virtual clock.

use chrono::{DateTime, Duration, Utc};

use super::model::{ConnectedApp, RefreshTokenPolicy};
use super::{State, access_token, refresh_token};

/// Salesforce keeps at most this many approvals (refresh tokens) per user per app.
pub const APPROVALS_PER_USER_PER_APP: usize = 5;
/// "Limit Idle Refresh Token TTL to 30 days".
const IDLE_TTL_30D_SECONDS: i64 = 30 * 24 * 60 * 60;
/// Access tokens held before the first sweep of dead ones.
pub const MIN_SWEEP_AT: usize = 50_000;
/// An authorization code lives 15 minutes.
pub const CODE_LIFETIME_SECONDS: i64 = 15 * 60;

/// The parameters of an authorize request, kept until the code is issued.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

/// An interactive login in progress (between the login form and Allow / Deny).
#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub request: AuthRequest,
    /// Set once the username and password were accepted.
    pub user_id: Option<String>,
}

/// An issued authorization code.
#[derive(Debug, Clone)]
pub struct AuthCode {
    pub request: AuthRequest,
    pub user_id: String,
    pub issued_at: DateTime<Utc>,
    pub used: bool,
}

/// Whose a token or session is: the app it was granted to, the user, and the scope granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
}

impl Holder {
    pub fn new(client_id: &str, user_id: &str, scope: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            user_id: user_id.to_owned(),
            scope: scope.to_owned(),
        }
    }

    /// Whether it is of the app and, when one is named, of the user.
    fn of(&self, client_id: &str, user_id: Option<&str>) -> bool {
        self.client_id == client_id && user_id.is_none_or(|u| self.user_id == u)
    }
}

/// One approval: the refresh token currently valid for it and the tokens it replaced.
#[derive(Debug, Clone)]
pub struct Chain {
    pub holder: Holder,
    /// When the user approved the app; the "Expire refresh token after N" policy counts from here.
    pub approved_at: DateTime<Utc>,
    /// Last successful refresh (or the approval); idle policies slide from here.
    pub last_used_at: DateTime<Utc>,
    /// The one refresh token of this chain that is not rotated out.
    pub current: String,
    pub revoked: bool,
    /// Access tokens issued from this chain (revoked with it).
    pub access_tokens: Vec<String>,
}

/// An issued access token (a session).
#[derive(Debug, Clone)]
pub struct AccessRecord {
    pub holder: Holder,
    pub issued_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub revoked: bool,
    /// Obtained with a refresh token (matters for "relax IP restrictions for refresh tokens").
    pub via_refresh: bool,
}

/// What an access token is issued for.
#[derive(Debug, Clone, Copy)]
pub struct AccessGrant<'a> {
    pub user_id: &'a str,
    /// The approval it comes from; `None` for grants without a refresh token.
    pub chain: Option<u64>,
    pub scope: &'a str,
    pub client_id: &'a str,
    pub via_refresh: bool,
}

/// Tokens handed out by one successful grant.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub user_id: String,
    pub scope: String,
}

/// Whether a refresh-token chain has passed its app's policy at `now`.
pub fn chain_expired(app: &ConnectedApp, chain: &Chain, now: DateTime<Utc>) -> bool {
    let idle = now - chain.last_used_at;
    let by_policy = match app.refresh_token_policy {
        RefreshTokenPolicy::UntilRevoked => false,
        RefreshTokenPolicy::Immediately => return true,
        RefreshTokenPolicy::Idle { seconds } => idle >= seconds_of(seconds),
        // "Expire refresh token after N" counts from the user's approval, not from the last
        // rotation: rotating does not extend an approval's life [I].
        RefreshTokenPolicy::Lifetime { seconds } => now - chain.approved_at >= seconds_of(seconds),
    };
    by_policy || (app.idle_ttl_30d && idle >= Duration::seconds(IDLE_TTL_30D_SECONDS))
}

/// Whether an access token has been idle longer than the app's session timeout at `now`.
pub fn session_expired(app: &ConnectedApp, token: &AccessRecord, now: DateTime<Utc>) -> bool {
    now - token.last_used_at >= seconds_of(app.session_timeout_seconds)
}

fn seconds_of(seconds: u64) -> Duration {
    Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX / 1000))
}

impl State {
    /// Issues an access token, recording it on its chain when it has one.
    pub fn issue_access(
        &mut self,
        user_id: &str,
        chain: Option<u64>,
        scope: &str,
        client_id: &str,
        via_refresh: bool,
        now: DateTime<Utc>,
    ) -> String {
        let token = access_token(&self.org_id);
        let grant = AccessGrant {
            user_id,
            chain,
            scope,
            client_id,
            via_refresh,
        };
        self.issue_access_with(grant, now, token.clone());
        token
    }

    /// [`State::issue_access`] with a token made beforehand (outside the lock).
    pub fn issue_access_with(&mut self, grant: AccessGrant<'_>, now: DateTime<Utc>, token: String) {
        let record = AccessRecord {
            holder: Holder::new(grant.client_id, grant.user_id, grant.scope),
            issued_at: now,
            last_used_at: now,
            revoked: false,
            via_refresh: grant.via_refresh,
        };
        if let Some(chain) = grant.chain.and_then(|id| self.chains.get_mut(&id)) {
            chain.access_tokens.push(token.clone());
        }
        self.access_tokens.insert(token, record);
        if self.access_tokens.len() >= self.next_sweep {
            self.sweep_access_tokens(now);
        }
    }

    /// Forgets revoked and timed-out access tokens (except those of blocked apps, whose
    /// holders must keep hearing "not valid for REST"), so long benchmarks do not grow memory
    /// without bound. Runs when the map doubles, so its cost is amortised per token.
    fn sweep_access_tokens(&mut self, now: DateTime<Utc>) {
        let apps = &self.apps;
        self.access_tokens.retain(|_, record| {
            let Some(app) = apps.get(&record.holder.client_id) else {
                return false;
            };
            app.blocked || !(record.revoked || session_expired(app, record, now))
        });
        let live = &self.access_tokens;
        for chain in self.chains.values_mut() {
            chain.access_tokens.retain(|token| live.contains_key(token));
        }
        self.next_sweep = (self.access_tokens.len() * 2).max(MIN_SWEEP_AT);
    }

    /// Records a new approval and returns its chain id and refresh token. A user's sixth live
    /// approval of the same app revokes the oldest one.
    pub fn open_chain(
        &mut self,
        client_id: &str,
        user_id: &str,
        scope: &str,
        now: DateTime<Utc>,
    ) -> (u64, String) {
        let token = refresh_token();
        let id = self.open_chain_with(client_id, user_id, scope, now, token.clone());
        (id, token)
    }

    /// [`State::open_chain`] with a refresh token made beforehand (outside the lock).
    pub fn open_chain_with(
        &mut self,
        client_id: &str,
        user_id: &str,
        scope: &str,
        now: DateTime<Utc>,
        token: String,
    ) -> u64 {
        let key = (client_id.to_owned(), user_id.to_owned());
        let chains = &self.chains;
        let mut live: Vec<(DateTime<Utc>, u64)> = self
            .approvals
            .get(&key)
            .into_iter()
            .flatten()
            .filter_map(|id| {
                chains
                    .get(id)
                    .filter(|c| !c.revoked)
                    .map(|c| (c.approved_at, *id))
            })
            .collect();
        live.sort();
        let excess = (live.len() + 1).saturating_sub(APPROVALS_PER_USER_PER_APP);
        for (_, id) in live.into_iter().take(excess) {
            self.revoke_chain(id);
        }
        let id = self.next_chain;
        self.next_chain += 1;
        let chain = Chain {
            holder: Holder::new(client_id, user_id, scope),
            approved_at: now,
            last_used_at: now,
            current: token.clone(),
            revoked: false,
            access_tokens: Vec::new(),
        };
        self.chains.insert(id, chain);
        self.approvals.entry(key).or_default().push(id);
        self.refresh_tokens.insert(token, id);
        id
    }

    /// Whether the user ever approved the app through the web flow (a live, expired or
    /// revoked approval): what a self-authorize app asks of a JWT bearer login.
    pub fn ever_approved(&self, client_id: &str, user_id: &str) -> bool {
        self.approvals
            .contains_key(&(client_id.to_owned(), user_id.to_owned()))
    }

    /// Replaces the chain's refresh token with a new one (rotation); the old one stays known
    /// so a later reuse can be detected.
    pub fn rotate(&mut self, chain_id: u64) -> Option<String> {
        let chain = self.chains.get_mut(&chain_id)?;
        let token = refresh_token();
        chain.current = token.clone();
        self.refresh_tokens.insert(token.clone(), chain_id);
        Some(token)
    }

    /// Ends a chain whose refresh-token policy has passed. Its access tokens live on until their
    /// own session timeout: under "Immediately expire refresh token" the session of the code
    /// exchange keeps working while the refresh token is refused.
    pub fn retire_chain(&mut self, chain_id: u64) {
        if let Some(chain) = self.chains.get_mut(&chain_id) {
            chain.revoked = true;
        }
    }

    /// Block: ends every session of the app and drops its unused codes, but keeps its
    /// approvals, so refresh tokens work again after Unblock.
    pub fn end_app_sessions(&mut self, client_id: &str) {
        for record in self.access_tokens.values_mut() {
            if record.holder.client_id == client_id {
                record.revoked = true;
            }
        }
        self.codes
            .retain(|_, code| code.request.client_id != client_id);
        self.pending.retain(|_, p| p.request.client_id != client_id);
    }

    /// Revokes a chain and every access token issued from it; returns whether it was live.
    pub fn revoke_chain(&mut self, chain_id: u64) -> bool {
        let Some(chain) = self.chains.get_mut(&chain_id) else {
            return false;
        };
        let was_live = !chain.revoked;
        chain.revoked = true;
        for token in std::mem::take(&mut chain.access_tokens) {
            if let Some(record) = self.access_tokens.get_mut(&token) {
                record.revoked = true;
            }
        }
        was_live
    }

    /// Revokes the app's approvals, of one user or of all; returns how many were live.
    pub fn revoke_app_tokens(&mut self, client_id: &str, user_id: Option<&str>) -> usize {
        let ids: Vec<u64> = self
            .chains
            .iter()
            .filter(|(_, c)| c.holder.of(client_id, user_id))
            .map(|(id, _)| *id)
            .collect();
        let revoked = ids.into_iter().filter(|id| self.revoke_chain(*id)).count();
        for record in self.access_tokens.values_mut() {
            if record.holder.of(client_id, user_id) {
                record.revoked = true;
            }
        }
        self.codes.retain(|_, code| {
            code.request.client_id != client_id || user_id.is_some_and(|u| code.user_id != u)
        });
        revoked
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::state::model::UserSpec;

    fn org() -> (State, DateTime<Utc>) {
        let now = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let mut st = State::empty("00D000000000001AAA", true, now.date_naive());
        let spec = UserSpec {
            username: "u".into(),
            password: "p".into(),
            active: true,
            login_ip_ranges: Vec::new(),
        };
        st.add_user(spec);
        st.add_app(ConnectedApp::with_defaults(
            "app".into(),
            "secret".into(),
            Vec::new(),
        ));
        (st, now)
    }

    #[test]
    fn sweep_forgets_revoked_and_timed_out_access_tokens_only() {
        let (mut st, now) = org();
        let user = st.users[0].id.clone();
        let (chain, _) = st.open_chain("app", &user, "api", now);
        let old = st.issue_access(
            &user,
            Some(chain),
            "api",
            "app",
            false,
            now - Duration::hours(3),
        );
        let revoked = st.issue_access(&user, None, "api", "app", false, now);
        let live = st.issue_access(&user, Some(chain), "api", "app", true, now);
        if let Some(record) = st.access_tokens.get_mut(&revoked) {
            record.revoked = true;
        }
        st.sweep_access_tokens(now);
        let mut kept: Vec<&String> = st.access_tokens.keys().collect();
        kept.sort();
        assert_eq!(kept, vec![&live]);
        assert_eq!(st.chains[&chain].access_tokens, vec![live.clone()]);
        assert!(!st.access_tokens.contains_key(&old));
    }

    #[test]
    fn sixth_live_approval_revokes_the_oldest_chain() {
        let (mut st, now) = org();
        let user = st.users[0].id.clone();
        let chains: Vec<u64> = (0..6)
            .map(|i| {
                st.open_chain("app", &user, "api", now + Duration::seconds(i))
                    .0
            })
            .collect();
        let revoked: Vec<bool> = chains.iter().map(|id| st.chains[id].revoked).collect();
        assert_eq!(revoked, vec![true, false, false, false, false, false]);
    }
}
