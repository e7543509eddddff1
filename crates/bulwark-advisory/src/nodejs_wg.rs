//! Advisories of the Node.js security working group (`nodejs/security-wg`, `vuln/npm/<n>.json`)
//! in their native format, turned into OSV records: `module_name`, `vulnerable_versions` as a
//! node-semver range, `cves`, `cvss_vector`, dates as `YYYY-MM-DD`.
//!
//! A node-semver range is a union (`||`) of comparator sets, each an intersection of
//! comparators; each set becomes one OSV `SEMVER` range (OSV takes the union of an affected
//! entry's ranges): its greatest lower bound as `introduced` (`0` when it has none) and its
//! least upper bound as `fixed` (`<`) or `last_affected` (`<=`). `>v` becomes
//! `introduced: v'` where v' is the least version above v (`X.Y.(Z+1)-0`); x-ranges, `~` and
//! `^` are expanded as node-semver does. The record's id is the working group's own
//! `NSWG-ECO-<n>`, its aliases the CVEs it lists.

use bulwark_version::semver::SemVer;
use serde::Deserialize;
use serde_json::{Value, json};

/// Why a record cannot be turned into OSV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NodejsWgError(String);

#[derive(Deserialize)]
struct Native {
    id: u64,
    module_name: String,
    vulnerable_versions: Option<String>,
    #[serde(default)]
    cves: Vec<String>,
    title: Option<String>,
    overview: Option<String>,
    recommendation: Option<String>,
    publish_date: Option<String>,
    updated_at: Option<String>,
    created_at: Option<String>,
    cvss_vector: Option<String>,
    /// A list, though some files give it as one string.
    #[serde(default)]
    references: Value,
}

/// Whether `value` looks like a working-group record rather than an OSV one.
pub fn is_nodejs_wg(value: &Value) -> bool {
    value.get("module_name").is_some() && value.get("vulnerable_versions").is_some()
}

/// The OSV record for the working-group record `value`.
pub fn to_osv(value: Value) -> Result<Value, NodejsWgError> {
    let native: Native = serde_json::from_value(value)
        .map_err(|e| NodejsWgError(format!("not a working-group record: {e}")))?;
    let id = format!("NSWG-ECO-{}", native.id);
    let range = native
        .vulnerable_versions
        .as_deref()
        .ok_or_else(|| NodejsWgError(format!("{id}: no vulnerable_versions")))?;
    let ranges = semver_ranges(range).map_err(|e| NodejsWgError(format!("{id}: {e}")))?;
    let date = |d: &Option<String>| d.as_deref().and_then(timestamp);
    let modified = date(&native.updated_at)
        .or_else(|| date(&native.created_at))
        .or_else(|| date(&native.publish_date))
        .ok_or_else(|| NodejsWgError(format!("{id}: no date it was last changed")))?;
    let details = [native.overview.as_deref(), native.recommendation.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n\n");
    let references: Vec<Value> = match &native.references {
        Value::Array(list) => list.iter().filter_map(Value::as_str).map(web).collect(),
        Value::String(one) => one
            .split(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | '\'' | '"' | ','))
            .filter(|s| s.starts_with("http"))
            .map(web)
            .collect(),
        _ => Vec::new(),
    };
    let mut record = json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": modified,
        "aliases": native.cves,
        "affected": [{
            "package": {"ecosystem": "npm", "name": native.module_name},
            "ranges": ranges.iter().map(|events| json!({"type": "SEMVER", "events": events})).collect::<Vec<_>>(),
            "database_specific": {"vulnerable_versions": range},
        }],
        "references": references,
        "database_specific": {"source": "nodejs/security-wg"},
    });
    if let Some(summary) = native.title {
        record["summary"] = summary.into();
    }
    if !details.is_empty() {
        record["details"] = details.into();
    }
    if let Some(published) = date(&native.publish_date) {
        record["published"] = published.into();
    }
    if let Some(vector) = native.cvss_vector.filter(|v| v.starts_with("CVSS:3")) {
        record["severity"] = json!([{"type": "CVSS_V3", "score": vector}]);
    }
    Ok(record)
}

fn web(url: &str) -> Value {
    json!({"type": "WEB", "url": url})
}

