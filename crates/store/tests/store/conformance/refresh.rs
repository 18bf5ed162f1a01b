//! The refresh protocol: the lease taken once across contenders, re-taken after expiry, and
//! the writes of a refresh's success or failure and of a reconnect.

use std::sync::Arc;

use tether_core::secret::{AccessToken, RefreshToken};
use tether_core::status::ConnectionStatus;
use tether_store::{Account, Connection, Store};
use tokio::task::JoinSet;

use super::connections::failure;
use crate::fixtures::{at, connection, t0, tokens, workspace};

pub async fn lease_is_taken_once_under_contention(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    let mut tasks = JoinSet::new();
    for worker in 0..50 {
        let store = store.clone();
        let id = conn.id.clone();
        tasks.spawn(async move {
            store
                .try_lease(&id, &format!("worker-{worker}"), at(0), at(30))
                .await
        });
    }
    let results = tasks.join_all().await;
    let taken = results.iter().filter(|r| matches!(r, Ok(true))).count();
    let refused = results.iter().filter(|r| matches!(r, Ok(false))).count();
    assert_eq!((taken, refused), (1, 49), "{results:?}");
}

pub async fn lease_is_retaken_only_after_it_expires(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    assert!(store.try_lease(&conn.id, "a", at(0), at(30)).await.unwrap());
    assert!(
        !store
            .try_lease(&conn.id, "b", at(29), at(59))
            .await
            .unwrap()
    );
    assert!(
        store
            .try_lease(&conn.id, "a", at(29), at(59))
            .await
            .unwrap(),
        "owner extends"
    );
    assert!(
        store
            .try_lease(&conn.id, "b", at(59), at(89))
            .await
            .unwrap()
    );
    assert!(
        !store
            .try_lease(&conn.id, "a", at(60), at(90))
            .await
            .unwrap()
    );
}

pub async fn release_lease_frees_it_only_for_its_owner(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    assert!(store.try_lease(&conn.id, "a", at(0), at(30)).await.unwrap());
    store.release_lease(&conn.id, "b").await.unwrap();
    assert!(!store.try_lease(&conn.id, "b", at(1), at(31)).await.unwrap());
    store.release_lease(&conn.id, "a").await.unwrap();
    assert!(store.try_lease(&conn.id, "b", at(1), at(31)).await.unwrap());
}

