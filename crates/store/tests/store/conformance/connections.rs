//! Connections: creation with its event, reads scoped to the workspace, filters, the token fast
//! path, use tracking, annotation, disconnection and the retry and keep-alive queues.

use std::sync::Arc;

use tether_core::cause::Cause;
use tether_core::event::EventKind;
use tether_core::ids::ConnectionId;
use tether_core::secret::{AccessToken, RefreshToken};
use tether_core::status::ConnectionStatus;
use tether_store::{
    Connection, ConnectionFilter, ConnectionPage, CurrentToken, LastUse, PageRequest, Reconnect,
    RefreshOutcome, Store, StoreError,
};

use crate::fixtures::{
    account, acme_connection, at, claim, connected, connection, connector_name, current, diagnosis,
    end_user, event, fail, failure, history, insert, kinds, land, landing, new_connection, refresh,
    stored_refresh_token, t0, tokens, workspace,
};

pub async fn inserted_connection_reads_back_active_with_its_account(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let new = new_connection(&ws, "salesforce", "u-42");
    let inserted = insert(&store, &new).await;
    let expected = Connection {
        id: new.id.clone(),
        workspace_id: ws.clone(),
        connector: connector_name("salesforce"),
        provider: "salesforce".to_owned(),
        end_user_id: end_user("u-42"),
        status: ConnectionStatus::Active,
        status_reason: None,
        diagnosis: None,
        account: account(),
        scopes: vec!["api".to_owned(), "refresh_token".to_owned()],
        created_at: t0(),
        last_refreshed_at: None,
        last_used_at: None,
        refresh_token_issued_at: Some(t0()),
        access_token_expires_at: Some(new.tokens.expires_at),
        refresh_failures: 0,
        next_retry_at: None,
        failed_connector_generation: None,
        unanswered_attempt_at: None,
        rotation_seen: false,
        lifetime_warned_at: None,
    };
    assert_eq!(inserted, expected);
    assert_eq!(
        store.get_connection(&ws, &new.id).await.unwrap(),
        Some(expected.clone())
    );
    let refresh = store.refresh_token(&ws, &new.id).await.unwrap();
    assert_eq!(refresh, Some(RefreshToken::new("refresh-1")));
    assert_eq!(
        history(&store, &expected).await,
        [connected(&new)],
        "the connected event is written with the connection"
    );
}

pub async fn connection_with_an_existing_id_is_a_conflict(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let new = new_connection(&ws, "salesforce", "u-1");
    let first = insert(&store, &new).await;
    let err = store
        .insert_connection(&new, &connected(&new))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert_eq!(err.to_string(), "conflict: connection id already exists");
    assert_eq!(
        kinds(&store, &first).await,
        [EventKind::Connected],
        "the refused insert wrote no event"
    );
}

pub async fn another_workspace_sees_no_connection_and_no_token(store: Arc<dyn Store>) {
    let acme = workspace(&store, "acme").await;
    let demo = workspace(&store, "demo").await;
    let conn = connection(&store, &acme).await;
    assert_eq!(store.get_connection(&demo, &conn.id).await.unwrap(), None);
    assert_eq!(store.current_token(&demo, &conn.id).await.unwrap(), None);
    assert_eq!(store.refresh_token(&demo, &conn.id).await.unwrap(), None);
    let page = store
        .list_connections(
            &demo,
            &ConnectionFilter::default(),
            &PageRequest::first(100),
        )
        .await
        .unwrap();
    assert_eq!(
        page,
        ConnectionPage {
            connections: Vec::new(),
            next: None
        }
    );
    assert_eq!(store.count_connections(&demo).await.unwrap(), Vec::new());
    assert_eq!(
        store
            .get_connection(&acme, &ConnectionId::generate())
            .await
            .unwrap(),
        None
    );
}

