//! "This session is not valid for use with the REST API" through the proxy. Salesforce says
//! the same for a Blocked app, for the user's Login IP Ranges or Login Hours, and for a
//! session some policy refuses; one diagnostic refresh through the token service (the durable
//! path: the refresh may rotate) tells them apart:
//! - the refresh is refused: the connection expires with the refresh's own diagnosis
//!   (`IP restricted or invalid login hours` is `ip_restricted`, certain and rechecked until
//!   the admin fixes it; a Block or a revoke is told by the probe of the session);
//! - the refresh works and the API takes the new token: the request is answered (replayed
//!   when its body can be, else the client retries);
//! - the refresh works and the API refuses the new token too: `session_blocked`, likely, and
//!   the connection expires: refreshing cannot help, a person must act;
//! - no refresh could be made (provider down, backoff): the refusal with the diagnosis the
//!   answer alone allows (`session_blocked`, possible).
//!
//! Never a loop: one refresh per refused call, and an expired connection is answered 409 by
//! the token service before anything reaches Salesforce.

use axum::http::StatusCode;
use axum::response::Response;
use tether_core::cause::Cause;
use tether_core::diagnosis::{Confidence, Diagnosis, diagnose};
use tether_core::event::Outcome;
use tether_core::secret::AccessToken;
use tether_oauth::SessionProbe;

use super::Call;
use super::body::OutgoingBody;
use super::problem::ProxyError;
use super::refusal::{
    ErrorAnswer, NOT_VALID_FOR_REST, Refusal, classify, provider_error, read_error, record, refuse,
    session_refused,
};
use crate::tokens::{IssuedToken, TokenError};

/// Handles "not valid for use with the REST API" to the first attempt.
pub(super) async fn on_not_valid(
    call: &Call<'_>,
    used: AccessToken,
    answer: ErrorAnswer,
    body: &mut OutgoingBody,
) -> Result<Response, ProxyError> {
    let fresh = match call.renewed(used).await {
        Ok(fresh) => fresh,
        Err(TokenError::Expired { cause, diagnosis }) => {
            return Err(refresh_refused(call, cause, diagnosis, &answer.body).await);
        }
        Err(_) => return Err(refuse(call, &answer.body).await),
    };
    if !body.is_replayable() {
        return unreplayable(call, &fresh, answer).await;
    }
    let second = call.send(&fresh, body).await?;
    if second.status() != StatusCode::UNAUTHORIZED {
        let detail = format!(
            "Salesforce refused the session for the REST API ({NOT_VALID_FOR_REST}); tether refreshed it and retried: {}",
            second.status()
        );
        record(call, Outcome::Success, &detail, &answer.body).await;
        return call.state.proxy.stream_back(second);
    }
    match read_error(call, second).await {
        Ok(again) if classify(&again.body) == Refusal::NotValidForRest => {
            Err(still_refused(call, &fresh.access_token, &again.body).await)
        }
        Ok(again) => {
            let detail = "Salesforce refused the session for the REST API; after a refresh it refused the new token differently; passed through";
            record(call, Outcome::Failure, detail, &again.body).await;
            Ok(again.pass_back())
        }
        Err(passed) => Ok(passed),
    }
}

/// The diagnostic refresh was refused: the token service expired the connection with the
/// refresh's diagnosis.
async fn refresh_refused(
    call: &Call<'_>,
    cause: Cause,
    diagnosis: Option<Box<Diagnosis>>,
    bytes: &[u8],
) -> ProxyError {
    let detail = format!(
        "Salesforce refused the session for the REST API ({NOT_VALID_FOR_REST}); tether refreshed once to find out why, and the refresh was refused: {cause}"
    );
    let answered = format!(
        "Salesforce refuses this session for the REST API (\"{NOT_VALID_FOR_REST}\"); tether refreshed the token once to find out why, Salesforce refused the refresh too, and the connection expired: {cause}"
    );
    session_refused(call, &detail, answered, cause, diagnosis, bytes).await
}

/// The refresh worked and the API refused the new token too: the connection expires as
/// `session_blocked`, likely.
async fn still_refused(call: &Call<'_>, fresh: &AccessToken, bytes: &[u8]) -> ProxyError {
    let cause = Cause::SessionBlocked;
    let diagnosis = diagnose(
        cause,
        Confidence::Likely,
        vec![
            "tether refreshed the access token once: Salesforce issued a new one, and the REST API refused that one too, so the refusal is not about an expired session".to_owned(),
            "A Block of the app refuses sessions this way; so do the user's Login IP Ranges or Login Hours when the app relaxes IP restrictions for refresh tokens (Edit Policies > IP Relaxation)".to_owned(),
        ],
        provider_error(bytes),
    );
    let expired = call
        .state
        .tokens
        .expire_refused(call.ws, call.id, fresh, diagnosis.clone())
        .await;
    if let Err(err) = &expired {
        tracing::error!(connection = %call.id, error = %err, "could not expire a connection whose new session the API refused");
    }
    let detail = format!(
        "Salesforce refused the session for the REST API ({NOT_VALID_FOR_REST}); tether refreshed once and the new token was refused too: {cause}"
    );
    let answered = format!(
        "Salesforce refuses this session for the REST API (\"{NOT_VALID_FOR_REST}\"); tether refreshed the token once and Salesforce refused the new one too, so the connection expired: {cause}"
    );
    let diagnosis = Some(Box::new(diagnosis));
    session_refused(call, &detail, answered, cause, diagnosis, bytes).await
}

/// A streamed body cannot be replayed: the new token is tried on Salesforce's userinfo
/// endpoint instead; if it works the client gets the 401 back to retry.
async fn unreplayable(
    call: &Call<'_>,
    fresh: &IssuedToken,
    answer: ErrorAnswer,
) -> Result<Response, ProxyError> {
    let probe = call
        .state
        .oauth
        .probe_session(&fresh.instance_url, &fresh.access_token)
        .await;
    match probe {
        SessionProbe::NotValidForApi => {
            Err(still_refused(call, &fresh.access_token, &answer.body).await)
        }
        SessionProbe::Works => {
            let detail = "Salesforce refused the session for the REST API; tether refreshed it and the new token works, but the streamed request body cannot be replayed, so the 401 went back to the client to retry";
            record(call, Outcome::Failure, detail, &answer.body).await;
            Ok(answer.pass_back())
        }
        SessionProbe::Expired | SessionProbe::Unknown => Err(refuse(call, &answer.body).await),
    }
}