/// `2016-04-28` (or an RFC 3339 time) as an RFC 3339 timestamp.
fn timestamp(date: &str) -> Option<String> {
    let date = date.trim();
    if date.parse::<jiff::Timestamp>().is_ok() {
        return Some(date.to_owned());
    }
    let day: jiff::civil::Date = date.get(..10)?.parse().ok()?;
    Some(format!("{day}T00:00:00Z"))
}

/// A version bound: the version, and whether it is included.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bound {
    version: SemVer,
    /// Major, minor and patch.
    core: (u64, u64, u64),
    text: String,
    inclusive: bool,
}

/// The OSV events of each comparator set of `range`.
fn semver_ranges(range: &str) -> Result<Vec<Vec<Value>>, String> {
    let mut ranges = Vec::new();
    for set in range.split("||") {
        let (lower, upper) = set_bounds(set)?;
        let mut events = vec![match &lower {
            None => json!({"introduced": "0"}),
            Some(bound) if bound.inclusive => json!({"introduced": bound.text}),
            Some(bound) => json!({"introduced": next_version(bound.core)}),
        }];
        if let Some(upper) = upper {
            events.push(if upper.inclusive {
                json!({"last_affected": upper.text})
            } else {
                json!({"fixed": upper.text})
            });
        }
        ranges.push(events);
    }
    if ranges.is_empty() {
        return Err(format!("empty range {range:?}"));
    }
    Ok(ranges)
}

/// The least version above `v`: the first pre-release of the next patch.
fn next_version((major, minor, patch): (u64, u64, u64)) -> String {
    format!("{major}.{minor}.{}-0", patch + 1)
}

type Bounds = (Option<Bound>, Option<Bound>);

/// The greatest lower and least upper bound of one comparator set.
fn set_bounds(set: &str) -> Result<Bounds, String> {
    let mut lower: Option<Bound> = None;
    let mut upper: Option<Bound> = None;
    // Operators may stand apart from their versions (`>= 4`); a hyphen range is `a - b`.
    let tokens = join_operators(set);
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let mut i = 0;
    while i < tokens.len() {
        if tokens.get(i + 1) == Some(&"-") {
            let (a, b) = (
                tokens[i],
                tokens
                    .get(i + 2)
                    .copied()
                    .ok_or("a hyphen range without its end")?,
            );
            tighten_lower(&mut lower, partial(a)?.0);
            let (high, exact) = partial(b)?;
            // `1.0.0 - 1.2` is `<1.3.0-0` at the top.
            let high = if exact {
                high
            } else {
                bound(&partial_ceiling(b)?, false)?
            };
            tighten_upper(&mut upper, high);
            i += 3;
            continue;
        }
        let (low, high) = comparator(tokens[i])?;
        if let Some(low) = low {
            tighten_lower(&mut lower, low);
        }
        if let Some(high) = high {
            tighten_upper(&mut upper, high);
        }
        i += 1;
    }
    Ok((lower, upper))
}

fn join_operators(set: &str) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    let mut pending = String::new();
    for word in set.split_whitespace() {
        if word.chars().all(|c| matches!(c, '<' | '>' | '=')) {
            pending.push_str(word);
        } else {
            tokens.push(format!("{pending}{word}"));
            pending.clear();
        }
    }
    tokens
}

fn tighten_lower(lower: &mut Option<Bound>, candidate: Bound) {
    let replace = match lower {
        None => true,
        Some(current) => {
            candidate.version > current.version
                || (candidate.version == current.version && !candidate.inclusive)
        }
    };
    if replace {
        *lower = Some(candidate);
    }
}

fn tighten_upper(upper: &mut Option<Bound>, candidate: Bound) {
    let replace = match upper {
        None => true,
        Some(current) => {
            candidate.version < current.version
                || (candidate.version == current.version && !candidate.inclusive)
        }
    };
    if replace {
        *upper = Some(candidate);
    }
}

