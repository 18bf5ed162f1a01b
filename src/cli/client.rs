//! `tether connections ...` and `tether doctor`: clients of a running server's API.

use anyhow::{Context, bail};
use serde_json::Value;

#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// The tether server.
    #[arg(long, env = "TETHER_URL", default_value = "http://127.0.0.1:7878")]
    url: String,
    /// An API key of the workspace.
    #[arg(long, env = "TETHER_API_KEY", hide_env_values = true)]
    api_key: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum ConnectionsCommand {
    /// One line per connection.
    List {
        #[command(flatten)]
        server: ServerArgs,
        /// Only this status (active, degraded, expired, disconnected).
        #[arg(long)]
        status: Option<String>,
    },
    /// A connection as JSON.
    Show {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// The connection id.
    id: String,
    #[command(flatten)]
    server: ServerArgs,
}

async fn get(server: &ServerArgs, path: &str) -> anyhow::Result<Value> {
    let url = format!("{}{path}", server.url.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&server.api_key)
        .send()
        .await
        .with_context(|| format!("cannot reach tether at {}", server.url))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .context("tether answered something that is not JSON")?;
    if !status.is_success() {
        let detail = body
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or("no detail");
        bail!("tether answered {status}: {detail}");
    }
    Ok(body)
}

pub async fn connections(cmd: ConnectionsCommand) -> anyhow::Result<()> {
    match cmd {
        ConnectionsCommand::List { server, status } => {
            let query = status.map(|s| format!("?status={s}")).unwrap_or_default();
            let body = get(&server, &format!("/v1/connections{query}")).await?;
            let rows = body["connections"].as_array().cloned().unwrap_or_default();
            println!(
                "ID                         STATUS         CONNECTOR            USERNAME                     END USER"
            );
            for c in rows {
                println!(
                    "{:<26} {:<14} {:<20} {:<28} {}",
                    text(&c["id"]),
                    text(&c["status"]),
                    text(&c["connector"]),
                    text(&c["account"]["username"]),
                    text(&c["end_user_id"])
                );
            }
        }
        ConnectionsCommand::Show { id, server } => {
            let body = get(&server, &format!("/v1/connections/{id}")).await?;
            println!("{}", serde_json::to_string_pretty(&body)?);
        }
    }
    Ok(())
}

pub async fn doctor(args: DoctorArgs) -> anyhow::Result<()> {
    let connection = get(&args.server, &format!("/v1/connections/{}", args.id)).await?;
    print!("{}", render_doctor(&connection));
    Ok(())
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

/// The human-readable report of `tether doctor`.
pub fn render_doctor(c: &Value) -> String {
    let mut out = String::new();
    let status = match text(&c["status"]) {
        "expired" => "Connection Expired",
        "degraded" => "Degraded",
        "active" => "Active",
        "disconnected" => "Disconnected",
        other => other,
    };
    out.push_str(&format!(
        "Connection {}  ({} via connector {})\n",
        text(&c["id"]),
        text(&c["account"]["username"]),
        text(&c["connector"])
    ));
    out.push_str(&format!("Status: {status}\n"));
    if let Some(reason) = c["status_reason"].as_str() {
        out.push_str(&format!("Reason: {reason}\n"));
    }
    let d = &c["diagnosis"];
    if d.is_null() {
        out.push_str("\nNothing to fix: tether has no complaint about this connection.\n");
        return out;
    }
    out.push_str(&format!(
        "\nWhat happened ({} confidence):\n  {}\n",
        text(&d["confidence"]),
        text(&d["title"])
    ));
    if let Some(evidence) = d["evidence"].as_array().filter(|e| !e.is_empty()) {
        out.push_str("\nEvidence:\n");
        for e in evidence {
            out.push_str(&format!("  - {}\n", text(e)));
        }
    }
    if let Some(steps) = d["steps"].as_array() {
        out.push_str("\nWhat to do:\n");
        for (i, s) in steps.iter().enumerate() {
            out.push_str(&format!(
                "  {}. {}\n     {}\n",
                i + 1,
                text(&s["title"]),
                text(&s["detail"])
            ));
        }
    }
    out
}
