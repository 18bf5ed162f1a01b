//! The JSON API under `/v1` and the operations endpoints.
//!
//! The `/v1` router and its OpenAPI document are built together ([`routes`]): each route is
//! registered from its handler's `#[utoipa::path]`, so a route cannot exist without its
//! operation, and the document (served at `/openapi.json`) cannot name a route that does not
//! exist. A new route goes in with `.routes(routes!(handler))`, never `.route(...)`; the
//! `openapi` tests name any `/v1` route the document lacks.

mod connect;
pub mod connections;
pub mod connectors;
pub mod ops;
pub mod paging;
pub(crate) mod views;
pub(crate) mod webhook_views;
pub mod webhooks;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::Problem;
use crate::state::AppState;

/// The document's frame: what the API is, how it authenticates, its tags.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "tether",
        description = "Holds OAuth connections to Salesforce orgs and keeps them alive. The prose of this API is docs/api.md.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    // Every problem answer refers to it (`crate::error::problems!`).
    components(schemas(Problem)),
    modifiers(&ApiKeyAuth),
    security(("api_key" = [])),
    tags(
        (name = "connectors", description = "The app credentials a workspace registers with a provider."),
        (name = "connect", description = "Connect flows: the URL to send an end user's browser to."),
        (name = "connections", description = "End users' connections: tokens, checks, history."),
        (name = "proxy", description = "Salesforce's APIs through tether, with the connection's token."),
        (name = "webhooks", description = "Signed notifications of connection changes, from a durable outbox."),
    ),
)]
struct ApiDoc;

/// `Authorization: Bearer <api key>` on every operation.
struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "An API key of the workspace (`tk_...`), made with `tether keys create`.",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", SecurityScheme::Http(scheme));
    }
}

/// Every `/v1` route, with its document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(connectors::list))
        .routes(routes!(
            connectors::put,
            connectors::get,
            connectors::delete
        ))
        .routes(routes!(connectors::new_certificate))
        .routes(routes!(connectors::activate_certificate))
        .routes(routes!(connect::create_session))
        .routes(routes!(connections::list, connections::create))
        .routes(routes!(connections::import))
        .routes(routes!(connections::get, connections::delete))
        .routes(routes!(connections::token))
        .routes(routes!(connections::check))
        .routes(routes!(connections::events))
        .routes(routes!(connect::reconnect))
        .merge(webhooks::routes())
}