/// A comparator's (lower, upper) bounds; an x-range, `~` or `^` gives both.
fn comparator(token: &str) -> Result<Bounds, String> {
    let (operator, version) = split_operator(token);
    if matches!(version, "" | "*" | "x" | "X") {
        return Ok((None, None));
    }
    if let Some(rest) = version.strip_prefix('~') {
        let (low, _) = partial(rest)?;
        let high = bound(&tilde_ceiling(rest)?, false)?;
        return Ok((Some(low), Some(high)));
    }
    if let Some(rest) = version.strip_prefix('^') {
        let (low, _) = partial(rest)?;
        let high = bound(&caret_ceiling(low.core), false)?;
        return Ok((Some(low), Some(high)));
    }
    let (low, exact) = partial(version)?;
    Ok(match (operator, exact) {
        (">=", _) => (Some(low), None),
        (">", true) => (
            Some(Bound {
                inclusive: false,
                ..low
            }),
            None,
        ),
        // `>1.2` is `>=1.3.0`.
        (">", false) => (Some(bound(&partial_ceiling(version)?, true)?), None),
        ("<", _) => (
            None,
            Some(Bound {
                inclusive: false,
                ..low
            }),
        ),
        ("<=", true) => (None, Some(low)),
        // `<=1.2` is `<1.3.0-0`.
        ("<=", false) => (None, Some(bound(&partial_ceiling(version)?, false)?)),
        ("" | "=", true) => (Some(low.clone()), Some(low)),
        // `1.2` or `1.2.x` is `>=1.2.0 <1.3.0-0`.
        ("" | "=", false) => (Some(low), Some(bound(&partial_ceiling(version)?, false)?)),
        (other, _) => return Err(format!("unknown comparator {other:?} in {token:?}")),
    })
}

fn split_operator(token: &str) -> (&str, &str) {
    let end = token
        .find(|c: char| !matches!(c, '<' | '>' | '='))
        .unwrap_or(token.len());
    let (operator, version) = token.split_at(end);
    (operator, version.trim_start_matches('v'))
}

/// A version that may be partial (`4`, `3.11`, `2.0.x`): its least full version, and
/// whether it was full.
fn partial(text: &str) -> Result<(Bound, bool), String> {
    let text = text.trim_start_matches('v');
    let (core, suffix) = match text.find(['-', '+']) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let parts: Vec<&str> = core
        .split('.')
        .take_while(|p| !matches!(*p, "x" | "X" | "*"))
        .collect();
    let exact = parts.len() == 3;
    let mut full: Vec<&str> = parts.clone();
    while full.len() < 3 {
        full.push("0");
    }
    let version = format!("{}{}", full.join("."), if exact { suffix } else { "" });
    Ok((bound(&version, true)?, exact))
}

