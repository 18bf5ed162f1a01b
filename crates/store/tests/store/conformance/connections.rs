//! Connections: creation, reads scoped to the workspace, filters, the token fast path, use
//! tracking, disconnection and the retry queue.

use std::sync::Arc;

use tether_core::ids::ConnectionId;
use tether_core::secret::{AccessToken, RefreshToken};
use tether_core::status::ConnectionStatus;
use tether_store::{Connection, ConnectionFilter, CurrentToken, FailureUpdate, Store, StoreError};

use crate::fixtures::{
    account, at, connection, connector_name, end_user, new_connection, t0, workspace,
};

pub async fn inserted_connection_reads_back_active_with_its_account(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let new = new_connection(&ws, "salesforce", "u-42");
    let inserted = store.insert_connection(&new).await.unwrap();
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
    };
    assert_eq!(inserted, expected);
    assert_eq!(
        store.get_connection(&ws, &new.id).await.unwrap(),
        Some(expected)
    );
    let refresh = store.refresh_token(&new.id).await.unwrap();
    assert_eq!(refresh, Some(RefreshToken::new("refresh-1")));
}

pub async fn connection_with_an_existing_id_is_a_conflict(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let new = new_connection(&ws, "salesforce", "u-1");
    store.insert_connection(&new).await.unwrap();
    let err = store.insert_connection(&new).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert_eq!(err.to_string(), "conflict: connection id already exists");
}

