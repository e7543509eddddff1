//! PHP packages: `composer.lock` (its `packages` and `packages-dev` arrays) and what an
//! install wrote to `vendor/composer/installed.json` (Composer 1: an array of packages;
//! Composer 2: `{"packages": [...]}`). Packages are named `vendor/package`. Packages from
//! a `path` repository (`"dist": {"type": "path"}`) are the project's own folders, not
//! Packagist releases, and are skipped.

use serde_json::Value;

use crate::{Collector, Component, Kind};

pub(crate) fn wants(path: &str) -> bool {
    path.rsplit('/').next() == Some("composer.lock")
        || path
            .strip_suffix("vendor/composer/installed.json")
            .is_some_and(|folder| folder.is_empty() || folder.ends_with('/'))
}

pub(crate) fn extract(path: &str, content: &[u8], out: &mut Vec<Component>) -> Result<(), String> {
    let document: Value = serde_json::from_slice(content).map_err(|e| format!("not JSON: {e}"))?;
    let mut found = Collector::new(Kind::Composer, path, out);
    let lists: Vec<&Value> = match &document {
        // Composer 1's installed.json.
        Value::Array(_) => vec![&document],
        Value::Object(object) => ["packages", "packages-dev"]
            .iter()
            .filter_map(|key| object.get(*key))
            .collect(),
        _ => Vec::new(),
    };
    if lists.is_empty() {
        return Err("no packages".to_owned());
    }
    for list in lists {
        let Some(packages) = list.as_array() else {
            continue;
        };
        for package in packages {
            let dist = package
                .get("dist")
                .and_then(|dist| dist.get("type"))
                .and_then(Value::as_str);
            if dist == Some("path") {
                continue;
            }
            let name = package.get("name").and_then(Value::as_str);
            let version = package.get("version").and_then(Value::as_str);
            if let (Some(name), Some(version)) = (name, version) {
                found.push(name, version);
            }
        }
    }
    Ok(())
}

/// The version Packagist advisories would name: Composer reports tags as they are spelt
/// (`v5.4.0`, as Symfony tags), while the advisories (GitHub's, FriendsOfPHP's) list
/// versions without the `v`. The component keeps Composer's spelling (and so does its
/// purl); only matching drops one leading `v` before a digit.
pub(crate) fn advisory_version(version: &str) -> &str {
    match version
        .strip_prefix('v')
        .or_else(|| version.strip_prefix('V'))
    {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => version,
    }
}
