//! Rust crates: `Cargo.lock`, whose `[[package]]` entries with a registry `source` are the
//! crates a build used (workspace members and path dependencies have none).

use serde::Deserialize;

use crate::{Component, Kind};

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: String,
    source: Option<String>,
}

pub(crate) fn wants(path: &str) -> bool {
    path.rsplit('/').next() == Some("Cargo.lock")
}

pub(crate) fn extract(path: &str, text: &str, out: &mut Vec<Component>) -> Result<(), String> {
    let lock: Lock = toml::from_str(text).map_err(|e| format!("not a Cargo.lock: {e}"))?;
    for package in lock.package {
        if !package
            .source
            .as_deref()
            .is_some_and(|source| source.starts_with("registry+") || source.starts_with("sparse+"))
        {
            continue;
        }
        out.push(Component {
            kind: Kind::Cargo,
            name: package.name,
            version: package.version,
            source: None,
            path: path.to_owned(),
            arch: None,
        });
    }
    Ok(())
}
