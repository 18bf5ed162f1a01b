//! The connector form's fields, to and from a stored connector: the grant, login host choices
//! (production, sandbox, My Domain), scopes as text, the JWT bearer connector's allowed
//! usernames (one per line), and the policy hints in the shape the diagnosis reads
//! (`refresh_token_policy` with `kind`, `seconds`, `idle_ttl_30d`). Saving the form of a JWT
//! bearer connector keeps its grant, and so its key pair.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use tether_core::ids::ConnectorName;
use tether_core::refresh::Grant;
use tether_core::secret::ClientSecret;
use tether_store::Connector;

use super::views::ConnectorFields;
use crate::service::connectors::ConnectorSpec;

const PRODUCTION: &str = "https://login.salesforce.com";
const SANDBOX: &str = "https://test.salesforce.com";

/// What the add / edit form posts.
#[derive(Debug, Deserialize)]
pub struct ConnectorForm {
    pub csrf: String,
    #[serde(default)]
    pub editing: String,
    pub name: String,
    #[serde(default)]
    pub grant: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: String,
    #[serde(default)]
    pub allowed_usernames: String,
    pub login_host: String,
    #[serde(default)]
    pub custom_login_url: String,
    #[serde(default)]
    pub scopes: String,
    #[serde(default)]
    pub session_timeout_seconds: String,
    #[serde(default)]
    pub policy_kind: String,
    #[serde(default)]
    pub policy_seconds: String,
    #[serde(default)]
    pub idle_ttl_30d: Option<String>,
}

impl ConnectorForm {
    /// The connector the form describes (the connectors service checks it like
    /// `PUT /v1/connectors/{name}`); an empty secret keeps `kept_secret`. The error is a
    /// sentence for the person.
    pub fn to_spec(
        &self,
        kept_secret: Option<ClientSecret>,
    ) -> Result<(ConnectorName, ConnectorSpec), String> {
        let name = ConnectorName::parse(self.name.trim())
            .map_err(|e| format!("The name {e}: use lowercase letters, digits, - and _."))?;
        let secret = match self.client_secret.trim() {
            "" => kept_secret,
            given => Some(ClientSecret::new(given)),
        };
        let grant = match self.grant.as_str() {
            "" => Grant::AuthorizationCode,
            other => other
                .parse::<Grant>()
                .map_err(|_| format!("Unknown grant {other:?}."))?,
        };
        let usernames: Vec<String> = self
            .allowed_usernames
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let spec = ConnectorSpec {
            provider: "salesforce".to_owned(),
            grant,
            client_id: self.client_id.trim().to_owned(),
            client_secret: secret,
            allowed_usernames: (grant == Grant::JwtBearer && !usernames.is_empty())
                .then_some(usernames),
            login_url: self.login_url(),
            scopes: self.scopes.split_whitespace().map(str::to_owned).collect(),
            session_timeout_seconds: optional_number(&self.session_timeout_seconds, "timeout")?,
            refresh_token_policy: self.policy()?,
        };
        Ok((name, spec))
    }

    fn login_url(&self) -> String {
        match self.login_host.as_str() {
            "production" => PRODUCTION.to_owned(),
            "sandbox" => SANDBOX.to_owned(),
            _ => self.custom_login_url.trim().to_owned(),
        }
    }

    fn policy(&self) -> Result<Option<Value>, String> {
        let seconds = optional_number(&self.policy_seconds, "policy")?;
        let mut policy = Map::new();
        match (self.policy_kind.as_str(), seconds) {
            ("none" | "", _) => {}
            (kind @ ("idle" | "lifetime"), Some(n)) => {
                policy.insert("kind".into(), json!(kind));
                policy.insert("seconds".into(), json!(n));
            }
            ("idle" | "lifetime", None) => {
                return Err("That refresh token policy needs N seconds.".to_owned());
            }
            (kind @ ("until_revoked" | "immediately"), _) => {
                policy.insert("kind".into(), json!(kind));
            }
            (other, _) => return Err(format!("Unknown refresh token policy {other:?}.")),
        }
        if self.idle_ttl_30d.is_some() {
            policy.insert("idle_ttl_30d".into(), json!(true));
        }
        Ok((!policy.is_empty()).then_some(Value::Object(policy)))
    }

