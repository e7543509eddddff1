//! Node packages a Yarn install resolved: `yarn.lock`, in the classic (v1) format
//!
//! ```text
//! "@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4":
//!   version "7.12.13"
//! ```
//!
//! and the berry (v2+) one, which is YAML (`__metadata:` first):
//!
//! ```text
//! "lodash@npm:^4.17.20, lodash@npm:^4.17.21":
//!   version: 4.17.21
//!   resolution: "lodash@npm:4.17.21"
//! ```
//!
//! Both are read line by line: an entry is a line at column 0 ending in `:` (its
//! descriptors), its fields are the lines indented by exactly two spaces (deeper ones are
//! its dependencies). Only registry packages count: in v1 a descriptor whose range is a
//! URL, a path or a Git reference (`file:`, `link:`, `git+…`, `user/repo`) is skipped;
//! berry entries count when their `resolution` is an `npm:` one, so workspaces and
//! `workspace:`, `link:`, `portal:`, `file:`, Git and `patch:` entries (a patched package
//! is listed a second time, unpatched, under `npm:`) are skipped.

use crate::{Collector, Component, Kind, split_name, unquote};

pub(crate) fn wants(path: &str) -> bool {
    path.rsplit('/').next() == Some("yarn.lock")
}

/// One entry: its first descriptor and the fields it gives.
#[derive(Default)]
struct Entry<'a> {
    descriptor: &'a str,
    version: Option<&'a str>,
    resolution: Option<&'a str>,
}

pub(crate) fn extract(path: &str, text: &str, out: &mut Vec<Component>) -> Result<(), String> {
    let mut found = Collector::new(Kind::Npm, path, out);
    let berry = text.lines().any(|line| line.trim_end() == "__metadata:");
    let mut entry: Option<Entry<'_>> = None;
    let mut not_understood = 0usize;
    for line in text.lines() {
        let trimmed = line.trim_end();
        if trimmed.is_empty() || trimmed.trim_start().starts_with('#') {
            continue;
        }
        if !line.starts_with([' ', '\t']) {
            if let Some(done) = entry.take() {
                finish(&done, berry, &mut found);
            }
            match trimmed.strip_suffix(':') {
                Some(descriptors) => {
                    entry = Some(Entry {
                        descriptor: first_descriptor(descriptors),
                        ..Entry::default()
                    });
                }
                None => not_understood += 1,
            }
            continue;
        }
        // Fields are indented by exactly two spaces; dependency lists go deeper.
        let Some(field) = line.strip_prefix("  ") else {
            continue;
        };
        if field.starts_with([' ', '\t']) {
            continue;
        }
        let Some(current) = entry.as_mut() else {
            continue;
        };
        let field = field.trim_end();
        // v1 writes `version "1.0.0"`, berry `version: 1.0.0`.
        let (key, value) = match field.split_once(' ') {
            Some((key, value)) => (key.trim_end_matches(':'), unquote(value.trim())),
            None => (field.trim_end_matches(':'), ""),
        };
        match key {
            "version" => current.version = Some(value),
            "resolution" => current.resolution = Some(value),
            _ => {}
        }
    }
    if let Some(done) = entry.take() {
        finish(&done, berry, &mut found);
    }
    if not_understood > 0 {
        return Err(format!(
            "{not_understood} lines at column 0 are neither comments nor entries"
        ));
    }
    Ok(())
}

/// The first of an entry line's comma-separated descriptors, unquoted: v1 quotes each
/// descriptor (`"a@^1", "a@^1.2"`), berry quotes the whole list (`"a@npm:^1, a@npm:^1.2"`).
fn first_descriptor(descriptors: &str) -> &str {
    let descriptors = descriptors.trim();
    let first = match descriptors.strip_prefix('"') {
        Some(rest) => rest.split('"').next().unwrap_or_default(),
        None => descriptors,
    };
    first.split(',').next().unwrap_or_default().trim()
}

fn finish(entry: &Entry<'_>, berry: bool, found: &mut Collector<'_>) {
    let Some(version) = entry.version else {
        return;
    };
    if entry.descriptor == "__metadata" || entry.descriptor.is_empty() {
        return;
    }
    if berry || entry.resolution.is_some() {
        let name = match entry.resolution {
            // `name@npm:1.2.3`: the package really installed (an alias's target, too).
            Some(resolution) => {
                let (name, reference) = split_name(resolution);
                if !reference.starts_with("npm:") {
                    return;
                }
                name
            }
            // No resolution (a hand-edited file): the descriptor must be an `npm:` one.
            None => {
                let (name, range) = split_name(entry.descriptor);
                let Some(range) = range.strip_prefix("npm:") else {
                    return;
                };
                // `npm:real@^1.0.0` names another package, `npm:^1.0.0` is a range.
                match split_name(range) {
                    (target, target_range) if !target_range.is_empty() => target,
                    _ => name,
                }
            }
        };
        found.push(name, version);
        return;
    }
    let (name, range) = split_name(entry.descriptor);
    // `alias@npm:real@^1.0.0` (or `alias@npm:real`) installs `real`.
    let (name, range) = match range.strip_prefix("npm:") {
        Some(target) => split_name(target),
        None => (name, range),
    };
    if range.contains(':') || range.contains('/') {
        return;
    }
    found.push(name, version);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn read(text: &str) -> (Vec<(String, String)>, Result<(), String>) {
        let mut out = Vec::new();
        let result = extract("yarn.lock", text, &mut out);
        let mut got: Vec<(String, String)> = out.into_iter().map(|c| (c.name, c.version)).collect();
        got.sort();
        (got, result)
    }

    #[test]
    fn descriptors() {
        assert_eq!(
            first_descriptor(r#""@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4""#),
            "@babel/code-frame@^7.0.0"
        );
        assert_eq!(
            first_descriptor("lodash@^4.17.19, lodash@^4.17.21"),
            "lodash@^4.17.19"
        );
        assert_eq!(
            first_descriptor(r#""lodash@npm:^4.17.20, lodash@npm:^4.17.21""#),
            "lodash@npm:^4.17.20"
        );
        assert_eq!(split_name("@babel/core@^7.0.0"), ("@babel/core", "^7.0.0"));
        assert_eq!(split_name("@babel/core"), ("@babel/core", ""));
        assert_eq!(
            split_name("sw@npm:string-width@^4.2.0"),
            ("sw", "npm:string-width@^4.2.0")
        );
    }

    #[test]
    fn hand_written_berry_entry_without_resolution() {
        let (got, result) = read(
            "__metadata:\n  version: 6\n\n\"wrap@npm:^1.0.0\":\n  version: 1.0.2\n\n\
             \"sw-cjs@npm:string-width@^4.2.0\":\n  version: 4.2.3\n",
        );
        assert_eq!(result, Ok(()));
        assert_eq!(
            got,
            [
                ("string-width".to_owned(), "4.2.3".to_owned()),
                ("wrap".to_owned(), "1.0.2".to_owned()),
            ]
        );
    }

    #[test]
    fn garbage_is_a_problem_not_a_panic() {
        let (got, result) =
            read("not a lock file\n\"unterminated\n  version\n@:\n  version \"\"\n");
        assert!(got.is_empty());
        assert!(result.is_err());
    }
}
