//! `tether connections ...` and `tether doctor`: clients of a running server's API.

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use tether_client::Client;
use tether_client::types::{Connection, ListConnections};
use tether_core::diagnosis::{Confidence, Diagnosis};
use tether_core::ids::{ConnectionId, ConnectorName, EndUserId};
use tether_core::status::ConnectionStatus;

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
        /// Only connections of this connector.
        #[arg(long)]
        connector: Option<String>,
        /// Only connections of this end user.
        #[arg(long)]
        end_user_id: Option<String>,
        /// Connections asked for per request (1 to 1000); every page is listed.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u16).range(1..=1000))]
        page_size: u16,
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

impl ServerArgs {
    /// The typed client of this server.
    fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::new(&self.url, &self.api_key)?)
    }
}

/// A connection id from the command line.
fn connection_id(raw: &str) -> anyhow::Result<ConnectionId> {
    ConnectionId::parse(raw).with_context(|| format!("{raw:?} is not a connection id"))
}

/// An optional filter from the command line, parsed.
fn filter<T, E>(
    raw: Option<String>,
    parse: impl Fn(&str) -> Result<T, E>,
) -> anyhow::Result<Option<T>>
where
    E: std::error::Error + Send + Sync + 'static,
{
    Ok(raw.as_deref().map(parse).transpose()?)
}

pub async fn connections(cmd: ConnectionsCommand) -> anyhow::Result<()> {
    match cmd {
        ConnectionsCommand::List {
            server,
            status,
            connector,
            end_user_id,
            page_size,
        } => {
            let query = ListConnections {
                status: filter(status, str::parse::<ConnectionStatus>)?,
                connector: filter(connector, ConnectorName::parse)?,
                end_user_id: filter(end_user_id, EndUserId::parse)?,
                limit: Some(page_size),
                cursor: None,
            };
            let rows = server.client()?.list_all_connections(&query).await?;
            println!(
                "ID                         STATUS         CONNECTOR            USERNAME                     END USER"
            );
            for c in rows {
                println!(
                    "{:<26} {:<14} {:<20} {:<28} {}",
                    c.id.as_str(),
                    c.status.as_str(),
                    c.connector.as_str(),
                    c.account.username,
                    c.end_user_id.as_str()
                );
            }
        }
        ConnectionsCommand::Show { id, server } => {
            let connection = server
                .client()?
                .get_connection(&connection_id(&id)?)
                .await?;
            println!("{}", serde_json::to_string_pretty(&connection)?);
        }
    }
    Ok(())
}

pub async fn doctor(args: DoctorArgs) -> anyhow::Result<()> {
    let id = connection_id(&args.id)?;
    let connection = args.server.client()?.get_connection(&id).await?;
    print!("{}", render_doctor(&connection));
    Ok(())
}

/// `tether check ID`: asks Salesforce now (for a connection expired for a cause that leaves
/// the refresh token alive, tries it again) and prints the doctor report of the result.
pub async fn check(args: DoctorArgs) -> anyhow::Result<()> {
    let id = connection_id(&args.id)?;
    let connection = args.server.client()?.check(&id).await?;
    print!("{}", render_doctor(&connection));
    Ok(())
}

