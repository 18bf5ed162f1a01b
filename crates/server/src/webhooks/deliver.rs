//! One pass over the outbox: claim what is due, send each, record each attempt.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tether_core::clock::{Clock, SystemClock};
use tether_core::ids::{ConnectionId, WebhookId};
use tether_core::webhook::{WebhookEventType, retry_after};
use tether_store::{
    Attempt, AttemptRecorded, AttemptResult, Claim, Connection, Delivery, DueDelivery,
};
use tokio_util::sync::CancellationToken;

use super::client::{ATTEMPT_TIMEOUT, Signed};
use super::signing;
use crate::api::views::ConnectionView;
use crate::api::webhook_views::WebhookView;
use crate::scheduler::or_logged;
use crate::state::AppState;

/// How long a claim holds: several attempt timeouts, so a slow receiver never lets another
/// instance send the same delivery while this one still waits; an instance that dies loses
/// its claims then.
const CLAIM: Duration = ATTEMPT_TIMEOUT.saturating_mul(6);
/// A pass claims more deliveries, `scheduler_concurrency` at a time, until none is due or
/// this long has passed (what is left waits for the next pass).
const PASS_BUDGET: Duration = Duration::from_secs(5);
/// Tries of recording an attempt before its claim is left to lapse (and the delivery to be
/// sent again).
const RECORD_TRIES: u32 = 3;

/// Sends the deliveries due now: claims as many as it sends at once
/// (`scheduler_concurrency`), sends them, and claims again, so no claim waits in a queue
/// longer than one attempt. Stops at shutdown, when nothing is due, or after [`PASS_BUDGET`].
pub async fn deliver_due(state: &AppState, shutdown: &CancellationToken) {
    let claim = Claim {
        owner: state.tokens.owner().to_owned(),
        length: CLAIM,
    };
    let room = i64::try_from(state.settings.scheduler_concurrency).unwrap_or(8);
    let started = std::time::Instant::now();
    while !shutdown.is_cancelled() && started.elapsed() < PASS_BUDGET {
        let due = state
            .store
            .claim_deliveries(state.clock.now(), &claim, room)
            .await;
        let Some(due) = or_logged(due, "claim due webhook deliveries") else {
            return;
        };
        if due.is_empty() {
            return;
        }
        let owner = claim.owner.as_str();
        futures::future::join_all(due.into_iter().map(|due| deliver(state, owner, due))).await;
    }
}

/// One attempt of one delivery.
async fn deliver(state: &AppState, owner: &str, due: DueDelivery) {
    let delivery = &due.delivery;
    let body = match due.body {
        Some(body) => body,
        None => match body(state, delivery, due.connection).await {
            Ok(body) => body,
            Err(err) => {
                tracing::warn!(delivery = %delivery.id, error = %err, "could not render a webhook body; trying again when the claim lapses");
                return;
            }
        },
    };
    // The receiver checks the timestamp against its own clock: the real one, even when
    // tether runs on a simulated clock (tests, the demo).
    let timestamp = SystemClock.now().timestamp();
    let secrets = due.secrets.signing_at(state.clock.now());
    let id = delivery.event_id.as_str();
    let signature = signing::signature(&secrets, id, timestamp, &body);
    let signed = Signed {
        id,
        timestamp,
        signature: &signature,
    };
    let answer = state.webhooks.send(&due.url, &signed, body.clone()).await;
    let at = state.clock.now();
    let result = match answer {
        Ok(code) if (200..300).contains(&code) => AttemptResult::Delivered { status_code: code },
        Ok(code) => failure(
            state,
            delivery,
            at,
            Some(code),
            format!("the receiver answered {code}"),
        ),
        Err(err) => failure(state, delivery, at, None, err.to_string()),
    };
    let outcome = match &result {
        AttemptResult::Delivered { .. } => "delivered",
        AttemptResult::Failed {
            retry_at: Some(_), ..
        } => "retried",
        AttemptResult::Failed { retry_at: None, .. } => "failed",
    };
    state
        .metrics
        .webhook_deliveries
        .get_or_create(&crate::metrics::OutcomeLabels { outcome })
        .inc();
    if let AttemptResult::Failed { error, .. } = &result {
        tracing::info!(delivery = %delivery.id, webhook = %delivery.webhook_id, attempt = delivery.attempts + 1, error = %error, "webhook attempt failed");
    }
    let attempt = Attempt {
        delivery: delivery.id.clone(),
        owner: owner.to_owned(),
        at,
        body,
        result,
    };
    record(state, &attempt, &delivery.webhook_id).await;
}

