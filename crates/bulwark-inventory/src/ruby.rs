//! Ruby gems: Bundler's `Gemfile.lock` (or `gems.locked`) and the gemspecs RubyGems keeps
//! for installed gems (`…/specifications/NAME-VERSION.gemspec`, and `specifications/default/`
//! for the gems Ruby ships).
//!
//! In a lock file the gems are the `specs:` of its `GEM` sections (from a gem server) and
//! of its `GIT` sections, each on a line indented by exactly four spaces,
//! `    nokogiri (1.13.10-x86_64-linux)`; deeper lines are their dependencies. A platform
//! after the version's first `-` is dropped (Bundler's own parse: versions hold no `-`).
//! `GIT` gems are reported as gems like the others: they are built from a gem's own
//! repository, usually at a release or a little past one, so RubyGems advisories for that
//! name concern them. `PATH` gems are the project's own folders (`remote: .`), not a
//! release of anything published under that name, and are skipped.

use crate::{Collector, Component, Kind};

pub(crate) fn wants(path: &str) -> bool {
    let mut parts = path.rsplit('/');
    let file = parts.next().unwrap_or(path);
    if file == "Gemfile.lock" || file == "gems.locked" {
        return true;
    }
    if !file.ends_with(".gemspec") {
        return false;
    }
    matches!(
        (parts.next(), parts.next()),
        (Some("specifications"), _) | (Some("default"), Some("specifications"))
    )
}

pub(crate) fn extract(path: &str, text: &str, out: &mut Vec<Component>) -> Result<(), String> {
    let file = path.rsplit('/').next().unwrap_or(path);
    let mut found = Collector::new(Kind::Gem, path, out);
    if file.ends_with(".gemspec") {
        return match gemspec(file, text) {
            Some((name, version)) => {
                found.push(&name, &version);
                Ok(())
            }
            None => Err("no gem name and version".to_owned()),
        };
    }
    lock(text, &mut found);
    Ok(())
}

fn lock(text: &str, found: &mut Collector<'_>) {
    let mut section = "";
    let mut in_specs = false;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            section = line;
            in_specs = false;
            continue;
        }
        if let Some(field) = line.strip_prefix("  ")
            && !field.starts_with(' ')
        {
            in_specs = field == "specs:";
            continue;
        }
        let from_gems = matches!(section, "GEM" | "GIT");
        if !in_specs || !from_gems {
            continue;
        }
        // Exactly four spaces: a gem; six: one of its dependencies.
        let Some(spec) = line.strip_prefix("    ") else {
            continue;
        };
        if spec.starts_with(' ') {
            continue;
        }
        // `name (version)` or `name (version-platform)`.
        let Some((name, rest)) = spec.split_once(" (") else {
            continue;
        };
        let Some(version) = rest.strip_suffix(')') else {
            continue;
        };
        let version = version.split('-').next().unwrap_or_default();
        found.push(name.trim(), version.trim());
    }
}

/// A gemspec's name and version: its `s.name = "…"` and `s.version = "…"` lines (any
/// receiver; `.freeze`, `Gem::Version.new("…")` and `%q{…}` forms), else the
/// `# stub: name version platform` comment RubyGems writes on the first lines, else the
/// file name, split at its last `-` before a digit.
fn gemspec(file: &str, text: &str) -> Option<(String, String)> {
    let mut name = None;
    let mut version = None;
    let mut stub = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("# stub:") {
            let mut words = rest.split_whitespace();
            if let (Some(name), Some(version)) = (words.next(), words.next()) {
                stub = Some((name.to_owned(), version.to_owned()));
            }
            continue;
        }
        if name.is_none()
            && let Some(value) = assignment(line, "name")
        {
            name = Some(value);
        } else if version.is_none()
            && let Some(value) = assignment(line, "version")
        {
            version = Some(value);
        }
    }
    if let (Some(name), Some(version)) = (name, version)
        && !name.is_empty()
        && !version.is_empty()
    {
        return Some((name.to_owned(), version.to_owned()));
    }
    if stub.is_some() {
        return stub;
    }
    let stem = file.strip_suffix(".gemspec")?;
    let (dash, _) = stem.char_indices().rev().find(|&(at, c)| {
        c == '-'
            && stem
                .get(at + 1..)
                .is_some_and(|rest| rest.starts_with(|d: char| d.is_ascii_digit()))
    })?;
    let name = stem.get(..dash)?;
    let version = stem.get(dash + 1..)?.split('-').next().unwrap_or_default();
    (!name.is_empty() && !version.is_empty()).then(|| (name.to_owned(), version.to_owned()))
}

/// The string a `receiver.field = …` line assigns: the first quoted literal (or `%q{…}`)
/// on its right-hand side.
fn assignment<'a>(line: &'a str, field: &str) -> Option<&'a str> {
    let (receiver, rest) = line.split_once('.')?;
    if receiver.is_empty()
        || !receiver
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return None;
    }
    let rest = rest.strip_prefix(field)?.trim_start();
    let value = rest.strip_prefix('=')?;
    if value.starts_with('=') {
        return None;
    }
    literal(value)
}

fn literal(expression: &str) -> Option<&str> {
    let start = expression.find(['"', '\'', '%'])?;
    let rest = expression.get(start..)?;
    if let Some(inner) = rest.strip_prefix("%q{") {
        return inner.split('}').next();
    }
    let quote = rest.chars().next()?;
    if quote == '%' {
        return None;
    }
    rest.get(1..)?.split(quote).next()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn gemspec_forms() {
        let spec = |text: &str| gemspec("x-0.gemspec", text);
        assert_eq!(
            spec("  s.name = \"rake\".freeze\n  s.version = \"13.0.6\"\n"),
            Some(("rake".into(), "13.0.6".into()))
        );
        assert_eq!(
            spec("spec.name = 'json'\nspec.version = Gem::Version.new(\"2.6.1\")\n"),
            Some(("json".into(), "2.6.1".into()))
        );
        assert_eq!(
            spec(
                "s.name = %q{rack}\ns.version = %q{1.6.4}\ns.required_rubygems_version = \">= 0\"\n"
            ),
            Some(("rack".into(), "1.6.4".into()))
        );
        // `s.version == …` compares, it does not assign.
        assert_eq!(
            gemspec("nothing.gemspec", "s.name = \"a\"\ns.version == \"1\"\n"),
            None
        );
        assert_eq!(
            gemspec("nokogiri-1.13.10-x86_64-linux.gemspec", "garbage"),
            Some(("nokogiri".into(), "1.13.10".into()))
        );
        assert_eq!(
            gemspec("net-http-0.3.2.gemspec", ""),
            Some(("net-http".into(), "0.3.2".into()))
        );
        assert_eq!(gemspec("nothing.gemspec", ""), None);
    }
}
