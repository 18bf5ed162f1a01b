//! The demo's routes, merged into tether's router by `tether demo` only.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router, middleware};
use chrono::Duration;
use serde::Deserialize;
use tether_server::AppState;
use tether_server::page::{LayoutHook, PageError, Session, guard_cross_site, signin};

use crate::controls::DemoControls;

/// `/login/once/{token}`, `/demo/clock` and `/demo/policy`, acting on `controls`.
pub fn routes(controls: Arc<DemoControls>) -> Router<AppState> {
    Router::new()
        .route("/login/once/{token}", get(sign_in_once))
        .route("/demo/clock", post(advance_clock))
        .route("/demo/policy", post(change_policy))
        .layer(middleware::from_fn(guard_cross_site))
        .layer(Extension(controls))
}

/// The hook that puts the controls in every page's layout.
pub fn layout_hook(controls: Arc<DemoControls>) -> LayoutHook {
    LayoutHook::new(move || controls.panel())
}

/// `GET /login/once/{token}`: trades a one-time token for a session; a used or unknown token
/// answers the sign-in form.
async fn sign_in_once(
    State(state): State<AppState>,
    Extension(demo): Extension<Arc<DemoControls>>,
    Path(token): Path<String>,
) -> Response {
    match demo.redeem_sign_in(&token) {
        Some(ws) => signin::signed_in(&state, &ws, "/")
            .await
            .unwrap_or_else(IntoResponse::into_response),
        None => signin::login_page(
            &state,
            axum::http::StatusCode::UNAUTHORIZED,
            "/".to_owned(),
            Some("This sign-in link was already used or is unknown. Sign in with the API key."),
        ),
    }
}

/// The simulate-time form.
#[derive(Debug, Deserialize)]
struct ClockForm {
    csrf: String,
    advance: String,
}

/// `POST /demo/clock`: moves the shared clock a day, a week or a month.
async fn advance_clock(
    Extension(demo): Extension<Arc<DemoControls>>,
    session: Session,
    Form(form): Form<ClockForm>,
) -> Result<Redirect, PageError> {
    session.check_csrf(&form.csrf)?;
    let by = match form.advance.as_str() {
        "day" => Duration::days(1),
        "week" => Duration::weeks(1),
        "month" => Duration::days(31),
        other => return Err(PageError::Invalid(format!("cannot advance by {other:?}"))),
    };
    demo.clock.advance(by);
    Ok(Redirect::to("/?notice=clock"))
}

/// The policy form.
#[derive(Debug, Deserialize)]
struct PolicyForm {
    csrf: String,
    policy: String,
}

/// `POST /demo/policy`: changes the sandbox Connected App's refresh token policy.
async fn change_policy(
    Extension(demo): Extension<Arc<DemoControls>>,
    session: Session,
    Form(form): Form<PolicyForm>,
) -> Result<Redirect, PageError> {
    session.check_csrf(&form.csrf)?;
    demo.set_policy(&form.policy).await?;
    Ok(Redirect::to("/?notice=policy"))
}