pub async fn list_connections_applies_each_filter_newest_first(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let mut conns = Vec::new();
    for (i, (connector, user)) in [
        ("salesforce", "u-1"),
        ("salesforce", "u-2"),
        ("sf-sandbox", "u-1"),
    ]
    .iter()
    .enumerate()
    {
        let mut new = new_connection(&ws, connector, user);
        new.created_at = at(i64::try_from(i).unwrap());
        conns.push(insert(&store, &new).await);
    }
    fail(&store, &conns[1], failure(ConnectionStatus::Expired, None)).await;
    let ids: Vec<ConnectionId> = conns.iter().map(|c| c.id.clone()).collect();
    let listed = |filter: ConnectionFilter| {
        let store = store.clone();
        let ws = ws.clone();
        async move {
            let page = store
                .list_connections(&ws, &filter, &PageRequest::first(100))
                .await;
            let page = page.unwrap();
            assert_eq!(page.next, None, "everything fits on one page");
            page.connections
                .into_iter()
                .map(|c| c.id)
                .collect::<Vec<_>>()
        }
    };
    let all = listed(ConnectionFilter::default()).await;
    assert_eq!(all, [ids[2].clone(), ids[1].clone(), ids[0].clone()]);
    let expired = ConnectionFilter {
        status: Some(ConnectionStatus::Expired),
        ..Default::default()
    };
    assert_eq!(listed(expired).await, [ids[1].clone()]);
    let sandbox = ConnectionFilter {
        connector: Some(connector_name("sf-sandbox")),
        ..Default::default()
    };
    assert_eq!(listed(sandbox).await, [ids[2].clone()]);
    let user = ConnectionFilter {
        end_user_id: Some(end_user("u-1")),
        ..Default::default()
    };
    assert_eq!(listed(user).await, [ids[2].clone(), ids[0].clone()]);
    let both = ConnectionFilter {
        status: Some(ConnectionStatus::Active),
        connector: Some(connector_name("salesforce")),
        end_user_id: Some(end_user("u-1")),
    };
    assert_eq!(listed(both).await, [ids[0].clone()]);
}

pub async fn current_token_returns_the_access_token_and_its_times(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let new = new_connection(&ws, "salesforce", "u-1");
    insert(&store, &new).await;
    let current = store.current_token(&ws, &new.id).await.unwrap();
    assert_eq!(
        current,
        Some(CurrentToken {
            connection_id: new.id.clone(),
            status: ConnectionStatus::Active,
            status_reason: None,
            access_token: Some(AccessToken::new("access-1")),
            instance_url: account().instance_url,
            issued_at: new.tokens.issued_at,
            expires_at: new.tokens.expires_at,
            refresh_at: new.tokens.refresh_at,
            token_version: 1,
            next_retry_at: None,
            failed_connector_generation: None,
            refreshed_at: None,
        })
    );
}

pub async fn touch_last_used_keeps_the_latest_use(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let a = connection(&store, &ws).await;
    let b = connection(&store, &ws).await;
    let used = |conn: &Connection, second: i64| LastUse {
        workspace: ws.clone(),
        id: conn.id.clone(),
        at: at(second),
    };
    store
        .touch_last_used(&[used(&a, 10), used(&b, 20)])
        .await
        .unwrap();
    store.touch_last_used(&[used(&a, 5)]).await.unwrap();
    store.touch_last_used(&[]).await.unwrap();
    let read = |id: ConnectionId| {
        let store = store.clone();
        let ws = ws.clone();
        async move {
            store
                .get_connection(&ws, &id)
                .await
                .unwrap()
                .unwrap()
                .last_used_at
        }
    };
    assert_eq!(read(a.id).await, Some(at(10)));
    assert_eq!(read(b.id).await, Some(at(20)));
}

