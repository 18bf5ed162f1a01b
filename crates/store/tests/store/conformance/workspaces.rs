//! Workspaces, API keys, migrations and readiness.

use std::sync::Arc;

use tether_core::ids::{ApiKeyId, WorkspaceName};
use tether_store::{ApiKeyRecord, Store, StoreError, Workspace};

use crate::fixtures::{at, t0, workspace};

pub async fn ensure_workspace_creates_once_and_returns_the_same_workspace(store: Arc<dyn Store>) {
    let name = WorkspaceName::parse("acme").unwrap();
    let first = store.ensure_workspace(&name, t0()).await.unwrap();
    let again = store.ensure_workspace(&name, at(60)).await.unwrap();
    assert_eq!(
        first,
        Workspace {
            id: first.id.clone(),
            name: name.clone(),
            created_at: t0()
        }
    );
    assert_eq!(again, first);
    let other = store
        .ensure_workspace(&WorkspaceName::parse("demo").unwrap(), t0())
        .await;
    assert_ne!(other.unwrap().id, first.id);
}

/// A new API key of a workspace `acme`, stored.
async fn inserted_api_key(store: &Arc<dyn Store>) -> ApiKeyRecord {
    let key = ApiKeyRecord {
        id: ApiKeyId::generate(),
        workspace_id: workspace(store, "acme").await,
        secret_sha256: [7; 32],
        created_at: t0(),
    };
    store.insert_api_key(&key).await.unwrap();
    key
}

pub async fn api_key_is_found_by_id_with_its_hash(store: Arc<dyn Store>) {
    let key = inserted_api_key(&store).await;
    assert_eq!(store.find_api_key(&key.id).await.unwrap(), Some(key));
    assert_eq!(
        store.find_api_key(&ApiKeyId::generate()).await.unwrap(),
        None
    );
}

pub async fn api_key_with_an_existing_id_is_a_conflict(store: Arc<dyn Store>) {
    let key = inserted_api_key(&store).await;
    let err = store.insert_api_key(&key).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert_eq!(err.to_string(), "conflict: api key id already exists");
}

pub async fn migrate_again_and_ping_succeed(store: Arc<dyn Store>) {
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}
