//! `bulwark policy|trust|exception|vex|promote`: what decides whether an artifact may be
//! pulled or promoted, through the management API with the stored login. The server
//! decides; these commands only send documents and show its decisions, every suppressed
//! finding included. Tables for people, `--json` for scripts; `policy check` exits with
//! status 3 when the artifact is blocked, so a pipeline can gate on it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgGroup, Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use crate::access_cmd::{OutputArgs, table};
use crate::client::{ApiClient, encode, format_time};
use crate::report_cmd::split_reference;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Set a project's policy, or with --system the one every project inherits, from a TOML
    /// file (YAML when it ends in .yaml or .yml). Every change is a new version.
    #[command(
        allow_missing_positional = true,
        group(ArgGroup::new("scope").required(true).args(["project", "system"]))
    )]
    Set {
        /// The project
        project: Option<String>,
        /// Set the system-wide policy instead (administrators)
        #[arg(long)]
        system: bool,
        /// The policy document
        file: PathBuf,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Print a project's policy document, or with --system the system-wide one.
    #[command(group(ArgGroup::new("scope").required(true).args(["project", "system"])))]
    Show {
        /// The project
        project: Option<String>,
        /// Show the system-wide policy instead
        #[arg(long)]
        system: bool,
        /// Print the policy in force instead: the project's merged with the system-wide one,
        /// which a project can tighten but never loosen
        #[arg(long)]
        effective: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List the versions of a project's policy.
    History {
        project: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Decide whether a stored artifact may be pulled: every rule's outcome, every violation
    /// and every suppressed finding (exit status 3 when blocked, errors exit 1).
    Check {
        /// The artifact: `project/repo:tag` or `project/repo@sha256:…` (no tag: `latest`)
        reference: String,
        /// Decide under this project's policy instead (a dry run of promoting it there)
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(Subcommand)]
pub enum TrustCommand {
    /// Trust a public key (a PEM file such as cosign.pub) for a project's signature rule.
    Add {
        project: String,
        /// The public key, PEM
        file: PathBuf,
        /// A name to tell keys apart by
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List the keys a project trusts.
    List {
        project: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Stop trusting a key.
    Remove {
        project: String,
        /// The key's fingerprint, `sha256:…` as `trust list` shows it
        fingerprint: String,
    },
}

#[derive(Subcommand)]
pub enum ExceptionCommand {
    /// Waive one vulnerability, with a reason, until a date: in one project, or with
    /// --system in every project. Every exception expires.
    #[command(group(ArgGroup::new("scope").required(true).args(["project", "system"])))]
    Add {
        /// The project it applies in
        #[arg(long)]
        project: Option<String>,
        /// Every project (administrators; only a system exception waives a malicious package)
        #[arg(long)]
        system: bool,
        /// The vulnerability: a CVE, GHSA or OSV id, or any alias
        #[arg(long = "id")]
        vulnerability: String,
        /// Only in this repository (`project/repo`)
        #[arg(long)]
        repository: Option<String>,
        /// Only in this artifact (`sha256:…`)
        #[arg(long)]
        digest: Option<String>,
        /// Only in this package: a purl (its version, if it has one, must match too) or a name
        #[arg(long, value_name = "PURL")]
        package: Option<String>,
        /// Why the finding does not matter here (shown wherever the exception applies)
        #[arg(long)]
        reason: String,
        /// When it lapses: `YYYY-MM-DD` or an RFC 3339 time
        #[arg(long, value_name = "DATE")]
        expires: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List the exceptions you can see, each active, expired or stale.
    List {
        /// Only this project's
        #[arg(long)]
        project: Option<String>,
        /// Only those that match no stored finding any more (candidates for removal)
        #[arg(long)]
        stale: bool,
        /// Only those that have expired
        #[arg(long)]
        expired: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Remove an exception.
    Remove { id: String },
}

#[derive(Subcommand)]
pub enum VexCommand {
    /// Upload a VEX document (OpenVEX, CycloneDX or CSAF JSON) to a project: its
    /// not_affected and fixed statements suppress the findings they name there.
    Upload {
        file: PathBuf,
        #[arg(long)]
        project: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List a project's VEX documents.
    List {
        #[arg(long)]
        project: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Remove a VEX document.
    Remove {
        #[arg(long)]
        project: String,
        /// The document's digest, `sha256:…` as `vex list` shows it
        digest: String,
    },
}

#[derive(Args)]
pub struct PromoteArgs {
    /// The artifact: `project/repo:tag` or `project/repo@sha256:…`
    source: String,
    /// Where to: `PROJECT[/REPO][:TAG]`. REPO defaults to the source's path inside its
    /// project (`dev/team/app` → `prod/team/app`), TAG to the source's tag (none when the
    /// source is a digest)
    destination: String,
    #[command(flatten)]
    output: OutputArgs,
}

fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// A time as the server sends it: RFC 3339 text as is, stored milliseconds formatted.
fn time(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(_) => value
            .as_i64()
            .map_or_else(|| value.to_string(), format_time),
        _ => "-".into(),
    }
}

/// The elements of a JSON array; none for anything else.
fn items(value: &Value) -> std::slice::Iter<'_, Value> {
    value
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
}

/// At most `limit` characters, control characters as spaces: a reason is another user's
/// text and goes to a terminal.
fn excerpt(raw: &str, limit: usize) -> String {
    let plain: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if plain.chars().count() <= limit {
        return plain;
    }
    let kept: String = plain.chars().take(limit.saturating_sub(1)).collect();
    format!("{kept}…")
}

fn read_text(file: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

/// The project named, or `None` for `--system`; clap already demands exactly one.
fn scope(project: Option<String>, system: bool) -> anyhow::Result<Option<String>> {
    match (project, system) {
        (Some(project), false) => Ok(Some(project)),
        (None, true) => Ok(None),
        _ => anyhow::bail!("name a project or give --system, one of the two"),
    }
}

fn policy_format(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml") => "yaml",
        _ => "toml",
    }
}

fn policy_path(project: Option<&str>) -> String {
    match project {
        Some(project) => format!("/api/v1/projects/{}/policy", encode(project)),
        None => "/api/v1/policy".to_owned(),
    }
}

/// Prints a document as text, ending in exactly one newline.
fn print_document(document: &str) {
    if document.ends_with('\n') {
        print!("{document}");
    } else {
        println!("{document}");
    }
}

pub async fn policy(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    let client = ApiClient::from_login()?;
    match command {
        PolicyCommand::Set {
            project,
            system,
            file,
            output,
        } => {
            let project = scope(project, system)?;
            let document = read_text(&file)?;
            let body = json!({ "document": document, "format": policy_format(&file) });
            let policy = client
                .call(Method::PUT, &policy_path(project.as_deref()), Some(body))
                .await?;
            if output.json {
                print_json(&policy)?;
            } else {
                let version = text(&policy["version"]);
                match &project {
                    Some(project) => println!("policy of {project} is now version {version}"),
                    None => println!("the system-wide policy is now version {version}"),
                }
            }
        }
        PolicyCommand::Show {
            project,
            system,
            effective,
            output,
        } => {
            let project = scope(project, system)?;
            let policy = client.get(&policy_path(project.as_deref())).await?;
            if output.json {
                print_json(&policy)?;
                return Ok(ExitCode::SUCCESS);
            }
            // Comment lines, so the output stays a valid policy document.
            match (policy["version"].as_i64().unwrap_or(0), &project) {
                (0, Some(project)) => println!("# {project} has no policy of its own"),
                (0, None) => println!("# no system-wide policy is set"),
                (version, _) => println!(
                    "# version {version} by {} at {}",
                    text(&policy["author"]),
                    time(&policy["created_at"])
                ),
            }
            let key = if effective { "effective" } else { "document" };
            print_document(policy[key].as_str().unwrap_or_default());
        }
        PolicyCommand::History { project, output } => {
            let path = format!("/api/v1/projects/{}/policy/history", encode(&project));
            let versions = client.get_all(&path).await?;
            if output.json {
                print_json(&Value::Array(versions))?;
            } else {
                let rows = versions
                    .iter()
                    .map(|v| {
                        vec![
                            text(&v["version"]),
                            text(&v["author"]),
                            time(&v["created_at"]),
                        ]
                    })
                    .collect();
                table(&["version", "author", "created"], rows);
            }
        }
        PolicyCommand::Check {
            reference,
            project,
            output,
        } => return check(&client, &reference, project.as_deref(), output).await,
    }
    Ok(ExitCode::SUCCESS)
}

async fn check(
    client: &ApiClient,
    raw: &str,
    project: Option<&str>,
    output: OutputArgs,
) -> anyhow::Result<ExitCode> {
    let (repository, reference) = split_reference(raw)?;
    let mut path = format!(
        "/api/v1/repositories/{}/artifacts/{}/policy",
        encode(&repository),
        encode(&reference)
    );
    if let Some(project) = project {
        path = format!("{path}?project={}", encode(project));
    }
    let decision = client.get(&path).await?;
    if output.json {
        print_json(&decision)?;
    } else {
        print_decision(&decision);
    }
    Ok(if allowed(&decision) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// Only an explicit `"allowed": true` allows: a malformed answer must not pass a gate.
fn allowed(decision: &Value) -> bool {
    decision["allowed"].as_bool() == Some(true)
}

fn print_decision(decision: &Value) {
    let scan = &decision["scan"];
    println!(
        "{}@{} under the policy of {}{}: scan {}{}",
        text(&decision["repository"]),
        text(&decision["digest"]),
        text(&decision["project"]),
        decision["policy"]
            .as_str()
            .map(|name| format!(" ({name})"))
            .unwrap_or_default(),
        text(&scan["status"]),
        scan["reason"]
            .as_str()
            .map(|reason| format!(" ({reason})"))
            .unwrap_or_default(),
    );
    let rules = items(&decision["rules"])
        .map(|r| vec![text(&r["rule"]), text(&r["outcome"]), text(&r["detail"])])
        .collect();
    table(&["rule", "outcome", "detail"], rules);
    for violation in items(&decision["violations"]) {
        println!("{}", text(&violation["message"]));
        for finding in items(&violation["findings"]) {
            let fixed = items(&finding["fixed"]).map(text).collect::<Vec<_>>();
            println!(
                "  {} ({}) in {} {}: {}",
                text(&finding["id"]),
                text(&finding["severity"]),
                text(&finding["package"]),
                text(&finding["version"]),
                if fixed.is_empty() {
                    "no fix known".to_owned()
                } else {
                    format!("fixed in {}", fixed.join(", "))
                }
            );
        }
    }
    let suppressed: Vec<Vec<String>> = items(&decision["suppressed"])
        .map(|s| {
            vec![
                text(&s["finding"]),
                format!("{} {}", text(&s["package"]), text(&s["version"])),
                suppressed_by(&s["by"]),
            ]
        })
        .collect();
    if !suppressed.is_empty() {
        table(&["suppressed finding", "package", "by"], suppressed);
    }
    let signatures: Vec<Vec<String>> = items(&decision["signatures"])
        .map(|s| {
            vec![
                text(&s["key"]),
                text(&s["format"]),
                text(&s["signed_digest"]),
            ]
        })
        .collect();
    if signatures.is_empty() {
        println!("no signature by a trusted key");
    } else {
        table(&["signed by", "format", "signed digest"], signatures);
    }
    if allowed(decision) {
        println!("allowed");
    } else {
        println!("blocked: {}", text(&decision["message"]));
    }
}

fn suppressed_by(by: &Value) -> String {
    match by["kind"].as_str() {
        Some("exception") => {
            // `expires_ms` is the policy crate's own name for it.
            let expires = match &by["expires_at"] {
                Value::Null => &by["expires_ms"],
                expires => expires,
            };
            format!(
                "exception {} by {} until {}: {}",
                text(&by["id"]),
                text(&by["author"]),
                time(expires),
                excerpt(&text(&by["reason"]), 200)
            )
        }
        Some("vex") => format!(
            "VEX {}{} from {}",
            text(&by["status"]),
            by["justification"]
                .as_str()
                .map(|j| format!(" ({j})"))
                .unwrap_or_default(),
            text(&by["source"])
        ),
        _ => by.to_string(),
    }
}

pub async fn trust(command: TrustCommand) -> anyhow::Result<()> {
    let client = ApiClient::from_login()?;
    let keys_path = |project: &str| format!("/api/v1/projects/{}/trusted-keys", encode(project));
    match command {
        TrustCommand::Add {
            project,
            file,
            name,
            output,
        } => {
            let pem = read_text(&file)?;
            // cosign.key lies next to cosign.pub: a private key must never leave the machine.
            anyhow::ensure!(
                !pem.contains("PRIVATE KEY"),
                "{} holds a private key: give the public key (cosign.pub)",
                file.display()
            );
            let key = client
                .call(
                    Method::POST,
                    &keys_path(&project),
                    Some(json!({ "pem": pem, "name": name })),
                )
                .await?;
            if output.json {
                return print_json(&key);
            }
            println!(
                "trusted key {} ({}) in {project}",
                text(&key["fingerprint"]),
                text(&key["algorithm"])
            );
        }
        TrustCommand::List { project, output } => {
            let keys = client.get_all(&keys_path(&project)).await?;
            if output.json {
                return print_json(&Value::Array(keys));
            }
            let rows = keys
                .iter()
                .map(|k| {
                    vec![
                        text(&k["fingerprint"]),
                        text(&k["algorithm"]),
                        text(&k["name"]),
                        text(&k["added_by"]),
                        time(&k["added_at"]),
                    ]
                })
                .collect();
            table(
                &["fingerprint", "algorithm", "name", "added by", "added"],
                rows,
            );
        }
        TrustCommand::Remove {
            project,
            fingerprint,
        } => {
            let path = format!("{}/{}", keys_path(&project), encode(&fingerprint));
            client.call(Method::DELETE, &path, None).await?;
            println!("{project} no longer trusts {fingerprint}");
        }
    }
    Ok(())
}

/// `expired`, `stale` (matches nothing any more) or `active`.
fn exception_state(exception: &Value) -> &'static str {
    if exception["expired"].as_bool() == Some(true) {
        "expired"
    } else if exception["stale"].as_bool() == Some(true) {
        "stale"
    } else {
        "active"
    }
}

pub async fn exception(command: ExceptionCommand) -> anyhow::Result<()> {
    let client = ApiClient::from_login()?;
    match command {
        ExceptionCommand::Add {
            project,
            system,
            vulnerability,
            repository,
            digest,
            package,
            reason,
            expires,
            output,
        } => {
            let project = scope(project, system)?;
            let body = json!({
                "project": project,
                "vulnerability": vulnerability,
                "repository": repository,
                "digest": digest,
                "package": package,
                "reason": reason,
                "expires_at": expires,
            });
            let exception = client
                .call(Method::POST, "/api/v1/exceptions", Some(body))
                .await?;
            if output.json {
                return print_json(&exception);
            }
            println!(
                "exception {} waives {} in {} until {}",
                text(&exception["id"]),
                text(&exception["vulnerability"]),
                exception["project"].as_str().unwrap_or("every project"),
                time(&exception["expires_at"])
            );
        }
        ExceptionCommand::List {
            project,
            stale,
            expired,
            output,
        } => {
            let mut query = Vec::new();
            if let Some(project) = &project {
                query.push(format!("project={}", encode(project)));
            }
            if stale {
                query.push("stale=true".to_owned());
            }
            let path = if query.is_empty() {
                "/api/v1/exceptions".to_owned()
            } else {
                format!("/api/v1/exceptions?{}", query.join("&"))
            };
            let mut exceptions = client.get_all(&path).await?;
            if expired {
                exceptions.retain(|e| e["expired"].as_bool() == Some(true));
            }
            if output.json {
                return print_json(&Value::Array(exceptions));
            }
            let rows = exceptions
                .iter()
                .map(|e| {
                    // A digest narrows an exception as much as a repository does: show both.
                    let artifact = match (e["repository"].as_str(), e["digest"].as_str()) {
                        (Some(repository), Some(digest)) => format!("{repository}@{digest}"),
                        (None, Some(digest)) => digest.to_owned(),
                        _ => text(&e["repository"]),
                    };
                    vec![
                        text(&e["id"]),
                        e["project"].as_str().unwrap_or("system").to_owned(),
                        text(&e["vulnerability"]),
                        text(&e["package"]),
                        artifact,
                        time(&e["expires_at"]),
                        text(&e["author"]),
                        exception_state(e).to_owned(),
                        excerpt(&text(&e["reason"]), 40),
                    ]
                })
                .collect();
            table(
                &[
                    "id",
                    "scope",
                    "vulnerability",
                    "package",
                    "repository",
                    "expires",
                    "author",
                    "state",
                    "reason",
                ],
                rows,
            );
        }
        ExceptionCommand::Remove { id } => {
            let path = format!("/api/v1/exceptions/{}", encode(&id));
            client.call(Method::DELETE, &path, None).await?;
            println!("removed exception {id}");
        }
    }
    Ok(())
}

fn vex_format(format: &Value) -> String {
    match format.as_str() {
        Some("openvex") => "OpenVEX".into(),
        Some("cyclonedx") => "CycloneDX".into(),
        Some("csaf") => "CSAF".into(),
        _ => text(format),
    }
}

pub async fn vex(command: VexCommand) -> anyhow::Result<()> {
    let client = ApiClient::from_login()?;
    let vex_path = |project: &str| format!("/api/v1/projects/{}/vex", encode(project));
    match command {
        VexCommand::Upload {
            file,
            project,
            output,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let stored = client
                .call_bytes(Method::POST, &vex_path(&project), "application/json", bytes)
                .await?;
            if output.json {
                return print_json(&stored);
            }
            println!(
                "stored {} document {} ({} statements) in {project}",
                vex_format(&stored["format"]),
                text(&stored["digest"]),
                text(&stored["statements"])
            );
        }
        VexCommand::List { project, output } => {
            let documents = client.get_all(&vex_path(&project)).await?;
            if output.json {
                return print_json(&Value::Array(documents));
            }
            let rows = documents
                .iter()
                .map(|d| {
                    vec![
                        text(&d["digest"]),
                        vex_format(&d["format"]),
                        text(&d["statements"]),
                        text(&d["uploaded_by"]),
                        time(&d["uploaded_at"]),
                    ]
                })
                .collect();
            table(
                &["digest", "format", "statements", "uploaded by", "uploaded"],
                rows,
            );
        }
        VexCommand::Remove { project, digest } => {
            let path = format!("{}/{}", vex_path(&project), encode(&digest));
            client.call(Method::DELETE, &path, None).await?;
            println!("removed VEX document {digest} from {project}");
        }
    }
    Ok(())
}

pub async fn promote(args: PromoteArgs) -> anyhow::Result<()> {
    let client = ApiClient::from_login()?;
    // As written: the server resolves the defaults, and a refusal's message (the policy's
    // denial) reaches the user as the server wrote it.
    let body = json!({ "source": args.source, "destination": args.destination });
    let promoted = client
        .call(Method::POST, "/api/v1/promotions", Some(body))
        .await?;
    if args.output.json {
        return print_json(&promoted);
    }
    let destination = match promoted["tag"].as_str() {
        Some(tag) => format!("{}:{tag}", text(&promoted["destination"])),
        None => text(&promoted["destination"]),
    };
    println!(
        "promoted {} to {destination} ({} manifests, {} referrers)",
        text(&promoted["digest"]),
        text(&promoted["manifests"]),
        text(&promoted["referrers"])
    );
    // What let it through is never silent.
    for s in items(&promoted["decision"]["suppressed"]) {
        println!(
            "suppressed: {} in {} {} by {}",
            text(&s["finding"]),
            text(&s["package"]),
            text(&s["version"]),
            suppressed_by(&s["by"])
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Top,
    }

    #[derive(Subcommand)]
    enum Top {
        #[command(subcommand)]
        Policy(PolicyCommand),
        #[command(subcommand)]
        Trust(TrustCommand),
        #[command(subcommand)]
        Exception(ExceptionCommand),
        #[command(subcommand)]
        Vex(VexCommand),
        Promote(PromoteArgs),
    }

    fn parse(args: &[&str]) -> Result<Top, clap::Error> {
        use clap::Parser;
        Cli::try_parse_from(std::iter::once("bulwark").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    #[test]
    fn the_commands_parse() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        assert!(parse(&["promote", "dev/app:1.0", "prod"]).is_ok());
        assert!(parse(&["vex", "upload", "v.json"]).is_err(), "no project");
        assert!(parse(&["trust", "remove", "p", "sha256:ab"]).is_ok());
    }

    #[test]
    fn a_policy_is_set_for_a_project_or_the_system() {
        let set = |args: &[&str]| match parse(args) {
            Ok(Top::Policy(PolicyCommand::Set {
                project,
                system,
                file,
                ..
            })) => Some((project, system, file)),
            _ => None,
        };
        assert_eq!(
            set(&["policy", "set", "dev", "p.toml"]),
            Some((Some("dev".into()), false, "p.toml".into()))
        );
        assert_eq!(
            set(&["policy", "set", "--system", "p.toml"]),
            Some((None, true, "p.toml".into()))
        );
        assert_eq!(
            set(&["policy", "set", "p.toml", "--system"]),
            Some((None, true, "p.toml".into()))
        );
        assert_eq!(set(&["policy", "set", "p.toml"]), None, "neither");
        assert_eq!(
            set(&["policy", "set", "--system", "dev", "p.toml"]),
            None,
            "both"
        );
        assert!(parse(&["policy", "show"]).is_err());
        assert!(parse(&["policy", "show", "--system", "--effective"]).is_ok());
    }

    #[test]
    fn an_exception_names_its_scope_reason_and_expiry() {
        let base = ["exception", "add", "--id", "CVE-1", "--reason", "r"];
        let with = |extra: &[&str]| parse(&[&base[..], extra].concat());
        assert!(with(&["--project", "dev", "--expires", "2030-01-01"]).is_ok());
        assert!(with(&["--system", "--expires", "2030-01-01"]).is_ok());
        assert!(with(&["--expires", "2030-01-01"]).is_err(), "no scope");
        assert!(with(&["--project", "dev"]).is_err(), "no expiry");
        assert!(
            with(&["--project", "dev", "--system", "--expires", "2030-01-01"]).is_err(),
            "two scopes"
        );
    }

    #[test]
    fn yaml_is_told_by_the_extension() {
        assert_eq!(policy_format(Path::new("p.yaml")), "yaml");
        assert_eq!(policy_format(Path::new("p.YML")), "yaml");
        assert_eq!(policy_format(Path::new("p.toml")), "toml");
        assert_eq!(policy_format(Path::new("policy")), "toml");
    }

    #[test]
    fn only_an_explicit_allow_allows() {
        assert!(allowed(&json!({ "allowed": true })));
        assert!(!allowed(&json!({ "allowed": false })));
        assert!(!allowed(&json!({ "allowed": "true" })));
        assert!(!allowed(&json!({})));
    }

    #[test]
    fn exceptions_show_their_state() {
        assert_eq!(
            exception_state(&json!({ "expired": true, "stale": true })),
            "expired"
        );
        assert_eq!(
            exception_state(&json!({ "expired": false, "stale": true })),
            "stale"
        );
        assert_eq!(
            exception_state(&json!({ "expired": false, "stale": null })),
            "active"
        );
    }

    #[test]
    fn excerpts_are_short_and_plain() {
        assert_eq!(excerpt("short", 40), "short");
        assert_eq!(excerpt("a\nb\u{1b}[2J", 40), "a b [2J");
        let long = "é".repeat(50);
        let cut = excerpt(&long, 40);
        assert_eq!(cut.chars().count(), 40);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn times_come_as_text_or_milliseconds() {
        let text_time = json!("2030-01-01T00:00:00Z");
        assert_eq!(time(&text_time), "2030-01-01T00:00:00Z");
        assert_eq!(time(&json!(0)), "1970-01-01 00:00:00Z");
        assert_eq!(time(&Value::Null), "-");
    }
}
