//! Webhooks and their outbox: deliveries written with the change that raised them, claimed
//! by one instance at a time, recorded attempt by attempt, a webhook disabled after 3 days of
//! failures, secrets rotated, deliveries paged newest first.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tether_core::event::{EventKind, Outcome};
use tether_core::ids::{WebhookId, WorkspaceId};
use tether_core::secret::WebhookSecret;
use tether_core::status::ConnectionStatus;
use tether_core::webhook::{DeliveryStatus, WebhookEventType};
use tether_store::{
    Attempt, AttemptRecorded, AttemptResult, Claim, Delivery, DueDelivery, NewEvent, PageRequest,
    RefreshOutcome, Store, Webhook,
};

use crate::fixtures::{at, claim, failure, insert, land, new_connection, t0, tokens, workspace};

/// Registers a webhook of `ws` for `events` with `secret`.
pub async fn webhook(
    store: &Arc<dyn Store>,
    ws: &WorkspaceId,
    events: &[WebhookEventType],
    secret: &str,
) -> Webhook {
    let new = tether_store::NewWebhook {
        id: WebhookId::generate(),
        workspace_id: ws.clone(),
        url: "https://hooks.example.com/tether".to_owned(),
        events: events.to_vec(),
        secret: WebhookSecret::new(secret),
        created_at: t0(),
    };
    store.insert_webhook(&new).await.unwrap()
}

/// A workspace `acme` with a webhook for every event.
async fn acme_webhook(store: &Arc<dyn Store>) -> (WorkspaceId, Webhook) {
    let ws = workspace(store, "acme").await;
    let hook = webhook(store, &ws, &WebhookEventType::ALL, "whsec_AAAA").await;
    (ws, hook)
}

/// Another webhook of `ws`, for `event` only.
async fn webhook_for(store: &Arc<dyn Store>, ws: &WorkspaceId, event: WebhookEventType) -> Webhook {
    webhook(store, ws, &[event], "whsec_BBBB").await
}

/// The deliveries due at `now` that `claim` takes (ten at most).
async fn claim_due(store: &Arc<dyn Store>, now: DateTime<Utc>, claim: &Claim) -> Vec<DueDelivery> {
    store.claim_deliveries(now, claim, 10).await.unwrap()
}

async fn record(store: &Arc<dyn Store>, attempt: &Attempt) -> AttemptRecorded {
    store.record_attempt(attempt).await.unwrap()
}

async fn deliveries(store: &Arc<dyn Store>, hook: &Webhook) -> Vec<Delivery> {
    store
        .list_deliveries(&hook.workspace_id, &hook.id, &PageRequest::first(100))
        .await
        .unwrap()
        .deliveries
}

fn types(deliveries: &[Delivery]) -> Vec<WebhookEventType> {
    deliveries.iter().map(|d| d.event_type).collect()
}

/// A claim that lapses at once, so the next claim may take the same deliveries.
fn fleeting(owner: &str) -> Claim {
    Claim {
        owner: owner.to_owned(),
        length: std::time::Duration::ZERO,
    }
}

fn attempt(due: &DueDelivery, owner: &str, seconds: i64, result: AttemptResult) -> Attempt {
    Attempt {
        delivery: due.delivery.id.clone(),
        owner: owner.to_owned(),
        at: at(seconds),
        body: "{\"type\":\"connection.created\"}".to_owned(),
        result,
    }
}

fn failed(retry_at: Option<i64>) -> AttemptResult {
    AttemptResult::Failed {
        status_code: Some(503),
        error: "the receiver answered 503".to_owned(),
        retry_at: retry_at.map(at),
    }
}

