//! Runs every comparison of the shared version fixtures (osv-scalibr's `semantic/testdata`,
//! see `shared/data/README.md`) against the crate's public `compare`.
//!
//! Each line is `A OP B` with OP one of `<`, `=`, `>`; the reverse comparison must give the
//! opposite. Every failure is collected and reported at once, with file and line, so one
//! run shows everything that is still wrong.

use std::cmp::Ordering;
use std::fs;
use std::path::{Path, PathBuf};

use bulwark_version::{Ecosystem, compare};

fn fixtures_dir() -> PathBuf {
    package_dir().join("../../../shared/data/version-fixtures")
}

/// The ecosystems each fixture file is run against, by file name.
fn ecosystems_for(file_name: &str) -> Vec<Ecosystem> {
    match file_name {
        "semver-versions.txt" => vec![
            Ecosystem::Npm,
            Ecosystem::CratesIo,
            Ecosystem::Go,
            Ecosystem::Hex,
        ],
        "nuget-versions.txt" => vec![Ecosystem::NuGet],
        "redhat-versions.txt" => vec![Ecosystem::RedHat],
        "pub-versions.txt" => vec![Ecosystem::Pub],
        "hackage-versions.txt" => vec![Ecosystem::Hackage],
        name if name.starts_with("pypi-") => vec![Ecosystem::PyPI],
        name if name.starts_with("maven-") => vec![Ecosystem::Maven],
        name if name.starts_with("debian-") => vec![Ecosystem::Debian],
        name if name.starts_with("alpine-") => vec![Ecosystem::Alpine],
        name if name.starts_with("rubygems-") => vec![Ecosystem::RubyGems],
        name if name.starts_with("packagist-") => vec![Ecosystem::Packagist],
        name if name.starts_with("cran-") => vec![Ecosystem::Cran],
        _ => Vec::new(),
    }
}

/// Lines of the Maven fixtures (which follow the POM reference's text, as osv.dev does)
/// where Maven's own `ComparableVersion` answers otherwise, with Maven's answer: Bulwark
/// follows the client. Each was checked against the real class (`scripts/maven-order/run.sh
/// check < FIXTURE`, Maven 3.8.7); most come from Maven reading `.word` as `-word` (the
/// rules are in the `maven` module's documentation).
const MAVEN_DEPARTURES: &[(&str, usize, &str)] = &[
    ("maven-versions.txt", 100, ">"),
    ("maven-versions-generated.txt", 2781, ">"),
    ("maven-versions-generated.txt", 2786, ">"),
    ("maven-versions-generated.txt", 5776, ">"),
    ("maven-versions-generated.txt", 9949, ">"),
    ("maven-versions-generated.txt", 11435, ">"),
    ("maven-versions-generated.txt", 11450, ">"),
    ("maven-versions-generated.txt", 11476, ">"),
    ("maven-versions-generated.txt", 11526, ">"),
    ("maven-versions-generated.txt", 11557, ">"),
    ("maven-versions-generated.txt", 11578, ">"),
    ("maven-versions-generated.txt", 11582, ">"),
    ("maven-versions-generated.txt", 11594, ">"),
    ("maven-versions-generated.txt", 11602, ">"),
    ("maven-versions-generated.txt", 11612, ">"),
    ("maven-versions-generated.txt", 11621, ">"),
    ("maven-versions-generated.txt", 11687, ">"),
    ("maven-versions-generated.txt", 11748, ">"),
    ("maven-versions-generated.txt", 12642, ">"),
];

fn parse_op(op: &str) -> Option<Ordering> {
    match op {
        "<" => Some(Ordering::Less),
        "=" => Some(Ordering::Equal),
        ">" => Some(Ordering::Greater),
        _ => None,
    }
}

fn symbol(ordering: Ordering) -> &'static str {
    match ordering {
        Ordering::Less => "<",
        Ordering::Equal => "=",
        Ordering::Greater => ">",
    }
}

/// Checks one file, appending a description of every failing line to `failures`, and
/// returns how many comparisons (in one direction) it ran.
fn check_file(path: &Path, failures: &mut Vec<String>) -> usize {
    let file_name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default()
        .to_owned();
    let ecosystems = ecosystems_for(&file_name);
    if ecosystems.is_empty() {
        failures.push(format!(
            "{file_name}: no ecosystem is mapped to this fixture file"
        ));
        return 0;
    }
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            failures.push(format!("{file_name}: cannot be read: {error}"));
            return 0;
        }
    };
    let mut checked = 0;
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        if line.trim().is_empty() || line.starts_with("# ") || line.starts_with("// ") {
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        let [left, op, right] = fields[..] else {
            failures.push(format!(
                "{file_name}:{line_number}: malformed line {line:?}"
            ));
            continue;
        };
        let departure = MAVEN_DEPARTURES
            .iter()
            .find(|(file, number, _)| *file == file_name && *number == line_number);
        let op = match departure {
            Some((_, _, maven)) => {
                // The departure is only for a line that says otherwise.
                if op == *maven {
                    failures.push(format!(
                        "{file_name}:{line_number}: listed as a Maven departure, but the fixture agrees"
                    ));
                }
                maven
            }
            None => op,
        };
        let Some(expected) = parse_op(op) else {
            failures.push(format!(
                "{file_name}:{line_number}: unknown operator in {line:?}"
            ));
            continue;
        };
        for ecosystem in &ecosystems {
            checked += 1;
            for (a, b, want) in [(left, right, expected), (right, left, expected.reverse())] {
                match compare(ecosystem, a, b) {
                    Ok(got) if got == want => {}
                    Ok(got) => failures.push(format!(
                        "{file_name}:{line_number} [{ecosystem}]: expected {a} {} {b}, got {}",
                        symbol(want),
                        symbol(got)
                    )),
                    Err(error) => failures.push(format!(
                        "{file_name}:{line_number} [{ecosystem}]: {a} vs {b}: {error}"
                    )),
                }
            }
        }
    }
    checked
}

#[test]
fn every_fixture_comparison_holds() {
    let dir = fixtures_dir();
    // Under CI the data must be there: a test that skips there would pass without running.
    assert!(
        dir.is_dir() || std::env::var_os("CI").is_none(),
        "{} is missing, and CI is set: the shared data must be beside the clone",
        dir.display()
    );
    if !dir.is_dir() {
        println!(
            "note: {} is absent; the shared version fixtures were not run",
            dir.display()
        );
        return;
    }
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no fixture files in {}", dir.display());

    let mut failures = Vec::new();
    let mut checked = 0;
    for path in &paths {
        checked += check_file(path, &mut failures);
    }
    println!("{checked} fixture comparisons from {} files", paths.len());
    assert!(
        failures.is_empty(),
        "{} fixture failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// This package's directory, as cargo gives it when the test runs: a binary built from a clone at another
/// path (a build directory shared with CI, say) must not read that clone's files.
fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}
