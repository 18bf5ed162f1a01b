//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): a secret is `whsec_` and
//! the base64 of its key bytes; a message is signed as the base64 HMAC-SHA256 of
//! `{webhook-id}.{webhook-timestamp}.{body}` under those bytes, sent as `v1,{signature}`,
//! space-separated when several secrets sign (after a rotation).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;
use tether_core::secret::WebhookSecret;

/// What every secret starts with.
const PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the specification asks for 24 to 64).
const SECRET_BYTES: usize = 32;

/// A new random secret.
pub fn new_secret() -> WebhookSecret {
    let mut bytes = [0u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut bytes);
    WebhookSecret::new(format!("{PREFIX}{}", STANDARD.encode(bytes)))
}

/// The key bytes of a secret (`None` for a value that is not one, which signs nothing).
fn key(secret: &WebhookSecret) -> Option<Vec<u8>> {
    let encoded = secret.expose().strip_prefix(PREFIX)?;
    STANDARD.decode(encoded).ok().filter(|k| !k.is_empty())
}

/// The `webhook-signature` header of a message: one `v1,` signature per secret.
pub fn signature(secrets: &[&WebhookSecret], id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .filter_map(|secret| key(secret))
        .filter_map(|key| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).ok()?;
            mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
            Some(format!(
                "v1,{}",
                STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_secret_is_whsec_and_base64_of_32_random_bytes() {
        let (one, two) = (new_secret(), new_secret());
        assert!(one.expose().starts_with("whsec_"));
        assert_eq!(key(&one).map(|k| k.len()), Some(32));
        assert_ne!(one, two);
    }

    #[test]
    fn the_signature_matches_the_specifications_example() {
        // The example of the Standard Webhooks specification and its reference libraries.
        let secret = WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&[&secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn two_secrets_give_two_signatures_and_a_malformed_one_none() {
        let (new, old) = (new_secret(), new_secret());
        let both = signature(&[&new, &old], "evt_1", 1, "{}");
        assert_eq!(both.split(' ').count(), 2);
        assert!(both.split(' ').all(|s| s.starts_with("v1,")));
        let broken = WebhookSecret::new("not-a-secret");
        assert_eq!(signature(&[&broken], "evt_1", 1, "{}"), "");
    }
}
