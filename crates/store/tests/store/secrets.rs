//! Secrets written with distinctive values, and the rotation claims every backend must meet:
//! a keyring with the old key as previous reads everything, `reencrypt_all` moves every value
//! to the new primary, and a missing key is reported by its id.

use std::sync::Arc;

use tether_core::ids::{ConnectSessionId, ConnectionId, ConnectorName, WorkspaceId};
use tether_core::refresh::Grant;
use tether_core::secret::{
    AccessToken, ClientSecret, PkceVerifier, PrivateKeyPem, RefreshToken, WebhookSecret,
};
use tether_store::crypto::{Keyring, MasterKey};
use tether_store::{JwtKeyPair, Store, StoreError};

use crate::fixtures::{
    Open, at, connector_input, connector_name, insert, new_connection, session, tokens, workspace,
};

pub const CLIENT_SECRET: &str = "CLIENTSECRET-d41d8cd98f00b204";
pub const REFRESH_TOKEN: &str = "REFRESHTOKEN-5Aep861TSESvWeug";
pub const ACCESS_TOKEN: &str = "ACCESSTOKEN-00Dxx0000001gPL";
pub const PKCE_VERIFIER: &str = "PKCEVERIFIER-dBjftJeZ4CVPmB92K27";
pub const JWT_KEY: &str = "JWTPRIVATEKEY-MIIEvQIBADANBgkqhkiG9w0B";
pub const JWT_PENDING_KEY: &str = "JWTPENDINGKEY-MIIEvgIBADANBgkqhkiG9w0B";
/// How many sealed values [`write_secrets`] writes.
pub const SEALED_VALUES: u64 = 8;
pub const WEBHOOK_SECRET: &str = "whsec_V0VCSE9PS1NFQ1JFVC1uZXc=";
pub const OLD_WEBHOOK_SECRET: &str = "whsec_V0VCSE9PS1NFQ1JFVC1vbGQ=";

/// Where each written secret lives.
pub struct Secrets {
    ws: WorkspaceId,
    name: ConnectorName,
    session: ConnectSessionId,
    connection: ConnectionId,
}

/// Writes one of each secret ([`SEALED_VALUES`] sealed values: a JWT connector's active and
/// pending keys and a webhook's current and rotated-out secrets among them).
pub async fn write_secrets(store: &Arc<dyn Store>) -> Secrets {
    let ws = workspace(store, "acme").await;
    let all = tether_core::webhook::WebhookEventType::ALL;
    let hook = crate::conformance::webhooks::webhook(store, &ws, &all, OLD_WEBHOOK_SECRET).await;
    let new = WebhookSecret::new(WEBHOOK_SECRET);
    let until = at(86_400);
    assert!(
        store
            .rotate_webhook_secret(&ws, &hook.id, &new, until)
            .await
            .unwrap()
    );
    let name = connector_name("salesforce");
    let input = connector_input(CLIENT_SECRET);
    store
        .upsert_connector(&ws, &name, &input, at(0))
        .await
        .unwrap();
    let jwt = connector_name("salesforce-jwt");
    let mut jwt_input = connector_input("unused");
    jwt_input.grant = Grant::JwtBearer;
    jwt_input.client_secret = None;
    store
        .put_connector(&ws, &jwt, &jwt_input, Some(&jwt_key(JWT_KEY)), at(0))
        .await
        .unwrap();
    store
        .set_pending_jwt_key(&ws, &jwt, &jwt_key(JWT_PENDING_KEY), at(0))
        .await
        .unwrap();
    let mut pending = session(&ws, 1, at(900));
    pending.pkce_verifier = PkceVerifier::new(PKCE_VERIFIER);
    store.insert_connect_session(&pending).await.unwrap();
    let mut new = new_connection(&ws, "salesforce", "u-1");
    new.tokens = tokens(ACCESS_TOKEN, Some(REFRESH_TOKEN), at(0));
    insert(store, &new).await;
    Secrets {
        ws,
        name,
        session: pending.id,
        connection: new.id,
    }
}

