//! The durable refresh protocol: one read of everything a refresh needs; the lease taken once
//! across contenders together with the attempt's write-ahead record, re-taken only once it
//! lapses, renewed and abandoned by its owner only; an attempt that never landed reported to
//! the next one; outcomes landed with their events, fenced by the token version; expiry
//! corrections; and the reconnect that replaces the tokens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tether_core::cause::Cause;
use tether_core::clock::{Clock, SystemClock};
use tether_core::diagnosis::{Observation, PolicyEvidence};
use tether_core::event::EventKind;
use tether_core::ids::{ConnectionId, WorkspaceId};
use tether_core::secret::{AccessToken, RefreshToken};
use tether_core::status::ConnectionStatus;
use tether_store::{
    Account, AttemptStart, Connection, CurrentToken, EvidenceChange, FailureUpdate, Landing,
    NewEvent, Reconnect, RefreshOutcome, Store, TokenSet,
};
use tokio::task::JoinSet;

use crate::fixtures::{
    LONG_LEASE, acme_connection, at, connection, connector_input, connector_name, current,
    diagnosis, event, fail, failure, history, instance_url, kinds, land, landing,
    stored_refresh_token, t0, tokens, workspace,
};

/// A lease short enough to let lapse in a test.
const SHORT_LEASE: Duration = Duration::from_millis(200);
/// How long a test waits at most for a short lease to lapse.
const LAPSE_DEADLINE: Duration = Duration::from_secs(10);
/// How far the database's clock may read from the test's (same machine; rounding only).
const CLOCK_SLACK: chrono::Duration = chrono::Duration::milliseconds(20);

/// The wall clock, which the database under test shares (it runs on this machine): the
/// protocol stamps attempts with the database's clock, which no test clock can move.
fn wall_clock() -> DateTime<Utc> {
    SystemClock.now()
}

/// The connection a test drives through the protocol, in the store under test.
struct Subject {
    store: Arc<dyn Store>,
    ws: WorkspaceId,
    conn: Connection,
}

impl Subject {
    /// A fresh connection of a workspace `acme`.
    async fn acme(store: &Arc<dyn Store>) -> Self {
        let (_, conn) = acme_connection(store).await;
        Self::of(store, conn)
    }

    /// `conn`, already stored.
    fn of(store: &Arc<dyn Store>, conn: Connection) -> Self {
        Self {
            store: store.clone(),
            ws: conn.workspace_id.clone(),
            conn,
        }
    }

    /// `begin_attempt` with a long lease.
    async fn begin(&self, owner: &str, version: i64) -> AttemptStart {
        self.begin_for(owner, version, LONG_LEASE).await
    }

    async fn begin_for(&self, owner: &str, version: i64, lease: Duration) -> AttemptStart {
        self.store
            .begin_attempt(&self.ws, &self.conn.id, owner, version, lease)
            .await
            .unwrap()
    }

    /// Asserts that `begin` answers `owner` at `version` with `expected`, for the reason `why`.
    async fn assert_begin(&self, owner: &str, version: i64, expected: AttemptStart, why: &str) {
        let start = self.begin(owner, version).await;
        assert_eq!(start, expected, "{owner} at version {version}: {why}");
    }