/// A failed attempt, with when to try again (none once the schedule is used up).
fn failure(
    state: &AppState,
    delivery: &Delivery,
    at: DateTime<Utc>,
    status_code: Option<u16>,
    error: String,
) -> AttemptResult {
    let failed = u32::try_from(delivery.attempts.saturating_add(1)).unwrap_or(u32::MAX);
    let retry_at = retry_after(&state.settings.webhooks.retry_schedule, failed)
        .and_then(|wait| chrono::Duration::from_std(wait).ok())
        .and_then(|wait| at.checked_add_signed(wait));
    AttemptResult::Failed {
        status_code,
        error,
        retry_at,
    }
}

async fn record(state: &AppState, attempt: &Attempt, webhook: &WebhookId) {
    for try_number in 1..=RECORD_TRIES {
        match state.store.record_attempt(attempt).await {
            Ok(AttemptRecorded::Recorded) => return,
            Ok(AttemptRecorded::Disabled) => {
                tracing::warn!(webhook = %webhook, "webhook disabled: every attempt failed for 3 days; POST /v1/webhooks/{{id}}/enable turns it back on");
                return;
            }
            Ok(AttemptRecorded::ClaimLost) => {
                tracing::warn!(delivery = %attempt.delivery, "a webhook attempt outlived its claim; another instance sends it again");
                return;
            }
            Err(err) if try_number < RECORD_TRIES => {
                tracing::debug!(delivery = %attempt.delivery, error = %err, "recording a webhook attempt failed; trying again");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(try_number))).await;
            }
            Err(err) => {
                tracing::warn!(delivery = %attempt.delivery, error = %err, "could not record a webhook attempt; it is sent again when its claim lapses");
            }
        }
    }
}

/// The body of a delivery's first attempt: `{"type", "timestamp", "data"}`, where `data` holds
/// the connection as `GET /v1/connections/{id}` showed it right after the change (or, for
/// `webhook.disabled`, the webhook as `GET /v1/webhooks/{id}` shows it).
async fn body(
    state: &AppState,
    delivery: &Delivery,
    connection: Option<Connection>,
) -> Result<String, String> {
    let ws = &delivery.workspace_id;
    let subject = delivery.subject_id.as_str();
    let data = if delivery.event_type == WebhookEventType::WebhookDisabled {
        let id = WebhookId::parse(subject).map_err(|e| e.to_string())?;
        let webhook = state
            .store
            .get_webhook(ws, &id)
            .await
            .map_err(|e| e.to_string())?;
        let view = webhook.map(WebhookView::from);
        json!({ "webhook": view.map_or_else(|| json!({ "id": subject }), |v| json!(v)) })
    } else {
        let id = ConnectionId::parse(subject).map_err(|e| e.to_string())?;
        let suffix = state.settings.proxy_host_suffix.as_ref();
        let view = connection.map(|c| {
            ConnectionView::from(c)
                .with_proxy_instance_url(suffix.and_then(|s| s.instance_url(&id)))
        });
        json!({ "connection": view.map_or_else(|| json!({ "id": subject }), |v| json!(v)) })
    };
    let body: Value = json!({
        "type": delivery.event_type,
        "timestamp": delivery.event_at,
        "data": data,
    });
    serde_json::to_string(&body).map_err(|e| e.to_string())
}
