//! The connectors page served at `/`: people sign in with an API key, see every connection of
//! their workspace with its status, read an expired connection's diagnosis, reconnect it,
//! check it, and manage the workspace's Salesforce connectors.
//!
//! Pages are compiled askama templates (`templates/page/`, auto-escaped, inline CSS, no
//! JavaScript needed) filled from one view model each (`views`). Handlers call the same
//! services as the API (`crate::service`, the token service), never the API itself.
//! A signed cookie holds the session ([`session`]); every form that changes something carries
//! a CSRF token, and [`guard_cross_site`] refuses any form posted from another origin first.
//! A host program can add a panel to every page's layout through a [`LayoutHook`] request
//! extension: `tether demo` (crate `tether-demo`) shows its simulate-time and policy
//! controls that way, with its own routes; the server knows nothing of the demo.

mod connections;
mod connector_form;
mod connectors;
mod error;
mod layout;
mod render;
pub mod session;
pub mod signin;
mod views;
mod webhooks;

use axum::Router;
use axum::extract::Request;
use axum::http::header::ORIGIN;
use axum::http::{HeaderMap, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use error::PageError;
pub use layout::LayoutHook;
pub(crate) use render::render;
pub use session::Session;
pub use views::DemoPanel;

use crate::state::AppState;

/// The page's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(connections::list))
        .route("/login", get(signin::form).post(signin::submit))
        .route("/logout", post(signin::logout))
        .route("/connected", get(connections::landing))
        .route("/connections/{id}", get(connections::show))
        .route("/connections/{id}/check", post(connections::check))
        .route("/connections/{id}/reconnect", post(connections::reconnect))
        .route("/connectors", get(connectors::list).post(connectors::save))
        .route("/connectors/new", get(connectors::new_form))
        .route("/connectors/{name}", get(connectors::edit_form))
        .route("/connectors/{name}/connect", post(connectors::connect))
        .layer(middleware::from_fn(guard_cross_site))
}

/// The origin of `public_url` (`scheme://host[:port]`), put on every request as an extension
/// so [`guard_cross_site`] compares a form's `Origin` with it, never with the `Host` header
/// (behind a proxy, a `Host` header can say anything).
#[derive(Debug, Clone)]
pub struct PublicOrigin(String);

impl PublicOrigin {
    /// The origin of this tether's public URL.
    pub fn of(state: &AppState) -> Self {
        Self(state.settings.public_url.origin().ascii_serialization())
    }
}

/// Refuses (403) a form post another site or origin sent, before any handler runs: the
/// browser's `Sec-Fetch-Site` must not say `cross-site`, and an `Origin` must be the origin of
/// `public_url`.
pub async fn guard_cross_site(request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    let ours = request.extensions().get::<PublicOrigin>();
    if !safe && !same_origin(request.headers(), ours) {
        tracing::warn!(path = %request.uri().path(), "refused a cross-site form post");
        return PageError::Forbidden.into_response();
    }
    next.run(request).await
}

fn same_origin(headers: &HeaderMap, ours: Option<&PublicOrigin>) -> bool {
    if session::fetched_cross_site(headers) {
        return false;
    }
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        // No Origin: not a browser form post from another page (browsers send it on POST).
        return true;
    };
    let origin = url::Url::parse(origin)
        .ok()
        .map(|u| u.origin())
        .filter(url::Origin::is_tuple)
        .map(|o| o.ascii_serialization());
    matches!((origin, ours), (Some(o), Some(PublicOrigin(p))) if o.eq_ignore_ascii_case(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, axum::http::HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn a_post_from_the_public_origin_passes_and_from_another_is_refused() {
        let ours = PublicOrigin("http://127.0.0.1:7878".to_owned());
        let ours = Some(&ours);
        assert!(same_origin(
            &headers(&[("origin", "http://127.0.0.1:7878")]),
            ours
        ));
        // The Host header does not matter: only public_url's origin does.
        let spoofed = [
            ("host", "attacker.example"),
            ("origin", "http://attacker.example"),
        ];
        assert!(!same_origin(&headers(&spoofed), ours));
        let other_port = [("origin", "http://127.0.0.1:9999")];
        assert!(!same_origin(&headers(&other_port), ours));
        let other_scheme = [("origin", "https://127.0.0.1:7878")];
        assert!(!same_origin(&headers(&other_scheme), ours));
        assert!(!same_origin(&headers(&[("origin", "null")]), ours));
        let fetch = [("sec-fetch-site", "cross-site")];
        assert!(!same_origin(&headers(&fetch), ours));
        assert!(same_origin(&headers(&[("host", "127.0.0.1:7878")]), ours));
        // Without the public origin known, an Origin is refused (fail closed).
        assert!(!same_origin(
            &headers(&[("origin", "http://127.0.0.1:7878")]),
            None
        ));
    }
}
