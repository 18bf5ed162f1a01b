//! Connect sessions: stored with their verifier, consumed at most once, never after expiry.

use std::sync::Arc;

use tether_store::{ConsumeOutcome, PageSession, Store, StoreError};
use tokio::task::JoinSet;

use crate::fixtures::{at, consume, pending_session, session, workspace};

pub async fn connect_session_reads_back_with_its_verifier(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let mut pending = session(&ws, 1, at(900));
    pending.reconnect_of = Some(tether_core::ids::ConnectionId::generate());
    pending.allow_different_account = true;
    pending.redirect_to = None;
    store.insert_connect_session(&pending).await.unwrap();
    assert_eq!(
        store.get_connect_session(&pending.id).await.unwrap(),
        Some(pending.clone())
    );
    let unknown = tether_core::ids::ConnectSessionId::generate();
    assert_eq!(store.get_connect_session(&unknown).await.unwrap(), None);
}

pub async fn connect_session_is_consumed_once_then_already_used(store: Arc<dyn Store>) {
    let pending = pending_session(&store, 2).await;
    assert_eq!(
        consume(&store, 2, 10).await,
        ConsumeOutcome::Consumed(pending)
    );
    assert_eq!(consume(&store, 2, 11).await, ConsumeOutcome::AlreadyUsed);
}

pub async fn expired_connect_session_is_not_consumable(store: Arc<dyn Store>) {
    pending_session(&store, 3).await;
    assert_eq!(consume(&store, 3, 900).await, ConsumeOutcome::Expired);
    assert_eq!(
        consume(&store, 3, 901).await,
        ConsumeOutcome::Expired,
        "an expired state stays unconsumed"
    );
}

pub async fn unknown_state_is_unknown(store: Arc<dyn Store>) {
    assert_eq!(consume(&store, 9, 0).await, ConsumeOutcome::Unknown);
}

pub async fn concurrent_callbacks_consume_a_state_exactly_once(store: Arc<dyn Store>) {
    pending_session(&store, 4).await;
    let mut tasks = JoinSet::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.spawn(async move { store.consume_connect_session(&[4; 32], at(5)).await });
    }
    let outcomes = tasks.join_all().await;
    let consumed = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(ConsumeOutcome::Consumed(_))))
        .count();
    let used = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(ConsumeOutcome::AlreadyUsed)))
        .count();
    assert_eq!((consumed, used), (1, 19));
}

pub async fn second_session_with_the_same_state_is_a_conflict(store: Arc<dyn Store>) {
    let first = pending_session(&store, 5).await;
    let err = store
        .insert_connect_session(&session(&first.workspace_id, 5, at(900)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "conflict: connect session id or state already exists"
    );
}

pub async fn a_page_session_lives_until_it_ends_or_expires_and_only_for_its_workspace(
    store: Arc<dyn Store>,
) {
    let ws = workspace(&store, "acme").await;
    let other = workspace(&store, "other").await;
    let (mine, colleague) = ([7; 32], [8; 32]);
    for nonce_sha256 in [mine, colleague] {
        let session = PageSession {
            nonce_sha256,
            workspace_id: ws.clone(),
            created_at: at(0),
            expires_at: at(100),
        };
        store.insert_page_session(&session).await.unwrap();
    }
    assert!(store.page_session_live(&mine, &ws, at(50)).await.unwrap());
    assert!(
        !store
            .page_session_live(&mine, &other, at(50))
            .await
            .unwrap()
    );
    assert!(!store.page_session_live(&mine, &ws, at(100)).await.unwrap());

    store.end_page_session(&mine).await.unwrap();
    assert!(!store.page_session_live(&mine, &ws, at(50)).await.unwrap());
    assert!(
        store
            .page_session_live(&colleague, &ws, at(50))
            .await
            .unwrap(),
        "signing out ends only that session"
    );

    assert_eq!(store.purge_page_sessions(at(150), 10).await.unwrap(), 1);
    assert!(
        !store
            .page_session_live(&colleague, &ws, at(50))
            .await
            .unwrap()
    );
}
