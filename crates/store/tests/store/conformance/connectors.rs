//! Connectors: upsert with generations, reads scoped to the workspace, deletion.

use std::sync::Arc;

use tether_core::event::EventKind;
use tether_core::ids::{ConnectorName, WorkspaceId};
use tether_core::refresh::Grant;
use tether_core::secret::ClientSecret;
use tether_core::status::ConnectionStatus;
use tether_store::{Connection, Connector, ConnectorDeletion, JwtKeys, Store};

use crate::fixtures::{
    at, claim, connection, connector_input, connector_name, event, fail, failure, t0, workspace,
};
use crate::secrets::jwt_key;

pub async fn upsert_connector_creates_then_replaces_and_bumps_the_generation(
    store: Arc<dyn Store>,
) {
    let ws = workspace(&store, "acme").await;
    let name = connector_name("salesforce");
    let created = store
        .upsert_connector(&ws, &name, &connector_input("s-1"), t0())
        .await;
    let created = created.unwrap();
    assert_eq!(
        created,
        Connector {
            workspace_id: ws.clone(),
            name: name.clone(),
            input: connector_input("s-1"),
            keys: JwtKeys::default(),
            created_at: t0(),
            updated_at: t0(),
            generation: 1,
        }
    );
    let mut changed = connector_input("s-2");
    changed.scopes = vec!["api".to_owned()];
    changed.refresh_token_policy = None;
    changed.session_timeout_seconds = None;
    let updated = store
        .upsert_connector(&ws, &name, &changed, at(60))
        .await
        .unwrap();
    let expected = Connector {
        input: changed,
        updated_at: at(60),
        generation: 2,
        ..created.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(
        store.get_connector(&ws, &name).await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        updated.input.client_secret,
        Some(ClientSecret::new("s-2")),
        "the client secret reads back decrypted"
    );
}

pub async fn a_jwt_bearer_connector_keeps_its_key_until_it_changes_grant_and_rotates_in_two_steps(
    store: Arc<dyn Store>,
) {
    let ws = workspace(&store, "acme").await;
    let name = connector_name("salesforce-jwt");
    let mut input = connector_input("unused");
    input.grant = Grant::JwtBearer;
    input.client_secret = None;
    input.allowed_usernames = Some(vec!["ana@acme.example".to_owned()]);
    let (first, second) = (jwt_key("key-1"), jwt_key("key-2"));
    let put = |input, key, secs| {
        let (store, ws, name) = (store.clone(), ws.clone(), name.clone());
        async move {
            store
                .put_connector(&ws, &name, &input, key, at(secs))
                .await
                .unwrap()
        }
    };
    let created = put(input.clone(), Some(&first), 0).await;
    assert_eq!(created.input, input, "no secret, the usernames, the grant");
    assert_eq!(created.keys.active, Some(first.clone()));
    let edited = put(input.clone(), Some(&second), 10).await;
    assert_eq!(
        edited.keys.active,
        Some(first.clone()),
        "an edit that keeps the grant keeps the key"
    );

    let pending = store
        .set_pending_jwt_key(&ws, &name, &second, at(20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (pending.keys.active.as_ref(), pending.keys.pending.as_ref()),
        (Some(&first), Some(&second))
    );
    assert_eq!(
        pending.generation, edited.generation,
        "signing is unchanged"
    );
    let activated = store
        .activate_pending_jwt_key(&ws, &name, at(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        activated.keys,
        JwtKeys {
            active: Some(second.clone()),
            pending: None
        }
    );
    assert_eq!(activated.generation, edited.generation + 1);
    assert_eq!(
        store.get_connector(&ws, &name).await.unwrap(),
        Some(activated.clone())
    );
    assert_eq!(
        store
            .activate_pending_jwt_key(&ws, &name, at(40))
            .await
            .unwrap(),
        None,
        "nothing pending"
    );

    let switched = put(connector_input("s"), Some(&first), 50).await;
    assert_eq!(
        switched.keys,
        JwtKeys::default(),
        "other grants keep no key"
    );
    assert_eq!(
        store
            .set_pending_jwt_key(&ws, &name, &first, at(60))
            .await
            .unwrap(),
        None
    );
    let back = put(input, Some(&first), 70).await;
    assert_eq!(back.keys.active, Some(first), "switched back: the new key");
}

pub async fn connectors_are_listed_by_name_and_only_in_their_workspace(store: Arc<dyn Store>) {
    let acme = workspace(&store, "acme").await;
    let demo = workspace(&store, "demo").await;
    for name in ["sf-b", "sf-a"] {
        store
            .upsert_connector(&acme, &connector_name(name), &connector_input("s"), t0())
            .await
            .unwrap();
    }
    let names: Vec<String> = store
        .list_connectors(&acme)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name.to_string())
        .collect();
    assert_eq!(names, ["sf-a", "sf-b"]);
    assert_eq!(store.list_connectors(&demo).await.unwrap(), Vec::new());
    assert_eq!(
        store
            .get_connector(&demo, &connector_name("sf-a"))
            .await
            .unwrap(),
        None
    );
}

pub async fn delete_connector_reports_deleted_not_found_or_in_use(store: Arc<dyn Store>) {
    let acme = workspace(&store, "acme").await;
    let demo = workspace(&store, "demo").await;
    let name = connector_name("salesforce");
    store
        .upsert_connector(&acme, &name, &connector_input("s"), t0())
        .await
        .unwrap();
    let active = connection(&store, &acme).await;
    let degraded = connection(&store, &acme).await;
    fail(&store, &degraded, failure(ConnectionStatus::Degraded, None)).await;
    let gone = connection(&store, &acme).await;
    let bye = event(&gone, 1, EventKind::StatusChanged);
    assert!(store.disconnect(&acme, &gone.id, &bye).await.unwrap());

    assert_eq!(
        store.delete_connector(&demo, &name).await.unwrap(),
        ConnectorDeletion::NotFound,
        "another workspace's connector is not found"
    );
    assert_eq!(
        store.delete_connector(&acme, &name).await.unwrap(),
        ConnectorDeletion::InUse(2),
        "the disconnected connection does not count"
    );
    assert!(store.get_connector(&acme, &name).await.unwrap().is_some());

    for conn in [&active, &degraded] {
        let bye = event(conn, 2, EventKind::StatusChanged);
        assert!(store.disconnect(&acme, &conn.id, &bye).await.unwrap());
    }
    assert_eq!(
        store.delete_connector(&acme, &name).await.unwrap(),
        ConnectorDeletion::Deleted
    );
    assert_eq!(
        store.delete_connector(&acme, &name).await.unwrap(),
        ConnectorDeletion::NotFound
    );
    assert_eq!(store.get_connector(&acme, &name).await.unwrap(), None);
}

/// A workspace `acme` whose connector `salesforce` (generation 1) failed its one connection,
/// degraded since, with no retry time.
async fn failed_on_its_connector(
    store: &Arc<dyn Store>,
) -> (WorkspaceId, ConnectorName, Connection) {
    let ws = workspace(store, "acme").await;
    let name = connector_name("salesforce");
    let first = store
        .upsert_connector(&ws, &name, &connector_input("bad"), t0())
        .await
        .unwrap();
    assert_eq!(first.generation, 1);
    let conn = connection(store, &ws).await;
    let mut update = failure(ConnectionStatus::Degraded, None);
    update.failed_connector_generation = Some(first.generation);
    fail(store, &conn, update).await;
    (ws, name, conn)
}

pub async fn recreated_connector_counts_as_changed_for_connections_that_failed_on_it(
    store: Arc<dyn Store>,
) {
    let (ws, name, conn) = failed_on_its_connector(&store).await;
    let bye = event(&conn, 1, EventKind::StatusChanged);
    assert!(store.disconnect(&ws, &conn.id, &bye).await.unwrap());
    assert_eq!(
        store.delete_connector(&ws, &name).await.unwrap(),
        ConnectorDeletion::Deleted
    );
    let again = store
        .upsert_connector(&ws, &name, &connector_input("good"), at(5))
        .await;
    assert_eq!(again.unwrap().generation, 2);
}

pub async fn a_connection_degraded_by_its_connector_is_due_once_the_connector_changes(
    store: Arc<dyn Store>,
) {
    let (ws, name, conn) = failed_on_its_connector(&store).await;
    // No backoff time is set: only a changed connector makes it due.
    assert!(
        store
            .due_for_retry(at(3_600), &claim("a"), 10)
            .await
            .unwrap()
            .is_empty()
    );

    store
        .upsert_connector(&ws, &name, &connector_input("good"), at(5))
        .await
        .unwrap();
    let due = store.due_for_retry(at(6), &claim("a"), 10).await.unwrap();
    assert_eq!(due, vec![(ws.clone(), conn.id.clone())]);
}
