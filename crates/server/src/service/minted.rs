//! Connections made without a browser, for connectors whose grant needs none: the JWT bearer
//! grant (tether signs an assertion for a Salesforce user the Connected App pre-authorizes)
//! and the client credentials grant (the app's Run As user).
//!
//! The connection exists only once a first access token was minted, so a wrong setup (a
//! certificate not uploaded, a user not pre-authorized, no Run As user) is refused at once
//! with its diagnosis and nothing is stored. The account is read as the connect callback
//! reads it (the identity of the answer, the username of user-info), and the connection is
//! stored by the callback's own [`store_new`]; it has no refresh token, so no refresh-token
//! policy, rotation or approval limit can end it.

use tether_core::ids::{ConnectorName, EndUserId, WorkspaceId};
use tether_core::refresh::Grant;
use tether_store::{Connection, Connector};

use super::connect::{AccountName, SignedIn, store_new};
use super::connectors;
use super::import::{Refusal, account_of, refuse_duplicate};
use super::{ServiceError, ServiceResult};
use crate::state::AppState;
use crate::tokens::{TokenCall, provider_app};

const MINT: Refusal = Refusal {
    refused: "the first token request",
    attempt: "the first token request",
    outcome: "no connection was made",
};

/// What the caller asks for.
#[derive(Debug, Clone)]
pub struct NewConnection {
    pub connector: ConnectorName,
    pub end_user_id: EndUserId,
    /// The Salesforce username (JWT bearer only).
    pub username: Option<String>,
}

/// Makes the connection: checks the request against the connector's grant, mints a first
/// access token, reads the account, stores.
pub async fn create(
    state: &AppState,
    ws: &WorkspaceId,
    request: NewConnection,
) -> ServiceResult<Connection> {
    let connector = connectors::get(state, ws, &request.connector).await?;
    let username = username_for(&connector, request.username.as_deref())?;
    refuse_duplicate(state, ws, &request.connector, &request.end_user_id).await?;
    let grant = connector.input.grant;
    let sent_at = state.clock.now();
    let call = TokenCall::of(&connector, username, None, sent_at)?;
    let app = provider_app(&connector)?;
    let response = call
        .send(&state.oauth, &app)
        .await
        .map_err(|err| MINT.refusal(&err, grant))?;
    let account = account_of(state, &connector, &response, None).await?;
    let with = match grant {
        Grant::ClientCredentials => {
            "the client credentials (the Connected App's Run As user; no refresh token)"
        }
        _ => "a signed JWT assertion (no refresh token)",
    };
    let detail = format!("connected {} with {with}", AccountName(&account));
    let signed_in = SignedIn::new(connector, account, response, sent_at);
    Ok(store_new(state, ws, &request.end_user_id, &signed_in, detail).await?)
}

/// The username the grant asks for: required (and allowed) for JWT bearer, refused for
/// client credentials, and no connection at all for the authorization code grant.
fn username_for<'a>(connector: &Connector, username: Option<&'a str>) -> ServiceResult<&'a str> {
    let name = connector.name.as_str();
    let invalid = |msg: String| Err(ServiceError::Invalid(msg));
    match (connector.input.grant, username) {
        (Grant::AuthorizationCode, _) => invalid(format!(
            "connector {name:?} uses the authorization_code grant: a person signs in to make the connection; start a connect session with POST /v1/connect-sessions"
        )),
        (Grant::JwtBearer, None) => invalid(format!(
            "username is required: the Salesforce username connector {name:?} signs JWT assertions for"
        )),
        (Grant::JwtBearer, Some(username)) if username.trim().is_empty() => {
            invalid("username must not be empty".to_owned())
        }
        (Grant::JwtBearer, Some(username)) => match &connector.input.allowed_usernames {
            Some(allowed) if !allowed.iter().any(|a| a == username) => invalid(format!(
                "username {username:?} is not in the allowed_usernames of connector {name:?}"
            )),
            _ => Ok(username),
        },
        (Grant::ClientCredentials, Some(_)) => invalid(format!(
            "username applies only to jwt_bearer connectors: a connection of connector {name:?} (client_credentials) runs as the Connected App's Run As user"
        )),
        (Grant::ClientCredentials, None) => Ok(""),
    }
}
