//! The JSON shapes of webhooks and their deliveries (docs/api.md, "Webhooks"). The secret
//! appears only in [`CreatedWebhookView`], the answer of the one call that makes it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tether_core::secret::WebhookSecret;
use tether_core::webhook::{DeliveryStatus, WebhookEventType};
use tether_store::{Delivery, Webhook};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    id: String,
    url: String,
    /// The event types sent to it (`connection.created`, ...).
    #[schema(value_type = Vec<String>)]
    events: Vec<WebhookEventType>,
    /// `enabled`, or `disabled` after 3 days of failed attempts.
    status: &'static str,
    created_at: DateTime<Utc>,
    disabled_at: Option<DateTime<Utc>>,
    /// When the first of the current run of failed attempts was made.
    failing_since: Option<DateTime<Utc>>,
}

impl From<Webhook> for WebhookView {
    fn from(w: Webhook) -> Self {
        Self {
            id: w.id.to_string(),
            url: w.url,
            events: w.events,
            status: if w.disabled_at.is_some() {
                "disabled"
            } else {
                "enabled"
            },
            created_at: w.created_at,
            disabled_at: w.disabled_at,
            failing_since: w.failing_since,
        }
    }
}

/// A webhook with the secret it was just given (registration, rotation).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedWebhookView {
    #[serde(flatten)]
    webhook: WebhookView,
    /// `whsec_` + base64: signs the deliveries (Standard Webhooks). Shown only here.
    #[schema(value_type = String, format = Password)]
    secret: ExposedSecret,
    /// After a rotation: until when the previous secret still signs.
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_secret_expires_at: Option<DateTime<Utc>>,
}

impl CreatedWebhookView {
    pub fn new(
        webhook: Webhook,
        secret: WebhookSecret,
        previous_secret_expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            webhook: webhook.into(),
            secret: ExposedSecret(secret),
            previous_secret_expires_at,
        }
    }
}

/// A webhook secret, serialized on purpose: only in the answer that creates it.
#[derive(Debug)]
struct ExposedSecret(WebhookSecret);

impl Serialize for ExposedSecret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.expose())
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    id: String,
    /// The `webhook-id` header: the same on every attempt.
    event_id: String,
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    event_type: WebhookEventType,
    /// `pending`, `delivered` or `failed`.
    #[schema(value_type = String)]
    status: DeliveryStatus,
    attempts: i64,
    last_status_code: Option<u16>,
    last_error: Option<String>,
    event_at: DateTime<Utc>,
    last_attempt_at: Option<DateTime<Utc>>,
    next_attempt_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id.to_string(),
            event_id: d.event_id.to_string(),
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            event_at: d.event_at,
            last_attempt_at: d.last_attempt_at,
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
        }
    }
}
