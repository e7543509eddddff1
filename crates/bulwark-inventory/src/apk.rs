//! Alpine packages: apk's `lib/apk/db/installed`, one record per package (`P:` name, `V:`
//! version, `o:` origin, the source package advisories are keyed by).

use crate::{Component, Kind};

pub(crate) fn wants(path: &str) -> bool {
    path == "lib/apk/db/installed"
}

pub(crate) fn extract(path: &str, text: &str, out: &mut Vec<Component>) -> Result<(), String> {
    for record in text.split("\n\n") {
        let mut name = None;
        let mut version = None;
        let mut origin = None;
        for line in record.lines() {
            match line.split_once(':') {
                Some(("P", value)) => name = Some(value.trim()),
                Some(("V", value)) => version = Some(value.trim()),
                Some(("o", value)) => origin = Some(value.trim()),
                _ => {}
            }
        }
        let (Some(name), Some(version)) = (name, version) else {
            continue;
        };
        out.push(Component {
            kind: Kind::Apk,
            name: name.to_owned(),
            version: version.to_owned(),
            source: Some((origin.unwrap_or(name).to_owned(), version.to_owned())),
            path: path.to_owned(),
            arch: None,
        });
    }
    Ok(())
}
