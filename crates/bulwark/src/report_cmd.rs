//! `bulwark report|rescan|impact`: what the registry's scans found, through the management
//! API with the stored login. Tables for people, `--json` for scripts.

use anyhow::Context;
use clap::Args;
use reqwest::Method;
use serde_json::{Value, json};

use crate::access_cmd::{OutputArgs, table};
use crate::client::{ApiClient, encode};

#[derive(Args)]
pub struct ReportArgs {
    /// The artifact: `project/repo:tag` or `project/repo@sha256:…` (no tag: `latest`)
    reference: String,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args)]
pub struct RescanArgs {
    /// The artifact: `project/repo:tag` or `project/repo@sha256:…`
    reference: String,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["id", "purl"])))]
pub struct ImpactArgs {
    /// A vulnerability id (CVE, GHSA, OSV id or any alias)
    id: Option<String>,
    /// A package URL instead, with or without a version (pkg:pypi/django@3.2.0)
    #[arg(long)]
    purl: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
}

/// Splits `project/repo:tag` / `project/repo@digest` into repository and reference.
pub(crate) fn split_reference(raw: &str) -> anyhow::Result<(String, String)> {
    let (repository, reference) = match raw.split_once('@') {
        Some((repository, digest)) => (repository, digest),
        None => {
            let last_slash = raw.rfind('/').unwrap_or(0);
            match raw[last_slash..].rfind(':') {
                Some(colon) => (&raw[..last_slash + colon], &raw[last_slash + colon + 1..]),
                None => (raw, "latest"),
            }
        }
    };
    anyhow::ensure!(
        repository.contains('/') && !reference.is_empty(),
        "{raw:?} is not project/repository:tag or project/repository@digest"
    );
    Ok((repository.to_owned(), reference.to_owned()))
}

fn scan_path(reference: &str) -> anyhow::Result<String> {
    let (repository, reference) = split_reference(reference)?;
    Ok(format!(
        "/api/v1/repositories/{}/artifacts/{}/scan",
        encode(&repository),
        encode(&reference)
    ))
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn age(seconds: &Value) -> String {
    match seconds.as_u64() {
        Some(age) => format!("advisory data imported {} ago", crate::db_cmd::age(age)),
        None => "no advisory data imported: nothing can match".into(),
    }
}

pub async fn report(args: ReportArgs) -> anyhow::Result<()> {
    let client = ApiClient::from_login()?;
    let report = client.get(&scan_path(&args.reference)?).await?;
    if args.output.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    let components = report["components"].as_array().map_or(0, Vec::len);
    println!(
        "{} {}: scan {}{}; {} components{}, {} findings, {} secrets; {}",
        args.reference,
        text(&report["digest"]),
        text(&report["status"]),
        report["reason"]
            .as_str()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default(),
        components,
        report["os"]
            .as_str()
            .map(|os| format!(" on {os}"))
            .unwrap_or_default(),
        findings.len(),
        report["secrets"].as_array().map_or(0, Vec::len),
        age(&report["advisories_age_seconds"]),
    );
    // Which findings the project's policy does not count, and why: shown, never hidden.
    let suppressed: std::collections::BTreeMap<u64, String> = report["policy"]["suppressed"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s["index"].as_u64()?, suppression(&s["by"]))))
        .collect();
    if !findings.is_empty() {
        let rows = findings
            .iter()
            .enumerate()
            .map(|(index, f)| {
                let fixed = f["fixed"]
                    .as_array()
                    .map_or_else(Vec::new, |v| v.iter().map(text).collect::<Vec<_>>());
                vec![
                    if f["kind"] == "malicious" {
                        format!("{} (malicious)", text(&f["id"]))
                    } else {
                        text(&f["id"])
                    },
                    f["severity"].as_str().unwrap_or("unknown").to_owned(),
                    format!(
                        "{} {}",
                        text(&f["component"]["name"]),
                        text(&f["component"]["version"])
                    ),
                    if fixed.is_empty() {
                        "no fix known".into()
                    } else {
                        fixed.join(", ")
                    },
                    text(&f["component"]["path"]),
                    text(&f["first_seen"]),
                    suppressed.get(&(index as u64)).cloned().unwrap_or_default(),
                ]
            })
            .collect();
        table(
            &[
                "vulnerability",
                "severity",
                "installed",
                "fixed in",
                "found in",
                "first seen",
                "suppressed by",
            ],
            rows,
        );
    }
    let policy = &report["policy"];
    for signature in policy["signatures"].as_array().into_iter().flatten() {
        println!(
            "signed: key {} ({}, over {})",
            text(&signature["key"]),
            text(&signature["format"]),
            text(&signature["signed_digest"])
        );
    }
    match policy["allowed"].as_bool() {
        Some(true) => println!("policy: a pull is allowed"),
        Some(false) => println!("policy: a pull is refused: {}", text(&policy["message"])),
        None => {}
    }
    let secrets = report["secrets"].as_array().cloned().unwrap_or_default();
    if !secrets.is_empty() {
        let rows = secrets
            .iter()
            .map(|s| {
                vec![
                    text(&s["title"]),
                    text(&s["severity"]),
                    format!("{}:{}", text(&s["path"]), text(&s["line"])),
                    text(&s["redacted"]),
                ]
            })
            .collect();
        table(&["secret", "severity", "found in", "value"], rows);
    }
    for resolved in report["resolved"].as_array().into_iter().flatten() {
        println!(
            "resolved: {} in {} {} at {}",
            text(&resolved["id"]),
            text(&resolved["package"]),
            text(&resolved["installed"]),
            text(&resolved["resolved_at"])
        );
    }
    for warning in report["warnings"].as_array().into_iter().flatten() {
        eprintln!("warning: {}", text(warning));
    }
    Ok(())
}