pub async fn a_change_writes_one_delivery_per_webhook_that_wants_its_event(store: Arc<dyn Store>) {
    let (ws, all) = acme_webhook(&store).await;
    let deleted_only = webhook_for(&store, &ws, WebhookEventType::ConnectionDeleted).await;
    let other_ws = workspace(&store, "globex").await;
    let elsewhere = webhook(&store, &other_ws, &WebhookEventType::ALL, "whsec_CCCC").await;

    let conn = insert(&store, &new_connection(&ws, "salesforce", "u-1")).await;
    // Routine entries and the second record of a recovery raise nothing.
    for kind in [
        EventKind::Refreshed,
        EventKind::Checked,
        EventKind::Recovered,
    ] {
        let event = NewEvent::of(&conn, at(1), kind, Outcome::Success, "routine");
        store.append_event(&event).await.unwrap();
    }
    let gone = NewEvent::of(
        &conn,
        at(2),
        EventKind::StatusChanged,
        Outcome::Success,
        "x",
    );
    assert!(store.disconnect(&ws, &conn.id, &gone).await.unwrap());

    let told = deliveries(&store, &all).await;
    assert_eq!(
        types(&told),
        [
            WebhookEventType::ConnectionDeleted,
            WebhookEventType::ConnectionCreated
        ],
        "newest first"
    );
    assert!(told.iter().all(|d| d.status == DeliveryStatus::Pending
        && d.attempts == 0
        && d.subject_id == conn.id.as_str()));
    assert_eq!(told[1].next_attempt_at, Some(t0()), "due at once");
    let history = crate::fixtures::events_of(&store, &ws, &conn.id).await;
    let created = history
        .iter()
        .find(|e| e.event.kind == EventKind::Connected);
    assert_eq!(
        Some(&told[1].event_id),
        created.map(|e| &e.id),
        "the webhook-id is the event's id"
    );
    assert_eq!(
        types(&deliveries(&store, &deleted_only).await),
        [WebhookEventType::ConnectionDeleted]
    );
    assert_eq!(
        told[0].event_id,
        deliveries(&store, &deleted_only).await[0].event_id
    );
    assert!(deliveries(&store, &elsewhere).await.is_empty());
}

pub async fn a_refresh_landing_tells_its_status_change_and_a_stale_one_tells_nothing(
    store: Arc<dyn Store>,
) {
    let (ws, hook) = acme_webhook(&store).await;
    let conn = insert(&store, &new_connection(&ws, "salesforce", "u-1")).await;
    let event = |kind| NewEvent::of(&conn, at(5), kind, Outcome::Failure, "refresh failed");
    let update = failure(ConnectionStatus::Expired, None);
    let events = [
        event(EventKind::RefreshFailed),
        event(EventKind::StatusChanged),
    ];
    land(&store, &conn, RefreshOutcome::Failed(update), &events).await;
    // A landing fenced by a stale version writes nothing, so it raises nothing either.
    let stale = tether_store::Landing {
        outcome: RefreshOutcome::Refreshed {
            tokens: tokens("late", None, at(6)),
            now: at(6),
        },
        events: vec![event(EventKind::StatusChanged)],
        evidence: None,
    };
    assert!(
        !store
            .land_refresh(&ws, &conn.id, "late", 0, &stale)
            .await
            .unwrap()
    );
    assert_eq!(
        types(&deliveries(&store, &hook).await),
        [
            WebhookEventType::ConnectionExpired,
            WebhookEventType::ConnectionRefreshFailed,
            WebhookEventType::ConnectionCreated,
        ]
    );
    // Each delivery keeps the connection as its change left it, whatever happens later.
    let gone = NewEvent::of(
        &conn,
        at(7),
        EventKind::StatusChanged,
        Outcome::Success,
        "x",
    );
    store.disconnect(&ws, &conn.id, &gone).await.unwrap();
    let due = claim_due(&store, at(7), &claim("a")).await;
    let status_of = |t| {
        due.iter()
            .find(|d| d.delivery.event_type == t)
            .and_then(|d| d.connection.as_ref())
            .map(|c| c.status)
    };
    assert_eq!(
        status_of(WebhookEventType::ConnectionCreated),
        Some(ConnectionStatus::Active)
    );
    assert_eq!(
        status_of(WebhookEventType::ConnectionExpired),
        Some(ConnectionStatus::Expired)
    );
    assert_eq!(
        status_of(WebhookEventType::ConnectionDeleted),
        Some(ConnectionStatus::Disconnected)
    );
    let created = due
        .iter()
        .find(|d| d.delivery.event_type == WebhookEventType::ConnectionCreated);
    assert_eq!(
        created.and_then(|d| d.connection.as_ref()).map(|c| &c.id),
        Some(&conn.id)
    );
}

pub async fn a_claimed_delivery_is_skipped_by_other_instances_and_recorded_once(
    store: Arc<dyn Store>,
) {
    let (ws, hook) = acme_webhook(&store).await;
    insert(&store, &new_connection(&ws, "salesforce", "u-1")).await;
    assert!(
        claim_due(&store, at(-1), &claim("a")).await.is_empty(),
        "not due before the event"
    );
    let due = claim_due(&store, at(0), &claim("a")).await;
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].url, "https://hooks.example.com/tether");
    assert_eq!(due[0].body, None, "no attempt yet");
    assert!(claim_due(&store, at(0), &claim("b")).await.is_empty());
    let ok = AttemptResult::Delivered { status_code: 204 };
    assert_eq!(
        record(&store, &attempt(&due[0], "b", 1, ok.clone())).await,
        AttemptRecorded::ClaimLost,
        "only the owner records"
    );
    assert_eq!(
        record(&store, &attempt(&due[0], "a", 1, ok.clone())).await,
        AttemptRecorded::Recorded
    );
    assert_eq!(
        record(&store, &attempt(&due[0], "a", 2, ok)).await,
        AttemptRecorded::ClaimLost,
        "a delivered delivery is never recorded again"
    );
    let done = &deliveries(&store, &hook).await[0];
    assert_eq!(done.status, DeliveryStatus::Delivered);
    assert_eq!((done.attempts, done.last_status_code), (1, Some(204)));
    assert_eq!(done.delivered_at, Some(at(1)));
    assert!(claim_due(&store, at(999), &claim("c")).await.is_empty());
}

