//! Events: appended with a growing `seq`, listed newest first, paged backwards.

use std::sync::Arc;

use tether_core::event::EventKind;
use tether_store::{PageRequest, SeqCursor, Store};

use crate::fixtures::{
    acme_connection, append, at, connected, connection, event, events_of, insert, new_connection,
    session, workspace,
};

pub async fn events_list_newest_first_and_page_backwards_from_each_pages_next(
    store: Arc<dyn Store>,
) {
    let ws = workspace(&store, "acme").await;
    let new = new_connection(&ws, "salesforce", "u-1");
    let conn = insert(&store, &new).await;
    let kinds = [
        EventKind::Checked,
        EventKind::Refreshed,
        EventKind::RefreshFailed,
        EventKind::Reconnected,
        EventKind::LifetimeWarning,
    ];
    let mut appended = Vec::new();
    for (second, kind) in kinds.into_iter().enumerate() {
        let second = i64::try_from(second).unwrap();
        let stored = store
            .append_event(&event(&conn, second, kind))
            .await
            .unwrap();
        assert_eq!(stored.event, event(&conn, second, kind));
        appended.push(stored);
    }
    assert!(appended.windows(2).all(|w| w[0].seq < w[1].seq));
    let all = events_of(&store, &ws, &conn.id).await;
    let newest_first: Vec<_> = appended.iter().rev().cloned().collect();
    assert_eq!(all[..5], newest_first);
    assert_eq!(all.len(), 6);
    assert_eq!(
        all[5].event,
        connected(&new),
        "the insert's event comes first"
    );
    assert!(all[5].seq < appended[0].seq);

    // Pages of two: each page's `next` is where the following one starts; the last has none.
    let mut request = PageRequest::first(2);
    let mut pages = Vec::new();
    loop {
        let page = store.list_events(&ws, &conn.id, &request).await.unwrap();
        pages.push(page.events);
        match page.next {
            Some(next) => request.after = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, [&all[..2], &all[2..4], &all[4..]]);
    let last = SeqCursor { seq: all[5].seq };
    let past_the_end = store
        .list_events(
            &ws,
            &conn.id,
            &PageRequest {
                after: Some(last),
                limit: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!((past_the_end.events, past_the_end.next), (Vec::new(), None));
}

pub async fn events_are_listed_only_for_their_connection_and_workspace(store: Arc<dyn Store>) {
    let acme = workspace(&store, "acme").await;
    let demo = workspace(&store, "demo").await;
    let mine = connection(&store, &acme).await;
    let other = connection(&store, &acme).await;
    let stored = append(&store, &mine, 1, EventKind::Checked).await;
    append(&store, &other, 2, EventKind::Checked).await;
    let listed = events_of(&store, &acme, &mine.id).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], stored);
    assert_eq!(listed[1].event.kind, EventKind::Connected);
    assert_eq!(events_of(&store, &demo, &mine.id).await, Vec::new());
}

pub async fn retention_deletes_events_and_connect_sessions_older_than_the_cutoff(
    store: Arc<dyn Store>,
) {
    let (ws, conn) = acme_connection(&store).await;
    for second in [10, 20, 30] {
        append(&store, &conn, second, EventKind::Checked).await;
    }
    // The connected event is at 0: with the cutoff at 25, it and the events at 10 and 20 go,
    // one at a time when the batch is one.
    assert_eq!(store.purge_events(at(25), 1).await.unwrap(), 1);
    assert_eq!(store.purge_events(at(25), 10).await.unwrap(), 2);
    assert_eq!(store.purge_events(at(25), 10).await.unwrap(), 0);
    let left = events_of(&store, &ws, &conn.id).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].event.at, at(30));

    for (state, expires) in [(1, 100), (2, 200)] {
        store
            .insert_connect_session(&session(&ws.clone(), state, at(expires)))
            .await
            .unwrap();
    }
    assert_eq!(store.purge_connect_sessions(at(150), 10).await.unwrap(), 1);
    assert_eq!(store.purge_connect_sessions(at(150), 10).await.unwrap(), 0);
}

pub async fn the_event_cap_keeps_the_newest_events_of_connections_active_since_the_given_time(
    store: Arc<dyn Store>,
) {
    let ws = workspace(&store, "acme").await;
    let busy = connection(&store, &ws).await;
    let quiet = connection(&store, &ws).await;
    for second in 1..=5 {
        append(&store, &busy, second, EventKind::Checked).await;
    }
    append(&store, &quiet, 1, EventKind::Checked).await;

    // Only `busy` recorded events since second 2; it keeps its newest three.
    let capped = store.cap_events(at(2), 3, 100).await.unwrap();
    assert_eq!(capped.deleted, 3, "connected, 1 s and 2 s go");
    assert!(capped.complete);
    let left: Vec<_> = events_of(&store, &ws, &busy.id)
        .await
        .into_iter()
        .map(|e| e.event.at)
        .collect();
    assert_eq!(left, vec![at(5), at(4), at(3)]);
    assert_eq!(
        events_of(&store, &ws, &quiet.id).await.len(),
        2,
        "a connection with no recent event is not looked at"
    );

    let again = store.cap_events(at(0), 1, 1).await.unwrap();
    assert!(!again.complete, "one connection per call, two have events");
}
