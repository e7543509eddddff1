//! `bulwark webhook create|list|delete|deliveries|redeliver`: a project's webhooks (its
//! owners), or with --system the ones that receive every project's events
//! (administrators), through the management API with the stored login.

use clap::{ArgGroup, Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use crate::access_cmd::{OutputArgs, print_json, table, text, time};
use crate::client::{ApiClient, encode};

/// Which webhooks: a project's, or the system-wide ones.
#[derive(Args)]
#[command(group(ArgGroup::new("scope").required(true).args(["project", "system"])))]
pub struct Scope {
    /// The project
    #[arg(long)]
    project: Option<String>,
    /// The system-wide webhooks, which receive every project's events (administrators)
    #[arg(long)]
    system: bool,
}

impl Scope {
    fn path(&self) -> String {
        match &self.project {
            Some(project) => format!("/api/v1/projects/{}/webhooks", encode(project)),
            None => "/api/v1/webhooks".to_owned(),
        }
    }
}

#[derive(Subcommand)]
pub enum WebhookCommand {
    /// Send events to a URL as CloudEvents signed with HMAC-SHA256 (Standard Webhooks
    /// headers); prints the signing secret, which is shown only this once.
    Create {
        #[command(flatten)]
        scope: Scope,
        /// Where deliveries are POSTed (http:// or https://)
        #[arg(long)]
        url: String,
        /// An event type to receive (repeatable; default: all): artifact.pushed,
        /// artifact.deleted, scan.completed, finding.critical, policy.denied
        #[arg(long = "event")]
        events: Vec<String>,
        /// What it is for
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List webhooks (never their secrets).
    List {
        #[command(flatten)]
        scope: Scope,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Delete a webhook and its delivery log.
    Delete {
        #[command(flatten)]
        scope: Scope,
        /// The webhook's id, as `webhook list` shows it
        id: i64,
    },
    /// A webhook's deliveries, newest first, with every attempt.
    Deliveries {
        #[command(flatten)]
        scope: Scope,
        /// The webhook's id
        id: i64,
        /// How many
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Send a delivery again (the same event, signed anew).
    Redeliver {
        #[command(flatten)]
        scope: Scope,
        /// The webhook's id
        id: i64,
        /// The delivery's id, as `webhook deliveries` shows it
        delivery: i64,
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// One line per attempt: `#1 500 …`.
fn history(delivery: &Value) -> String {
    delivery["history"]
        .as_array()
        .map(|attempts| {
            attempts
                .iter()
                .map(|a| {
                    let outcome = match a["status"].as_i64() {
                        Some(status) => status.to_string(),
                        None => text(&a["error"]),
                    };
                    format!("#{} {outcome}", text(&a["attempt"]))
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

pub async fn run(command: WebhookCommand) -> anyhow::Result<()> {
    let client = ApiClient::from_login()?;
    match command {
        WebhookCommand::Create {
            scope,
            url,
            events,
            description,
            output,
        } => {
            let created = client
                .call(
                    Method::POST,
                    &scope.path(),
                    Some(json!({ "url": url, "events": events, "description": description })),
                )
                .await?;
            if output.json {
                return print_json(&created);
            }
            println!(
                "webhook {} sends to {}",
                text(&created["id"]),
                text(&created["url"])
            );
            println!("signing secret (shown once; receivers verify webhook-signature with it):");
            println!("{}", text(&created["secret"]));
        }
        WebhookCommand::List { scope, output } => {
            let listing = client.get(&scope.path()).await?;
            let items = listing["items"].as_array().cloned().unwrap_or_default();
            if output.json {
                return print_json(&Value::Array(items));
            }
            let rows = items
                .iter()
                .map(|w| {
                    let events = match w["events"].as_array() {
                        Some(events) if !events.is_empty() => text(&w["events"]),
                        _ => "all".to_owned(),
                    };
                    vec![
                        text(&w["id"]),
                        text(&w["url"]),
                        events,
                        text(&w["description"]),
                        text(&w["created_by"]),
                        time(&w["created_at"]),
                    ]
                })
                .collect();
            table(
                &[
                    "id",
                    "url",
                    "events",
                    "description",
                    "created by",
                    "created",
                ],
                rows,
            );
        }
        WebhookCommand::Delete { scope, id } => {
            client
                .call(Method::DELETE, &format!("{}/{id}", scope.path()), None)
                .await?;
            println!("deleted webhook {id}");
        }
        WebhookCommand::Deliveries {
            scope,
            id,
            limit,
            output,
        } => {
            let listing = client
                .get(&format!("{}/{id}/deliveries?limit={limit}", scope.path()))
                .await?;
            let items = listing["items"].as_array().cloned().unwrap_or_default();
            if output.json {
                return print_json(&Value::Array(items));
            }
            let rows = items
                .iter()
                .map(|d| {
                    vec![
                        text(&d["id"]),
                        text(&d["event_type"]),
                        text(&d["state"]),
                        text(&d["attempts"]),
                        history(d),
                        time(&d["created_at"]),
                        time(&d["next_attempt_at"]),
                    ]
                })
                .collect();
            table(
                &[
                    "id",
                    "event",
                    "state",
                    "attempts",
                    "history",
                    "created",
                    "next attempt",
                ],
                rows,
            );
        }
        WebhookCommand::Redeliver {
            scope,
            id,
            delivery,
            output,
        } => {
            let redelivered = client
                .call(
                    Method::POST,
                    &format!("{}/{id}/deliveries/{delivery}/redeliver", scope.path()),
                    Some(json!({})),
                )
                .await?;
            if output.json {
                return print_json(&redelivered);
            }
            println!("delivery {delivery} is sent again at the next round (within a second)");
        }
    }
    Ok(())
}