pub async fn another_workspace_sees_no_connection_and_no_token(store: Arc<dyn Store>) {
    let acme = workspace(&store, "acme").await;
    let demo = workspace(&store, "demo").await;
    let conn = connection(&store, &acme).await;
    assert_eq!(store.get_connection(&demo, &conn.id).await.unwrap(), None);
    assert_eq!(store.current_token(&demo, &conn.id).await.unwrap(), None);
    let filter = ConnectionFilter::default();
    assert_eq!(
        store.list_connections(&demo, &filter).await.unwrap(),
        Vec::new()
    );
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
    let mut ids = Vec::new();
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
        ids.push(store.insert_connection(&new).await.unwrap().id);
    }
    let failure = failure(ConnectionStatus::Expired, None);
    store
        .record_refresh_failure(&ids[1], "nobody", None, &failure)
        .await
        .unwrap();
    let listed = |filter: ConnectionFilter| {
        let store = store.clone();
        let ws = ws.clone();
        async move {
            let found = store.list_connections(&ws, &filter).await.unwrap();
            found.into_iter().map(|c| c.id).collect::<Vec<_>>()
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
    store.insert_connection(&new).await.unwrap();
    let current = store.current_token(&ws, &new.id).await.unwrap();
    assert_eq!(
        current,
        Some(CurrentToken {
            connection_id: new.id.clone(),
            status: ConnectionStatus::Active,
            access_token: Some(AccessToken::new("access-1")),
            instance_url: account().instance_url,
            issued_at: new.tokens.issued_at,
            expires_at: new.tokens.expires_at,
            refresh_at: new.tokens.refresh_at,
            token_version: 1,
            next_retry_at: None,
            failed_connector_generation: None,
        })
    );
}

pub async fn touch_last_used_keeps_the_latest_use(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let a = connection(&store, &ws).await;
    let b = connection(&store, &ws).await;
    store
        .touch_last_used(&[(a.id.clone(), at(10)), (b.id.clone(), at(20))])
        .await
        .unwrap();
    store
        .touch_last_used(&[(a.id.clone(), at(5))])
        .await
        .unwrap();
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

pub async fn disconnect_erases_the_tokens(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    store.disconnect(&conn.id, at(30)).await.unwrap();
    let read = store.get_connection(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(read.status, ConnectionStatus::Disconnected);
    assert_eq!(read.access_token_expires_at, None);
    assert_eq!(store.refresh_token(&conn.id).await.unwrap(), None);
    let current = store.current_token(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(current.status, ConnectionStatus::Disconnected);
    assert_eq!(current.access_token, None);
}

pub async fn due_for_retry_lists_degraded_connections_whose_retry_is_due(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let mut ids = Vec::new();
    for retry in [30, 10, 20, 500] {
        let conn = connection(&store, &ws).await;
        let update = failure(ConnectionStatus::Degraded, Some(at(retry)));
        store
            .record_refresh_failure(&conn.id, "nobody", None, &update)
            .await
            .unwrap();
        ids.push(conn.id);
    }
    let expired = connection(&store, &ws).await;
    let update = failure(ConnectionStatus::Expired, Some(at(1)));
    store
        .record_refresh_failure(&expired.id, "nobody", None, &update)
        .await
        .unwrap();
    connection(&store, &ws).await;
    let due = |i: usize| (ws.clone(), ids[i].clone());
    assert_eq!(
        store.due_for_retry(at(100), 10).await.unwrap(),
        [due(1), due(2), due(0)]
    );
    assert_eq!(
        store.due_for_retry(at(100), 2).await.unwrap(),
        [due(1), due(2)]
    );
    assert_eq!(store.due_for_retry(at(0), 10).await.unwrap(), Vec::new());
}

/// A failure outcome with the given status and retry time.
pub fn failure(
    status: ConnectionStatus,
    next_retry_at: Option<chrono::DateTime<chrono::Utc>>,
) -> FailureUpdate {
    FailureUpdate {
        status,
        status_reason: "provider_unavailable".to_owned(),
        diagnosis: Some(serde_json::json!({"cause": "timeout"})),
        refresh_failures: 2,
        next_retry_at,
        failed_connector_generation: Some(3),
    }
}

pub async fn approvals_after_count_the_same_account_on_the_same_connector_only(
    store: Arc<dyn Store>,
) {
    let ws = workspace(&store, "acme").await;
    let first = new_connection(&ws, "salesforce", "u-1");
    store.insert_connection(&first).await.unwrap();
    let later = |user: &str, secs: i64| {
        let mut c = new_connection(&ws, "salesforce", user);
        c.created_at = at(secs);
        c.tokens.issued_at = at(secs);
        c
    };
    for secs in [10, 20, 30] {
        store.insert_connection(&later("u-2", secs)).await.unwrap();
    }
    let mut other_user = later("u-3", 40);
    other_user.account.user_id = "005000000000009AAA".to_owned();
    store.insert_connection(&other_user).await.unwrap();
    let mut other_connector = later("u-4", 50);
    other_connector.connector = connector_name("salesforce-sandbox");
    store.insert_connection(&other_connector).await.unwrap();

    let count = |after| {
        let (store, ws, first) = (store.clone(), ws.clone(), first.clone());
        async move {
            store
                .count_approvals_after(&ws, &first.connector, &first.account, &first.id, after)
                .await
                .unwrap()
        }
    };
    assert_eq!(count(t0()).await, 3);
    assert_eq!(count(at(15)).await, 2);
    assert_eq!(count(at(30)).await, 0);
}

pub async fn idle_connections_lists_active_ones_unused_since_the_cutoff_oldest_first(
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
        store.insert_connection(c).await.unwrap();
    }
    let refreshed_late = make(10);
    store.insert_connection(&refreshed_late).await.unwrap();
    let tokens = crate::fixtures::tokens("access-2", None, at(2_000));
    store
        .try_lease(&refreshed_late.id, "me", at(2_000), at(2_030))
        .await
        .unwrap();
    store
        .record_refresh_success(&refreshed_late.id, "me", None, &tokens, at(2_000))
        .await
        .unwrap();
    let expired = make(20);
    store.insert_connection(&expired).await.unwrap();
    store
        .record_refresh_failure(
            &expired.id,
            "me",
            None,
            &failure(ConnectionStatus::Expired, None),
        )
        .await
        .unwrap();

    let idle = store.idle_connections(at(500), 10).await.unwrap();
    let ids: Vec<_> = idle.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(ids, vec![older.id.clone(), old.id.clone()]);
    assert!(idle.iter().all(|(w, _)| *w == ws));
    assert_eq!(store.idle_connections(at(500), 1).await.unwrap().len(), 1);
}
