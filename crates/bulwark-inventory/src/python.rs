//! Installed Python distributions: `*.dist-info/METADATA` (wheels), `*.egg-info/PKG-INFO`
//! and single-file `*.egg-info` (setuptools), whose `Name` and `Version` headers name them.

use crate::{Component, Kind, field, fields};

pub(crate) fn wants(path: &str) -> bool {
    let mut parts = path.rsplit('/');
    let (Some(file), Some(folder)) = (parts.next(), parts.next()) else {
        return path.ends_with(".egg-info");
    };
    (file == "METADATA" && folder.ends_with(".dist-info"))
        || (file == "PKG-INFO" && folder.ends_with(".egg-info"))
        || file.ends_with(".egg-info")
}

pub(crate) fn extract(path: &str, text: &str, out: &mut Vec<Component>) -> Result<(), String> {
    // The headers end at the first blank line; the description follows.
    let headers = text.split("\n\n").next().unwrap_or_default();
    let fields = fields(headers);
    match (field(&fields, "Name"), field(&fields, "Version")) {
        (Some(name), Some(version)) if !name.is_empty() && !version.is_empty() => {
            out.push(Component {
                kind: Kind::Python,
                name: name.to_owned(),
                version: version.to_owned(),
                source: None,
                path: path.to_owned(),
                arch: None,
            });
            Ok(())
        }
        _ => Err("no Name and Version headers".to_owned()),
    }
}
