//! Opaque, random, Salesforce-looking identifiers: user ids, access tokens, refresh tokens,
//! authorization codes and login-session ids.

use rand::Rng;
use rand::distributions::Alphanumeric;

/// `len` random alphanumeric characters.
fn random(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// An 18-character user id: `005`, a zero-padded sequence number and a `AAA`-style suffix.
pub fn user_id(sequence: usize) -> String {
    format!("005{sequence:012}AAA")
}

/// An access token in Salesforce's session-id shape: 15-character org id, `!`, `AQ`, then
/// random characters (real ones also contain `.` and `_`).
pub fn access_token(org_id: &str) -> String {
    let org15: String = org_id.chars().take(15).collect();
    format!("{org15}!AQ{}.{}", random(40), random(60))
}

/// A refresh token shaped like Salesforce's `5Aep861...` tokens.
pub fn refresh_token() -> String {
    format!("5Aep861{}", random(80))
}

/// A one-time authorization code shaped like Salesforce's `aPrx...` codes.
pub fn authorization_code() -> String {
    format!("aPrx{}", random(60))
}

/// The id of an interactive login in progress (kept in a cookie).
pub fn pending_id() -> String {
    random(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_18_characters_starting_with_005() {
        let id = user_id(7);
        assert_eq!(id, "005000000000007AAA");
        assert_eq!(id.len(), 18);
    }

    #[test]
    fn access_tokens_start_with_the_15_character_org_id() {
        let token = access_token("00D000000000001AAA");
        assert!(token.starts_with("00D000000000001!AQ"), "{token}");
        assert_ne!(token, access_token("00D000000000001AAA"));
    }
}
