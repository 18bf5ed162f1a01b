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

async fn get(server: &ServerArgs, path: &str) -> anyhow::Result<Value> {
    call(server, reqwest::Method::GET, path).await
}

/// `method path` on the server with the API key; the JSON answer, or what the problem says.
async fn call(server: &ServerArgs, method: reqwest::Method, path: &str) -> anyhow::Result<Value> {
    let url = format!("{}{path}", server.url.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .request(method, &url)
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
        ConnectionsCommand::List {
            server,
            status,
            connector,
            end_user_id,
            page_size,
        } => {
            let filters = [
                ("status", status),
                ("connector", connector),
                ("end_user_id", end_user_id),
            ];
            let rows = list_all(&filters, page_size, |query| {
                let server = &server;
                async move { get(server, &format!("/v1/connections?{query}")).await }
            })
            .await?;
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

/// Every connection the filters select: asks for pages of `page_size` with `fetch` (given the
/// query string), following `next_cursor` until the last page.
async fn list_all<F, Fut>(
    filters: &[(&str, Option<String>)],
    page_size: u16,
    mut fetch: F,
) -> anyhow::Result<Vec<Value>>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Value>>,
{
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in filters {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        query.append_pair("limit", &page_size.to_string());
        if let Some(cursor) = &cursor {
            query.append_pair("cursor", cursor);
        }
        let body = fetch(query.finish()).await?;
        let page = body["connections"]
            .as_array()
            .context("tether's answer has no connections list")?;
        rows.extend(page.iter().cloned());
        match body["next_cursor"].as_str() {
            Some(next) if !page.is_empty() => cursor = Some(next.to_owned()),
            _ => return Ok(rows),
        }
    }
}

pub async fn doctor(args: DoctorArgs) -> anyhow::Result<()> {
    let connection = get(&args.server, &format!("/v1/connections/{}", args.id)).await?;
    print!("{}", render_doctor(&connection));
    Ok(())
}

/// `tether check ID`: asks Salesforce now (for a connection expired for a cause that leaves
/// the refresh token alive, tries it again) and prints the doctor report of the result.
pub async fn check(args: DoctorArgs) -> anyhow::Result<()> {
    let path = format!("/v1/connections/{}/check", args.id);
    let connection = call(&args.server, reqwest::Method::POST, &path).await?;
    print!("{}", render_doctor(&connection));
    Ok(())
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("-")
}

/// Width the report wraps its prose at.
const WIDTH: usize = 88;

/// The human-readable report of `tether doctor`: who the connection is, what its status means,
/// what happened and why tether thinks so, numbered steps, and how to reconnect.
pub fn render_doctor(c: &Value) -> String {
    let mut out = header(c);
    let d = &c["diagnosis"];
    if d.is_null() {
        out.push_str("\nNothing to fix: tether has no complaint about this connection.\n");
        return out;
    }
    out.push_str(&what_happened(d));
    out.push_str(&evidence(d));
    out.push_str(&steps(d));
    out.push_str(&closing(c));
    out
}

fn header(c: &Value) -> String {
    let status = text(&c["status"]);
    let mut out = format!("Connection {}\n", text(&c["id"]));
    out.push_str(&format!(
        "  Salesforce user  {} (org {})\n",
        text(&c["account"]["username"]),
        text(&c["account"]["org_id"])
    ));
    out.push_str(&format!(
        "  End user         {}, through connector {}\n",
        text(&c["end_user_id"]),
        text(&c["connector"])
    ));
    out.push_str(&format!(
        "  Connected        {}; last refreshed {}\n",
        text(&c["created_at"]),
        c["last_refreshed_at"].as_str().unwrap_or("never")
    ));
    let (label, meaning) = status_meaning(status);
    out.push_str(&format!("\nStatus: {label}\n"));
    out.push_str(&wrap(meaning, 2));
    if let Some(reason) = c["status_reason"].as_str() {
        out.push_str(&format!("  (cause code: {reason})\n"));
    }
    out
}

/// How a status is shown, and what it means for the app using the connection.
fn status_meaning(status: &str) -> (&str, &str) {
    match status {
        "expired" => (
            "Connection Expired",
            "Salesforce no longer accepts this connection's refresh token, so tether cannot get new access tokens for it. Only a reconnect (the user signs in again) fixes it.",
        ),
        "degraded" => (
            "Degraded",
            "The last refresh failed for a reason that may pass. tether keeps serving the current access token while it is valid and retries on its own.",
        ),
        "active" => ("Active", "The connection works."),
        "disconnected" => (
            "Disconnected",
            "The connection was removed through tether; its tokens are gone.",
        ),
        other => (other, "tether does not know this status."),
    }
}

fn what_happened(d: &Value) -> String {
    let confidence = match text(&d["confidence"]) {
        "certain" => "certain: Salesforce said so",
        "likely" => "likely: the evidence points this way",
        "possible" => "possible: other causes fit too, see the evidence",
        other => other,
    };
    format!(
        "\nWhat happened ({confidence}):\n{}",
        wrap(text(&d["title"]), 2)
    )
}

fn evidence(d: &Value) -> String {
    let Some(items) = d["evidence"].as_array().filter(|e| !e.is_empty()) else {
        return String::new();
    };
    let mut out = String::from("\nWhy tether thinks so:\n");
    for e in items {
        out.push_str(&bullet("- ", text(e), 2));
    }
    out
}

fn steps(d: &Value) -> String {
    let Some(items) = d["steps"].as_array().filter(|s| !s.is_empty()) else {
        return String::new();
    };
    let mut out = String::from("\nWhat to do:\n");
    for (i, s) in items.iter().enumerate() {
        out.push_str(&bullet(&format!("{}. ", i + 1), text(&s["title"]), 2));
        out.push_str(&wrap(text(&s["detail"]), 5));
    }
    out
}

/// The last lines: how to reconnect an expired connection, or that none is needed.
fn closing(c: &Value) -> String {
    let id = text(&c["id"]);
    match text(&c["status"]) {
        "expired" => format!(
            "\nTo reconnect (keeps the id {id} and its history):\n  curl -X POST \"$TETHER_URL/v1/connections/{id}/reconnect\" -H \"Authorization: Bearer $TETHER_API_KEY\"\n{}",
            wrap(
                &format!(
                    "then open the connect_url it returns and sign in to Salesforce as {}.",
                    text(&c["account"]["username"])
                ),
                2
            )
        ),
        "degraded" => String::from(
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

    fn expired_idle() -> Value {
        serde_json::from_str(EXPIRED_IDLE).expect("the fixture is JSON")
    }

    #[test]
    fn doctor_explains_an_idle_expiry_with_evidence_numbered_steps_and_the_reconnect_command() {
        insta::assert_snapshot!(render_doctor(&expired_idle()));
    }

    #[tokio::test]
    async fn list_follows_next_cursor_through_every_page_keeping_the_filters() {
        let asked = std::cell::RefCell::new(Vec::new());
        let filters = [
            ("status", Some("active".to_owned())),
            ("connector", None),
            ("end_user_id", Some("u 1".to_owned())),
        ];
        let rows = list_all(&filters, 2, |query| {
            asked.borrow_mut().push(query.clone());
            async move {
                Ok(match query.rsplit_once("cursor=").map(|(_, c)| c) {
                    None => serde_json::json!({"connections": [{"id": 1}, {"id": 2}], "next_cursor": "p2"}),
                    Some("p2") => serde_json::json!({"connections": [{"id": 3}, {"id": 4}], "next_cursor": "p3"}),
                    Some(_) => serde_json::json!({"connections": [{"id": 5}], "next_cursor": null}),
                })
            }
        })
        .await
        .expect("listed");
        let ids: Vec<i64> = rows.iter().filter_map(|r| r["id"].as_i64()).collect();
        assert_eq!(ids, [1, 2, 3, 4, 5]);
        assert_eq!(
            asked.into_inner(),
            [
                "status=active&end_user_id=u+1&limit=2",
                "status=active&end_user_id=u+1&limit=2&cursor=p2",
                "status=active&end_user_id=u+1&limit=2&cursor=p3",
            ]
        );
    }

    #[test]
    fn doctor_of_a_healthy_connection_says_there_is_nothing_to_fix() {
        let mut c = expired_idle();
        c["status"] = Value::from("active");
        c["status_reason"] = Value::Null;
        c["diagnosis"] = Value::Null;
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
