//! tether's HTTP service: the `/v1` API, the connect flow and callback, operations
//! endpoints, and the background scheduler, around one [`AppState`].
//!
//! [`serve`] takes a bound listener and a shutdown token, so tests run it on port 0.

pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod connect;
pub mod error;
pub mod extract;
pub mod keys;
pub mod metrics;
pub mod page;
pub mod pages;
pub mod proxy;
pub mod scheduler;
pub mod service;
pub mod settings;
pub mod state;
pub mod tokens;
pub mod webhooks;

use std::time::Duration;

use axum::Router;
use axum::http::HeaderValue;
use axum::http::{HeaderName, header};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::Layer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use state::AppState;

/// The longest any request may take, including a refresh the caller waits for.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The whole HTTP surface. Requests to a connection's own host name (`proxy_host_suffix`) are
/// rewritten to `/v1/proxy/{id}/...` before routing, so the wrapped router sees only paths.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// [`router`] with `extra` routes of the host program merged in (`tether demo` adds its
/// controls this way).
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let rewrite = axum::middleware::map_request_with_state(state.clone(), proxy::host::rewrite);
    Router::new()
        .fallback_service(rewrite.layer(routes(state, extra)))
        .layer(CatchPanicLayer::custom(panic_response))
}

/// The content security policy of tether's own pages: no script at all, styles inline (the
/// pages carry their stylesheet), never framed. No `form-action`: browsers apply it to the
/// redirect after a form post too, and the connect form's answer redirects to Salesforce.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// Headers every answer of tether's own routes carries (not the proxy's, which are
/// Salesforce's): a strict CSP, no framing, no MIME sniffing, no referrer to other sites.
const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
];

/// `router` with [`SECURITY_HEADERS`] on every answer that does not set them itself.
fn with_security_headers<S: Clone + Send + Sync + 'static>(mut router: Router<S>) -> Router<S> {
    for (name, value) in SECURITY_HEADERS {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router
}

/// Any path no route matches.
async fn unknown_route() -> error::ApiError {
    error::ApiError::NoRoute
}

/// A handler that panicked answers a 500 problem like any other failure of tether's own,
/// with the panic logged; the process, and every other request, goes on.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|m| (*m).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    axum::response::IntoResponse::into_response(error::ApiError::internal(format!(
        "a request handler panicked: {message}"
    )))
}

/// The `/v1` API's router and the proxy's, and the OpenAPI document built with them.
fn documented() -> (Router<AppState>, Router<AppState>, utoipa::openapi::OpenApi) {
    let (api, mut document) = api::routes().split_for_parts();
    let (proxy, proxy_document) = proxy::routes().split_for_parts();
    document.merge(proxy_document);
    (api, proxy, document)
}

/// The OpenAPI 3.1 document of the `/v1` API and the proxy (served at `/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented().2
}

/// Every route of tether's own, before the host rewrite of [`router_with`] (whose routing is
/// the same); public so the tests can read its route table.
pub fn routes(state: AppState, extra: Router<AppState>) -> Router {
    let sensitive: [HeaderName; 2] = [header::AUTHORIZATION, header::COOKIE];
    let public_origin = page::PublicOrigin::of(&state);
    let (api, proxy, document) = documented();
    let document: std::sync::Arc<str> = serde_json::to_string(&document).unwrap_or_default().into();
    let own = Router::new()
        .merge(api)
        .merge(page::routes())
        .merge(extra)
        .route("/connect/{id}", get(connect::open_connect_url))
        .route("/oauth/callback", get(connect::callback))
        .route("/healthz", get(api::ops::healthz))
        .route("/readyz", get(api::ops::readyz))
        .route("/metrics", get(api::ops::metrics))
        .route(
            "/openapi.json",
            get(move || {
                let json = [(header::CONTENT_TYPE, "application/json")];
                std::future::ready((json, document.to_string()))
            }),
        )
        .layer(axum::Extension(public_origin))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::GATEWAY_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .fallback(unknown_route)
        .layer(axum::middleware::from_fn(extract::bare_errors_as_problems));
    with_security_headers(own)
        // The proxy is merged after the timeout layer, so REQUEST_TIMEOUT does not cut long
        // uploads; it has its own connect, answer and idle-read timeouts (proxy_* settings).
        .merge(proxy)
        .with_state(state)
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                // The path only: query strings of callbacks carry codes. The workspace and the
                // connection are recorded once the handler knows them (`record_workspace`,
                // `record_connection`), so every later line of the request carries them.
                tracing::info_span!(
                    "request",
                    method = %req.method(),
                    path = %req.uri().path(),
                    workspace = tracing::field::Empty,
                    connection = tracing::field::Empty,
                )
            }),
        )
        .layer(SetSensitiveRequestHeadersLayer::new(sensitive))
}

/// Serves until `shutdown` is cancelled; the scheduler and the master key check
/// ([`keys::watch`]) run alongside and stop with it.
/// Then waits, at most one lease, for refreshes still in flight (their callers may have gone)
/// to save their outcomes: a rotated refresh token is never cut off between the provider's
/// answer and the save by an orderly stop.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = router(state.clone());
    serve_router(listener, state, app, shutdown).await
}

/// [`serve`] with a router built by the host program (see [`router_with`]).
pub async fn serve_router(
    listener: TcpListener,
    state: AppState,
    app: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let scheduler = tokio::spawn(scheduler::run(state.clone(), shutdown.clone()));
    tokio::spawn(keys::watch(state.store.clone(), shutdown.clone()));
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(err) = scheduler.await {
        tracing::error!(error = %err, "scheduler task failed");
    }
    state.tokens.drain(state.settings.lease).await;
    result
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    async fn overflowing_handler() -> &'static str {
        panic!("the arithmetic overflowed")
    }

    #[tokio::test]
    async fn a_handler_that_panics_answers_a_500_problem_and_the_router_serves_on() {
        let app: Router = Router::new()
            .route("/boom", get(overflowing_handler))
            .route("/fine", get(|| async { "ok" }))
            .layer(CatchPanicLayer::custom(panic_response));
        let request = |path: &str| Request::get(path).body(Body::empty()).unwrap();

        let boom = app.clone().oneshot(request("/boom")).await.unwrap();
        assert_eq!(boom.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            boom.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = axum::body::to_bytes(boom.into_body(), 4096).await.unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["status"], 500);
        assert_eq!(
            problem["detail"],
            "tether failed to handle this request; the error has been logged"
        );

        let fine = app.oneshot(request("/fine")).await.unwrap();
        assert_eq!(fine.status(), StatusCode::OK);
    }
}
