//! The JSON API under `/v1` and the operations endpoints.

mod connect;
pub mod connections;
pub mod connectors;
pub mod ops;
pub(crate) mod views;
pub(crate) mod webhook_views;
pub mod webhooks;

use axum::Router;
use axum::routing::{get, post, put};

use crate::state::AppState;

/// Every `/v1` route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/connectors", get(connectors::list))
        .route(
            "/v1/connectors/{name}",
            put(connectors::put)
                .get(connectors::get)
                .delete(connectors::delete),
        )
        .route(
            "/v1/connectors/{name}/certificate",
            post(connectors::new_certificate),
        )
        .route(
            "/v1/connectors/{name}/certificate/activate",
            post(connectors::activate_certificate),
        )
        .route("/v1/connect-sessions", post(connect::create_session))
        .route(
            "/v1/connections",
            get(connections::list).post(connections::create),
        )
        .route("/v1/connections/import", post(connections::import))
        .route(
            "/v1/connections/{id}",
            get(connections::get).delete(connections::delete),
        )
        .route("/v1/connections/{id}/token", post(connections::token))
        .route("/v1/connections/{id}/check", post(connections::check))
        .route("/v1/connections/{id}/events", get(connections::events))
        .route("/v1/connections/{id}/reconnect", post(connect::reconnect))
        .merge(webhooks::routes())
}