/// What suppressed a finding, in a few words: an exception (id, author, expiry) or a VEX
/// statement (source, status, justification).
fn suppression(by: &Value) -> String {
    match by["kind"].as_str() {
        Some("exception") => format!(
            "exception {} by {} until {}",
            text(&by["id"]),
            text(&by["author"]),
            by["expires_ms"]
                .as_i64()
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                .map_or_else(|| "?".into(), |t| t.strftime("%Y-%m-%d").to_string())
        ),
        Some("vex") => format!(
            "VEX {} ({}{})",
            text(&by["source"]),
            text(&by["status"]),
            by["justification"]
                .as_str()
                .map(|j| format!(": {j}"))
                .unwrap_or_default()
        ),
        _ => text(by),
    }
}

pub async fn rescan(args: RescanArgs) -> anyhow::Result<()> {
    let client = ApiClient::from_login()?;
    let answer = client
        .call(Method::POST, &scan_path(&args.reference)?, Some(json!({})))
        .await?;
    if answer["queued"].as_bool() == Some(true) {
        println!("scan of {} queued", text(&answer["digest"]));
    } else {
        println!(
            "a scan of {} is already waiting or running",
            text(&answer["digest"])
        );
    }
    Ok(())
}

pub async fn impact(args: ImpactArgs) -> anyhow::Result<()> {
    let client = ApiClient::from_login()?;
    let path = match (&args.id, &args.purl) {
        (_, Some(purl)) => format!("/api/v1/packages/{}/impact", encode(purl)),
        (Some(id), None) => format!("/api/v1/vulnerabilities/{}/impact", encode(id)),
        (None, None) => anyhow::bail!("name a vulnerability id or --purl"),
    };
    let answer = client.get(&path).await.context("asking the registry")?;
    if args.output.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let items = answer["items"].as_array().cloned().unwrap_or_default();
    let rows = items
        .iter()
        .map(|item| {
            vec![
                text(&item["repository"]),
                item["tags"]
                    .as_array()
                    .map(|tags| tags.iter().map(text).collect::<Vec<_>>().join(", "))
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| "-".into()),
                text(&item["digest"]),
                format!("{} {}", text(&item["package"]), text(&item["version"])),
            ]
        })
        .collect();
    table(&["repository", "tags", "digest", "package"], rows);
    if answer["truncated"].as_bool() == Some(true) {
        println!("(more artifacts are affected than listed)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::split_reference;

    #[test]
    fn references_split_like_image_references() {
        let split = |raw| split_reference(raw).unwrap();
        assert_eq!(split("team/app:1.0"), ("team/app".into(), "1.0".into()));
        assert_eq!(split("team/app"), ("team/app".into(), "latest".into()));
        assert_eq!(
            split("team/a/b@sha256:ab"),
            ("team/a/b".into(), "sha256:ab".into())
        );
        assert!(split_reference("app:1.0").is_err(), "no project");
    }
}