fn bound(text: &str, inclusive: bool) -> Result<Bound, String> {
    let version = SemVer::parse(text).map_err(|e| format!("version {text:?}: {e}"))?;
    let core = text.split(['-', '+']).next().unwrap_or(text);
    let numbers: Vec<u64> = core
        .split('.')
        .map(|p| {
            p.parse::<u64>()
                .map_err(|e| format!("version {text:?}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let [major, minor, patch] = numbers[..] else {
        return Err(format!("version {text:?} is not major.minor.patch"));
    };
    Ok(Bound {
        version,
        core: (major, minor, patch),
        text: text.to_owned(),
        inclusive,
    })
}

/// The numbers of a version that may be partial (`1.2`, `1.2.x`), before any pre-release.
fn numbers(text: &str) -> Result<Vec<u64>, String> {
    let core = text.split(['-', '+']).next().unwrap_or(text);
    core.split('.')
        .take_while(|p| !matches!(*p, "x" | "X" | "*"))
        .map(|p| p.parse::<u64>().map_err(|e| format!("{text:?}: {e}")))
        .collect()
}

/// The first version past a partial one: `1.2` → `1.3.0-0`, `1` → `2.0.0-0`.
fn partial_ceiling(text: &str) -> Result<String, String> {
    Ok(match numbers(text)?.as_slice() {
        [major] => format!("{}.0.0-0", major + 1),
        [major, minor] => format!("{major}.{}.0-0", minor + 1),
        [major, minor, patch] => format!("{major}.{minor}.{}-0", patch + 1),
        _ => return Err(format!("{text:?} is not a version")),
    })
}

/// `~1.2.3` and `~1.2` allow patch changes, `~1` minor ones.
fn tilde_ceiling(text: &str) -> Result<String, String> {
    Ok(match numbers(text)?.as_slice() {
        [major] => format!("{}.0.0-0", major + 1),
        [major, minor, ..] => format!("{major}.{}.0-0", minor + 1),
        _ => return Err(format!("{text:?} is not a version")),
    })
}

/// `^` allows changes that do not modify the left-most non-zero part.
fn caret_ceiling((major, minor, patch): (u64, u64, u64)) -> String {
    if major > 0 {
        format!("{}.0.0-0", major + 1)
    } else if minor > 0 {
        format!("0.{}.0-0", minor + 1)
    } else {
        format!("0.0.{}-0", patch + 1)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn events(range: &str) -> Value {
        serde_json::to_value(semver_ranges(range).unwrap()).unwrap()
    }

    #[test]
    fn ranges_become_one_osv_range_per_comparator_set() {
        assert_eq!(
            events("<=1.5.1"),
            json!([[{"introduced": "0"}, {"last_affected": "1.5.1"}]])
        );
        assert_eq!(
            events("< 0.8.4"),
            json!([[{"introduced": "0"}, {"fixed": "0.8.4"}]])
        );
        assert_eq!(
            events("<3.11 || >= 4 <4.5"),
            json!([[{"introduced": "0"}, {"fixed": "3.11.0"}],
                   [{"introduced": "4.0.0"}, {"fixed": "4.5.0"}]])
        );
        assert_eq!(
            events("<1.6.5 || < 2.1.7 > 2.0.0"),
            json!([[{"introduced": "0"}, {"fixed": "1.6.5"}],
                   [{"introduced": "2.0.1-0"}, {"fixed": "2.1.7"}]])
        );
        assert_eq!(
            events("2.0.x || 2.1.x"),
            json!([[{"introduced": "2.0.0"}, {"fixed": "2.1.0-0"}],
                   [{"introduced": "2.1.0"}, {"fixed": "2.2.0-0"}]])
        );
        assert_eq!(
            events("=3.0.0-rc.1"),
            json!([[{"introduced": "3.0.0-rc.1"}, {"last_affected": "3.0.0-rc.1"}]])
        );
        assert_eq!(
            events(">= 0.2.0 <= 0.9.6 || ~0.8.0-pre"),
            json!([[{"introduced": "0.2.0"}, {"last_affected": "0.9.6"}],
                   [{"introduced": "0.8.0-pre"}, {"fixed": "0.9.0-0"}]])
        );
        assert_eq!(events("*"), json!([[{"introduced": "0"}]]));
        assert_eq!(
            events("^1.2.3"),
            json!([[{"introduced": "1.2.3"}, {"fixed": "2.0.0-0"}]])
        );
        assert_eq!(
            events("1.0.0 - 1.2.0"),
            json!([[{"introduced": "1.0.0"}, {"last_affected": "1.2.0"}]])
        );
        assert!(semver_ranges("<banana").is_err());
    }

    #[test]
    fn a_record_becomes_a_valid_osv_record() {
        let native = json!({
            "id": 368, "created_at": "2018-02-14", "updated_at": "2018-04-24",
            "title": "Prototype Pollution", "module_name": "lodash",
            "publish_date": "2018-04-24", "cves": ["CVE-2018-3721"],
            "vulnerable_versions": "<4.17.5", "patched_versions": ">=4.17.5",
            "overview": "lodash before 4.17.5 is vulnerable.", "recommendation": "Update.",
            "references": ["https://hackerone.com/reports/310443"],
            "cvss_vector": "CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:U/C:N/I:L/A:N", "cvss_score": 2.5
        });
        assert!(is_nodejs_wg(&native));
        let osv = to_osv(native).unwrap();
        let record = crate::parse_json(osv.to_string().as_bytes()).unwrap();
        assert_eq!(record.id, "NSWG-ECO-368");
        assert_eq!(record.aliases, ["CVE-2018-3721"]);
        let index: crate::AdvisoryIndex = [record].into_iter().collect();
        assert_eq!(index.query("npm", "lodash", "4.17.4").findings.len(), 1);
        assert!(index.query("npm", "lodash", "4.17.5").findings.is_empty());
    }
}
