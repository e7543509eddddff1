//! Node packages: each installed `node_modules/**/package.json`, and `package-lock.json`
//! (lockfile versions 1 to 3), which lists what an install resolved.

use serde_json::Value;

use crate::{Component, Kind};

/// Lock files nest dependencies; deeper than this is hostile.
const MAX_DEPTH: usize = 64;

pub(crate) fn wants(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    (file == "package.json" && path.contains("node_modules/")) || file == "package-lock.json"
}

pub(crate) fn extract(path: &str, content: &[u8], out: &mut Vec<Component>) -> Result<(), String> {
    let document: Value = serde_json::from_slice(content).map_err(|e| format!("not JSON: {e}"))?;
    if path.ends_with("package-lock.json") {
        return lock(path, &document, out);
    }
    match (document["name"].as_str(), document["version"].as_str()) {
        (Some(name), Some(version)) => {
            push(path, name, version, out);
            Ok(())
        }
        _ => Err("no name and version".to_owned()),
    }
}

fn push(path: &str, name: &str, version: &str, out: &mut Vec<Component>) {
    if name.is_empty() || version.is_empty() {
        return;
    }
    out.push(Component {
        kind: Kind::Npm,
        name: name.to_owned(),
        version: version.to_owned(),
        source: None,
        path: path.to_owned(),
        arch: None,
    });
}

fn lock(path: &str, document: &Value, out: &mut Vec<Component>) -> Result<(), String> {
    // Versions 2 and 3: `packages`, keyed by install path (`node_modules/a/node_modules/b`).
    if let Some(packages) = document["packages"].as_object() {
        for (location, package) in packages {
            // "" is the project itself; links point at folders of the project.
            if location.is_empty() || package["link"].as_bool() == Some(true) {
                continue;
            }
            let name = package["name"]
                .as_str()
                .or_else(|| location.rsplit_once("node_modules/").map(|(_, name)| name));
            if let (Some(name), Some(version)) = (name, package["version"].as_str()) {
                push(path, name, version, out);
            }
        }
        return Ok(());
    }
    // Version 1: nested `dependencies`.
    fn walk(path: &str, dependencies: &Value, depth: usize, out: &mut Vec<Component>) {
        let Some(dependencies) = dependencies.as_object() else {
            return;
        };
        if depth > MAX_DEPTH {
            return;
        }
        for (name, dependency) in dependencies {
            if let Some(version) = dependency["version"].as_str() {
                // `file:`/`git+…` versions are not registry releases.
                if !version.contains(':') {
                    push(path, name, version, out);
                }
            }
            walk(path, &dependency["dependencies"], depth + 1, out);
        }
    }
    walk(path, &document["dependencies"], 0, out);
    Ok(())
}