pub async fn refresh_without_a_new_refresh_token_keeps_the_old_one(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    assert!(
        store
            .try_lease(&conn.id, "a", at(6000), at(6030))
            .await
            .unwrap()
    );
    let refreshed = tokens("access-2", None, at(6000));
    store
        .record_refresh_success(&conn.id, "a", None, &refreshed, at(6001))
        .await
        .unwrap();
    assert_eq!(
        store.refresh_token(&conn.id).await.unwrap(),
        Some(RefreshToken::new("refresh-1"))
    );
    let current = store.current_token(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(current.access_token, Some(AccessToken::new("access-2")));
    assert_eq!(current.token_version, 2);
    assert_eq!(
        (current.issued_at, current.expires_at),
        (at(6000), refreshed.expires_at)
    );
    assert_eq!(current.refresh_at, refreshed.refresh_at);
    let read = store.get_connection(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(read.last_refreshed_at, Some(at(6001)));
    assert_eq!(
        read.refresh_token_issued_at,
        Some(t0()),
        "no rotation, no new issue time"
    );
}

pub async fn refresh_with_a_new_refresh_token_replaces_it(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    let refreshed = tokens("access-2", Some("refresh-2"), at(6000));
    store
        .record_refresh_success(&conn.id, "a", None, &refreshed, at(6001))
        .await
        .unwrap();
    assert_eq!(
        store.refresh_token(&conn.id).await.unwrap(),
        Some(RefreshToken::new("refresh-2"))
    );
    let read = store.get_connection(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(read.refresh_token_issued_at, Some(at(6001)));
}

pub async fn refresh_success_clears_the_failure_and_releases_the_lease(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    assert!(store.try_lease(&conn.id, "a", at(0), at(30)).await.unwrap());
    let update = failure(ConnectionStatus::Degraded, Some(at(60)));
    store
        .record_refresh_failure(&conn.id, "nobody", None, &update)
        .await
        .unwrap();
    assert!(!store.try_lease(&conn.id, "b", at(1), at(31)).await.unwrap());
    let refreshed = tokens("access-2", None, at(10));
    store
        .record_refresh_success(&conn.id, "a", None, &refreshed, at(11))
        .await
        .unwrap();
    let read = store.get_connection(&ws, &conn.id).await.unwrap().unwrap();
    let expected = Connection {
        last_refreshed_at: Some(at(11)),
        access_token_expires_at: Some(refreshed.expires_at),
        ..conn.clone()
    };
    assert_eq!(read, expected);
    assert!(
        store
            .try_lease(&conn.id, "b", at(12), at(42))
            .await
            .unwrap(),
        "lease released"
    );
}

pub async fn refresh_failure_stores_the_outcome_and_releases_the_lease(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    assert!(store.try_lease(&conn.id, "a", at(0), at(30)).await.unwrap());
    let update = failure(ConnectionStatus::Degraded, Some(at(60)));
    store
        .record_refresh_failure(&conn.id, "a", None, &update)
        .await
        .unwrap();
    let read = store.get_connection(&ws, &conn.id).await.unwrap().unwrap();
    let expected = Connection {
        status: ConnectionStatus::Degraded,
        status_reason: Some("provider_unavailable".to_owned()),
        diagnosis: Some(serde_json::json!({"cause": "timeout"})),
        refresh_failures: 2,
        next_retry_at: Some(at(60)),
        failed_connector_generation: Some(3),
        ..conn.clone()
    };
    assert_eq!(read, expected);
    let current = store.current_token(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(
        current.access_token,
        Some(AccessToken::new("access-1")),
        "still served"
    );
    assert_eq!(
        (current.next_retry_at, current.failed_connector_generation),
        (Some(at(60)), Some(3))
    );
    assert!(
        store.try_lease(&conn.id, "b", at(1), at(31)).await.unwrap(),
        "lease released"
    );
}

pub async fn late_refresh_does_not_revive_a_disconnected_connection(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    assert!(store.try_lease(&conn.id, "a", at(0), at(30)).await.unwrap());
    store.disconnect(&conn.id, at(1)).await.unwrap();
    let refreshed = tokens("access-2", Some("refresh-2"), at(2));
    store
        .record_refresh_success(&conn.id, "a", None, &refreshed, at(2))
        .await
        .unwrap();
    let update = failure(ConnectionStatus::Degraded, Some(at(60)));
    store
        .record_refresh_failure(&conn.id, "a", None, &update)
        .await
        .unwrap();
    let current = store.current_token(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(
        (current.status, current.access_token),
        (ConnectionStatus::Disconnected, None)
    );
    assert_eq!(store.refresh_token(&conn.id).await.unwrap(), None);
}

pub async fn reconnect_replaces_tokens_and_account_and_clears_the_failure(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    let update = failure(ConnectionStatus::Expired, None);
    store
        .record_refresh_failure(&conn.id, "nobody", None, &update)
        .await
        .unwrap();
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
    store
        .replace_connection_tokens(&conn.id, &account, &scopes, &fresh, at(101))
        .await
        .unwrap();
    let read = store.get_connection(&ws, &conn.id).await.unwrap().unwrap();
    let expected = Connection {
        account,
        scopes,
        refresh_token_issued_at: Some(at(101)),
        access_token_expires_at: Some(fresh.expires_at),
        ..conn.clone()
    };
    assert_eq!(read, expected);
    assert_eq!(
        store.refresh_token(&conn.id).await.unwrap(),
        Some(RefreshToken::new("refresh-9"))
    );
    let current = store.current_token(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(
        (current.access_token, current.token_version),
        (Some(AccessToken::new("access-9")), 2)
    );
}

pub async fn an_annotation_marks_an_active_connection_and_the_next_refresh_clears_it(
    store: Arc<dyn Store>,
) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    let note = serde_json::json!({"cause": "api_disabled"});
    store
        .annotate_connection(&conn.id, "api_disabled", &note)
        .await
        .unwrap();
    let annotated = store.get_connection(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(annotated.status, ConnectionStatus::Active);
    assert_eq!(annotated.status_reason.as_deref(), Some("api_disabled"));
    assert_eq!(annotated.diagnosis, Some(note));

    store
        .try_lease(&conn.id, "me", at(10), at(40))
        .await
        .unwrap();
    let fresh = tokens("access-2", None, at(10));
    store
        .record_refresh_success(&conn.id, "me", None, &fresh, at(10))
        .await
        .unwrap();
    let cleared = store.get_connection(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!((cleared.status_reason, cleared.diagnosis), (None, None));
}

pub async fn a_refresh_outcome_fenced_by_a_stale_version_does_not_land(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    let seen = store
        .current_token(&ws, &conn.id)
        .await
        .unwrap()
        .unwrap()
        .token_version;

    // The first refresh lands and moves the version.
    store
        .try_lease(&conn.id, "a", at(10), at(40))
        .await
        .unwrap();
    let first = tokens("access-2", Some("refresh-2"), at(10));
    let landed = store
        .record_refresh_success(&conn.id, "a", Some(seen), &first, at(10))
        .await
        .unwrap();
    assert!(landed);

    // A second refresher that started from the same version (a lease that ran out, or a
    // reconnect in between) must not overwrite it, neither with tokens nor with a failure.
    store
        .try_lease(&conn.id, "b", at(20), at(50))
        .await
        .unwrap();
    let stale = tokens("access-stale", Some("refresh-stale"), at(20));
    let landed = store
        .record_refresh_success(&conn.id, "b", Some(seen), &stale, at(20))
        .await
        .unwrap();
    assert!(!landed);
    let update = failure(ConnectionStatus::Expired, None);
    let landed = store
        .record_refresh_failure(&conn.id, "b", Some(seen), &update)
        .await
        .unwrap();
    assert!(!landed);

    let current = store.current_token(&ws, &conn.id).await.unwrap().unwrap();
    assert_eq!(current.access_token, Some(AccessToken::new("access-2")));
    assert_eq!(current.status, ConnectionStatus::Active);
    assert_eq!(current.token_version, seen + 1);
    assert_eq!(
        store.refresh_token(&conn.id).await.unwrap(),
        Some(RefreshToken::new("refresh-2"))
    );
    // The losing writer still gave its lease back.
    assert!(
        store
            .try_lease(&conn.id, "c", at(21), at(51))
            .await
            .unwrap()
    );
}