pub async fn disconnect_erases_the_tokens_once_with_its_event(store: Arc<dyn Store>) {
    let (ws, conn) = acme_connection(&store).await;
    let disconnected = event(&conn, 30, EventKind::StatusChanged);
    assert!(
        store
            .disconnect(&ws, &conn.id, &disconnected)
            .await
            .unwrap()
    );
    let read = store.get_connection(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(read.status, ConnectionStatus::Disconnected);
    assert_eq!(read.access_token_expires_at, None);
    assert_eq!(stored_refresh_token(&store, &conn).await, None);
    let current = current(&store, &conn).await;
    assert_eq!(current.status, ConnectionStatus::Disconnected);
    assert_eq!(current.access_token, None);

    let again = event(&conn, 31, EventKind::StatusChanged);
    assert!(
        !store.disconnect(&ws, &conn.id, &again).await.unwrap(),
        "a second disconnect changes nothing"
    );
    assert_eq!(
        kinds(&store, &conn).await,
        [EventKind::Connected, EventKind::StatusChanged],
        "the disconnect event is written once"
    );
    assert_eq!(history(&store, &conn).await[1], disconnected);
}

pub async fn due_for_retry_lists_due_retries_of_degraded_and_due_rechecks_of_expired_connections(
    store: Arc<dyn Store>,
) {
    let ws = workspace(&store, "acme").await;
    let mut ids = Vec::new();
    for retry in [30, 10, 20, 500] {
        let conn = connection(&store, &ws).await;
        fail(
            &store,
            &conn,
            failure(ConnectionStatus::Degraded, Some(at(retry))),
        )
        .await;
        ids.push(conn.id);
    }
    // Expired with a recheck time (a recoverable cause), and expired for good.
    let recheck = connection(&store, &ws).await;
    fail(
        &store,
        &recheck,
        failure(ConnectionStatus::Expired, Some(at(1))),
    )
    .await;
    let dead = connection(&store, &ws).await;
    fail(&store, &dead, failure(ConnectionStatus::Expired, None)).await;
    connection(&store, &ws).await;
    let due = |i: usize| (ws.clone(), ids[i].clone());
    let rechecked = (ws.clone(), recheck.id.clone());
    assert_eq!(
        store.due_for_retry(at(0), &claim("a"), 10).await.unwrap(),
        Vec::new(),
        "nothing is due yet"
    );
    assert_eq!(
        store.due_for_retry(at(100), &claim("a"), 2).await.unwrap(),
        [rechecked, due(1)]
    );
    assert_eq!(
        store.due_for_retry(at(100), &claim("b"), 10).await.unwrap(),
        [due(2), due(0)],
        "another instance gets what the first did not claim"
    );
    assert_eq!(
        store.due_for_retry(at(100), &claim("c"), 10).await.unwrap(),
        Vec::new(),
        "every due job is claimed once"
    );
}

pub async fn approvals_after_count_the_same_account_on_the_same_connector_only(
    store: Arc<dyn Store>,
) {
    let ws = workspace(&store, "acme").await;
    let first = insert(&store, &new_connection(&ws, "salesforce", "u-1")).await;
    let later = |user: &str, secs: i64| {
        let mut c = new_connection(&ws, "salesforce", user);
        c.created_at = at(secs);
        c.tokens.issued_at = at(secs);
        c
    };
    for secs in [10, 20, 30] {
        insert(&store, &later("u-2", secs)).await;
    }
    let mut other_user = later("u-3", 40);
    other_user.account.user_id = "005000000000009AAA".to_owned();
    insert(&store, &other_user).await;
    let mut other_connector = later("u-4", 50);
    other_connector.connector = connector_name("salesforce-sandbox");
    insert(&store, &other_connector).await;

    let count = |after| {
        let (store, first) = (store.clone(), first.clone());
        async move { store.count_approvals_after(&first, after).await.unwrap() }
    };
    assert_eq!(count(t0()).await, 3);
    assert_eq!(count(at(15)).await, 2);
    assert_eq!(count(at(30)).await, 0);
}

pub async fn a_rotation_is_not_a_new_approval(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let first = insert(&store, &new_connection(&ws, "salesforce", "u-1")).await;
    let mut second = new_connection(&ws, "salesforce", "u-2");
    second.created_at = at(10);
    let second = insert(&store, &second).await;
    let rotated = RefreshOutcome::Refreshed {
        tokens: tokens("access-2", Some("refresh-2"), at(500)),
        now: at(500),
    };
    land(&store, &second, rotated, &[]).await;
    let approvals = store.count_approvals_after(&first, at(100)).await.unwrap();
    assert_eq!(
        approvals, 0,
        "the rotation at 500 does not count as approval"
    );
}

pub async fn idle_connections_lists_active_ones_with_a_refresh_token_unused_since_the_cutoff_oldest_first(
    store: Arc<dyn Store>,
) {
    let ws = workspace(&store, "acme").await;
    let make = |secs: i64| {
        let mut c = new_connection(&ws, "salesforce", &format!("u-{secs}"));
        c.created_at = at(secs);
        c.tokens.issued_at = at(secs);
        c
    };
    let (old, older, recent) = (make(100), make(50), make(1_000));
    for c in [&old, &older, &recent] {
        insert(&store, c).await;
    }
    let refreshed_late = insert(&store, &make(10)).await;
    refresh(&store, &refreshed_late, at(2_000)).await;
    let expired = insert(&store, &make(20)).await;
    fail(&store, &expired, failure(ConnectionStatus::Expired, None)).await;
    // A JWT bearer or client credentials connection has no refresh token to keep alive.
    let mut minted = make(30);
    minted.tokens.refresh_token = None;
    insert(&store, &minted).await;

    let first = store
        .idle_connections(at(500), &claim("a"), 1)
        .await
        .unwrap();
    let rest = store
        .idle_connections(at(500), &claim("b"), 10)
        .await
        .unwrap();
    let ids: Vec<_> = first
        .iter()
        .chain(&rest)
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(ids, vec![older.id.clone(), old.id.clone()]);
    assert!(first.iter().chain(&rest).all(|(w, _)| *w == ws));
}

pub async fn a_claimed_job_is_skipped_by_other_instances_until_its_claim_lapses(
    store: Arc<dyn Store>,
) {
    let ws = workspace(&store, "acme").await;
    let idle = connection(&store, &ws).await;
    let short = tether_store::Claim {
        owner: "dies".to_owned(),
        length: std::time::Duration::from_millis(300),
    };
    let cutoff = idle.created_at + chrono::Duration::days(30);
    let idle_for = |claim: tether_store::Claim| {
        let store = store.clone();
        async move { store.idle_connections(cutoff, &claim, 10).await.unwrap() }
    };
    let mine = [(ws.clone(), idle.id.clone())];
    assert_eq!(idle_for(short).await, mine);
    assert!(
        idle_for(claim("other")).await.is_empty(),
        "held by the first claim"
    );
    store.release_claim(&ws, &idle.id, "other").await.unwrap();
    assert!(
        idle_for(claim("third")).await.is_empty(),
        "only the claim's owner releases it"
    );
    // The claimer dies; its claim lapses by the database's clock.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(idle_for(claim("other")).await, mine);
    store.release_claim(&ws, &idle.id, "other").await.unwrap();
    assert_eq!(
        idle_for(claim("third")).await.len(),
        1,
        "a released job that is still due is claimed again"
    );
}

pub async fn an_annotation_marks_only_an_active_connection(store: Arc<dyn Store>) {
    let (ws, conn) = acme_connection(&store).await;
    let note = diagnosis(Cause::ApiDisabled);
    store
        .annotate_connection(&ws, &conn.id, &note)
        .await
        .unwrap();
    let annotated = store.get_connection(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(annotated.status, ConnectionStatus::Active);
    assert_eq!(annotated.status_reason, Some(Cause::ApiDisabled));
    assert_eq!(annotated.diagnosis, Some(note.clone()));

    let expired = connection(&store, &ws).await;
    fail(&store, &expired, failure(ConnectionStatus::Expired, None)).await;
    let before = store.get_connection(&ws, &expired.id).await.unwrap();
    store
        .annotate_connection(&ws, &expired.id, &note)
        .await
        .unwrap();
    assert_eq!(
        store.get_connection(&ws, &expired.id).await.unwrap(),
        before,
        "an expired connection keeps its own reason"
    );
}

/// Every method that touches a connection, called with another workspace's id, finds nothing
/// and changes nothing (isolation rests on the SQL, not on the caller having checked).
pub async fn every_connection_method_is_confined_to_its_workspace(store: Arc<dyn Store>) {
    let acme = workspace(&store, "acme").await;
    let demo = workspace(&store, "demo").await;
    let conn = connection(&store, &acme).await;
    let id = &conn.id;
    let lease = crate::fixtures::LONG_LEASE;
    assert!(matches!(
        store.begin_attempt(&acme, id, "a", 1, lease).await.unwrap(),
        tether_store::AttemptStart::Started { .. }
    ));
    let before = store.get_connection(&acme, id).await.unwrap();
    let token_before = store.current_token(&acme, id).await.unwrap();

    // Reads.
    assert_eq!(store.get_connection(&demo, id).await.unwrap(), None);
    assert_eq!(store.current_token(&demo, id).await.unwrap(), None);
    assert_eq!(store.refresh_token(&demo, id).await.unwrap(), None);
    assert!(store.refresh_context(&demo, id).await.unwrap().is_none());
    assert_eq!(crate::fixtures::events_of(&store, &demo, id).await, []);
    let approvals = store
        .count_approvals_after(
            &Connection {
                workspace_id: demo.clone(),
                id: ConnectionId::generate(),
                ..conn.clone()
            },
            at(-1),
        )
        .await
        .unwrap();
    assert_eq!(approvals, 0);

    // The refresh protocol.
    assert_eq!(
        store.begin_attempt(&demo, id, "b", 1, lease).await.unwrap(),
        tether_store::AttemptStart::Moved
    );
    assert!(!store.renew_lease(&demo, id, "a", lease).await.unwrap());
    let outcome = RefreshOutcome::Refreshed {
        tokens: tokens("access-x", Some("refresh-x"), at(10)),
        now: at(10),
    };
    let events = [event(&conn, 10, EventKind::Refreshed)];
    assert!(
        !store
            .land_refresh(&demo, id, "a", 1, &landing(outcome, &events))
            .await
            .unwrap()
    );
    let failed = RefreshOutcome::Failed(failure(ConnectionStatus::Expired, None));
    assert!(
        !store
            .land_refresh(&demo, id, "a", 1, &landing(failed, &events))
            .await
            .unwrap()
    );
    let mut corrected = tokens("access-x", None, at(10));
    corrected.expires_at = at(20);
    assert!(!store.adjust_expiry(&demo, id, 1, &corrected).await.unwrap());
    store.abandon_attempt(&demo, id, "a").await.unwrap();
    assert_eq!(
        store.begin_attempt(&acme, id, "b", 1, lease).await.unwrap(),
        tether_store::AttemptStart::Held,
        "a's lease survives everything done from the other workspace"
    );

    // Writes of the connection itself.
    let fresh = tokens("access-9", Some("refresh-9"), at(100));
    let reconnect = Reconnect {
        account: conn.account.clone(),
        scopes: conn.scopes.clone(),
        tokens: fresh,
        now: at(100),
        events: vec![event(&conn, 100, EventKind::Reconnected)],
    };
    assert!(!store.replace_tokens(&demo, id, &reconnect).await.unwrap());
    let note = diagnosis(Cause::ApiDisabled);
    store.annotate_connection(&demo, id, &note).await.unwrap();
    let used = LastUse {
        workspace: demo.clone(),
        id: id.clone(),
        at: at(50),
    };
    store.touch_last_used(&[used]).await.unwrap();
    let bye = event(&conn, 60, EventKind::StatusChanged);
    assert!(!store.disconnect(&demo, id, &bye).await.unwrap());

    assert_eq!(store.get_connection(&acme, id).await.unwrap(), before);
    assert_eq!(store.current_token(&acme, id).await.unwrap(), token_before);
    assert_eq!(
        store.refresh_token(&acme, id).await.unwrap(),
        Some(RefreshToken::new("refresh-1"))
    );
    assert_eq!(kinds(&store, &conn).await, [EventKind::Connected]);
}
