//! `tether sandbox`: the offline Salesforce org on its own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tether_core::clock::VirtualClock;
use tether_sandbox::{Sandbox, SandboxOptions, Seed};

#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = tether_sandbox::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Approve authorize requests at once, without the login and Allow pages.
    #[arg(long)]
    auto_approve: bool,
    /// A JSON file with extra users, apps and records.
    #[arg(long)]
    seed: Option<PathBuf>,
}

pub async fn run(args: SandboxArgs) -> anyhow::Result<()> {
    let seed = match &args.seed {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(Seed::from_json(&text).with_context(|| format!("seed file {}", path.display()))?)
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let base_url = url::Url::parse(&format!("http://{addr}"))?;
    let options = SandboxOptions {
        base_url,
        auto_approve: args.auto_approve,
        clock: Arc::new(VirtualClock::new()),
        seed,
    };
    let sandbox = Sandbox::new(options)?;
    println!("sandbox listening on http://{addr}");
    sandbox.serve(listener, super::shutdown_signal()).await?;
    Ok(())
}