pub async fn a_failed_attempt_is_due_again_at_its_retry_time_with_the_same_body(
    store: Arc<dyn Store>,
) {
    let (ws, hook) = acme_webhook(&store).await;
    insert(&store, &new_connection(&ws, "salesforce", "u-1")).await;
    let due = claim_due(&store, at(0), &fleeting("a")).await;
    let recorded = store
        .record_attempt(&attempt(&due[0], "a", 0, failed(Some(5))))
        .await;
    assert_eq!(recorded.unwrap(), AttemptRecorded::Recorded);
    let pending = &deliveries(&store, &hook).await[0];
    assert_eq!(pending.status, DeliveryStatus::Pending);
    assert_eq!((pending.attempts, pending.last_status_code), (1, Some(503)));
    assert_eq!(
        pending.last_error.as_deref(),
        Some("the receiver answered 503")
    );
    assert_eq!(pending.next_attempt_at, Some(at(5)));
    assert!(claim_due(&store, at(4), &fleeting("a")).await.is_empty());
    let again = claim_due(&store, at(5), &fleeting("b")).await;
    assert_eq!(
        again[0].body.as_deref(),
        Some("{\"type\":\"connection.created\"}")
    );
    record(&store, &attempt(&again[0], "b", 5, failed(None))).await;
    let given_up = &deliveries(&store, &hook).await[0];
    assert_eq!(given_up.status, DeliveryStatus::Failed);
    assert_eq!((given_up.attempts, given_up.next_attempt_at), (2, None));
    assert!(
        claim_due(&store, at(99_999), &fleeting("c"))
            .await
            .is_empty()
    );
    let webhook = store.get_webhook(&ws, &hook.id).await.unwrap().unwrap();
    assert_eq!(webhook.failing_since, Some(at(0)));
    assert_eq!(webhook.disabled_at, None, "failing for seconds, not 3 days");
}

pub async fn a_webhook_failing_for_three_days_is_disabled_and_told_then_enabled_again(
    store: Arc<dyn Store>,
) {
    let (ws, failing) = acme_webhook(&store).await;
    let healthy = webhook_for(&store, &ws, WebhookEventType::WebhookDisabled).await;
    insert(&store, &new_connection(&ws, "salesforce", "u-1")).await;
    let three_days = Duration::days(3).num_seconds();
    let due = claim_due(&store, at(0), &fleeting("a")).await;
    store
        .record_attempt(&attempt(&due[0], "a", 0, failed(Some(three_days))))
        .await
        .unwrap();
    let due = claim_due(&store, at(three_days), &fleeting("a")).await;
    assert_eq!(due.len(), 1);
    let last = attempt(&due[0], "a", three_days, failed(Some(three_days + 60)));
    let recorded = record(&store, &last).await;
    assert_eq!(recorded, AttemptRecorded::Disabled);
    let disabled = store.get_webhook(&ws, &failing.id).await.unwrap().unwrap();
    assert_eq!(disabled.disabled_at, Some(at(three_days)));

    // The healthy webhook and the disabled one are told; nothing else goes to the disabled
    // one, its pending delivery included.
    let told = deliveries(&store, &healthy).await;
    assert_eq!(types(&told), [WebhookEventType::WebhookDisabled]);
    assert_eq!(told[0].subject_id, failing.id.as_str());
    let own = deliveries(&store, &failing).await;
    assert_eq!(
        types(&own),
        [
            WebhookEventType::WebhookDisabled,
            WebhookEventType::ConnectionCreated
        ]
    );
    assert_eq!(
        own[0].event_id, told[0].event_id,
        "one event, two deliveries"
    );
    insert(&store, &new_connection(&ws, "salesforce", "u-2")).await;
    assert_eq!(
        deliveries(&store, &failing).await.len(),
        2,
        "no new events while disabled"
    );
    let later = at(three_days + 3_600);
    let due = claim_due(&store, later, &fleeting("a")).await;
    let mut due_types: Vec<_> = due.iter().map(|d| d.delivery.event_type).collect();
    due_types.sort();
    assert_eq!(
        due_types,
        [
            WebhookEventType::WebhookDisabled,
            WebhookEventType::WebhookDisabled
        ],
        "only webhook.disabled reaches the disabled webhook"
    );

    assert!(store.enable_webhook(&ws, &failing.id).await.unwrap());
    let enabled = store.get_webhook(&ws, &failing.id).await.unwrap().unwrap();
    assert_eq!((enabled.disabled_at, enabled.failing_since), (None, None));
    let due = claim_due(&store, later, &fleeting("a")).await;
    assert!(
        due.iter()
            .any(|d| d.delivery.event_type == WebhookEventType::ConnectionCreated),
        "its pending delivery resumes"
    );
}

