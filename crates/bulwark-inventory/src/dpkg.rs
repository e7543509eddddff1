//! Debian and Ubuntu packages: dpkg's `var/lib/dpkg/status` (only packages whose status is
//! `installed`: removed-but-not-purged ones stay listed as `config-files`), and distroless
//! images' `var/lib/dpkg/status.d/<name>` files (one paragraph each, without a status).

use crate::{Component, Kind, field, fields};

pub(crate) fn wants(path: &str) -> bool {
    path == "var/lib/dpkg/status"
        || path
            .strip_prefix("var/lib/dpkg/status.d/")
            .is_some_and(|name| {
                !name.is_empty() && !name.contains('/') && !name.ends_with(".md5sums")
            })
}

pub(crate) fn extract(path: &str, text: &str, out: &mut Vec<Component>) -> Result<(), String> {
    let distroless = path != "var/lib/dpkg/status";
    for paragraph in text.split("\n\n") {
        let fields = fields(paragraph);
        let (Some(name), Some(version)) = (field(&fields, "Package"), field(&fields, "Version"))
        else {
            continue;
        };
        let installed = match field(&fields, "Status") {
            // "want flag status": only the last word says what is on disk.
            Some(status) => status.split_whitespace().nth(2) == Some("installed"),
            None => distroless,
        };
        if !installed {
            continue;
        }
        // `Source: name` or `Source: name (version)`; without one, the package is its own
        // source, at its own version.
        let source = field(&fields, "Source").map(|source| match source.split_once('(') {
            Some((name, version)) => (
                name.trim().to_owned(),
                version.trim_end_matches(')').trim().to_owned(),
            ),
            None => (source.trim().to_owned(), version.to_owned()),
        });
        out.push(Component {
            kind: Kind::Dpkg,
            name: name.to_owned(),
            version: version.to_owned(),
            source: Some(source.unwrap_or_else(|| (name.to_owned(), version.to_owned()))),
            path: path.to_owned(),
            arch: None,
        });
    }
    Ok(())
}
