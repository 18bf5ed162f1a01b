//! Paging the connection listing: every connection exactly once, newest first, ties broken by
//! id, whatever is inserted or changed between pages, with every filter; and the counts the
//! page's header shows.

use std::collections::HashSet;
use std::sync::Arc;

use tether_core::event::EventKind;
use tether_core::ids::{ConnectionId, WorkspaceId};
use tether_core::status::ConnectionStatus;
use tether_store::{ConnectionCount, ConnectionCursor, ConnectionFilter, PageRequest, Store};

use crate::fixtures::{
    at, connector_name, end_user, event, fail, failure, insert, new_connection, workspace,
};

/// Every page of `filter` at `limit` per page, as ids; asserts each page but the last is full
/// and the last says there is no next one.
async fn paged(
    store: &Arc<dyn Store>,
    ws: &WorkspaceId,
    filter: &ConnectionFilter,
    limit: i64,
) -> Vec<ConnectionId> {
    let mut ids = Vec::new();
    let mut after: Option<ConnectionCursor> = None;
    loop {
        let page = store
            .list_connections(ws, filter, &PageRequest { after, limit })
            .await
            .unwrap();
        ids.extend(page.connections.iter().map(|c| c.id.clone()));
        match page.next {
            Some(next) => {
                assert_eq!(
                    page.connections.len() as i64,
                    limit,
                    "a page before the last is full"
                );
                assert_eq!(
                    Some(&next),
                    page.connections.last().map(ConnectionCursor::of).as_ref()
                );
                after = Some(next);
            }
            None => return ids,
        }
    }
}

/// Inserts `count` connections of `connector` for end user `user`, the i-th created at
/// `at(first_second + i)`; their ids, oldest first.
async fn insert_many(
    store: &Arc<dyn Store>,
    ws: &WorkspaceId,
    count: usize,
    first_second: i64,
) -> Vec<ConnectionId> {
    let mut ids = Vec::new();
    for i in 0..count {
        let mut new = new_connection(ws, "salesforce", &format!("u-{i}"));
        new.created_at = at(first_second + i64::try_from(i).unwrap());
        ids.push(insert(store, &new).await.id);
    }
    ids
}

pub async fn pages_visit_every_connection_exactly_once_newest_first(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let other = workspace(&store, "other").await;
    let mut newest_first = insert_many(&store, &ws, 12, 0).await;
    newest_first.reverse();
    insert_many(&store, &other, 3, 100).await;
    let all = ConnectionFilter::default();
    for limit in [1, 5, 6, 12, 1000] {
        assert_eq!(
            paged(&store, &ws, &all, limit).await,
            newest_first,
            "pages of {limit}"
        );
    }
}

pub async fn connections_created_in_the_same_millisecond_are_ordered_by_id_across_pages(
    store: Arc<dyn Store>,
) {
    let ws = workspace(&store, "acme").await;
    let mut ids = Vec::new();
    for i in 0..9 {
        let mut new = new_connection(&ws, "salesforce", &format!("u-{i}"));
        new.created_at = at(if i < 7 { 5 } else { 6 });
        ids.push(insert(&store, &new).await.id);
    }
    let (mut tied, mut newer) = (ids[..7].to_vec(), ids[7..].to_vec());
    tied.sort_by(|a, b| b.as_str().cmp(a.as_str()));
    newer.sort_by(|a, b| b.as_str().cmp(a.as_str()));
    let expected: Vec<ConnectionId> = newer.into_iter().chain(tied).collect();
    for limit in [1, 2, 3, 4] {
        let listed = paged(&store, &ws, &ConnectionFilter::default(), limit).await;
        assert_eq!(listed, expected, "pages of {limit}");
    }
}

