//! Host-routed proxying (`proxy_host_suffix`): the test app's tether served on a second
//! listener with the suffix `proxy.localhost` set, and a TLS front standing in for a deployment's
//! wildcard DNS name and TLS-terminating load balancer.
//!
//! The front is an HTTP `CONNECT` proxy: a client given `HTTPS_PROXY` asks it for
//! `c-{hex}.proxy.localhost:443`, so no name needs to resolve on this machine (`*.localhost`
//! does not resolve everywhere); the front answers 200, terminates TLS with a certificate for
//! `*.proxy.localhost` signed by a test CA, and copies the raw bytes to tether's plain-HTTP
//! listener, `Host` unchanged.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tether_server::proxy::host::HostSuffix;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::helpers::{TestApp, spawn_app};
use crate::support::{ACCOUNTS_QUERY, connected_app};

/// The suffix the host-routed tether is configured with.
pub const SUFFIX: &str = "proxy.localhost";

/// The test app's tether (same state: store, token service, settings) served on a second
/// listener with `proxy_host_suffix` set: the HTTP surface only, no second scheduler.
pub struct HostRouted {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HostRouted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn start_host_routed(app: &TestApp) -> HostRouted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut settings = (*app.tether.state.settings).clone();
    settings.public_url = url::Url::parse(&format!("http://{addr}")).unwrap();
    settings.proxy_host_suffix = Some(HostSuffix::parse(SUFFIX).unwrap());
    let mut state = app.tether.state.clone();
    state.settings = Arc::new(settings);
    let app = tether_server::router(state);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    HostRouted { addr, task }
}

/// The `proxy_instance_url` tether reports for `id`.
pub async fn proxy_instance_url(app: &TestApp, tether: &HostRouted, id: &str) -> String {
    let url = format!("http://{}/v1/connections/{id}", tether.addr);
    let response = app.http.get(url).bearer_auth(&app.api_key).send().await;
    let body: Value = response.unwrap().json().await.unwrap();
    body["proxy_instance_url"].as_str().unwrap().to_owned()
}

/// The TLS front: a `CONNECT` proxy that terminates TLS for `*.proxy.localhost`.
pub struct TlsFront {
    pub addr: SocketAddr,
    /// The test CA's certificate (PEM), for `REQUESTS_CA_BUNDLE`.
    pub ca_file: PathBuf,
    /// Every `CONNECT` target asked for, in order.
    pub targets: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn start_tls_front(upstream: SocketAddr) -> TlsFront {
    let (acceptor, ca_pem) = tls_acceptor();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let targets = Arc::new(Mutex::new(Vec::new()));
    let seen = targets.clone();
    let task = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(tunnel(client, acceptor.clone(), upstream, seen.clone()));
        }
    });
    TlsFront {
        addr,
        ca_file,
        targets,
        _dir: dir,
        task,
    }
}

/// A server config for `*.proxy.localhost` signed by a fresh CA, and that CA's PEM.
fn tls_acceptor() -> (TlsAcceptor, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "tether test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_params = rcgen::CertificateParams::new(vec![format!("*.{SUFFIX}")]).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    (TlsAcceptor::from(Arc::new(config)), ca.pem())
}

/// One client: read its `CONNECT` head, answer 200, terminate TLS, copy bytes to tether.
async fn tunnel(
    mut client: TcpStream,
    acceptor: TlsAcceptor,
    upstream: SocketAddr,
    targets: Arc<Mutex<Vec<String>>>,
) {
    let Some(target) = read_connect(&mut client).await else {
        return;
    };
    targets.lock().push(target);
    let established = b"HTTP/1.1 200 Connection established\r\n\r\n";
    if client.write_all(established).await.is_err() {
        return;
    }
    let Ok(mut tls) = acceptor.accept(client).await else {
        return;
    };
    let Ok(mut tether) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut tls, &mut tether).await;
}

/// The target of a `CONNECT host:port HTTP/1.1` head (the client sends nothing more before
/// the answer, so reading up to the blank line takes no TLS bytes).
async fn read_connect(client: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        let n = client.read(&mut buf).await.ok().filter(|n| *n > 0)?;
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8(head).ok()?;
    let mut words = head.split_whitespace();
    (words.next() == Some("CONNECT"))
        .then(|| words.next().map(str::to_owned))
        .flatten()
}

/// A client that resolves `host` to the host-routed tether (plain HTTP, as behind the front).
fn client_for(host: &str, tether: &HostRouted) -> reqwest::Client {
    reqwest::Client::builder()
        .resolve(host, tether.addr)
        .build()
        .unwrap()
}

/// The host name of the connection `id` at the host-routed `tether`, and the URL of a query
/// of accounts on it (plain HTTP, as behind the front).
async fn query_on_own_host(app: &TestApp, tether: &HostRouted, id: &str) -> (String, String) {
    let instance = proxy_instance_url(app, tether, id).await;
    let host = instance.trim_start_matches("https://").to_owned();
    let url = format!("http://{host}:{}/{ACCOUNTS_QUERY}", tether.addr.port());
    (host, url)
}

#[tokio::test]
async fn a_query_to_the_connections_own_host_name_is_proxied() {
    let (app, id) = connected_app().await;
    let tether = start_host_routed(&app).await;
    let (host, url) = query_on_own_host(&app, &tether, &id).await;
    assert!(
        host.starts_with("c-") && host.ends_with(".proxy.localhost"),
        "{host}"
    );
    let response = client_for(&host, &tether)
        .get(url)
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let direct = app.sandbox_query(&app.access_token(&id).await).await;
    assert_eq!(body, direct.json::<Value>().await.unwrap());
}

#[tokio::test]
async fn a_host_under_the_suffix_whose_label_names_no_connection_is_not_found() {
    let app = spawn_app().await;
    let tether = start_host_routed(&app).await;
    for host in ["c-zz.proxy.localhost", "c-6e6f6e65.proxy.localhost"] {
        let url = format!(
            "http://{host}:{}/services/data/v64.0/query?q=SELECT+Name+FROM+Account",
            tether.addr.port()
        );
        let response = client_for(host, &tether)
            .get(url)
            .bearer_auth(&app.api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{host}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({
                "type": "https://tether.dev/problems/not-found",
                "title": "Not found",
                "status": 404,
                "detail": "connection not found",
            }),
            "{host}"
        );
    }
}

#[tokio::test]
async fn without_the_suffix_setting_connections_have_no_proxy_instance_url() {
    let (app, id) = connected_app().await;
    let body = app.connection(&id).await;
    assert_eq!(body.get("proxy_instance_url"), None, "{body}");
}

#[tokio::test]
async fn a_host_routed_request_needs_a_tether_api_key_like_the_proxy_path() {
    let (app, id) = connected_app().await;
    let tether = start_host_routed(&app).await;
    let (host, url) = query_on_own_host(&app, &tether, &id).await;
    let response = client_for(&host, &tether).get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "type": "https://tether.dev/problems/unauthorized",
            "title": "Unauthorized",
            "status": 401,
            "detail": "a valid API key is required: send Authorization: Bearer <api key>",
        })
    );
}
