//! The records of webhooks and their outbox, as the store keeps them (see
//! [`Webhooks`](crate::Webhooks)); secrets already opened.

use crate::SeqCursor;
use chrono::{DateTime, Utc};
use tether_core::ids::{DeliveryId, EventId, WebhookId, WorkspaceId};
use tether_core::secret::WebhookSecret;
use tether_core::webhook::{DeliveryStatus, WebhookEventType};

/// A webhook being registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    pub id: WebhookId,
    pub workspace_id: WorkspaceId,
    /// The destination, already checked by the caller.
    pub url: String,
    /// The types it is sent (never empty).
    pub events: Vec<WebhookEventType>,
    pub secret: WebhookSecret,
    pub created_at: DateTime<Utc>,
}

/// A stored webhook, without its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: WebhookId,
    pub workspace_id: WorkspaceId,
    pub url: String,
    pub events: Vec<WebhookEventType>,
    pub created_at: DateTime<Utc>,
    /// The first failed attempt since the last delivered one.
    pub failing_since: Option<DateTime<Utc>>,
    /// When 3 days of failures disabled it; `None` while it is enabled.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Until when the secret before the last rotation still signs.
    pub previous_secret_until: Option<DateTime<Utc>>,
}

impl Webhook {
    /// Whether events of `event_type` are sent to it.
    pub fn wants(&self, event_type: WebhookEventType) -> bool {
        self.events.contains(&event_type)
    }
}

/// The secrets a delivery is signed with: the current one, and the one before the last
/// rotation until it stops signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSecrets {
    pub current: WebhookSecret,
    pub previous: Option<(WebhookSecret, DateTime<Utc>)>,
}

impl WebhookSecrets {
    /// The secrets that sign at `now`, the current one first.
    pub fn signing_at(&self, now: DateTime<Utc>) -> Vec<&WebhookSecret> {
        let previous = self
            .previous
            .as_ref()
            .filter(|(_, until)| now < *until)
            .map(|(secret, _)| secret);
        std::iter::once(&self.current).chain(previous).collect()
    }
}

/// One event's delivery to one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: DeliveryId,
    /// The order deliveries were written in.
    pub seq: i64,
    pub webhook_id: WebhookId,
    pub workspace_id: WorkspaceId,
    /// The `webhook-id` of every attempt: the same on each retry.
    pub event_id: EventId,
    pub event_type: WebhookEventType,
    /// The connection the event is about (for `webhook.disabled`, the webhook's id).
    pub subject_id: String,
    /// When the event happened (tether's clock).
    pub event_at: DateTime<Utc>,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i64,
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed, in words (never a secret).
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A claimed delivery with what sending it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    pub delivery: Delivery,
    pub url: String,
    pub secrets: WebhookSecrets,
    /// The connection as the change that raised the event left it (`None` for
    /// `webhook.disabled`).
    pub connection: Option<crate::Connection>,
    /// The body sent by an earlier attempt, which every retry repeats.
    pub body: Option<String>,
}

/// One page of a webhook's deliveries, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    /// Where the next page starts; `None` when this page is the last.
    pub next: Option<SeqCursor>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// The receiver answered 2xx.
    Delivered { status_code: u16 },
    /// Anything else: another status, a timeout, a refused connection, a refused address.
    /// `retry_at` is when to try again, `None` when the schedule is used up.
    Failed {
        status_code: Option<u16>,
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// One attempt of a claimed delivery, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub delivery: DeliveryId,
    /// The claim's owner; an attempt whose claim was lost is not recorded.
    pub owner: String,
    /// When it was made (tether's clock).
    pub at: DateTime<Utc>,
    /// The body sent, kept for the retries.
    pub body: String,
    pub result: AttemptResult,
}

/// What recording an attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptRecorded {
    /// Recorded.
    Recorded,
    /// Recorded, and the failure disabled its webhook (failing for 3 days): a
    /// `webhook.disabled` event is in the outbox.
    Disabled,
    /// The claim had lapsed and was taken by another instance: nothing recorded.
    ClaimLost,
}
