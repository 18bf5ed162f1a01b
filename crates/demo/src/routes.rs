//! The demo's routes, merged into tether's router by `tether demo` only.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router, middleware};
use chrono::Duration;
use serde::Deserialize;
use serde::de::DeserializeOwned;
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

/// A control's form as its handler receives it: the demo's controls and the control's
/// fields `T`, once the form's `csrf` token has proved to be the signed-in session's.
struct Control<T> {
    demo: Arc<DemoControls>,
    fields: T,
}

/// What every control's form holds: the session's CSRF token next to the control's fields.
#[derive(Debug, Deserialize)]
struct ControlForm<T> {
    csrf: String,
    #[serde(flatten)]
    fields: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for Control<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let Extension(demo) = Extension::<Arc<DemoControls>>::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let session = Session::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let request = Request::from_parts(parts, body);
        let Form(form) = Form::<ControlForm<T>>::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        session
            .check_csrf(&form.csrf)
            .map_err(IntoResponse::into_response)?;
        Ok(Control {
            demo,
            fields: form.fields,
        })
    }
}

/// The simulate-time form.
#[derive(Debug, Deserialize)]
struct ClockForm {
    advance: String,
}

/// `POST /demo/clock`: moves the shared clock a day, a week or a month.
async fn advance_clock(control: Control<ClockForm>) -> Result<Redirect, PageError> {
    let by = match control.fields.advance.as_str() {
        "day" => Duration::days(1),
        "week" => Duration::weeks(1),
        "month" => Duration::days(31),
        other => return Err(PageError::Invalid(format!("cannot advance by {other:?}"))),
    };
    control.demo.clock.advance(by);
    Ok(Redirect::to("/?notice=clock"))
}

/// The policy form.
#[derive(Debug, Deserialize)]
struct PolicyForm {
    policy: String,
}

/// `POST /demo/policy`: changes the sandbox Connected App's refresh token policy.
async fn change_policy(control: Control<PolicyForm>) -> Result<Redirect, PageError> {
    control.demo.set_policy(&control.fields.policy).await?;
    Ok(Redirect::to("/?notice=policy"))
}
