//! Identifiers: parsed once at the edge, then carried as types.
//!
//! Generated ids are a readable prefix plus 20 random base62 characters (`conn_...`), so a
//! stray id in a log says what it names. Names chosen by users (connector names, end-user
//! ids) are validated here, once.

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` random base62 characters from the OS-seeded thread RNG.
pub fn random_base62(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Why a string was refused as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {reason}")]
pub struct InvalidId {
    what: &'static str,
    reason: &'static str,
}

/// A string newtype that is serialized as its text and deserialized through its `parse`,
/// with `as_str`, `Display`, `TryFrom<String>` (through `parse`) and `Into<String>`.
macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(raw: String) -> Result<Self, InvalidId> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

macro_rules! generated_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $what:literal) => {
        string_newtype!($(#[$doc])* $name);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A new random id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, random_base62(20)))
            }

            /// Parses an id received from outside.
            pub fn parse(raw: &str) -> Result<Self, InvalidId> {
                let rest = raw.strip_prefix($prefix).ok_or(InvalidId {
                    what: $what,
                    reason: concat!("must start with ", $prefix),
                })?;
                if rest.is_empty() || rest.len() > 64 || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(InvalidId { what: $what, reason: "has invalid characters or length" });
                }
                Ok(Self(raw.to_owned()))
            }
        }
    };
}

generated_id!(
    /// A tenant.
    WorkspaceId, "ws_", "workspace id");
generated_id!(
    /// One end user's authorized link to a provider account.
    ConnectionId, "conn_", "connection id");
generated_id!(
    /// A pending connect or reconnect flow.
    ConnectSessionId, "cs_", "connect session id");
generated_id!(
    /// The public half of an API key (the lookup id; the secret half is hashed).
    ApiKeyId, "key_", "api key id");
generated_id!(
    /// One entry of a connection's history.
    EventId, "evt_", "event id");
generated_id!(
    /// An endpoint of a workspace that tether sends webhooks to.
    WebhookId, "wh_", "webhook id");
generated_id!(
    /// One event's delivery to one webhook.
    DeliveryId, "whd_", "delivery id");

macro_rules! name_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal, $allowed:expr) => {
        string_newtype!($(#[$doc])* $name);

        impl $name {
            /// Parses a name received from outside.
            pub fn parse(raw: &str) -> Result<Self, InvalidId> {
                if raw.is_empty() || raw.len() > $max {
                    return Err(InvalidId { what: $what, reason: concat!("must be 1 to ", $max, " characters") });
                }
                let allowed: fn(char) -> bool = $allowed;
                if !raw.chars().all(allowed) {
                    return Err(InvalidId { what: $what, reason: "has characters that are not allowed" });
                }
                Ok(Self(raw.to_owned()))
            }
        }
    };
}

name_id!(
    /// A workspace's name for one of its connectors (`salesforce`, `salesforce-sandbox`).
    ConnectorName, "connector name", 64,
    |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
name_id!(
    /// The app's own id for its end user; any printable text without control characters.
    EndUserId, "end_user_id", 256, |c| !c.is_control());
name_id!(
    /// A workspace's human name (`demo`, `acme`).
    WorkspaceName, "workspace name", 64,
    |c| c.is_ascii_alphanumeric() || c == '-' || c == '_');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_connection_ids_parse_back_and_differ() {
        let a = ConnectionId::generate();
        let b = ConnectionId::generate();
        assert_ne!(a, b);
        assert_eq!(ConnectionId::parse(a.as_str()), Ok(a.clone()));
        assert!(a.as_str().starts_with("conn_"));
        assert_eq!(a.as_str().len(), 25);
    }

    #[test]
    fn ids_with_the_wrong_prefix_or_characters_are_refused() {
        assert!(ConnectionId::parse("ws_abc").is_err());
        assert!(ConnectionId::parse("conn_").is_err());
        assert!(ConnectionId::parse("conn_../etc").is_err());
        assert_eq!(
            ConnectionId::parse("nope").map_err(|e| e.to_string()),
            Err("connection id must start with conn_".to_owned())
        );
    }

    #[test]
    fn connector_names_are_lowercase_slugs() {
        assert!(ConnectorName::parse("salesforce-sandbox").is_ok());
        assert!(ConnectorName::parse("Salesforce").is_err());
        assert!(ConnectorName::parse("").is_err());
        assert!(ConnectorName::parse("<b>x</b>").is_err());
    }

    #[test]
    fn end_user_ids_accept_any_printable_text() {
        assert!(EndUserId::parse("u-42@example.com <b>").is_ok());
        assert!(EndUserId::parse("a\nb").is_err());
    }
}