pub async fn paging_is_stable_under_inserts_and_status_changes_between_pages(
    store: Arc<dyn Store>,
) {
    let ws = workspace(&store, "acme").await;
    let existing = insert_many(&store, &ws, 10, 0).await;
    let all = ConnectionFilter::default();
    let mut seen = Vec::new();
    let mut after: Option<ConnectionCursor> = None;
    let mut round = 0;
    loop {
        let page = store
            .list_connections(&ws, &all, &PageRequest { after, limit: 3 })
            .await
            .unwrap();
        seen.extend(page.connections.iter().map(|c| c.id.clone()));
        // Between pages: new connections arrive (newer than everything), and one already
        // listed and one not yet listed change status.
        insert_many(&store, &ws, 2, 1_000 + round * 10).await;
        if let Some(listed) = page.connections.first() {
            fail(&store, listed, failure(ConnectionStatus::Expired, None)).await;
        }
        round += 1;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let mut expected = existing.clone();
    expected.reverse();
    assert_eq!(
        seen, expected,
        "each connection that existed once, in order"
    );
    let unique: HashSet<&ConnectionId> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no connection twice");
}

pub async fn filters_keep_working_across_pages(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let mut made = Vec::new();
    for i in 0..12_i64 {
        let connector = if i % 3 == 0 {
            "sf-sandbox"
        } else {
            "salesforce"
        };
        let user = if i % 2 == 0 { "u-even" } else { "u-odd" };
        let mut new = new_connection(&ws, connector, user);
        new.created_at = at(i);
        let connection = insert(&store, &new).await;
        if i % 4 == 1 {
            fail(
                &store,
                &connection,
                failure(ConnectionStatus::Expired, None),
            )
            .await;
        }
        made.push((i, connection.id));
    }
    let newest_first = |keep: &dyn Fn(i64) -> bool| -> Vec<ConnectionId> {
        made.iter()
            .rev()
            .filter(|(i, _)| keep(*i))
            .map(|(_, id)| id.clone())
            .collect()
    };
    let cases: [(ConnectionFilter, Vec<ConnectionId>); 4] = [
        (
            ConnectionFilter {
                connector: Some(connector_name("sf-sandbox")),
                ..ConnectionFilter::default()
            },
            newest_first(&|i| i % 3 == 0),
        ),
        (
            ConnectionFilter {
                status: Some(ConnectionStatus::Expired),
                ..ConnectionFilter::default()
            },
            newest_first(&|i| i % 4 == 1),
        ),
        (
            ConnectionFilter {
                end_user_id: Some(end_user("u-even")),
                ..ConnectionFilter::default()
            },
            newest_first(&|i| i % 2 == 0),
        ),
        (
            ConnectionFilter {
                status: Some(ConnectionStatus::Active),
                connector: Some(connector_name("salesforce")),
                end_user_id: Some(end_user("u-odd")),
            },
            newest_first(&|i| i % 3 != 0 && i % 2 == 1 && i % 4 != 1),
        ),
    ];
    for (filter, expected) in cases {
        assert!(!expected.is_empty());
        for limit in [1, 2, 5] {
            assert_eq!(
                paged(&store, &ws, &filter, limit).await,
                expected,
                "{filter:?} in pages of {limit}"
            );
        }
    }
}

/// The workspace's counts, by connector then status.
async fn sorted_counts(store: &Arc<dyn Store>, ws: &WorkspaceId) -> Vec<ConnectionCount> {
    let mut counts = store.count_connections(ws).await.unwrap();
    counts.sort_by(|a, b| {
        (a.connector.as_str(), a.status.as_str()).cmp(&(b.connector.as_str(), b.status.as_str()))
    });
    counts
}

pub async fn counts_are_per_connector_and_status_of_the_workspace(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let other = workspace(&store, "other").await;
    let mut made = Vec::new();
    for (connector, user) in [
        ("salesforce", "a"),
        ("salesforce", "b"),
        ("sf-sandbox", "c"),
    ] {
        made.push(insert(&store, &new_connection(&ws, connector, user)).await);
    }
    let expired = insert(&store, &new_connection(&ws, "salesforce", "d")).await;
    fail(&store, &expired, failure(ConnectionStatus::Expired, None)).await;
    insert(&store, &new_connection(&other, "salesforce", "e")).await;
    let count = |connector: &str, status, count| ConnectionCount {
        connector: connector_name(connector),
        status,
        count,
    };
    assert_eq!(
        sorted_counts(&store, &ws).await,
        [
            count("salesforce", ConnectionStatus::Active, 2),
            count("salesforce", ConnectionStatus::Expired, 1),
            count("sf-sandbox", ConnectionStatus::Active, 1),
        ]
    );

    // Counts follow every change of status, in the transaction of the change.
    let bye = event(&made[0], 40, EventKind::StatusChanged);
    assert!(store.disconnect(&ws, &made[0].id, &bye).await.unwrap());
    assert_eq!(
        sorted_counts(&store, &ws).await,
        [
            count("salesforce", ConnectionStatus::Active, 1),
            count("salesforce", ConnectionStatus::Disconnected, 1),
            count("salesforce", ConnectionStatus::Expired, 1),
            count("sf-sandbox", ConnectionStatus::Active, 1),
        ]
    );
}

pub async fn counts_by_status_span_every_workspace(store: Arc<dyn Store>) {
    assert_eq!(store.count_by_status().await.unwrap(), Vec::new());
    let ws = workspace(&store, "acme").await;
    let other = workspace(&store, "other").await;
    insert(&store, &new_connection(&ws, "salesforce", "a")).await;
    insert(&store, &new_connection(&other, "salesforce", "b")).await;
    let expired = insert(&store, &new_connection(&ws, "salesforce", "c")).await;
    fail(&store, &expired, failure(ConnectionStatus::Expired, None)).await;
    let mut counts = store.count_by_status().await.unwrap();
    counts.sort_by_key(|(status, _)| status.as_str());
    assert_eq!(
        counts,
        [
            (ConnectionStatus::Active, 2),
            (ConnectionStatus::Expired, 1)
        ]
    );
}