    /// Tries `begin_attempt` (for `lease`) until the lease held by someone else lapses, or the
    /// deadline passes (answering `Held`); with the test's clock before and after the last
    /// try.
    ///
    /// A `Moved` while the token is still at `version` is tried again: `begin_attempt`
    /// classifies a refusal with a second statement, and a lease that lapses between the two
    /// reads as `Moved` (see the report on `begin_attempt`; the token service loops on `Moved`
    /// too).
    async fn take_once_lapsed(
        &self,
        owner: &str,
        version: i64,
        lease: Duration,
    ) -> (AttemptStart, (DateTime<Utc>, DateTime<Utc>)) {
        let deadline = Instant::now() + LAPSE_DEADLINE;
        loop {
            let before = wall_clock();
            let start = self.begin_for(owner, version, lease).await;
            let after = wall_clock();
            let retry = match start {
                AttemptStart::Held => true,
                AttemptStart::Moved => self.still_at(version).await,
                AttemptStart::Started { .. } => false,
            };
            if !retry || Instant::now() >= deadline {
                return (start, (before, after));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether the token is still at `version` and takes refreshes.
    async fn still_at(&self, version: i64) -> bool {
        let current = self
            .store
            .current_token(&self.ws, &self.conn.id)
            .await
            .unwrap();
        current.is_some_and(|t| {
            t.token_version == version && t.status != ConnectionStatus::Disconnected
        })
    }

    /// `begin_attempt` with a long lease, once the lease held by someone else lapses.
    async fn begin_once_lapsed(&self, owner: &str, version: i64) -> AttemptStart {
        self.take_once_lapsed(owner, version, LONG_LEASE).await.0
    }

    /// Takes a short lease for `owner` at `version` and returns the test's clock before and
    /// after (the database's clock stamps the attempt in between).
    async fn begin_short(&self, owner: &str, version: i64) -> (DateTime<Utc>, DateTime<Utc>) {
        let before = wall_clock();
        let start = self.begin_for(owner, version, SHORT_LEASE).await;
        let after = wall_clock();
        assert_eq!(start, STARTED_CLEAN);
        (before, after)
    }

    async fn renew(&self, owner: &str, lease: Duration) -> bool {
        self.store
            .renew_lease(&self.ws, &self.conn.id, owner, lease)
            .await
            .unwrap()
    }

    async fn abandon(&self, owner: &str) {
        self.store
            .abandon_attempt(&self.ws, &self.conn.id, owner)
            .await
            .unwrap();
    }

    async fn land_as(
        &self,
        owner: &str,
        version: i64,
        outcome: &RefreshOutcome,
        events: &[NewEvent],
    ) -> bool {
        self.land_landing(owner, version, &landing(outcome.clone(), events))
            .await
    }

    async fn land_landing(&self, owner: &str, version: i64, landing: &Landing) -> bool {
        self.store
            .land_refresh(&self.ws, &self.conn.id, owner, version, landing)
            .await
            .unwrap()
    }

    /// A whole attempt landing `outcome` with `events` (see [`land`]).
    async fn land(&self, outcome: RefreshOutcome, events: &[NewEvent]) {
        land(&self.store, &self.conn, outcome, events).await;
    }

    /// A whole attempt landing the failure `update` (see [`fail`]).
    async fn fail(&self, update: FailureUpdate) {
        fail(&self.store, &self.conn, update).await;
    }

    /// Disconnects, with its event at `second`; whether it was not already.
    async fn disconnect(&self, second: i64) -> bool {
        let bye = self.event(second, EventKind::StatusChanged);
        self.store
            .disconnect(&self.ws, &self.conn.id, &bye)
            .await
            .unwrap()
    }

    /// A reconnect to `account` with `scopes` and `tokens` at `second`, with its event;
    /// whether it replaced the tokens.
    async fn reconnect(
        &self,
        account: &Account,
        scopes: &[String],
        tokens: &TokenSet,
        second: i64,
    ) -> (bool, [NewEvent; 1]) {
        let events = [self.event(second, EventKind::Reconnected)];
        let reconnect = Reconnect {
            account: account.clone(),
            scopes: scopes.to_vec(),
            tokens: tokens.clone(),
            now: at(second),
            events: events.to_vec(),
        };
        let replaced = self
            .store
            .replace_tokens(&self.ws, &self.conn.id, &reconnect)
            .await
            .unwrap();
        (replaced, events)
    }

    async fn adjust_expiry(&self, version: i64, tokens: &TokenSet) -> bool {
        self.store
            .adjust_expiry(&self.ws, &self.conn.id, version, tokens)
            .await
            .unwrap()
    }

    /// The connection as stored now.
    async fn read(&self) -> Connection {
        self.store
            .get_connection(&self.ws, &self.conn.id)
            .await
            .unwrap()
            .unwrap()
    }

    /// Asserts that the connection is stored as `expected`, for the reason `why`.
    async fn assert_reads(&self, expected: &Connection, why: &str) {
        assert_eq!(&self.read().await, expected, "{why}");
    }

    async fn current(&self) -> CurrentToken {
        current(&self.store, &self.conn).await
    }

    async fn refresh_token(&self) -> Option<RefreshToken> {
        stored_refresh_token(&self.store, &self.conn).await
    }

    async fn kinds(&self) -> Vec<EventKind> {
        kinds(&self.store, &self.conn).await
    }

    async fn history(&self) -> Vec<NewEvent> {
        history(&self.store, &self.conn).await
    }

    fn event(&self, second: i64, kind: EventKind) -> NewEvent {
        event(&self.conn, second, kind)
    }
}

/// Asserts that `time` is the database's stamp of a moment between `before` and `after`.
fn assert_between(time: DateTime<Utc>, (before, after): (DateTime<Utc>, DateTime<Utc>)) {
    assert!(
        before - CLOCK_SLACK <= time && time <= after + CLOCK_SLACK,
        "{time} is not within [{before}, {after}]"
    );
}

fn refreshed(access: &str, refresh: Option<&str>, second: i64) -> RefreshOutcome {
    RefreshOutcome::Refreshed {
        tokens: tokens(access, refresh, at(second)),
        now: at(second),
    }
}

const STARTED_CLEAN: AttemptStart = AttemptStart::Started {
    unanswered_since: None,
};

pub async fn begin_attempt_is_taken_once_under_contention(store: Arc<dyn Store>) {
    let (ws, conn) = acme_connection(&store).await;
    let mut tasks = JoinSet::new();
    for worker in 0..50 {
        let store = store.clone();
        let (ws, id) = (ws.clone(), conn.id.clone());
        tasks.spawn(async move {
            store
                .begin_attempt(&ws, &id, &format!("worker-{worker}"), 1, LONG_LEASE)
                .await
        });
    }
    let results = tasks.join_all().await;
    let started = results
        .iter()
        .filter(|r| matches!(r, Ok(s) if *s == STARTED_CLEAN));
    let held = results
        .iter()
        .filter(|r| matches!(r, Ok(AttemptStart::Held)));
    let other = results
        .iter()
        .find(|r| !matches!(r, Ok(AttemptStart::Held | AttemptStart::Started { .. })));
    assert_eq!(
        (started.count(), held.count()),
        (1, 49),
        "first other answer: {other:?}"
    );
}

pub async fn a_second_caller_is_told_held_while_the_lease_lives_and_moved_once_the_token_moved(
    store: Arc<dyn Store>,
) {
    let t = Subject::acme(&store).await;
    assert_eq!(t.begin("a", 1).await, STARTED_CLEAN);
    assert_eq!(t.begin("b", 1).await, AttemptStart::Held);
    t.assert_begin(
        "a",
        1,
        AttemptStart::Held,
        "the owner does not take its live lease twice",
    )
    .await;
    t.assert_begin(
        "b",
        0,
        AttemptStart::Moved,
        "a version that is not the token's is moved, held or not",
    )
    .await;

    assert!(
        t.land_as("a", 1, &refreshed("access-2", None, 10), &[])
            .await
    );
    t.assert_begin(
        "b",
        1,
        AttemptStart::Moved,
        "a refresh landed since b read the token",
    )
    .await;
    assert_eq!(t.begin("b", 2).await, STARTED_CLEAN);

    let unknown = Connection {
        id: ConnectionId::generate(),
        ..t.conn.clone()
    };
    let unknown = Subject::of(&store, unknown);
    assert_eq!(unknown.begin("c", 1).await, AttemptStart::Moved);
    assert!(t.disconnect(20).await);
    t.assert_begin(
        "c",
        2,
        AttemptStart::Moved,
        "a disconnected connection takes no refresh",
    )
    .await;
}

pub async fn a_lapsed_lease_is_taken_by_another_owner(store: Arc<dyn Store>) {
    let t = Subject::acme(&store).await;
    let (a_before, _) = t.begin_short("a", 1).await;
    let early = t.begin("b", 1).await;
    // Unless this machine stalled past the lease, b came while a's lease lived.
    let lease = chrono::Duration::from_std(SHORT_LEASE).unwrap();
    if wall_clock() < a_before + lease - CLOCK_SLACK {
        assert_eq!(early, AttemptStart::Held, "a's lease is live");
    }
    let start = match early {
        AttemptStart::Started { .. } => early,
        _ => t.begin_once_lapsed("b", 1).await,
    };
    assert!(
        matches!(start, AttemptStart::Started { .. }),
        "b takes the lease once a's lapses: {start:?}"
    );
    t.assert_begin("c", 1, AttemptStart::Held, "b's lease is live")
        .await;
    assert!(
        !t.renew("a", LONG_LEASE).await,
        "a no longer holds the lease"
    );
    t.abandon("a").await;
    t.assert_begin("c", 1, AttemptStart::Held, "a's abandon leaves b's lease")
        .await;
}

pub async fn an_attempt_that_never_landed_is_reported_to_the_next_one(store: Arc<dyn Store>) {
    let t = Subject::acme(&store).await;
    // `a` takes the lease and "crashes": its lease lapses with its record left behind.
    let a_started = t.begin_short("a", 1).await;
    let AttemptStart::Started {
        unanswered_since: Some(since),
    } = t.begin_once_lapsed("b", 1).await
    else {
        panic!("b is told of a's interrupted attempt");
    };
    assert_between(since, a_started);
    assert_eq!(t.read().await.unanswered_attempt_at, Some(since));

    // `b` ends before sending anything: the evidence of `a` stays for the next attempt.
    t.abandon("b").await;
    assert_eq!(
        t.begin("c", 1).await,
        AttemptStart::Started {
            unanswered_since: Some(since)
        }
    );

    // `c` refreshes: the token works again, the evidence is cleared.
    assert!(
        t.land_as("c", 1, &refreshed("access-2", None, 10), &[])
            .await
    );
    assert_eq!(t.read().await.unanswered_attempt_at, None);
    assert_eq!(t.begin("d", 2).await, STARTED_CLEAN);
}

pub async fn the_latest_interrupted_attempt_is_the_one_reported(store: Arc<dyn Store>) {
    let t = Subject::acme(&store).await;
    let a_started = t.begin_short("a", 1).await;
    // `b` takes over from `a` and crashes in its turn.
    let (start, b_started) = t.take_once_lapsed("b", 1, SHORT_LEASE).await;
    let AttemptStart::Started {
        unanswered_since: Some(a_since),
    } = start
    else {
        panic!("b is told of a's interrupted attempt: {start:?}");
    };
    assert_between(a_since, a_started);
    let AttemptStart::Started {
        unanswered_since: Some(b_since),
    } = t.begin_once_lapsed("c", 1).await
    else {
        panic!("c is told of b's interrupted attempt");
    };
    assert_between(b_since, b_started);
    let lease = chrono::Duration::from_std(SHORT_LEASE).unwrap();
    assert!(
        a_since + lease - CLOCK_SLACK <= b_since,
        "b started after a's lease"
    );
    assert_eq!(t.read().await.unanswered_attempt_at, Some(b_since));
}

pub async fn a_landed_refresh_stores_its_tokens_and_events_and_ends_the_attempt(
    store: Arc<dyn Store>,
) {
    let t = Subject::acme(&store).await;
    t.fail(failure(ConnectionStatus::Degraded, Some(at(60))))
        .await;
    assert_eq!(t.begin("a", 1).await, STARTED_CLEAN);

    let mut rotated = tokens("access-2", Some("refresh-2"), at(6000));
    rotated.instance_url = Some(instance_url("https://na2.example.my.salesforce.com"));
    let outcome = RefreshOutcome::Refreshed {
        tokens: rotated.clone(),
        now: at(6001),
    };
    let events = [
        t.event(6001, EventKind::Refreshed),
        t.event(6001, EventKind::Recovered),
    ];
    assert!(t.land_as("a", 1, &outcome, &events).await);

    let current = t.current().await;
    assert_eq!(current.access_token, Some(AccessToken::new("access-2")));
    assert_eq!(current.token_version, 2);
    assert_eq!(
        (current.issued_at, current.expires_at, current.refresh_at),
        (at(6000), rotated.expires_at, rotated.refresh_at)
    );
    assert_eq!(current.refreshed_at, Some(at(6001)), "on tether's clock");
    assert_eq!(
        t.refresh_token().await,
        Some(RefreshToken::new("refresh-2"))
    );
    let expected = Connection {
        account: Account {
            instance_url: instance_url("https://na2.example.my.salesforce.com"),
            ..t.conn.account.clone()
        },
        last_refreshed_at: Some(at(6001)),
        access_token_expires_at: Some(rotated.expires_at),
        rotation_seen: true,
        ..t.conn.clone()
    };
    t.assert_reads(
        &expected,
        "active, failures cleared, approval time kept (a rotation is no new approval)",
    )
    .await;
    assert_eq!(expected.refresh_token_issued_at, Some(t0()));
    assert_eq!(t.history().await[1..], events);
    t.assert_begin("b", 2, STARTED_CLEAN, "lease and attempt record released")
        .await;
}

pub async fn a_refresh_without_rotation_keeps_the_refresh_token_and_the_instance(
    store: Arc<dyn Store>,
) {
    let t = Subject::acme(&store).await;
    let mut plain = tokens("access-2", None, at(6000));
    plain.instance_url = None;
    let outcome = RefreshOutcome::Refreshed {
        tokens: plain.clone(),
        now: at(6001),
    };
    t.land(outcome, &[]).await;
    assert_eq!(
        t.refresh_token().await,
        Some(RefreshToken::new("refresh-1"))
    );
    let current = t.current().await;
    assert_eq!(current.access_token, Some(AccessToken::new("access-2")));
    assert_eq!(current.instance_url, t.conn.account.instance_url);
    let expected = Connection {
        last_refreshed_at: Some(at(6001)),
        access_token_expires_at: Some(plain.expires_at),
        ..t.conn.clone()
    };
    t.assert_reads(&expected, "no rotation seen").await;
}

pub async fn a_lifetime_warning_landed_with_a_refresh_is_remembered_until_a_reconnect(
    store: Arc<dyn Store>,
) {
    let t = Subject::acme(&store).await;
    let events = [
        t.event(100, EventKind::Refreshed),
        t.event(100, EventKind::LifetimeWarning),
    ];
    t.land(refreshed("access-2", None, 100), &events).await;
    assert_eq!(t.read().await.lifetime_warned_at, Some(at(100)));

    t.land(refreshed("access-3", None, 200), &[]).await;
    assert_eq!(
        t.read().await.lifetime_warned_at,
        Some(at(100)),
        "a refresh without a warning keeps it"
    );

    let fresh = tokens("access-9", Some("refresh-9"), at(300));
    let (replaced, _) = t
        .reconnect(&t.conn.account, &t.conn.scopes, &fresh, 300)
        .await;
    assert!(replaced);
    assert_eq!(
        t.read().await.lifetime_warned_at,
        None,
        "a new approval has not been warned about"
    );
}

pub async fn a_refresh_outcome_fenced_by_a_stale_version_does_not_land(store: Arc<dyn Store>) {
    let t = Subject::acme(&store).await;
    // The first refresh lands and moves the version.
    let first = refreshed("access-2", Some("refresh-2"), 10);
    assert!(t.begin("a", 1).await == STARTED_CLEAN);
    assert!(t.land_as("a", 1, &first, &[]).await);
    let before = t.read().await;

    // A second refresher holding the lease lands what it computed from the old version: it must
    // not overwrite the token, neither with tokens nor with a failure, nor write its events,
    // but it gives its lease and attempt record back.
    assert_eq!(t.begin("b", 2).await, STARTED_CLEAN);
    let stale = refreshed("access-stale", Some("refresh-stale"), 20);
    let stale_events = [t.event(20, EventKind::Refreshed)];
    assert!(!t.land_as("b", 1, &stale, &stale_events).await);
    let update = RefreshOutcome::Failed(failure(ConnectionStatus::Expired, None));
    let failed_events = [t.event(21, EventKind::RefreshFailed)];
    assert!(!t.land_as("b", 1, &update, &failed_events).await);

    let current = t.current().await;
    assert_eq!(current.access_token, Some(AccessToken::new("access-2")));
    assert_eq!(current.status, ConnectionStatus::Active);
    assert_eq!(current.token_version, 2);
    assert_eq!(
        t.refresh_token().await,
        Some(RefreshToken::new("refresh-2"))
    );
    assert_eq!(t.read().await, before);
    assert_eq!(t.kinds().await, [EventKind::Connected]);
    t.assert_begin(
        "c",
        2,
        STARTED_CLEAN,
        "the losing writer released its lease and its record",
    )
    .await;
}

pub async fn a_landed_failure_stores_its_outcome_and_ends_the_attempt(store: Arc<dyn Store>) {
    let t = Subject::acme(&store).await;
    assert_eq!(t.begin("a", 1).await, STARTED_CLEAN);
    let update = failure(ConnectionStatus::Degraded, Some(at(60)));
    let events = [t.event(1, EventKind::RefreshFailed)];
    let outcome = RefreshOutcome::Failed(update);
    assert!(t.land_as("a", 1, &outcome, &events).await);
    let expected = Connection {
        status: ConnectionStatus::Degraded,
        status_reason: Some(Cause::ProviderUnavailable),
        diagnosis: Some(diagnosis(Cause::ProviderUnavailable)),
        refresh_failures: 2,
        next_retry_at: Some(at(60)),
        failed_connector_generation: Some(3),
        ..t.conn.clone()
    };
    assert_eq!(t.read().await, expected);
    let current = t.current().await;
    assert_eq!(
        current.access_token,
        Some(AccessToken::new("access-1")),
        "still served"
    );
    assert_eq!(
        (
            current.token_version,
            current.next_retry_at,
            current.failed_connector_generation
        ),
        (1, Some(at(60)), Some(3))
    );
    assert_eq!(
        t.refresh_token().await,
        Some(RefreshToken::new("refresh-1"))
    );
    assert_eq!(t.history().await[1..], events);
    t.assert_begin("b", 1, STARTED_CLEAN, "lease and attempt record released")
        .await;
}

pub async fn an_unanswered_failure_keeps_the_start_of_its_attempt(store: Arc<dyn Store>) {
    let t = Subject::acme(&store).await;
    let started = t.begin_short("a", 1).await;
    let mut update = failure(ConnectionStatus::Degraded, Some(at(60)));
    update.unanswered = true;
    assert!(
        t.land_as("a", 1, &RefreshOutcome::Failed(update), &[])
            .await
    );
    let since = t.read().await.unanswered_attempt_at.unwrap();
    assert_between(since, started);
    assert_eq!(
        t.begin("b", 1).await,
        AttemptStart::Started {
            unanswered_since: Some(since)
        }
    );
    let answered = RefreshOutcome::Failed(failure(ConnectionStatus::Degraded, Some(at(120))));
    assert!(t.land_as("b", 1, &answered, &[]).await);
    assert_eq!(
        t.read().await.unanswered_attempt_at,
        Some(since),
        "an answered failure does not clear the evidence; only a refresh that works does"
    );
}

pub async fn a_salvaged_refresh_token_replaces_the_stored_one(store: Arc<dyn Store>) {
    let t = Subject::acme(&store).await;
    let mut update = failure(ConnectionStatus::Degraded, Some(at(60)));
    update.salvaged_refresh_token = Some(RefreshToken::new("refresh-salvaged"));
    t.fail(update).await;
    assert_eq!(
        t.refresh_token().await,
        Some(RefreshToken::new("refresh-salvaged"))
    );
    let current = t.current().await;
    assert_eq!(
        (current.access_token, current.token_version),
        (Some(AccessToken::new("access-1")), 1),
        "the access token stays"
    );
    t.fail(failure(ConnectionStatus::Degraded, Some(at(90))))
        .await;
    assert_eq!(
        t.refresh_token().await,
        Some(RefreshToken::new("refresh-salvaged")),
        "a failure without one keeps it"
    );
}

pub async fn renew_lease_extends_only_the_owners_lease(store: Arc<dyn Store>) {
    let t = Subject::acme(&store).await;
    t.begin_short("a", 1).await;
    assert!(!t.renew("b", LONG_LEASE).await);
    assert!(t.renew("a", LONG_LEASE).await);
    // Past the short lease a first took, its renewed lease still holds.
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(100)).await;
    assert_eq!(t.begin("b", 1).await, AttemptStart::Held);

    // A lease renewed short lapses on time.
    assert!(t.renew("a", SHORT_LEASE).await);
    let start = t.begin_once_lapsed("b", 1).await;
    assert!(matches!(start, AttemptStart::Started { .. }), "{start:?}");
}

pub async fn abandon_attempt_clears_the_lease_and_record_of_its_owner_only(store: Arc<dyn Store>) {
    let t = Subject::acme(&store).await;
    assert_eq!(t.begin("a", 1).await, STARTED_CLEAN);
    t.abandon("b").await;
    assert_eq!(t.begin("c", 1).await, AttemptStart::Held);
    t.abandon("a").await;
    t.assert_begin(
        "c",
        1,
        STARTED_CLEAN,
        "free, and no interrupted attempt left behind",
    )
    .await;
    assert_eq!(t.read().await, t.conn, "nothing else changed");
}

pub async fn adjust_expiry_changes_the_expiry_only_at_the_given_version(store: Arc<dyn Store>) {
    let t = Subject::acme(&store).await;
    let mut corrected = tokens("ignored", Some("ignored"), t0());
    corrected.expires_at = at(900);
    corrected.refresh_at = at(600);
    assert!(t.adjust_expiry(1, &corrected).await);
    let current = t.current().await;
    assert_eq!(
        (
            current.expires_at,
            current.refresh_at,
            current.token_version
        ),
        (at(900), at(600), 1)
    );
    assert_eq!(current.access_token, Some(AccessToken::new("access-1")));
    assert_eq!(
        t.refresh_token().await,
        Some(RefreshToken::new("refresh-1"))
    );
    assert_eq!(t.read().await.access_token_expires_at, Some(at(900)));

    t.land(refreshed("access-2", None, 1_000), &[]).await;
    let landed = t.current().await;
    let mut late = corrected.clone();
    late.expires_at = at(1_100);
    late.refresh_at = at(1_050);
    assert!(!t.adjust_expiry(1, &late).await, "the token has moved on");
    assert_eq!(t.current().await, landed);
}

pub async fn late_refresh_does_not_revive_a_disconnected_connection(store: Arc<dyn Store>) {
    let t = Subject::acme(&store).await;
    assert_eq!(t.begin("a", 1).await, STARTED_CLEAN);
    assert!(t.disconnect(1).await);
    let late = refreshed("access-2", Some("refresh-2"), 2);
    let events = [t.event(2, EventKind::Refreshed)];
    assert!(!t.land_as("a", 1, &late, &events).await);
    let update = RefreshOutcome::Failed(failure(ConnectionStatus::Degraded, Some(at(60))));
    assert!(!t.land_as("a", 1, &update, &events).await);
    let current = t.current().await;
    assert_eq!(
        (current.status, current.access_token),
        (ConnectionStatus::Disconnected, None)
    );
    assert_eq!(t.refresh_token().await, None);
    assert_eq!(
        t.kinds().await,
        [EventKind::Connected, EventKind::StatusChanged]
    );
}

pub async fn reconnect_replaces_tokens_and_account_and_clears_the_failure(store: Arc<dyn Store>) {
    let t = Subject::acme(&store).await;
    t.land(refreshed("access-2", Some("refresh-2"), 50), &[])
        .await;
    let mut update = failure(ConnectionStatus::Expired, None);
    update.unanswered = true;
    t.fail(update).await;
    // An attempt is under way (with the evidence of the unanswered one) when the reconnect
    // lands.
    assert!(matches!(
        t.begin("a", 2).await,
        AttemptStart::Started {
            unanswered_since: Some(_)
        }
    ));
    let account = Account {
        username: "grace@example.com".to_owned(),
        ..t.conn.account.clone()
    };
    let scopes = vec![
        "api".to_owned(),
        "refresh_token".to_owned(),
        "id".to_owned(),
    ];
    let fresh = tokens("access-9", Some("refresh-9"), at(100));
    let (replaced, events) = t.reconnect(&account, &scopes, &fresh, 101).await;
    assert!(replaced);
    let expected = Connection {
        account,
        scopes,
        last_refreshed_at: Some(at(50)),
        refresh_token_issued_at: Some(at(101)),
        access_token_expires_at: Some(fresh.expires_at),
        rotation_seen: true,
        ..t.conn.clone()
    };
    t.assert_reads(
        &expected,
        "active, failures and unanswered evidence cleared, a new approval",
    )
    .await;
    assert_eq!(
        t.refresh_token().await,
        Some(RefreshToken::new("refresh-9"))
    );
    let current = t.current().await;
    assert_eq!(
        (current.access_token, current.token_version),
        (Some(AccessToken::new("access-9")), 3)
    );
    assert_eq!(t.history().await[1..], events);
    t.assert_begin(
        "b",
        3,
        STARTED_CLEAN,
        "the attempt on the replaced token no longer holds the lease",
    )
    .await;
    assert!(
        !t.land_as("a", 2, &refreshed("access-late", None, 102), &[])
            .await,
        "nor lands"
    );
}

pub async fn reconnect_refuses_a_disconnected_connection(store: Arc<dyn Store>) {
    let t = Subject::acme(&store).await;
    assert!(t.disconnect(1).await);
    let before = t.read().await;
    let fresh = tokens("access-9", Some("refresh-9"), at(100));
    let (replaced, _) = t
        .reconnect(&t.conn.account, &t.conn.scopes, &fresh, 101)
        .await;
    assert!(!replaced);
    assert_eq!(t.read().await, before);
    assert_eq!(t.refresh_token().await, None);
    assert_eq!(
        t.kinds().await,
        [EventKind::Connected, EventKind::StatusChanged],
        "no reconnected event"
    );
}

pub async fn an_annotation_marks_an_active_connection_and_the_next_refresh_clears_it(
    store: Arc<dyn Store>,
) {
    let t = Subject::acme(&store).await;
    let note = diagnosis(Cause::ApiDisabled);
    t.store
        .annotate_connection(&t.ws, &t.conn.id, &note)
        .await
        .unwrap();
    let annotated = t.read().await;
    assert_eq!(annotated.status, ConnectionStatus::Active);
    assert_eq!(annotated.status_reason, Some(Cause::ApiDisabled));
    assert_eq!(annotated.diagnosis, Some(note));

    t.land(refreshed("access-2", None, 10), &[]).await;
    let cleared = t.read().await;
    assert_eq!((cleared.status_reason, cleared.diagnosis), (None, None));
}

pub async fn refresh_context_reads_the_connection_its_tokens_and_its_connector_at_once(
    store: Arc<dyn Store>,
) {
    let acme = workspace(&store, "acme").await;
    let demo = workspace(&store, "demo").await;
    let connector = store
        .upsert_connector(
            &acme,
            &connector_name("salesforce"),
            &connector_input("s-1"),
            t0(),
        )
        .await
        .unwrap();
    let t = Subject::of(&store, connection(&store, &acme).await);
    t.fail(failure(ConnectionStatus::Degraded, Some(at(60))))
        .await;
    let conn = &t.conn;

    let context = store
        .refresh_context(&acme, &conn.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(context.connection, t.read().await);
    assert_eq!(context.token, t.current().await);
    assert_eq!(context.refresh_token, Some(RefreshToken::new("refresh-1")));
    assert_eq!(context.connector, connector);

    assert!(
        store
            .refresh_context(&demo, &conn.id)
            .await
            .unwrap()
            .is_none()
    );
    let unknown = ConnectionId::generate();
    assert!(
        store
            .refresh_context(&acme, &unknown)
            .await
            .unwrap()
            .is_none()
    );

    assert!(t.disconnect(1).await);
    let context = store
        .refresh_context(&acme, &conn.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(context.connection.status, ConnectionStatus::Disconnected);
    assert_eq!(
        (context.token.access_token, context.refresh_token),
        (None, None)
    );
}

/// Two owners on the same version: `a` lapsed and `b` took the attempt over. `a`'s answer
/// (a failure) still lands, since the token has not moved, but `b` is still at work: its lease
/// and its record must stay, or a third process starts a concurrent attempt with the same
/// refresh token, and a crash of `b` leaves no evidence.
pub async fn a_lapsed_owners_landing_leaves_the_new_owners_lease_and_record(store: Arc<dyn Store>) {
    let t = Subject::acme(&store).await;
    t.begin_short("a", 1).await;
    let (start, b_started) = t.take_once_lapsed("b", 1, SHORT_LEASE).await;
    assert!(matches!(start, AttemptStart::Started { .. }), "{start:?}");
    let update = RefreshOutcome::Failed(failure(ConnectionStatus::Degraded, Some(at(60))));
    assert!(t.land_as("a", 1, &update, &[]).await);
    let lease = chrono::Duration::from_std(SHORT_LEASE).unwrap();
    let early = t.begin("c", 1).await;
    if wall_clock() < b_started.0 + lease - CLOCK_SLACK {
        assert_eq!(early, AttemptStart::Held, "b still holds the lease");
    }
    // `b` crashes: the next attempt is told of it.
    let next = match early {
        AttemptStart::Started { .. } => early,
        _ => t.begin_once_lapsed("d", 1).await,
    };
    let AttemptStart::Started {
        unanswered_since: Some(b_since),
    } = next
    else {
        panic!("the next attempt is told of b's interrupted one: {next:?}");
    };
    assert_between(b_since, b_started);
}

pub async fn a_landing_changes_its_connectors_policy_evidence_with_its_outcome(
    store: Arc<dyn Store>,
) {
    let acme = workspace(&store, "acme").await;
    let demo = workspace(&store, "demo").await;
    let name = connector_name("salesforce");
    for ws in [&acme, &demo] {
        store
            .upsert_connector(ws, &name, &connector_input("s-1"), t0())
            .await
            .unwrap();
    }
    let t = Subject::of(&store, connection(&store, &acme).await);
    let evidence = |ws: WorkspaceId| {
        let (store, name) = (store.clone(), name.clone());
        async move { store.connector_evidence(&ws, &name).await.unwrap() }
    };
    assert_eq!(evidence(acme.clone()).await, PolicyEvidence::default());

    // A refresh that worked, then one refused with no named cause.
    let survived = EvidenceChange::Survived {
        gap_seconds: 3_600,
        age_seconds: 7_200,
    };
    assert_eq!(t.begin("a", 1).await, STARTED_CLEAN);
    let worked = Landing {
        evidence: Some((name.clone(), survived)),
        ..landing(refreshed("access-2", None, 10), &[])
    };
    assert!(t.land_landing("a", 1, &worked).await);
    let died = EvidenceChange::Died(Observation {
        age_seconds: 90_000,
        last_success_age_seconds: 7_200,
        idle_seconds: 80_000,
    });
    assert_eq!(t.begin("a", 2).await, STARTED_CLEAN);
    let refused = Landing {
        evidence: Some((name.clone(), died)),
        ..landing(
            RefreshOutcome::Failed(failure(ConnectionStatus::Expired, None)),
            &[],
        )
    };
    assert!(t.land_landing("a", 2, &refused).await);
    let mut expected = PolicyEvidence::default();
    survived.apply(&mut expected);
    died.apply(&mut expected);
    assert_eq!(evidence(acme.clone()).await, expected);
    let context = store
        .refresh_context(&acme, &t.conn.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(context.evidence, expected);
    assert_eq!(
        evidence(demo.clone()).await,
        PolicyEvidence::default(),
        "the same connector name in another workspace learned nothing"
    );

    // An outcome that does not land changes no evidence.
    assert_eq!(t.begin("b", 2).await, STARTED_CLEAN);
    let stale = Landing {
        evidence: Some((name.clone(), survived)),
        ..landing(refreshed("access-stale", None, 20), &[])
    };
    assert!(!t.land_landing("b", 1, &stale).await);
    assert_eq!(evidence(acme.clone()).await, expected);

    // Saving the connector unchanged keeps what was learned; declaring another policy
    // forgets it.
    store
        .upsert_connector(&acme, &name, &connector_input("s-2"), at(30))
        .await
        .unwrap();
    assert_eq!(evidence(acme.clone()).await, expected);
    let mut declared = connector_input("s-2");
    declared.refresh_token_policy = Some(serde_json::json!({"kind": "idle", "seconds": 86_400}));
    store
        .upsert_connector(&acme, &name, &declared, at(40))
        .await
        .unwrap();
    assert_eq!(evidence(acme.clone()).await, PolicyEvidence::default());
}
