//! The two routers of the REST subset: the public versions list, and the versioned API that
//! sits behind the session gate. Unknown paths under `/services/data/` answer Salesforce's
//! 404 body and unsupported methods its 405 body, without a router-level fallback, so the
//! routers merge cleanly with the rest of the sandbox.

use axum::Router;
use axum::http::Method;
use axum::routing::{MethodRouter, any, get};

use super::handlers;
use super::records::Records;

/// `GET /services/data/` (no authentication): the versions list.
pub fn public_routes() -> Router {
    Router::new()
        .route("/services/data", only_get(get(handlers::list_versions)))
        .route("/services/data/", only_get(get(handlers::list_versions)))
}

/// Everything under `/services/data/vNN.N/`; the session gate wraps it from outside.
pub fn api_routes(records: Records) -> Router {
    const V: &str = "/services/data/{version}";
    Router::new()
        .route(V, only_get(get(handlers::resources)))
        .route(&format!("{V}/"), only_get(get(handlers::resources)))
        .route(&format!("{V}/query"), only_get(get(handlers::query)))
        .route(&format!("{V}/query/"), only_get(get(handlers::query)))
        .route(
            &format!("{V}/query/{{token}}"),
            only_get(get(handlers::query_more)),
        )
        .route(
            &format!("{V}/sobjects"),
            only_get(get(handlers::describe_global)),
        )
        .route(
            &format!("{V}/sobjects/"),
            only_get(get(handlers::describe_global)),
        )
        .route(&format!("{V}/sobjects/{{sobject}}"), sobject_methods())
        .route(
            &format!("{V}/sobjects/{{sobject}}/{{id}}"),
            record_methods(),
        )
        .route(&format!("{V}/limits"), only_get(get(handlers::limits)))
        .route(&format!("{V}/limits/"), only_get(get(handlers::limits)))
        .route(&format!("{V}/{{*rest}}"), any(handlers::not_found))
        .route(
            &format!("{V}/sobjects/{{sobject}}/{{id}}/{{*rest}}"),
            any(handlers::not_found),
        )
        .with_state(records)
}

fn sobject_methods() -> MethodRouter<Records> {
    get(handlers::sobject_info)
        .post(handlers::create)
        .fallback(
            |method: Method| async move { handlers::method_not_allowed(&method, "GET,HEAD,POST") },
        )
}

fn record_methods() -> MethodRouter<Records> {
    get(handlers::get_record)
        .patch(handlers::update_record)
        .delete(handlers::delete_record)
        .fallback(|method: Method| async move {
            handlers::method_not_allowed(&method, "GET,PATCH,DELETE,HEAD")
        })
}

fn only_get<S: Clone + Send + Sync + 'static>(route: MethodRouter<S>) -> MethodRouter<S> {
    route
        .fallback(|method: Method| async move { handlers::method_not_allowed(&method, "GET,HEAD") })
}
