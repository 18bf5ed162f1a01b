//! The shared provider HTTP client and the calls of an OAuth 2.0 web-server flow.

use std::time::Duration;

use reqwest::header::{ACCEPT, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, redirect};
use serde::de::DeserializeOwned;
use tether_core::refresh::ProviderError;
use tether_core::secret::{AccessToken, ClientSecret, PkceVerifier, RefreshToken};
use url::Url;

use crate::OAuthError;
use crate::hosts::ProviderHosts;
use crate::salesforce::{self, Introspection, TokenResponse, UserInfo};

/// What the session probe asks for: the REST resource list of an API version every org
/// serves (Spring '24).
const PROBE_PATH: &str = "/services/data/v60.0/";

/// What Salesforce said of an access token's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionProbe {
    /// The token authenticated (the call worked, or was refused for a reason that needs an
    /// authenticated session, such as a request limit or API access).
    Works,
    /// `Session expired or invalid`: the session ended (timed out, revoked).
    Expired,
    /// `This session is not valid for use with the REST API`: a Block or a policy refuses it.
    NotValidForApi,
    /// No answer that says either (outage, unexpected status).
    Unknown,
}

impl SessionProbe {
    /// Reads an answer's status and body.
    pub fn of(status: u16, body: &str) -> Self {
        match status {
            200..=299 | 403 => SessionProbe::Works,
            401 if body.contains("not valid for use with the REST API") => {
                SessionProbe::NotValidForApi
            }
            401 => SessionProbe::Expired,
            _ => SessionProbe::Unknown,
        }
    }
}

/// The `grant_type` of the JWT bearer flow (RFC 7523).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The most tether reads of any provider answer; more is garbage.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Timeouts of provider calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    /// Whole-request timeout; must be shorter than the refresh lease.
    pub request_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// The app credentials of a connector, as the provider knows them.
#[derive(Debug, Clone)]
pub struct ProviderApp {
    /// `https://login.salesforce.com`, `https://test.salesforce.com` or a My Domain.
    pub login_url: Url,
    pub client_id: String,
    /// `None` for a JWT bearer connector registered without one: no introspection then.
    pub client_secret: Option<ClientSecret>,
    pub scopes: Vec<String>,
}

impl ProviderApp {
    /// The consumer secret as a form value ("" when the connector has none: Salesforce then
    /// refuses the call as `invalid_client`, which is what the classification expects).
    fn secret(&self) -> &str {
        self.client_secret.as_ref().map_or("", ClientSecret::expose)
    }

    /// `fields`, then the app's `client_id` and `client_secret`: a form the provider
    /// authenticates the app by.
    fn form<'a>(&'a self, fields: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut form = fields.to_vec();
        form.extend([
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.secret()),
        ]);
        form
    }
}

/// One client for all provider calls: rustls, no redirects, bounded time and body size, and
/// only to allowed provider hosts ([`ProviderHosts`]).
#[derive(Debug, Clone)]
pub struct OAuthClient {
    http: reqwest::Client,
    hosts: ProviderHosts,
}

