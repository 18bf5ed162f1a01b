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
    Account, AttemptStart, Connection, EvidenceChange, Landing, RefreshOutcome, Store,
};
use tokio::task::JoinSet;

use crate::fixtures::{
    LONG_LEASE, at, connection, connector_input, connector_name, diagnosis, event, fail, failure,
    history, instance_url, kinds, land, landing, t0, tokens, workspace,
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

/// `begin_attempt` with a long lease.
async fn begin(
    store: &Arc<dyn Store>,
    conn: &Connection,
    owner: &str,
    version: i64,
) -> AttemptStart {
    store
        .begin_attempt(&conn.workspace_id, &conn.id, owner, version, LONG_LEASE)
        .await
        .unwrap()
}

/// Tries `begin_attempt` (for `lease`) until the lease held by someone else lapses, or the
/// deadline passes (answering `Held`); with the test's clock before and after the last try.
///
/// A `Moved` while the token is still at `version` is tried again: `begin_attempt` classifies
/// a refusal with a second statement, and a lease that lapses between the two reads as
/// `Moved` (see the report on `begin_attempt`; the token service loops on `Moved` too).
async fn take_once_lapsed(
    store: &Arc<dyn Store>,
    conn: &Connection,
    owner: &str,
    version: i64,
    lease: Duration,
) -> (AttemptStart, (DateTime<Utc>, DateTime<Utc>)) {
    let deadline = Instant::now() + LAPSE_DEADLINE;
    loop {
        let before = wall_clock();
        let start = store
            .begin_attempt(&conn.workspace_id, &conn.id, owner, version, lease)
            .await
            .unwrap();
        let after = wall_clock();
        let retry = match start {
            AttemptStart::Held => true,
            AttemptStart::Moved => still_at(store, conn, version).await,
            AttemptStart::Started { .. } => false,
        };
        if !retry || Instant::now() >= deadline {
            return (start, (before, after));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether the token of `conn` is still at `version` and takes refreshes.
async fn still_at(store: &Arc<dyn Store>, conn: &Connection, version: i64) -> bool {
    let current = store
        .current_token(&conn.workspace_id, &conn.id)
        .await
        .unwrap();
    current
        .is_some_and(|t| t.token_version == version && t.status != ConnectionStatus::Disconnected)
}

/// `begin_attempt` with a long lease, once the lease held by someone else lapses.
async fn begin_once_lapsed(
    store: &Arc<dyn Store>,
    conn: &Connection,
    owner: &str,
    version: i64,
) -> AttemptStart {
    take_once_lapsed(store, conn, owner, version, LONG_LEASE)
        .await
        .0
}

/// Takes a short lease for `owner` at `version` and returns the test's clock before and after
/// (the database's clock stamps the attempt in between).
async fn begin_short(
    store: &Arc<dyn Store>,
    conn: &Connection,
    owner: &str,
    version: i64,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let before = wall_clock();
    let start = store
        .begin_attempt(&conn.workspace_id, &conn.id, owner, version, SHORT_LEASE)
        .await
        .unwrap();
    let after = wall_clock();
    assert_eq!(
        start,
        AttemptStart::Started {
            unanswered_since: None
        }
    );
    (before, after)
}

/// Asserts that `time` is the database's stamp of a moment between `before` and `after`.
fn assert_between(time: DateTime<Utc>, (before, after): (DateTime<Utc>, DateTime<Utc>)) {
    assert!(
        before - CLOCK_SLACK <= time && time <= after + CLOCK_SLACK,
        "{time} is not within [{before}, {after}]"
    );
}

async fn read(store: &Arc<dyn Store>, conn: &Connection) -> Connection {
    store
        .get_connection(&conn.workspace_id, &conn.id)
        .await
        .unwrap()
        .unwrap()
}

async fn land_as(
    store: &Arc<dyn Store>,
    conn: &Connection,
    owner: &str,
    version: i64,
    outcome: &RefreshOutcome,
    events: &[tether_store::NewEvent],
) -> bool {
    let landing = landing(outcome.clone(), events);
    store
        .land_refresh(&conn.workspace_id, &conn.id, owner, version, &landing)
        .await
        .unwrap()
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
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
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
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    assert_eq!(begin(&store, &conn, "a", 1).await, STARTED_CLEAN);
    assert_eq!(begin(&store, &conn, "b", 1).await, AttemptStart::Held);
    assert_eq!(
        begin(&store, &conn, "a", 1).await,
        AttemptStart::Held,
        "the owner does not take its live lease twice"
    );
    assert_eq!(
        begin(&store, &conn, "b", 0).await,
        AttemptStart::Moved,
        "a version that is not the token's is moved, held or not"
    );

    assert!(land_as(&store, &conn, "a", 1, &refreshed("access-2", None, 10), &[]).await);
    assert_eq!(
        begin(&store, &conn, "b", 1).await,
        AttemptStart::Moved,
        "a refresh landed since b read the token"
    );
    assert_eq!(begin(&store, &conn, "b", 2).await, STARTED_CLEAN);

    let unknown = Connection {
        id: ConnectionId::generate(),
        ..conn.clone()
    };
    assert_eq!(begin(&store, &unknown, "c", 1).await, AttemptStart::Moved);
    let bye = event(&conn, 20, EventKind::StatusChanged);
    assert!(store.disconnect(&ws, &conn.id, &bye).await.unwrap());
    assert_eq!(
        begin(&store, &conn, "c", 2).await,
        AttemptStart::Moved,
        "a disconnected connection takes no refresh"
    );
}

pub async fn a_lapsed_lease_is_taken_by_another_owner(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    let (a_before, _) = begin_short(&store, &conn, "a", 1).await;
    let early = begin(&store, &conn, "b", 1).await;
    // Unless this machine stalled past the lease, b came while a's lease lived.
    let lease = chrono::Duration::from_std(SHORT_LEASE).unwrap();
    if wall_clock() < a_before + lease - CLOCK_SLACK {
        assert_eq!(early, AttemptStart::Held, "a's lease is live");
    }
    let start = match early {
        AttemptStart::Started { .. } => early,
        _ => begin_once_lapsed(&store, &conn, "b", 1).await,
    };
    assert!(
        matches!(start, AttemptStart::Started { .. }),
        "b takes the lease once a's lapses: {start:?}"
    );
    assert_eq!(
        begin(&store, &conn, "c", 1).await,
        AttemptStart::Held,
        "b's lease is live"
    );
    assert!(
        !store
            .renew_lease(&ws, &conn.id, "a", LONG_LEASE)
            .await
            .unwrap(),
        "a no longer holds the lease"
    );
    store.abandon_attempt(&ws, &conn.id, "a").await.unwrap();
    assert_eq!(
        begin(&store, &conn, "c", 1).await,
        AttemptStart::Held,
        "a's abandon leaves b's lease"
    );
}

pub async fn an_attempt_that_never_landed_is_reported_to_the_next_one(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    // `a` takes the lease and "crashes": its lease lapses with its record left behind.
    let a_started = begin_short(&store, &conn, "a", 1).await;
    let AttemptStart::Started {
        unanswered_since: Some(since),
    } = begin_once_lapsed(&store, &conn, "b", 1).await
    else {
        panic!("b is told of a's interrupted attempt");
    };
    assert_between(since, a_started);
    assert_eq!(read(&store, &conn).await.unanswered_attempt_at, Some(since));

    // `b` ends before sending anything: the evidence of `a` stays for the next attempt.
    store.abandon_attempt(&ws, &conn.id, "b").await.unwrap();
    assert_eq!(
        begin(&store, &conn, "c", 1).await,
        AttemptStart::Started {
            unanswered_since: Some(since)
        }
    );

    // `c` refreshes: the token works again, the evidence is cleared.
    assert!(land_as(&store, &conn, "c", 1, &refreshed("access-2", None, 10), &[]).await);
    assert_eq!(read(&store, &conn).await.unanswered_attempt_at, None);
    assert_eq!(begin(&store, &conn, "d", 2).await, STARTED_CLEAN);
}

pub async fn the_latest_interrupted_attempt_is_the_one_reported(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    let a_started = begin_short(&store, &conn, "a", 1).await;
    // `b` takes over from `a` and crashes in its turn.
    let (start, b_started) = take_once_lapsed(&store, &conn, "b", 1, SHORT_LEASE).await;
    let AttemptStart::Started {
        unanswered_since: Some(a_since),
    } = start
    else {
        panic!("b is told of a's interrupted attempt: {start:?}");
    };
    assert_between(a_since, a_started);
    let AttemptStart::Started {
        unanswered_since: Some(b_since),
    } = begin_once_lapsed(&store, &conn, "c", 1).await
    else {
        panic!("c is told of b's interrupted attempt");
    };
    assert_between(b_since, b_started);
    let lease = chrono::Duration::from_std(SHORT_LEASE).unwrap();
    assert!(
        a_since + lease - CLOCK_SLACK <= b_since,
        "b started after a's lease"
    );
    assert_eq!(
        store
            .get_connection(&ws, &conn.id)
            .await
            .unwrap()
            .unwrap()
            .unanswered_attempt_at,
        Some(b_since)
    );
}

pub async fn a_landed_refresh_stores_its_tokens_and_events_and_ends_the_attempt(
    store: Arc<dyn Store>,
) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    fail(
        &store,
        &conn,
        failure(ConnectionStatus::Degraded, Some(at(60))),
    )
    .await;
    assert_eq!(begin(&store, &conn, "a", 1).await, STARTED_CLEAN);

    let mut rotated = tokens("access-2", Some("refresh-2"), at(6000));
    rotated.instance_url = Some(instance_url("https://na2.example.my.salesforce.com"));
    let outcome = RefreshOutcome::Refreshed {
        tokens: rotated.clone(),
        now: at(6001),
    };
    let events = [
        event(&conn, 6001, EventKind::Refreshed),
        event(&conn, 6001, EventKind::Recovered),
    ];
    assert!(land_as(&store, &conn, "a", 1, &outcome, &events).await);

    let current = store.current_token(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(current.access_token, Some(AccessToken::new("access-2")));
    assert_eq!(current.token_version, 2);
    assert_eq!(
        (current.issued_at, current.expires_at, current.refresh_at),
        (at(6000), rotated.expires_at, rotated.refresh_at)
    );
    assert_eq!(current.refreshed_at, Some(at(6001)), "on tether's clock");
    assert_eq!(
        store.refresh_token(&ws, &conn.id).await.unwrap(),
        Some(RefreshToken::new("refresh-2"))
    );
    let expected = Connection {
        account: Account {
            instance_url: instance_url("https://na2.example.my.salesforce.com"),
            ..conn.account.clone()
        },
        last_refreshed_at: Some(at(6001)),
        access_token_expires_at: Some(rotated.expires_at),
        rotation_seen: true,
        ..conn.clone()
    };
    assert_eq!(
        read(&store, &conn).await,
        expected,
        "active, failures cleared, approval time kept (a rotation is no new approval)"
    );
    assert_eq!(expected.refresh_token_issued_at, Some(t0()));
    assert_eq!(history(&store, &conn).await[1..], events);
    assert_eq!(
        begin(&store, &conn, "b", 2).await,
        STARTED_CLEAN,
        "lease and attempt record released"
    );
}

pub async fn a_refresh_without_rotation_keeps_the_refresh_token_and_the_instance(
    store: Arc<dyn Store>,
) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    let mut plain = tokens("access-2", None, at(6000));
    plain.instance_url = None;
    let outcome = RefreshOutcome::Refreshed {
        tokens: plain.clone(),
        now: at(6001),
    };
    land(&store, &conn, outcome, &[]).await;
    assert_eq!(
        store.refresh_token(&ws, &conn.id).await.unwrap(),
        Some(RefreshToken::new("refresh-1"))
    );
    let current = store.current_token(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(current.access_token, Some(AccessToken::new("access-2")));
    assert_eq!(current.instance_url, conn.account.instance_url);
    let expected = Connection {
        last_refreshed_at: Some(at(6001)),
        access_token_expires_at: Some(plain.expires_at),
        ..conn.clone()
    };
    assert_eq!(read(&store, &conn).await, expected, "no rotation seen");
}

pub async fn a_lifetime_warning_landed_with_a_refresh_is_remembered_until_a_reconnect(
    store: Arc<dyn Store>,
) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    let events = [
        event(&conn, 100, EventKind::Refreshed),
        event(&conn, 100, EventKind::LifetimeWarning),
    ];
    land(&store, &conn, refreshed("access-2", None, 100), &events).await;
    assert_eq!(read(&store, &conn).await.lifetime_warned_at, Some(at(100)));

    land(&store, &conn, refreshed("access-3", None, 200), &[]).await;
    assert_eq!(
        read(&store, &conn).await.lifetime_warned_at,
        Some(at(100)),
        "a refresh without a warning keeps it"
    );

    let fresh = tokens("access-9", Some("refresh-9"), at(300));
    let reconnected = [event(&conn, 300, EventKind::Reconnected)];
    let replaced = store
        .replace_tokens(
            &ws,
            &conn.id,
            &conn.account,
            &conn.scopes,
            &fresh,
            at(300),
            &reconnected,
        )
        .await
        .unwrap();
    assert!(replaced);
    assert_eq!(
        read(&store, &conn).await.lifetime_warned_at,
        None,
        "a new approval has not been warned about"
    );
}

pub async fn a_refresh_outcome_fenced_by_a_stale_version_does_not_land(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    // The first refresh lands and moves the version.
    let first = refreshed("access-2", Some("refresh-2"), 10);
    assert!(begin(&store, &conn, "a", 1).await == STARTED_CLEAN);
    assert!(land_as(&store, &conn, "a", 1, &first, &[]).await);
    let before = read(&store, &conn).await;

    // A second refresher holding the lease lands what it computed from the old version: it must
    // not overwrite the token, neither with tokens nor with a failure, nor write its events,
    // but it gives its lease and attempt record back.
    assert_eq!(begin(&store, &conn, "b", 2).await, STARTED_CLEAN);
    let stale = refreshed("access-stale", Some("refresh-stale"), 20);
    let stale_events = [event(&conn, 20, EventKind::Refreshed)];
    assert!(!land_as(&store, &conn, "b", 1, &stale, &stale_events).await);
    let update = RefreshOutcome::Failed(failure(ConnectionStatus::Expired, None));
    let failed_events = [event(&conn, 21, EventKind::RefreshFailed)];
    assert!(!land_as(&store, &conn, "b", 1, &update, &failed_events).await);

    let current = store.current_token(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(current.access_token, Some(AccessToken::new("access-2")));
    assert_eq!(current.status, ConnectionStatus::Active);
    assert_eq!(current.token_version, 2);
    assert_eq!(
        store.refresh_token(&ws, &conn.id).await.unwrap(),
        Some(RefreshToken::new("refresh-2"))
    );
    assert_eq!(read(&store, &conn).await, before);
    assert_eq!(kinds(&store, &conn).await, [EventKind::Connected]);
    assert_eq!(
        begin(&store, &conn, "c", 2).await,
        STARTED_CLEAN,
        "the losing writer released its lease and its record"
    );
}

pub async fn a_landed_failure_stores_its_outcome_and_ends_the_attempt(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    assert_eq!(begin(&store, &conn, "a", 1).await, STARTED_CLEAN);
    let update = failure(ConnectionStatus::Degraded, Some(at(60)));
    let events = [event(&conn, 1, EventKind::RefreshFailed)];
    let outcome = RefreshOutcome::Failed(update);
    assert!(land_as(&store, &conn, "a", 1, &outcome, &events).await);
    let expected = Connection {
        status: ConnectionStatus::Degraded,
        status_reason: Some(Cause::ProviderUnavailable),
        diagnosis: Some(diagnosis(Cause::ProviderUnavailable)),
        refresh_failures: 2,
        next_retry_at: Some(at(60)),
        failed_connector_generation: Some(3),
        ..conn.clone()
    };
    assert_eq!(read(&store, &conn).await, expected);
    let current = store.current_token(&ws, &conn.id).await.unwrap().unwrap();
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
        store.refresh_token(&ws, &conn.id).await.unwrap(),
        Some(RefreshToken::new("refresh-1"))
    );
    assert_eq!(history(&store, &conn).await[1..], events);
    assert_eq!(
        begin(&store, &conn, "b", 1).await,
        STARTED_CLEAN,
        "lease and attempt record released"
    );
}

pub async fn an_unanswered_failure_keeps_the_start_of_its_attempt(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    let started = begin_short(&store, &conn, "a", 1).await;
    let mut update = failure(ConnectionStatus::Degraded, Some(at(60)));
    update.unanswered = true;
    assert!(land_as(&store, &conn, "a", 1, &RefreshOutcome::Failed(update), &[]).await);
    let since = read(&store, &conn).await.unanswered_attempt_at.unwrap();
    assert_between(since, started);
    assert_eq!(
        begin(&store, &conn, "b", 1).await,
        AttemptStart::Started {
            unanswered_since: Some(since)
        }
    );
    let answered = RefreshOutcome::Failed(failure(ConnectionStatus::Degraded, Some(at(120))));
    assert!(land_as(&store, &conn, "b", 1, &answered, &[]).await);
    assert_eq!(
        read(&store, &conn).await.unanswered_attempt_at,
        Some(since),
        "an answered failure does not clear the evidence; only a refresh that works does"
    );
}

pub async fn a_salvaged_refresh_token_replaces_the_stored_one(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    let mut update = failure(ConnectionStatus::Degraded, Some(at(60)));
    update.salvaged_refresh_token = Some(RefreshToken::new("refresh-salvaged"));
    fail(&store, &conn, update).await;
    assert_eq!(
        store.refresh_token(&ws, &conn.id).await.unwrap(),
        Some(RefreshToken::new("refresh-salvaged"))
    );
    let current = store.current_token(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(
        (current.access_token, current.token_version),
        (Some(AccessToken::new("access-1")), 1),
        "the access token stays"
    );
    fail(
        &store,
        &conn,
        failure(ConnectionStatus::Degraded, Some(at(90))),
    )
    .await;
    assert_eq!(
        store.refresh_token(&ws, &conn.id).await.unwrap(),
        Some(RefreshToken::new("refresh-salvaged")),
        "a failure without one keeps it"
    );
}

pub async fn renew_lease_extends_only_the_owners_lease(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    begin_short(&store, &conn, "a", 1).await;
    assert!(
        !store
            .renew_lease(&ws, &conn.id, "b", LONG_LEASE)
            .await
            .unwrap()
    );
    assert!(
        store
            .renew_lease(&ws, &conn.id, "a", LONG_LEASE)
            .await
            .unwrap()
    );
    // Past the short lease a first took, its renewed lease still holds.
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(100)).await;
    assert_eq!(begin(&store, &conn, "b", 1).await, AttemptStart::Held);

    // A lease renewed short lapses on time.
    assert!(
        store
            .renew_lease(&ws, &conn.id, "a", SHORT_LEASE)
            .await
            .unwrap()
    );
    let start = begin_once_lapsed(&store, &conn, "b", 1).await;
    assert!(matches!(start, AttemptStart::Started { .. }), "{start:?}");
}

pub async fn abandon_attempt_clears_the_lease_and_record_of_its_owner_only(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    assert_eq!(begin(&store, &conn, "a", 1).await, STARTED_CLEAN);
    store.abandon_attempt(&ws, &conn.id, "b").await.unwrap();
    assert_eq!(begin(&store, &conn, "c", 1).await, AttemptStart::Held);
    store.abandon_attempt(&ws, &conn.id, "a").await.unwrap();
    assert_eq!(
        begin(&store, &conn, "c", 1).await,
        STARTED_CLEAN,
        "free, and no interrupted attempt left behind"
    );
    assert_eq!(read(&store, &conn).await, conn, "nothing else changed");
}

pub async fn adjust_expiry_changes_the_expiry_only_at_the_given_version(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    let mut corrected = tokens("ignored", Some("ignored"), t0());
    corrected.expires_at = at(900);
    corrected.refresh_at = at(600);
    assert!(
        store
            .adjust_expiry(&ws, &conn.id, 1, &corrected)
            .await
            .unwrap()
    );
    let current = store.current_token(&ws, &conn.id).await.unwrap().unwrap();
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
        store.refresh_token(&ws, &conn.id).await.unwrap(),
        Some(RefreshToken::new("refresh-1"))
    );
    assert_eq!(
        read(&store, &conn).await.access_token_expires_at,
        Some(at(900))
    );

    land(&store, &conn, refreshed("access-2", None, 1_000), &[]).await;
    let landed = store.current_token(&ws, &conn.id).await.unwrap().unwrap();
    let mut late = corrected.clone();
    late.expires_at = at(1_100);
    late.refresh_at = at(1_050);
    assert!(
        !store.adjust_expiry(&ws, &conn.id, 1, &late).await.unwrap(),
        "the token has moved on"
    );
    assert_eq!(
        store.current_token(&ws, &conn.id).await.unwrap().unwrap(),
        landed
    );
}

pub async fn late_refresh_does_not_revive_a_disconnected_connection(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    assert_eq!(begin(&store, &conn, "a", 1).await, STARTED_CLEAN);
    let bye = event(&conn, 1, EventKind::StatusChanged);
    assert!(store.disconnect(&ws, &conn.id, &bye).await.unwrap());
    let late = refreshed("access-2", Some("refresh-2"), 2);
    let events = [event(&conn, 2, EventKind::Refreshed)];
    assert!(!land_as(&store, &conn, "a", 1, &late, &events).await);
    let update = RefreshOutcome::Failed(failure(ConnectionStatus::Degraded, Some(at(60))));
    assert!(!land_as(&store, &conn, "a", 1, &update, &events).await);
    let current = store.current_token(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(
        (current.status, current.access_token),
        (ConnectionStatus::Disconnected, None)
    );
    assert_eq!(store.refresh_token(&ws, &conn.id).await.unwrap(), None);
    assert_eq!(
        kinds(&store, &conn).await,
        [EventKind::Connected, EventKind::StatusChanged]
    );
}

pub async fn reconnect_replaces_tokens_and_account_and_clears_the_failure(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    land(
        &store,
        &conn,
        refreshed("access-2", Some("refresh-2"), 50),
        &[],
    )
    .await;
    let mut update = failure(ConnectionStatus::Expired, None);
    update.unanswered = true;
    fail(&store, &conn, update).await;
    // An attempt is under way (with the evidence of the unanswered one) when the reconnect
    // lands.
    assert!(matches!(
        begin(&store, &conn, "a", 2).await,
        AttemptStart::Started {
            unanswered_since: Some(_)
        }
    ));
    let account = Account {
        username: "grace@example.com".to_owned(),
        ..conn.account.clone()
    };
    let scopes = vec![
        "api".to_owned(),
        "refresh_token".to_owned(),
        "id".to_owned(),
    ];
    let fresh = tokens("access-9", Some("refresh-9"), at(100));
    let events = [event(&conn, 101, EventKind::Reconnected)];
    let replaced = store
        .replace_tokens(&ws, &conn.id, &account, &scopes, &fresh, at(101), &events)
        .await
        .unwrap();
    assert!(replaced);
    let expected = Connection {
        account,
        scopes,
        last_refreshed_at: Some(at(50)),
        refresh_token_issued_at: Some(at(101)),
        access_token_expires_at: Some(fresh.expires_at),
        rotation_seen: true,
        ..conn.clone()
    };
    assert_eq!(
        read(&store, &conn).await,
        expected,
        "active, failures and unanswered evidence cleared, a new approval"
    );
    assert_eq!(
        store.refresh_token(&ws, &conn.id).await.unwrap(),
        Some(RefreshToken::new("refresh-9"))
    );
    let current = store.current_token(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(
        (current.access_token, current.token_version),
        (Some(AccessToken::new("access-9")), 3)
    );
    assert_eq!(history(&store, &conn).await[1..], events);
    assert_eq!(
        begin(&store, &conn, "b", 3).await,
        STARTED_CLEAN,
        "the attempt on the replaced token no longer holds the lease"
    );
    assert!(
        !land_as(
            &store,
            &conn,
            "a",
            2,
            &refreshed("access-late", None, 102),
            &[]
        )
        .await,
        "nor lands"
    );
}

pub async fn reconnect_refuses_a_disconnected_connection(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    let bye = event(&conn, 1, EventKind::StatusChanged);
    assert!(store.disconnect(&ws, &conn.id, &bye).await.unwrap());
    let before = read(&store, &conn).await;
    let fresh = tokens("access-9", Some("refresh-9"), at(100));
    let events = [event(&conn, 101, EventKind::Reconnected)];
    let replaced = store
        .replace_tokens(
            &ws,
            &conn.id,
            &conn.account,
            &conn.scopes,
            &fresh,
            at(101),
            &events,
        )
        .await
        .unwrap();
    assert!(!replaced);
    assert_eq!(read(&store, &conn).await, before);
    assert_eq!(store.refresh_token(&ws, &conn.id).await.unwrap(), None);
    assert_eq!(
        kinds(&store, &conn).await,
        [EventKind::Connected, EventKind::StatusChanged],
        "no reconnected event"
    );
}

pub async fn an_annotation_marks_an_active_connection_and_the_next_refresh_clears_it(
    store: Arc<dyn Store>,
) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    let note = diagnosis(Cause::ApiDisabled);
    store
        .annotate_connection(&ws, &conn.id, Cause::ApiDisabled, &note)
        .await
        .unwrap();
    let annotated = read(&store, &conn).await;
    assert_eq!(annotated.status, ConnectionStatus::Active);
    assert_eq!(annotated.status_reason, Some(Cause::ApiDisabled));
    assert_eq!(annotated.diagnosis, Some(note));

    land(&store, &conn, refreshed("access-2", None, 10), &[]).await;
    let cleared = read(&store, &conn).await;
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
    let conn = connection(&store, &acme).await;
    fail(
        &store,
        &conn,
        failure(ConnectionStatus::Degraded, Some(at(60))),
    )
    .await;

    let context = store
        .refresh_context(&acme, &conn.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(context.connection, read(&store, &conn).await);
    assert_eq!(
        Some(context.token),
        store.current_token(&acme, &conn.id).await.unwrap()
    );
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

    let bye = event(&conn, 1, EventKind::StatusChanged);
    assert!(store.disconnect(&acme, &conn.id, &bye).await.unwrap());
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
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    begin_short(&store, &conn, "a", 1).await;
    let (start, b_started) = take_once_lapsed(&store, &conn, "b", 1, SHORT_LEASE).await;
    assert!(matches!(start, AttemptStart::Started { .. }), "{start:?}");
    let update = RefreshOutcome::Failed(failure(ConnectionStatus::Degraded, Some(at(60))));
    assert!(land_as(&store, &conn, "a", 1, &update, &[]).await);
    let lease = chrono::Duration::from_std(SHORT_LEASE).unwrap();
    let early = begin(&store, &conn, "c", 1).await;
    if wall_clock() < b_started.0 + lease - CLOCK_SLACK {
        assert_eq!(early, AttemptStart::Held, "b still holds the lease");
    }
    // `b` crashes: the next attempt is told of it.
    let next = match early {
        AttemptStart::Started { .. } => early,
        _ => begin_once_lapsed(&store, &conn, "d", 1).await,
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
    let conn = connection(&store, &acme).await;
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
    assert_eq!(begin(&store, &conn, "a", 1).await, STARTED_CLEAN);
    let worked = Landing {
        evidence: Some((name.clone(), survived)),
        ..landing(refreshed("access-2", None, 10), &[])
    };
    assert!(
        store
            .land_refresh(&acme, &conn.id, "a", 1, &worked)
            .await
            .unwrap()
    );
    let died = EvidenceChange::Died(Observation {
        age_seconds: 90_000,
        last_success_age_seconds: 7_200,
        idle_seconds: 80_000,
    });
    assert_eq!(begin(&store, &conn, "a", 2).await, STARTED_CLEAN);
    let refused = Landing {
        evidence: Some((name.clone(), died)),
        ..landing(
            RefreshOutcome::Failed(failure(ConnectionStatus::Expired, None)),
            &[],
        )
    };
    assert!(
        store
            .land_refresh(&acme, &conn.id, "a", 2, &refused)
            .await
            .unwrap()
    );
    let mut expected = PolicyEvidence::default();
    survived.apply(&mut expected);
    died.apply(&mut expected);
    assert_eq!(evidence(acme.clone()).await, expected);
    let context = store
        .refresh_context(&acme, &conn.id)
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
    assert_eq!(begin(&store, &conn, "b", 2).await, STARTED_CLEAN);
    let stale = Landing {
        evidence: Some((name.clone(), survived)),
        ..landing(refreshed("access-stale", None, 20), &[])
    };
    assert!(
        !store
            .land_refresh(&acme, &conn.id, "b", 1, &stale)
            .await
            .unwrap()
    );
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
