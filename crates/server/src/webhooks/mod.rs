//! Webhook delivery: each scheduler pass claims the outbox's due deliveries
//! ([`deliver_due`]), renders the body of a first attempt (the event and the connection as
//! `GET /v1/connections/{id}` shows it), signs it the Standard Webhooks way ([`signing`]),
//! POSTs it through a client that only reaches public addresses ([`client`],
//! [`destination`]), and records the attempt: delivered on a 2xx, otherwise scheduled again
//! after the next wait of `webhook_retry_seconds` (on tether's clock), failed once the
//! schedule is used up.

pub mod client;
mod deliver;
pub mod destination;
pub mod signing;

pub use client::WebhookClient;
pub use deliver::deliver_due;
