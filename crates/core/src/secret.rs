//! Secrets: values that must never be printed, logged or returned by accident.
//!
//! Each secret type has no `Display`, a `Debug` that prints `[redacted]`, and gives its value
//! only through an explicit `expose()` call, so every place that reveals one is greppable.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself; call only where it must leave tether (a provider request,
            /// the token endpoint's answer, the encryption module).
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret!(
    /// A provider access token (Salesforce session id).
    AccessToken);
secret!(
    /// A provider refresh token.
    RefreshToken);
secret!(
    /// A connector's OAuth client secret (Salesforce consumer secret).
    ClientSecret);
secret!(
    /// A tether API key as the caller presents it.
    ApiKey);
secret!(
    /// A PKCE code verifier, secret until the code exchange.
    PkceVerifier);
secret!(
    /// The PEM (PKCS#8) of the RSA private key that signs a connector's JWT bearer assertions,
    /// kept sealed in the database.
    PrivateKeyPem);
secret!(
    /// The secret that signs connect states and page sessions (base64 of 32 random bytes),
    /// kept sealed in the database.
    SigningSecret);
secret!(
    /// The secret that signs a webhook's deliveries: `whsec_` and base64 of random bytes, as
    /// Standard Webhooks libraries take it; kept sealed in the database.
    WebhookSecret);

/// The access token is the one secret tether hands out on purpose (token endpoint only).
impl Serialize for AccessToken {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_secret() {
        let token = RefreshToken::new("5Aep861-very-secret");
        let printed = format!("{token:?}");
        assert_eq!(printed, "RefreshToken([redacted])");
        assert!(!printed.contains("5Aep"));
    }
}
