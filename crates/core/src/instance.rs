//! Where a connection's API calls go: the provider's `instance_url`, parsed once.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

/// An http(s) origin such as `https://na1.salesforce.com`, kept without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InstanceUrl(Url);

/// Why a string is not an instance URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("instance URL {0:?} is not an http(s) origin such as https://na1.salesforce.com")]
pub struct InvalidInstanceUrl(String);

impl InstanceUrl {
    /// Parses an origin (a path of `/` is allowed and dropped; any other path, a query, a
    /// fragment or credentials are refused).
    pub fn parse(raw: &str) -> Result<Self, InvalidInstanceUrl> {
        let invalid = || InvalidInstanceUrl(raw.to_owned());
        let url = Url::parse(raw).map_err(|_| invalid())?;
        let origin_only = matches!(url.scheme(), "http" | "https")
            && url.host().is_some()
            && url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none();
        if !origin_only {
            return Err(invalid());
        }
        Ok(Self(url))
    }

    /// The origin as text, without a trailing slash.
    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    /// The origin as a URL (with the path `/`).
    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl fmt::Display for InstanceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for InstanceUrl {
    type Err = InvalidInstanceUrl;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl TryFrom<String> for InstanceUrl {
    type Error = InvalidInstanceUrl;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<InstanceUrl> for String {
    fn from(url: InstanceUrl) -> String {
        url.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_parses_without_its_trailing_slash() {
        let url = InstanceUrl::parse("https://na1.salesforce.com/").map(|u| u.to_string());
        assert_eq!(url, Ok("https://na1.salesforce.com".to_owned()));
        assert!(InstanceUrl::parse("http://127.0.0.1:7879").is_ok());
    }

    #[test]
    fn paths_queries_credentials_and_other_schemes_are_refused() {
        for raw in [
            "https://na1.salesforce.com/services",
            "https://na1.salesforce.com/?x=1",
            "https://user:pw@na1.salesforce.com",
            "ftp://na1.salesforce.com",
            "not a url",
        ] {
            assert!(InstanceUrl::parse(raw).is_err(), "{raw}");
        }
    }
}
