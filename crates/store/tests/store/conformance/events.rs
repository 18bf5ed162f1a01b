//! Events: appended with a growing `seq`, listed newest first, paged backwards.

use std::sync::Arc;

use tether_store::{NewEvent, Store};

use crate::fixtures::{at, connection, workspace};

fn event(connection: &tether_store::Connection, second: i64, kind: &str) -> NewEvent {
    NewEvent {
        connection_id: connection.id.clone(),
        workspace_id: connection.workspace_id.clone(),
        at: at(second),
        kind: kind.to_owned(),
        outcome: "success".to_owned(),
        detail: format!("{kind} at {second}"),
        provider_error: (kind == "refresh_failed")
            .then(|| serde_json::json!({"error": "invalid_grant"})),
    }
}

pub async fn events_list_newest_first_and_page_with_before_seq(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let conn = connection(&store, &ws).await;
    let kinds = [
        "connected",
        "refreshed",
        "refresh_failed",
        "reconnected",
        "checked",
    ];
    let mut appended = Vec::new();
    for (second, kind) in kinds.iter().enumerate() {
        let second = i64::try_from(second).unwrap();
        let stored = store
            .append_event(&event(&conn, second, kind))
            .await
            .unwrap();
        assert_eq!(stored.event, event(&conn, second, kind));
        appended.push(stored);
    }
    assert!(appended.windows(2).all(|w| w[0].seq < w[1].seq));
    let newest_first: Vec<_> = appended.iter().rev().cloned().collect();
    let page1 = store.list_events(&ws, &conn.id, None, 2).await.unwrap();
    assert_eq!(page1, newest_first[..2]);
    let page2 = store
        .list_events(&ws, &conn.id, Some(page1[1].seq), 2)
        .await
        .unwrap();
    assert_eq!(page2, newest_first[2..4]);
    let page3 = store
        .list_events(&ws, &conn.id, Some(page2[1].seq), 2)
        .await
        .unwrap();
    assert_eq!(page3, newest_first[4..]);
    let all = store.list_events(&ws, &conn.id, None, 100).await.unwrap();
    assert_eq!(all, newest_first);
}

pub async fn events_are_listed_only_for_their_connection_and_workspace(store: Arc<dyn Store>) {
    let acme = workspace(&store, "acme").await;
    let demo = workspace(&store, "demo").await;
    let mine = connection(&store, &acme).await;
    let other = connection(&store, &acme).await;
    let stored = store
        .append_event(&event(&mine, 1, "connected"))
        .await
        .unwrap();
    store
        .append_event(&event(&other, 2, "connected"))
        .await
        .unwrap();
    assert_eq!(
        store.list_events(&acme, &mine.id, None, 10).await.unwrap(),
        vec![stored]
    );
    assert_eq!(
        store.list_events(&demo, &mine.id, None, 10).await.unwrap(),
        Vec::new()
    );
}