impl OAuthClient {
    /// Builds the shared client.
    pub fn new(settings: HttpSettings) -> Result<Self, OAuthError> {
        let http = reqwest::Client::builder()
            .redirect(redirect::Policy::none())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .user_agent(concat!("tether/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OAuthError::Network(e.to_string()))?;
        Ok(Self {
            http,
            hosts: ProviderHosts::default(),
        })
    }

    /// The same client, allowing `hosts` instead of Salesforce's hosts only.
    pub fn with_provider_hosts(mut self, hosts: ProviderHosts) -> Self {
        self.hosts = hosts;
        self
    }

    /// The hosts this client calls.
    pub fn provider_hosts(&self) -> &ProviderHosts {
        &self.hosts
    }

    /// The browser URL that starts an authorization-code flow with PKCE S256.
    pub fn authorize_url(
        &self,
        app: &ProviderApp,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
        login_hint: Option<&str>,
    ) -> Result<Url, OAuthError> {
        let mut url = self.endpoint(app, salesforce::AUTHORIZE_PATH)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &app.client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("state", state)
                .append_pair("code_challenge", code_challenge)
                .append_pair("code_challenge_method", "S256");
            if !app.scopes.is_empty() {
                q.append_pair("scope", &app.scopes.join(" "));
            }
            if let Some(hint) = login_hint {
                q.append_pair("login_hint", hint);
            }
        }
        Ok(url)
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens.
    pub async fn exchange_code(
        &self,
        app: &ProviderApp,
        code: &str,
        redirect_uri: &str,
        verifier: &PkceVerifier,
    ) -> Result<TokenResponse, OAuthError> {
        let form = app.form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier.expose()),
        ]);
        self.token_call(app, &form).await
    }

    /// Uses a refresh token for a new access token (and, under rotation, a new refresh token).
    pub async fn refresh(
        &self,
        app: &ProviderApp,
        refresh_token: &RefreshToken,
    ) -> Result<TokenResponse, OAuthError> {
        let form = app.form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ]);
        self.token_call(app, &form).await
    }

    /// The JWT bearer grant: an access token for the user the signed `assertion` names. The
    /// answer carries no refresh token (and, as Salesforce documents it, no `issued_at` or
    /// `signature`).
    pub async fn jwt_bearer(
        &self,
        app: &ProviderApp,
        assertion: &str,
    ) -> Result<TokenResponse, OAuthError> {
        let form = [("grant_type", JWT_BEARER_GRANT), ("assertion", assertion)];
        self.token_call(app, &form).await
    }

    /// The client credentials grant: an access token for the Connected App's Run As user,
    /// without a refresh token.
    pub async fn client_credentials(&self, app: &ProviderApp) -> Result<TokenResponse, OAuthError> {
        let form = app.form(&[("grant_type", "client_credentials")]);
        self.token_call(app, &form).await
    }

    /// Revokes a refresh token (and every access token issued from it).
    pub async fn revoke(&self, app: &ProviderApp, token: &RefreshToken) -> Result<(), OAuthError> {
        let url = self.endpoint(app, salesforce::REVOKE_PATH)?;
        let response = send(self.http.post(url).form(&[("token", token.expose())])).await?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(error_from(response).await)
    }

    /// The user-info document for an access token.
    pub async fn userinfo(
        &self,
        app: &ProviderApp,
        access_token: &AccessToken,
    ) -> Result<UserInfo, OAuthError> {
        let url = self.endpoint(app, salesforce::USERINFO_PATH)?;
        let response = send(self.get_as(url, access_token)).await?;
        json_or_error(response).await
    }

    /// RFC 7662 introspection of an access token: how tether learns its exact lifetime,
    /// where the Connected App lets its own tokens be introspected.
    pub async fn introspect(
        &self,
        app: &ProviderApp,
        access_token: &AccessToken,
    ) -> Result<Introspection, OAuthError> {
        let form = app.form(&[
            ("token", access_token.expose()),
            ("token_type_hint", "access_token"),
        ]);
        let response = self
            .post_form(app, salesforce::INTROSPECT_PATH, &form)
            .await?;
        json_or_error(response).await
    }

    /// Whether an access token still opens a session at its instance: one authenticated REST
    /// call (the API's resource list), read for its status and Salesforce's error text.
    pub async fn probe_session(
        &self,
        instance_url: &tether_core::instance::InstanceUrl,
        access_token: &AccessToken,
    ) -> SessionProbe {
        let Ok(url) = instance_url.url().join(PROBE_PATH) else {
            return SessionProbe::Unknown;
        };
        if !self.hosts.allows(&url) {
            return SessionProbe::Unknown;
        }
        let Ok(response) = send(self.get_as(url, access_token)).await else {
            return SessionProbe::Unknown;
        };
        let status = response.status().as_u16();
        let body = read_limited(response).await.unwrap_or_default();
        SessionProbe::of(status, &String::from_utf8_lossy(&body))
    }

    async fn token_call(
        &self,
        app: &ProviderApp,
        form: &[(&str, &str)],
    ) -> Result<TokenResponse, OAuthError> {
        let response = self.post_form(app, salesforce::TOKEN_PATH, form).await?;
        let raw: salesforce::RawTokenResponse = json_or_error(response).await?;
        let tokens = salesforce::TokenResponse::from_raw(raw, app.client_secret.as_ref())?;
        // A forged answer could name any host; API calls and proxied tokens would go there.
        if let Some(url) = tokens
            .instance_url
            .as_ref()
            .filter(|u| !self.hosts.allows(u))
        {
            return Err(OAuthError::InvalidResponse(format!(
                "instance_url host {:?} is not an allowed provider host (setting extra_provider_hosts)",
                url.host_str().unwrap_or_default()
            )));
        }
        Ok(tokens)
    }

    /// POSTs `form` to `path` at the app's login URL, asking for JSON.
    async fn post_form(
        &self,
        app: &ProviderApp,
        path: &str,
        form: &[(&str, &str)],
    ) -> Result<Response, OAuthError> {
        let url = self.endpoint(app, path)?;
        send(
            self.http
                .post(url)
                .header(ACCEPT, "application/json")
                .form(form),
        )
        .await
    }

    /// A GET of `url` authenticated by `access_token`, asking for JSON.
    fn get_as(&self, url: Url, access_token: &AccessToken) -> RequestBuilder {
        self.http
            .get(url)
            .bearer_auth(access_token.expose())
            .header(ACCEPT, "application/json")
    }

    /// `path` at the app's login URL, refused unless the login URL is an allowed provider
    /// host: secrets never go to a host the allowlist does not name.
    fn endpoint(&self, app: &ProviderApp, path: &str) -> Result<Url, OAuthError> {
        if !self.hosts.allows(&app.login_url) {
            return Err(OAuthError::InvalidUrl(format!(
                "login_url host {:?} is not an allowed provider host (setting extra_provider_hosts)",
                app.login_url.host_str().unwrap_or_default()
            )));
        }
        app.login_url
            .join(path)
            .map_err(|e| OAuthError::InvalidUrl(e.to_string()))
    }
}

async fn send(request: RequestBuilder) -> Result<Response, OAuthError> {
    request
        .send()
        .await
        .map_err(|e| OAuthError::from_reqwest(&e))
}

async fn json_or_error<T: DeserializeOwned>(response: Response) -> Result<T, OAuthError> {
    if !response.status().is_success() {
        return Err(error_from(response).await);
    }
    let body = read_limited(response).await?;
    serde_json::from_slice(&body).map_err(|e| OAuthError::InvalidResponse(e.to_string()))
}

/// Turns an error answer into an [`OAuthError`], keeping the provider's OAuth error if any.
async fn error_from(response: Response) -> OAuthError {
    let http_status = response.status().as_u16();
    let retry_after_seconds = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let body = match read_limited(response).await {
        Ok(body) => body,
        Err(err) => return err,
    };
    match serde_json::from_slice::<ProviderError>(&body) {
        Ok(error) if !error.error.is_empty() => OAuthError::Provider {
            http_status,
            error,
            retry_after_seconds,
        },
        _ => OAuthError::HttpStatus {
            http_status,
            retry_after_seconds,
        },
    }
}

async fn read_limited(mut response: Response) -> Result<Vec<u8>, OAuthError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| OAuthError::from_reqwest(&e))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(OAuthError::InvalidResponse(format!(
                "answer larger than {MAX_BODY_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests;
