//! Asking the provider for a new access token the connector's way (`Grant`): the refresh
//! token for the authorization code grant, an assertion signed with the connector's key for
//! the JWT bearer grant (for the connection's own Salesforce user), the Connected App's own
//! credentials for the client credentials grant. The last two have no refresh token to lose,
//! rotate or have expired by a policy: each access token is minted anew.

use chrono::{DateTime, Utc};
use tether_core::refresh::Grant;
use tether_core::secret::RefreshToken;
use tether_oauth::jwt::{self, Claims, JwtError};
use tether_oauth::salesforce::TokenResponse;
use tether_oauth::{OAuthClient, OAuthError, ProviderApp};
use tether_store::Connector;

use super::TokenError;

/// One token request, ready to send.
#[derive(Debug)]
pub enum TokenCall {
    Refresh(RefreshToken),
    JwtBearer { assertion: String },
    ClientCredentials,
}

impl TokenCall {
    /// The call that gets `connector`'s connection of `username` a new access token at `now`;
    /// `refresh_token` is the connection's (the authorization code grant needs it: without
    /// one the connection was disconnected).
    pub fn of(
        connector: &Connector,
        username: &str,
        refresh_token: Option<RefreshToken>,
        now: DateTime<Utc>,
    ) -> Result<Self, TokenError> {
        match connector.input.grant {
            Grant::AuthorizationCode => refresh_token
                .map(TokenCall::Refresh)
                .ok_or(TokenError::Disconnected),
            Grant::JwtBearer => Ok(TokenCall::JwtBearer {
                assertion: assertion(connector, username, now)?,
            }),
            Grant::ClientCredentials => Ok(TokenCall::ClientCredentials),
        }
    }

    /// Sends the call.
    pub async fn send(
        &self,
        oauth: &OAuthClient,
        app: &ProviderApp,
    ) -> Result<TokenResponse, OAuthError> {
        match self {
            TokenCall::Refresh(token) => oauth.refresh(app, token).await,
            TokenCall::JwtBearer { assertion } => oauth.jwt_bearer(app, assertion).await,
            TokenCall::ClientCredentials => oauth.client_credentials(app).await,
        }
    }
}

/// The JWT bearer assertion for `username`, signed with the connector's active key: `iss`
/// the consumer key, `sub` the username, `aud` the login host Salesforce expects, `exp` two
/// minutes ahead.
pub fn assertion(
    connector: &Connector,
    username: &str,
    now: DateTime<Utc>,
) -> Result<String, TokenError> {
    let key = connector
        .keys
        .active
        .as_ref()
        .ok_or(TokenError::Signing(JwtError::PrivateKey))?;
    let login_url =
        url::Url::parse(&connector.input.login_url).map_err(TokenError::ConnectorUrl)?;
    let aud = jwt::audience(&login_url);
    let claims = Claims::new(&connector.input.client_id, username, &aud, now);
    jwt::assertion(&key.private_key, &claims).map_err(TokenError::Signing)
}
