//! Node packages a pnpm install resolved: `pnpm-lock.yaml`, whose `packages:` section has
//! one key per package, spelt by lockfile version:
//!
//! - 5.x: `/lodash/4.17.21`, `/@babel/core/7.12.3_abc` (peer dependencies after `_`);
//! - 6.x: `/lodash@4.17.21`, `/@babel/core@7.12.3(peer@1.0.0)` (peers in parentheses);
//! - 9.x: `lodash@4.17.21`, `'@babel/core@7.12.3'` (peers only in `snapshots:`, which is
//!   not read: it lists the same packages again).
//!
//! The file is YAML as pnpm writes it, read line by line (keys at two spaces' indent under
//! a `packages:` at column 0, long keys as `? key`), so a damaged file still yields what it
//! lists. Only registry packages count: keys whose version is not a version (`file:`,
//! `link:`, Git and tarball URLs, and v5/v6 keys without the leading `/`) are skipped.

use crate::{Collector, Component, Kind, split_name, unquote};

pub(crate) fn wants(path: &str) -> bool {
    path.rsplit('/').next() == Some("pnpm-lock.yaml")
}

/// How keys are spelt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// `/name/version_peers`, lockfile 5.x and older.
    Slashes,
    /// `/name@version(peers)` (6.x) or `name@version` (9.x).
    At,
}

pub(crate) fn extract(path: &str, text: &str, out: &mut Vec<Component>) -> Result<(), String> {
    let mut found = Collector::new(Kind::Npm, path, out);
    let mut style = None;
    let mut in_packages = false;
    let mut keys = 0usize;
    let mut not_understood = 0usize;
    for line in text.lines() {
        let trimmed = line.trim_end();
        if trimmed.is_empty() || trimmed.trim_start().starts_with('#') {
            continue;
        }
        if !line.starts_with([' ', '\t']) {
            in_packages = trimmed == "packages:";
            if let Some(version) = trimmed.strip_prefix("lockfileVersion:") {
                style = Some(style_of(unquote(version.trim())));
            }
            continue;
        }
        if !in_packages {
            continue;
        }
        let Some(entry) = line.strip_prefix("  ") else {
            continue;
        };
        if entry.starts_with([' ', '\t']) {
            continue;
        }
        let entry = entry.trim_end();
        // YAML writes keys longer than 1024 characters as `? key` then `: value`.
        let key = entry
            .strip_prefix("? ")
            .or_else(|| entry.strip_suffix(':'))
            .or_else(|| entry.split_once(": ").map(|(key, _)| key));
        let Some(key) = key else {
            // The `: value` half of a `? key`, or something else.
            if !entry.starts_with(':') {
                not_understood += 1;
            }
            continue;
        };
        keys += 1;
        let key = unquote(key.trim());
        let key_style = style.unwrap_or_else(|| guess_style(key));
        if let Some((name, version)) = package(key, key_style) {
            found.push(name, version);
        }
    }
    if not_understood > 0 {
        return Err(format!(
            "{not_understood} lines under `packages:` are not package keys ({keys} were)"
        ));
    }
    Ok(())
}

/// `5.4`, `'6.0'`, `'9.0'`: the major version says how keys are spelt.
fn style_of(version: &str) -> Style {
    let major: String = version.chars().take_while(char::is_ascii_digit).collect();
    match major.parse::<u32>() {
        Ok(major) if major < 6 => Style::Slashes,
        _ => Style::At,
    }
}

/// Without a `lockfileVersion` (a damaged file): `@` after the name means 6.x or later.
fn guess_style(key: &str) -> Style {
    let key = key.strip_prefix('/').unwrap_or(key);
    let bare = key.split(['(', '_']).next().unwrap_or_default();
    if split_name(bare).1.is_empty() {
        Style::Slashes
    } else {
        Style::At
    }
}

/// The name and version a key denotes, if it is a registry package.
fn package(key: &str, style: Style) -> Option<(&str, &str)> {
    let (name, version) = match style {
        Style::Slashes => {
            // Registry packages are keyed from the registry's root, `/`.
            let key = key.strip_prefix('/')?;
            let (name, version) = key.rsplit_once('/')?;
            // Peer suffixes spell `/` as `+`, so the last `/` ends the name.
            (name, version.split('_').next().unwrap_or_default())
        }
        Style::At => {
            let key = key.strip_prefix('/').unwrap_or(key);
            split_name(key.split('(').next().unwrap_or_default())
        }
    };
    let registry_version =
        version.starts_with(|c: char| c.is_ascii_digit()) && !version.contains([':', '/']);
    (registry_version && !name.is_empty() && !name.ends_with('/')).then_some((name, version))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn keys_of_each_lockfile_version() {
        let cases = [
            (
                "/lodash/4.17.21",
                Style::Slashes,
                Some(("lodash", "4.17.21")),
            ),
            (
                "/@babel/core/7.12.3_abc",
                Style::Slashes,
                Some(("@babel/core", "7.12.3")),
            ),
            (
                "/@babel/plugin-x/7.12.1_@babel+core@7.12.3",
                Style::Slashes,
                Some(("@babel/plugin-x", "7.12.1")),
            ),
            ("file:packages/local", Style::Slashes, None),
            ("github.com/user/repo/abc123", Style::Slashes, None),
            ("/lodash@4.17.21", Style::At, Some(("lodash", "4.17.21"))),
            (
                "/@babel/core@7.12.3(peer@1.0.0)(@types/node@18.0.0)",
                Style::At,
                Some(("@babel/core", "7.12.3")),
            ),
            (
                "@babel/core@7.12.3",
                Style::At,
                Some(("@babel/core", "7.12.3")),
            ),
            ("local@file:packages/local", Style::At, None),
            (
                "repo@https://codeload.github.com/u/r/tar.gz/abc",
                Style::At,
                None,
            ),
            ("@babel/core", Style::At, None),
        ];
        for (key, style, expected) in cases {
            assert_eq!(package(key, style), expected, "{key}");
        }
        assert_eq!(style_of("5.4"), Style::Slashes);
        assert_eq!(style_of("6.0"), Style::At);
        assert_eq!(style_of("9.0"), Style::At);
        assert_eq!(
            guess_style("/@babel/core/7.12.3_@x+y@1.0.0"),
            Style::Slashes
        );
        assert_eq!(guess_style("/@babel/core@7.12.3(x@1.0.0)"), Style::At);
    }
}