/// A time as tether's API writes it.
fn time(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Width the report wraps its prose at.
const WIDTH: usize = 88;

/// The human-readable report of `tether doctor`: who the connection is, what its status means,
/// what happened and why tether thinks so, numbered steps, and how to reconnect.
pub fn render_doctor(c: &Connection) -> String {
    let mut out = header(c);
    let Some(d) = &c.diagnosis else {
        out.push_str("\nNothing to fix: tether has no complaint about this connection.\n");
        return out;
    };
    out.push_str(&what_happened(d));
    out.push_str(&evidence(d));
    out.push_str(&steps(d));
    out.push_str(&closing(c));
    out
}

fn header(c: &Connection) -> String {
    let mut out = format!("Connection {}\n", c.id);
    out.push_str(&format!(
        "  Salesforce user  {} (org {})\n",
        c.account.username, c.account.org_id
    ));
    out.push_str(&format!(
        "  End user         {}, through connector {}\n",
        c.end_user_id, c.connector
    ));
    out.push_str(&format!(
        "  Connected        {}; last refreshed {}\n",
        time(&c.created_at),
        c.last_refreshed_at
            .as_ref()
            .map_or_else(|| "never".to_owned(), time)
    ));
    let (label, meaning) = status_meaning(c.status);
    out.push_str(&format!("\nStatus: {label}\n"));
    out.push_str(&wrap(meaning, 2));
    if let Some(reason) = c.status_reason {
        out.push_str(&format!("  (cause code: {reason})\n"));
    }
    out
}

/// How a status is shown, and what it means for the app using the connection.
fn status_meaning(status: ConnectionStatus) -> (&'static str, &'static str) {
    match status {
        ConnectionStatus::Expired => (
            "Connection Expired",
            "Salesforce no longer accepts this connection's refresh token, so tether cannot get new access tokens for it. Only a reconnect (the user signs in again) fixes it.",
        ),
        ConnectionStatus::Degraded => (
            "Degraded",
            "The last refresh failed for a reason that may pass. tether keeps serving the current access token while it is valid and retries on its own.",
        ),
        ConnectionStatus::Active => ("Active", "The connection works."),
        ConnectionStatus::Disconnected => (
            "Disconnected",
            "The connection was removed through tether; its tokens are gone.",
        ),
    }
}

fn what_happened(d: &Diagnosis) -> String {
    let confidence = match d.confidence {
        Confidence::Certain => "certain: Salesforce said so",
        Confidence::Likely => "likely: the evidence points this way",
        Confidence::Possible => "possible: other causes fit too, see the evidence",
    };
    format!("\nWhat happened ({confidence}):\n{}", wrap(&d.title, 2))
}

fn evidence(d: &Diagnosis) -> String {
    if d.evidence.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nWhy tether thinks so:\n");
    for e in &d.evidence {
        out.push_str(&bullet("- ", e, 2));
    }
    out
}

fn steps(d: &Diagnosis) -> String {
    if d.steps.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nWhat to do:\n");
    for (i, s) in d.steps.iter().enumerate() {
        out.push_str(&bullet(&format!("{}. ", i + 1), &s.title, 2));
        out.push_str(&wrap(&s.detail, 5));
    }
    out
}

/// The last lines: how to reconnect an expired connection, or that none is needed.
fn closing(c: &Connection) -> String {
    let id = &c.id;
    match c.status {
        ConnectionStatus::Expired => format!(
            "\nTo reconnect (keeps the id {id} and its history):\n  curl -X POST \"$TETHER_URL/v1/connections/{id}/reconnect\" -H \"Authorization: Bearer $TETHER_API_KEY\"\n{}",
            wrap(
                &format!(
                    "then open the connect_url it returns and sign in to Salesforce as {}.",
                    c.account.username
                ),
                2
            )
        ),
        ConnectionStatus::Degraded => String::from(
            "\nNo reconnect is needed: once the cause is fixed, tether recovers the connection by itself.\n",
        ),
        _ => String::new(),
    }
}

/// `first` then `body`, wrapped, with later lines aligned under the body.
fn bullet(first: &str, body: &str, indent: usize) -> String {
    let lead = format!("{}{first}", " ".repeat(indent));
    let wrapped = wrap(body, lead.len());
    format!("{lead}{}", wrapped.trim_start())
}

/// `prose` wrapped at [`WIDTH`], each line indented by `indent` spaces.
fn wrap(prose: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    let mut line = String::new();
    for word in prose.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > WIDTH {
            out.push_str(&format!("{pad}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{pad}{line}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection as `GET /v1/connections/{id}` answered it in a test run: unused for 31
    /// days under Salesforce's 30-day idle limit.
    const EXPIRED_IDLE: &str = include_str!("testdata/expired_idle_30_days.json");

    fn expired_idle() -> Connection {
        serde_json::from_str(EXPIRED_IDLE).expect("the fixture is a connection")
    }

    #[test]
    fn doctor_explains_an_idle_expiry_with_evidence_numbered_steps_and_the_reconnect_command() {
        insta::assert_snapshot!(render_doctor(&expired_idle()));
    }

    #[test]
    fn doctor_of_a_healthy_connection_says_there_is_nothing_to_fix() {
        let mut c = expired_idle();
        c.status = ConnectionStatus::Active;
        c.status_reason = None;
        c.diagnosis = None;
        let out = render_doctor(&c);
        assert!(
            out.contains("\nStatus: Active\n  The connection works.\n"),
            "{out}"
        );
        assert!(
            out.ends_with("\nNothing to fix: tether has no complaint about this connection.\n")
        );
    }

    #[test]
    fn wrapped_prose_never_passes_the_width_and_keeps_every_word() {
        let prose = "word ".repeat(60);
        let wrapped = wrap(&prose, 5);
        assert!(
            wrapped
                .lines()
                .all(|l| l.len() <= WIDTH && l.starts_with("     "))
        );
        assert_eq!(wrapped.split_whitespace().count(), 60);
    }
}
