//! The OAuth side of the org on the login host: authorize (pages and auto-approve), the token
//! endpoint with its grant dispatch and Connected App policies, revoke, userinfo,
//! introspection, the identity URL and OpenID discovery.

mod authorize;
pub mod error;
mod grants;
mod identity;
mod pages;
mod server_grants;
mod token;

use axum::Router;
use axum::routing::{get, post};

pub use error::OAuthError;
pub use grants::{CLIENT_CREDENTIALS, JWT_BEARER, wants_refresh};
pub use token::sign;

use crate::shared::Shared;

/// Every OAuth route.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/services/oauth2/authorize", get(authorize::authorize))
        .route("/services/oauth2/authorize/login", post(authorize::login))
        .route(
            "/services/oauth2/authorize/consent",
            post(authorize::consent),
        )
        .route("/services/oauth2/token", post(token::token))
        .route(
            "/services/oauth2/revoke",
            post(identity::revoke_post).get(identity::revoke_get),
        )
        .route(
            "/services/oauth2/userinfo",
            get(identity::userinfo).post(identity::userinfo),
        )
        .route("/services/oauth2/introspect", post(identity::introspect))
        .route("/id/{org}/{user}", get(identity::identity))
        .route(
            "/.well-known/openid-configuration",
            get(identity::openid_configuration),
        )
}