pub async fn a_rotated_secret_signs_next_to_the_new_one_until_its_time(store: Arc<dyn Store>) {
    let ws = workspace(&store, "acme").await;
    let hook = webhook(&store, &ws, &WebhookEventType::ALL, "whsec_OLD").await;
    let new = WebhookSecret::new("whsec_NEW");
    assert!(
        store
            .rotate_webhook_secret(&ws, &hook.id, &new, at(86_400))
            .await
            .unwrap()
    );
    let other = workspace(&store, "globex").await;
    assert!(
        !store
            .rotate_webhook_secret(&other, &hook.id, &new, at(1))
            .await
            .unwrap()
    );
    let new_conn = new_connection(&ws, "salesforce", "u-1");
    insert(&store, &new_conn).await;
    let due = claim_due(&store, at(0), &claim("a")).await;
    let secrets = &due[0].secrets;
    let expose =
        |s: Vec<&WebhookSecret>| s.iter().map(|s| s.expose().to_owned()).collect::<Vec<_>>();
    assert_eq!(
        expose(secrets.signing_at(at(0))),
        ["whsec_NEW", "whsec_OLD"]
    );
    assert_eq!(expose(secrets.signing_at(at(86_400))), ["whsec_NEW"]);
    let shown = store.get_webhook(&ws, &hook.id).await.unwrap().unwrap();
    assert_eq!(shown.previous_secret_until, Some(at(86_400)));
}

pub async fn deliveries_page_newest_first_and_go_with_their_webhook(store: Arc<dyn Store>) {
    let (ws, hook) = acme_webhook(&store).await;
    for n in 0..5 {
        let mut new = new_connection(&ws, "salesforce", &format!("u-{n}"));
        new.created_at = at(n);
        insert(&store, &new).await;
    }
    let all = deliveries(&store, &hook).await;
    assert!(
        all.windows(2)
            .all(|w| w[0].seq > w[1].seq && w[0].event_at >= w[1].event_at)
    );
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_deliveries(&ws, &hook.id, &PageRequest { after, limit: 2 })
            .await
            .unwrap();
        seen.extend(page.deliveries);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, all);
    let other = workspace(&store, "globex").await;
    assert!(
        store
            .list_deliveries(&other, &hook.id, &PageRequest::first(10))
            .await
            .unwrap()
            .deliveries
            .is_empty()
    );
    assert!(!store.delete_webhook(&other, &hook.id).await.unwrap());
    assert!(store.delete_webhook(&ws, &hook.id).await.unwrap());
    assert!(store.get_webhook(&ws, &hook.id).await.unwrap().is_none());
    assert!(deliveries(&store, &hook).await.is_empty());
    assert!(claim_due(&store, at(99), &claim("a")).await.is_empty());
}

pub async fn retention_deletes_finished_deliveries_of_old_events_and_keeps_pending_ones(
    store: Arc<dyn Store>,
) {
    let (ws, hook) = acme_webhook(&store).await;
    insert(&store, &new_connection(&ws, "salesforce", "u-1")).await;
    insert(&store, &new_connection(&ws, "salesforce", "u-2")).await;
    let due = store.claim_deliveries(at(0), &claim("a"), 1).await.unwrap();
    assert_eq!(due.len(), 1);
    let ok = AttemptResult::Delivered { status_code: 200 };
    record(&store, &attempt(&due[0], "a", 1, ok)).await;

    // Both events happened at 0: the delivered one goes, the pending one stays.
    assert_eq!(store.purge_deliveries(at(0), 10).await.unwrap(), 0);
    assert_eq!(store.purge_deliveries(at(1), 10).await.unwrap(), 1);
    let left = deliveries(&store, &hook).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].status, DeliveryStatus::Pending);
}