    /// The fields as sent, to show the form again with its error.
    pub fn fields(&self) -> ConnectorFields {
        ConnectorFields {
            name: self.name.clone(),
            grant: self.grant.clone(),
            client_id: self.client_id.clone(),
            allowed_usernames: self.allowed_usernames.clone(),
            login_host: self.login_host.clone(),
            custom_login_url: self.custom_login_url.clone(),
            scopes: self.scopes.clone(),
            session_timeout_seconds: self.session_timeout_seconds.clone(),
            policy_kind: self.policy_kind.clone(),
            policy_seconds: self.policy_seconds.clone(),
            idle_ttl_30d: self.idle_ttl_30d.is_some(),
        }
    }
}

fn optional_number(raw: &str, what: &str) -> Result<Option<i64>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.parse::<i64>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(format!(
            "The {what} seconds must be a positive whole number."
        )),
    }
}

/// The form filled from a stored connector.
pub fn fields_of(c: &Connector) -> ConnectorFields {
    let (login_host, custom) = match c.input.login_url.as_str() {
        PRODUCTION => ("production", String::new()),
        SANDBOX => ("sandbox", String::new()),
        other => ("custom", other.to_owned()),
    };
    let policy = c.input.refresh_token_policy.as_ref();
    let text = |key: &str| {
        policy
            .and_then(|p| p.get(key))
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
    };
    ConnectorFields {
        name: c.name.to_string(),
        grant: c.input.grant.as_str().to_owned(),
        client_id: c.input.client_id.clone(),
        allowed_usernames: c
            .input
            .allowed_usernames
            .as_deref()
            .unwrap_or_default()
            .join("\n"),
        login_host: login_host.to_owned(),
        custom_login_url: custom,
        scopes: c.input.scopes.join(" "),
        session_timeout_seconds: c
            .input
            .session_timeout_seconds
            .map(|s| s.to_string())
            .unwrap_or_default(),
        policy_kind: text("kind").unwrap_or_else(|| "none".to_owned()),
        policy_seconds: text("seconds").unwrap_or_default(),
        idle_ttl_30d: policy.and_then(|p| p.get("idle_ttl_30d")) == Some(&json!(true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_oauth::ProviderHosts;
    use tether_store::ConnectorInput;

    impl ConnectorForm {
        /// What saving the form stores, or the sentence the person reads.
        fn to_input(
            &self,
            kept_secret: Option<ClientSecret>,
            hosts: &ProviderHosts,
        ) -> Result<(ConnectorName, ConnectorInput), String> {
            let (name, spec) = self.to_spec(kept_secret)?;
            let input = spec.validate(hosts).map_err(|e| format!("{e}."))?;
            Ok((name, input))
        }

        /// What saving the form stores (the default provider hosts, no stored secret).
        fn saved(&self) -> (ConnectorName, ConnectorInput) {
            self.to_input(None, &ProviderHosts::default())
                .unwrap_or_else(|e| panic!("{e}"))
        }

        /// The sentence refusing the form (the default provider hosts, no stored secret).
        fn refusal(&self) -> Option<String> {
            self.to_input(None, &ProviderHosts::default()).err()
        }
    }

    fn form() -> ConnectorForm {
        ConnectorForm {
            csrf: String::new(),
            editing: "0".into(),
            name: "salesforce".into(),
            grant: "authorization_code".into(),
            client_id: "key".into(),
            client_secret: "secret".into(),
            allowed_usernames: String::new(),
            login_host: "sandbox".into(),
            custom_login_url: String::new(),
            scopes: "api  refresh_token".into(),
            session_timeout_seconds: "900".into(),
            policy_kind: "idle".into(),
            policy_seconds: "3600".into(),
            idle_ttl_30d: Some("1".into()),
        }
    }

    /// The form with the "custom" login host and `url` typed in as its login URL.
    fn custom_login(url: &str) -> ConnectorForm {
        ConnectorForm {
            login_host: "custom".into(),
            custom_login_url: url.into(),
            ..form()
        }
    }

    #[test]
    fn a_filled_form_becomes_the_connector_the_api_would_store() {
        let (name, input) = form().saved();
        assert_eq!(name.as_str(), "salesforce");
        assert_eq!(input.login_url, SANDBOX);
        assert_eq!(input.scopes, vec!["api", "refresh_token"]);
        assert_eq!(input.session_timeout_seconds, Some(900));
        assert_eq!(
            input.refresh_token_policy,
            Some(json!({"kind": "idle", "seconds": 3600, "idle_ttl_30d": true}))
        );
        assert_eq!(
            input.client_secret.map(|s| s.expose().to_owned()),
            Some("secret".into())
        );
    }

    #[test]
    fn an_empty_secret_keeps_the_stored_one_and_a_missing_one_is_refused() {
        let mut f = form();
        f.client_secret = String::new();
        let kept = f.to_input(Some(ClientSecret::new("old")), &ProviderHosts::default());
        assert_eq!(
            kept.map(|(_, i)| i.client_secret.map(|s| s.expose().to_owned())),
            Ok(Some("old".into()))
        );
        assert_eq!(
            f.refusal(),
            Some("client_secret is required for the authorization_code grant.".to_owned())
        );
    }

    #[test]
    fn a_jwt_bearer_form_needs_no_secret_and_keeps_its_grant_and_usernames_when_shown_again() {
        let mut f = form();
        f.grant = "jwt_bearer".into();
        f.client_secret = String::new();
        f.allowed_usernames = "ana@acme.example\n  bo@acme.example ".into();
        let (_, input) = f.saved();
        assert_eq!(input.grant, Grant::JwtBearer);
        assert_eq!(input.client_secret, None);
        assert_eq!(
            input.allowed_usernames,
            Some(vec![
                "ana@acme.example".to_owned(),
                "bo@acme.example".to_owned()
            ])
        );
        let stored = Connector {
            workspace_id: tether_core::ids::WorkspaceId::generate(),
            name: ConnectorName::parse("salesforce").unwrap_or_else(|e| panic!("{e}")),
            input,
            keys: tether_store::JwtKeys::default(),
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
            generation: 1,
        };
        let shown = fields_of(&stored);
        assert_eq!(shown.grant, "jwt_bearer");
        assert_eq!(shown.allowed_usernames, "ana@acme.example\nbo@acme.example");
        let mut client_credentials = form();
        client_credentials.grant = "client_credentials".into();
        client_credentials.allowed_usernames = "ana@acme.example".into();
        let (_, input) = client_credentials.saved();
        assert_eq!(
            input.allowed_usernames, None,
            "only JWT bearer takes usernames"
        );
    }

    #[test]
    fn an_idle_policy_without_seconds_and_a_bad_my_domain_are_refused_in_words() {
        let mut f = form();
        f.policy_seconds = String::new();
        assert_eq!(
            f.refusal(),
            Some("That refresh token policy needs N seconds.".to_owned())
        );
        assert_eq!(
            custom_login("acme.my.salesforce.com").refusal(),
            Some("login_url \"acme.my.salesforce.com\" must be an origin such as https://login.salesforce.com.".to_owned())
        );
    }

    #[test]
    fn a_custom_login_url_outside_the_provider_hosts_is_refused_unless_listed() {
        let f = custom_login("http://127.0.0.1:9999");
        assert_eq!(
            f.refusal(),
            Some("login_url \"http://127.0.0.1:9999\" is not a Salesforce login host (https on login.salesforce.com, test.salesforce.com or a *.my.salesforce.com My Domain); other hosts must be listed in the setting extra_provider_hosts.".to_owned())
        );
        let listed = ProviderHosts::new(["127.0.0.1:9999"]).unwrap_or_else(|e| panic!("{e}"));
        let (_, input) = f.to_input(None, &listed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(input.login_url, "http://127.0.0.1:9999");
    }
}
