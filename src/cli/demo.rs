//! `tether demo`: tether and the sandbox in one process, sharing one virtual clock, with a
//! `demo` workspace and a `salesforce` connector pointed at the sandbox.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use tether_core::clock::{Clock, VirtualClock};
use tether_core::ids::{ConnectorName, WorkspaceId, WorkspaceName};
use tether_core::secret::{ApiKey, ClientSecret};
use tether_demo::DemoControls;
use tether_sandbox::{Sandbox, SandboxOptions};
use tether_server::auth::new_api_key;
use tether_server::bootstrap;
use tether_server::settings::ServeConfig;
use tether_store::ConnectorInput;
use tether_store::crypto::{Keyring, MasterKey};
use tokio_util::sync::CancellationToken;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where tether listens.
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// Where the sandbox listens.
    #[arg(long, default_value = tether_sandbox::DEFAULT_LISTEN)]
    sandbox_listen: SocketAddr,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let clock = Arc::new(VirtualClock::new());
    let shutdown = CancellationToken::new();
    let sandbox_url = start_sandbox(args.sandbox_listen, clock.clone(), &shutdown).await?;

    // A fresh database each run: the sandbox keeps its org in memory only.
    let db_path = std::env::temp_dir().join(format!("tether-demo-{}.db", std::process::id()));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let public_url = public_url(listener.local_addr()?);
    allow_callback(&sandbox_url, &public_url).await?;
    let config = ServeConfig {
        listen: args.listen,
        database: format!("sqlite://{}", db_path.display()),
        public_url: public_url.clone(),
        // The sandbox stands in for Salesforce: its loopback address is the provider host.
        extra_provider_hosts: vec![
            sandbox_url[url::Position::BeforeHost..url::Position::AfterPort].to_owned(),
        ],
        ..ServeConfig::default()
    };
    let keyring = Keyring::new(MasterKey::generate(), Vec::new());
    let state = bootstrap::build_state(&config, keyring, clock.clone()).await?;
    let demo = Arc::new(DemoControls::new(
        clock.clone(),
        sandbox_url.clone(),
        tether_sandbox::DEFAULT_CLIENT_ID,
    ));
    let (ws, key) = seed_workspace(&state, &sandbox_url, clock.now()).await?;
    print_welcome(&sandbox_url, &public_url, &demo.issue_sign_in(&ws), &key);

    let trigger = shutdown.clone();
    tokio::spawn(async move {
        super::shutdown_signal().await;
        trigger.cancel();
    });
    let app = tether_server::router_with(state.clone(), tether_demo::routes(demo.clone()))
        .layer(axum::Extension(tether_demo::layout_hook(demo)));
    let result = tether_server::serve_router(listener, state, app, shutdown).await;
    let _ = std::fs::remove_file(&db_path);
    result.map_err(Into::into)
}

/// The URL a browser on this machine reaches `addr` at: a wildcard address is reached on
/// loopback.
fn public_url(addr: SocketAddr) -> String {
    let host = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(host, addr.port()))
}

/// Registers tether's callback at `public_url` with the sandbox's default Connected App, so the
/// connect flow works on whatever ports the demo listens (the app knows only port 7878's).
async fn allow_callback(sandbox_url: &url::Url, public_url: &str) -> anyhow::Result<()> {
    let mut callbacks: Vec<String> = tether_sandbox::DEFAULT_CALLBACK_URLS
        .iter()
        .map(|u| (*u).to_owned())
        .collect();
    callbacks.push(format!("{public_url}/oauth/callback"));
    let url = sandbox_url.join(&format!(
        "_sandbox/apps/{}",
        tether_sandbox::DEFAULT_CLIENT_ID
    ))?;
    let response = reqwest::Client::new()
        .patch(url)
        .json(&serde_json::json!({ "callback_urls": callbacks }))
        .send()
        .await
        .context("cannot reach the demo's sandbox")?;
    anyhow::ensure!(
        response.status().is_success(),
        "the sandbox refused the demo's callback URL: {}",
        response.status()
    );
    Ok(())
}

/// Serves the sandbox on `listen` until `shutdown`; its base URL.
async fn start_sandbox(
    listen: SocketAddr,
    clock: Arc<VirtualClock>,
    shutdown: &CancellationToken,
) -> anyhow::Result<url::Url> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let base_url = url::Url::parse(&public_url(listener.local_addr()?))?;
    let sandbox = Sandbox::new(SandboxOptions {
        base_url: base_url.clone(),
        auto_approve: false,
        clock,
        seed: None,
    })?;
    let stop = shutdown.clone();
    tokio::spawn(sandbox.serve(listener, async move { stop.cancelled().await }));
    Ok(base_url)
}

/// The `demo` workspace, its API key, and a `salesforce` connector for the sandbox's app.
async fn seed_workspace(
    state: &tether_server::AppState,
    sandbox_url: &url::Url,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<(WorkspaceId, ApiKey)> {
    let ws = state
        .store
        .ensure_workspace(&WorkspaceName::parse("demo")?, now)
        .await?;
    let key = new_api_key(&ws.id, now);
    state.store.insert_api_key(&key.record).await?;
    let connector = ConnectorInput {
        provider: "salesforce".into(),
        grant: Default::default(),
        client_id: tether_sandbox::DEFAULT_CLIENT_ID.into(),
        client_secret: Some(ClientSecret::new(tether_sandbox::DEFAULT_CLIENT_SECRET)),
        allowed_usernames: None,
        login_url: sandbox_url.as_str().trim_end_matches('/').to_owned(),
        scopes: vec!["api".into(), "refresh_token".into()],
        session_timeout_seconds: None,
        refresh_token_policy: None,
    };
    let name = ConnectorName::parse("salesforce")?;
    state
        .store
        .upsert_connector(&ws.id, &name, &connector, now)
        .await?;
    Ok((ws.id, key.key))
}

/// What a person needs to start: the URLs, the one-time sign-in link, the API key (last).
fn print_welcome(sandbox_url: &url::Url, public_url: &str, sign_in: &str, key: &ApiKey) {
    println!(
        "sandbox listening on {}",
        sandbox_url.as_str().trim_end_matches('/')
    );
    println!("tether listening on {public_url}");
    println!(
        "open the connectors page (this link signs you in once): {public_url}/login/once/{sign_in}"
    );
    println!(
        "workspace demo, connector salesforce (login {} / {})",
        tether_sandbox::DEFAULT_USERNAME,
        tether_sandbox::DEFAULT_PASSWORD
    );
    println!("connect an account:");
    println!(
        "  curl -s -X POST {public_url}/v1/connect-sessions -H \"Authorization: Bearer $TETHER_API_KEY\" -H 'Content-Type: application/json' -d '{{\"connector\":\"salesforce\",\"end_user_id\":\"u-42\"}}'"
    );
    println!("  then open the connect_url in a browser");
    println!("API key (export TETHER_API_KEY=...):");
    println!("{}", key.expose());
}
