//! `bulwark version compare|sort`: the matcher's version ordering, by hand, so that a
//! suspected false positive can be checked.

use std::cmp::Ordering;
use std::io::BufRead;

use anyhow::{Context, bail};
use bulwark_version::{Ecosystem, Version};

#[derive(clap::Subcommand)]
pub enum VersionCommand {
    /// Print `<`, `=` or `>`: how version A orders against version B.
    Compare {
        /// OSV ecosystem name, e.g. PyPI, npm, crates.io, Maven, Debian:12, Alpine:v3.20.
        #[arg(long, short)]
        ecosystem: String,
        a: String,
        b: String,
    },
    /// Sort the versions read from stdin (one per line), oldest first.
    Sort {
        /// OSV ecosystem name, e.g. PyPI, npm, crates.io, Maven, Debian:12, Alpine:v3.20.
        #[arg(long, short)]
        ecosystem: String,
        /// Newest first.
        #[arg(long, short)]
        reverse: bool,
        /// Print a JSON array instead of one version per line.
        #[arg(long)]
        json: bool,
    },
}

fn ecosystem(name: &str) -> anyhow::Result<Ecosystem> {
    let ecosystem = Ecosystem::from_osv_name(name).ecosystem;
    if !ecosystem.has_ordering() {
        bail!(
            "{name:?} has no known version ordering: Bulwark matches its advisories only by their explicit version lists"
        );
    }
    Ok(ecosystem)
}

pub fn run(command: VersionCommand) -> anyhow::Result<()> {
    match command {
        VersionCommand::Compare {
            ecosystem: name,
            a,
            b,
        } => {
            let ecosystem = ecosystem(&name)?;
            let ordering = bulwark_version::compare(&ecosystem, &a, &b)?;
            println!(
                "{}",
                match ordering {
                    Ordering::Less => "<",
                    Ordering::Equal => "=",
                    Ordering::Greater => ">",
                }
            );
        }
        VersionCommand::Sort {
            ecosystem: name,
            reverse,
            json,
        } => {
            let ecosystem = ecosystem(&name)?;
            let mut versions = Vec::new();
            let mut invalid = Vec::new();
            for (number, line) in std::io::stdin().lock().lines().enumerate() {
                let line = line.context("reading stdin")?;
                let text = line.trim();
                if text.is_empty() {
                    continue;
                }
                match Version::parse(&ecosystem, text) {
                    Ok(version) => versions.push(version),
                    Err(error) => invalid.push(format!("line {}: {error}", number + 1)),
                }
            }
            if !invalid.is_empty() {
                bail!(
                    "some versions are not valid for {name}:\n{}",
                    invalid.join("\n")
                );
            }
            // One scheme throughout, so every pair is comparable.
            // Maven's order has cycles in corners: a sort that cannot panic on them.
            bulwark_version::sort_versions_by(&mut versions, |a, b| {
                a.try_cmp(b).unwrap_or(Ordering::Equal)
            });
            if reverse {
                versions.reverse();
            }
            let sorted: Vec<&str> = versions.iter().map(Version::as_str).collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&sorted)?);
            } else {
                for version in sorted {
                    println!("{version}");
                }
            }
        }
    }
    Ok(())
}
