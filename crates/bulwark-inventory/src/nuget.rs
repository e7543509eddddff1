//! .NET packages: the `*.deps.json` a build writes next to an application (its
//! `libraries`, keyed `Name/Version`; only `"type": "package"` entries are NuGet packages,
//! `project` and `runtimepack` ones are the application's own and the runtime's), and
//! NuGet's `packages.lock.json` (`dependencies` → target framework → package →
//! `{"type", "resolved"}`; `Project` entries are projects of the solution).

use serde_json::Value;

use crate::{Collector, Component, Kind};

pub(crate) fn wants(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    (file.ends_with(".deps.json") && file.len() > ".deps.json".len())
        || file == "packages.lock.json"
}

pub(crate) fn extract(path: &str, content: &[u8], out: &mut Vec<Component>) -> Result<(), String> {
    let document: Value = serde_json::from_slice(content).map_err(|e| format!("not JSON: {e}"))?;
    let mut found = Collector::new(Kind::NuGet, path, out);
    if path.ends_with("packages.lock.json") {
        let Some(frameworks) = document.get("dependencies").and_then(Value::as_object) else {
            return Err("no dependencies".to_owned());
        };
        for packages in frameworks.values() {
            let Some(packages) = packages.as_object() else {
                continue;
            };
            for (name, package) in packages {
                let kind = package.get("type").and_then(Value::as_str);
                if kind.is_some_and(|kind| kind.eq_ignore_ascii_case("project")) {
                    continue;
                }
                if let Some(version) = package.get("resolved").and_then(Value::as_str) {
                    found.push(name, version);
                }
            }
        }
        return Ok(());
    }
    let Some(libraries) = document.get("libraries").and_then(Value::as_object) else {
        return Err("no libraries".to_owned());
    };
    for (key, library) in libraries {
        if library.get("type").and_then(Value::as_str) != Some("package") {
            continue;
        }
        if let Some((name, version)) = key.rsplit_once('/') {
            found.push(name, version);
        }
    }
    Ok(())
}