impl Secrets {
    /// Asserts every secret reads back as written.
    pub async fn assert_readable(&self, store: &Arc<dyn Store>) {
        let connector = store
            .get_connector(&self.ws, &self.name)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            connector.input.client_secret,
            Some(ClientSecret::new(CLIENT_SECRET))
        );
        let pending = store
            .get_connect_session(&self.session)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(pending.pkce_verifier, PkceVerifier::new(PKCE_VERIFIER));
        let current = store
            .current_token(&self.ws, &self.connection)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(current.access_token, Some(AccessToken::new(ACCESS_TOKEN)));
        let refresh = store
            .refresh_token(&self.ws, &self.connection)
            .await
            .unwrap();
        assert_eq!(refresh, Some(RefreshToken::new(REFRESH_TOKEN)));
        let jwt = store
            .get_connector(&self.ws, &connector_name("salesforce-jwt"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(jwt.keys.active, Some(jwt_key(JWT_KEY)));
        assert_eq!(jwt.keys.pending, Some(jwt_key(JWT_PENDING_KEY)));
        // The connection's delivery carries the webhook's secrets; a claim that lapses at
        // once leaves it for the next look.
        let claim = tether_store::Claim {
            owner: "secrets".to_owned(),
            length: std::time::Duration::ZERO,
        };
        let due = store.claim_deliveries(at(0), &claim, 10).await.unwrap();
        let signing: Vec<&str> = due[0]
            .secrets
            .signing_at(at(0))
            .iter()
            .map(|s| s.expose())
            .collect();
        assert_eq!(signing, [WEBHOOK_SECRET, OLD_WEBHOOK_SECRET]);
    }
}

/// A key pair whose certificate names its key (the store checks neither).
pub fn jwt_key(private_key: &str) -> JwtKeyPair {
    JwtKeyPair {
        private_key: PrivateKeyPem::new(private_key),
        certificate_pem: format!("CERTIFICATE-of-{private_key}"),
    }
}

/// `db` opens (and migrates) the same database under the given keyring.
pub async fn rotation_reads_old_secrets_and_reencrypt_all_rewrites_them(db: impl Open<Keyring>) {
    let (key_a, key_b) = (MasterKey::generate(), MasterKey::generate());
    let store = db.open(Keyring::new(key_a.clone(), Vec::new())).await;
    let secrets = write_secrets(&store).await;
    store.close().await;

    let store = db
        .open(Keyring::new(key_a, Vec::new()).rotated(key_b.clone()))
        .await;
    secrets.assert_readable(&store).await;
    assert_eq!(store.reencrypt_all().await.unwrap(), SEALED_VALUES);
    assert_eq!(
        store.reencrypt_all().await.unwrap(),
        0,
        "nothing left under the old key"
    );
    store.close().await;

    let store = db.open(Keyring::new(key_b, Vec::new())).await;
    secrets.assert_readable(&store).await;
    store.close().await;
}

/// `db` opens (and migrates) the same database under the given keyring.
pub async fn secrets_under_a_missing_key_fail_with_the_key_id(db: impl Open<Keyring>) {
    let key_a = MasterKey::generate();
    let store = db.open(Keyring::new(key_a.clone(), Vec::new())).await;
    let secrets = write_secrets(&store).await;
    store.close().await;

    let store = db
        .open(Keyring::new(MasterKey::generate(), Vec::new()))
        .await;
    let err = store
        .refresh_token(&secrets.ws, &secrets.connection)
        .await
        .unwrap_err();
    let key_id = key_a.key_id();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot decrypt refresh_token of {}: sealed under master key {key_id}, which is not \
             in the keyring (add it as a previous key)",
            secrets.connection
        )
    );
    assert!(matches!(
        store.reencrypt_all().await,
        Err(StoreError::Decrypt { .. })
    ));
    store.close().await;
}
