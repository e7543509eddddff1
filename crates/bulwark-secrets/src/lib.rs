//! Leaked secrets in files: private keys, cloud and forge tokens, registry credentials and
//! passwords in well-known configuration files, found by rules that each have keywords, a
//! pattern and, where the pattern alone is weak, an entropy threshold and an allowlist.
//!
//! A finding never holds the secret: it carries a [`redact`]ed form for people and a
//! truncated SHA-256 [`SecretFinding::fingerprint`] for machines, so that the same key leaked
//! in ten layers or ten images is one thing to rotate, and a report can be stored, logged
//! and shown without becoming a second leak.
//!
//! The input is hostile (any file of any image), so [`Detector::scan`] costs linear time in
//! the size of the file whatever it holds:
//!
//! 1. One pass of an Aho-Corasick automaton over the whole file finds every rule's keywords
//!    (`AKIA`, `ghp_`, `PRIVATE KEY`, …). A file without any keyword costs that one pass,
//!    which runs close to `memchr` speed (a SIMD prefilter skips to candidate bytes), and
//!    nothing else.
//! 2. A rule's regex only runs on windows of a few KiB around its keywords' hits; the windows
//!    of one rule are merged, so each byte is searched at most once per rule however many
//!    keywords it is near. Rules for well-known configuration files (`.netrc`, `.pgpass`, …)
//!    are selected by the path instead and read those (small) files whole.
//! 3. Candidates are checked (boundaries, placeholders, entropy, allowlist) and at most
//!    [`MAX_FINDINGS_PER_FILE`] are reported.
//!
//! The regexes are those of the `regex` crate, which never backtrack. Pure library: no I/O,
//! no threads, no global state; a [`Detector`] is compiled once and shared (it is `Send +
//! Sync` and cheap to clone).
//!
//! A generic "high-entropy string next to the word `key`" rule is deliberately absent: in
//! container images it fires on hashes, checksums and test vectors far more often than on
//! secrets, and a scanner people learn to ignore protects nothing.

mod check;
mod paths;
mod rules;

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

use aho_corasick::{AhoCorasick, MatchKind};
use sha2::{Digest, Sha256};

pub use rules::Rule;

/// Files larger than this are not worth reading by default: secrets live in small text
/// files (keys, configuration, environment files), and every byte read is a byte scanned.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1 << 20;

/// A file is one finding per line of a leaked key list at worst; past this many, more
/// findings add noise to the report and nothing to what needs doing (rotate, rebuild).
pub const MAX_FINDINGS_PER_FILE: usize = 100;

/// Content with a NUL byte in this many leading bytes is binary and not scanned: text
/// formats never contain NUL, and binaries (executables, archives, databases) hold random
/// bytes that look like anything.
pub const BINARY_SNIFF_BYTES: usize = 8 << 10;

/// How bad a leak of a rule's secret is, least to worst; ordered, so `>=` filters work.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The lowercase name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One secret found in one file. No field holds the secret itself (nor does the `Debug`
/// output), so findings can be stored, logged and shown freely.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SecretFinding {
    /// The [`Rule::id`] that matched.
    pub rule: String,
    /// The rule's [`Rule::title`].
    pub title: String,
    pub severity: Severity,
    /// The path the caller scanned, as given.
    pub path: String,
    /// 1-based line where the secret (or its assignment, or a key's `BEGIN` line) starts.
    pub line: u32,
    /// The secret with most of it masked, see [`redact`]: enough to recognise which key it
    /// is, never enough to use it.
    pub redacted: String,
    /// The first 16 hex digits of SHA-256 over the rule id, a NUL byte and the secret: the
    /// same secret found by the same rule in another file, layer or image has the same
    /// fingerprint, so findings deduplicate without anyone storing the secret. (For
    /// low-entropy secrets such as passwords it can be brute-forced like any unsalted hash;
    /// treat it as confidential, not as public.)
    pub fingerprint: String,
}

/// The built-in rules, compiled once; `scan` and `wants` take `&self`, so one detector
/// serves every thread (share it behind an `Arc` or clone it: clones share the compiled
/// automata).
#[derive(Clone)]
pub struct Detector {
    rules: Vec<Rule>,
    /// All keywords of all rules in one automaton; `None` when there are none.
    keywords: Option<AhoCorasick>,
    /// For each keyword (by pattern id), the indices of the rules it belongs to.
    keyword_rules: Vec<Vec<usize>>,
    max_file_bytes: u64,
}

impl fmt::Debug for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.rules.iter().map(|rule| rule.id).collect();
        f.debug_struct("Detector")
            .field("rules", &ids)
            .field("max_file_bytes", &self.max_file_bytes)
            .finish_non_exhaustive()
    }
}

impl Default for Detector {
    fn default() -> Self {
        Detector::new()
    }
}

/// A candidate that passed its rule's checks, before it becomes a [`SecretFinding`].
struct Found {
    rule: usize,
    /// Byte offset of the line anchor (match start) in the content.
    offset: usize,
    line: usize,
    secret: Vec<u8>,
}

impl Detector {
    /// A detector with the built-in rules and [`DEFAULT_MAX_FILE_BYTES`].
    pub fn new() -> Detector {
        // The built-in patterns are constants; a test checks that every one compiles, so
        // none is ever dropped here in practice.
        let rules = rules::builtin()
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        Detector::with_rules(rules)
    }

    fn with_rules(rules: Vec<Rule>) -> Detector {
        let mut keywords: Vec<&'static str> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            for &keyword in rule.keywords {
                match keywords.iter().position(|known| *known == keyword) {
                    Some(at) => keyword_rules[at].push(index),
                    None => {
                        keywords.push(keyword);
                        keyword_rules.push(vec![index]);
                    }
                }
            }
        }
        // Leftmost-first (rather than overlapping) matching lets the automaton use its SIMD
        // prefilter. A keyword occurrence overlapping an earlier one is not reported, which
        // costs nothing: the built-in keywords only overlap keywords of the same rule.
        let automaton = if keywords.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostFirst)
                .build(keywords.iter().copied())
                .ok()
        };
        Detector {
            rules,
            keywords: automaton,
            keyword_rules,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }

    /// The same detector with another size cap for [`Detector::wants`].
    pub fn with_max_file_bytes(mut self, max_file_bytes: u64) -> Detector {
        self.max_file_bytes = max_file_bytes;
        self
    }

    /// The size cap [`Detector::wants`] applies.
    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes
    }

    /// The rules this detector applies (ids, titles and severities, for listing them).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether a file is worth reading and handing to [`Detector::scan`], from its path
    /// (relative, `/`-separated, no leading `/`) and size alone:
    ///
    /// - empty files and files over the size cap ([`DEFAULT_MAX_FILE_BYTES`] unless changed
    ///   with [`Detector::with_max_file_bytes`]) are not; the cap is the same for private
    ///   keys and configuration files, which are all far smaller;
    /// - files with binary or media extensions (`.so`, `libfoo.so.1`, `.png`, `.jpg`, `.gz`,
    ///   `.zip`, `.jar`, `.pyc`, `.class`, `.wasm`, `.mo`, fonts, …) are not: the NUL check of
    ///   `scan` would drop most anyway, but not before reading them;
    /// - nothing under `usr/share/{doc,man,info,locale,i18n,zoneinfo,icons,fonts}/` or
    ///   `usr/lib/locale/`: documentation quotes example keys, the rest is data;
    /// - test suites shipped inside package-manager trees and language runtimes are not:
    ///   a directory named `test`, `tests`, `testdata`, `__tests__`, `fixtures`, `spec`, …
    ///   somewhere below `node_modules/`, `site-packages/`, `dist-packages/`, `gems/`,
    ///   `vendor/`, Go's `pkg/mod/`, Cargo's `registry/src/` or a Python standard library
    ///   (`lib/python3.12/`). Their keys are public test fixtures (Python's own `test/`
    ///   package alone has dozens), so reporting them is noise. The image's own test files
    ///   (`app/tests/…`) are still read.
    pub fn wants(&self, path: &str, size: u64) -> bool {
        size > 0 && size <= self.max_file_bytes && paths::worth_reading(path)
    }

    /// The secrets in one file's content. `path` is only used to pick the rules for
    /// well-known configuration files and to fill [`SecretFinding::path`]; call
    /// [`Detector::wants`] first to skip files not worth reading (`scan` itself does not
    /// apply the size cap, and takes time linear in `content.len()`).
    ///
    /// Content with a NUL byte in its first [`BINARY_SNIFF_BYTES`] bytes is binary and
    /// yields nothing. At most [`MAX_FINDINGS_PER_FILE`] findings are returned, ordered by
    /// line. A secret that more than one rule recognises is reported once, by the more
    /// specific rule (a `ghp_` token in `.git-credentials` is a GitHub token; the key of a
    /// Google service-account file is not also reported as a bare private key).
    pub fn scan(&self, path: &str, content: &[u8]) -> Vec<SecretFinding> {
        if content.is_empty() || looks_binary(content) {
            return Vec::new();
        }
        let windows = self.windows(path, content);
        let mut found: Vec<Found> = Vec::new();
        for (index, (rule, windows)) in self.rules.iter().zip(&windows).enumerate() {
            let mut hits = Vec::new();
            for window in windows {
                if hits.len() >= MAX_FINDINGS_PER_FILE {
                    break;
                }
                rule.find(content, window.clone(), &mut hits, MAX_FINDINGS_PER_FILE);
            }
            found.extend(hits.into_iter().map(|(offset, secret)| Found {
                rule: index,
                offset,
                line: 0,
                secret,
            }));
        }
        if found.is_empty() {
            return Vec::new();
        }

        // Line numbers in one pass: sorted by offset, count the newlines between neighbours.
        found.sort_by_key(|item| (item.offset, item.rule));
        let mut line = 1;
        let mut counted = 0;
        for item in &mut found {
            let between = content.get(counted..item.offset).unwrap_or_default();
            line += memchr::memchr_iter(b'\n', between).count();
            counted = counted.max(item.offset);
            item.line = line;
        }

        let superseded: HashSet<(&str, usize)> = found
            .iter()
            .flat_map(|item| {
                self.rules[item.rule]
                    .supersedes
                    .iter()
                    .map(move |id| (*id, item.line))
            })
            .collect();
        found.retain(|item| !superseded.contains(&(self.rules[item.rule].id, item.line)));
        found.truncate(MAX_FINDINGS_PER_FILE);

        found
            .into_iter()
            .map(|found| {
                let rule = &self.rules[found.rule];
                SecretFinding {
                    rule: rule.id.to_owned(),
                    title: rule.title.to_owned(),
                    severity: rule.severity,
                    path: path.to_owned(),
                    line: u32::try_from(found.line).unwrap_or(u32::MAX),
                    redacted: redact(&String::from_utf8_lossy(&found.secret)),
                    fingerprint: fingerprint(rule.id, &found.secret),
                }
            })
            .collect()
    }

    /// For each rule, the merged, ascending byte ranges its regex has to search: the whole
    /// file for path-selected rules without keywords, otherwise a window around each
    /// keyword hit. One pass of the keyword automaton over the content.
    fn windows(&self, path: &str, content: &[u8]) -> Vec<Vec<Range<usize>>> {
        let applies: Vec<bool> = self.rules.iter().map(|rule| (rule.applies)(path)).collect();
        let mut windows: Vec<Vec<Range<usize>>> = vec![Vec::new(); self.rules.len()];
        for ((rule, applies), windows) in self.rules.iter().zip(&applies).zip(&mut windows) {
            if *applies && rule.keywords.is_empty() {
                windows.push(0..content.len());
            }
        }
        let Some(automaton) = &self.keywords else {
            return windows;
        };
        for hit in automaton.find_iter(content) {
            let Some(rules) = self.keyword_rules.get(hit.pattern().as_usize()) else {
                continue;
            };
            for &index in rules {
                if !applies.get(index).copied().unwrap_or(false) {
                    continue;
                }
                let context = self.rules[index].context;
                let start = hit.start().saturating_sub(context);
                let end = hit.end().saturating_add(context).min(content.len());
                merge_into(&mut windows[index], start..end);
            }
        }
        windows
    }
}

/// Appends `next` to ascending, disjoint `windows`, merging it into the last one when they
/// overlap or touch (`next` never starts before the last window does).
fn merge_into(windows: &mut Vec<Range<usize>>, next: Range<usize>) {
    match windows.last_mut() {
        Some(last) if next.start <= last.end => last.end = last.end.max(next.end),
        _ => windows.push(next),
    }
}

fn looks_binary(content: &[u8]) -> bool {
    let head = content.get(..BINARY_SNIFF_BYTES).unwrap_or(content);
    memchr::memchr(0, head).is_some()
}

/// A finding's fingerprint keyed with `key`, a secret of the installation that readers of
/// reports do not have: 16 hex digits of HMAC-SHA-256 over [`SecretFinding::fingerprint`].
/// The unkeyed fingerprint is a hash of the secret itself, so a reader could test guesses
/// of a weak password against it; against the keyed one, only the key's holder can. The
/// same secret still gets the same keyed fingerprint everywhere the key is the same.
pub fn keyed_fingerprint(key: &[u8; 32], fingerprint: &str) -> String {
    use hmac::{KeyInit, Mac};
    let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(key) else {
        // A 32-byte key is always accepted by HMAC; no other length reaches here.
        return String::new();
    };
    mac.update(fingerprint.as_bytes());
    let digest = mac.finalize().into_bytes();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn fingerprint(rule: &str, secret: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hasher = Sha256::new();
    hasher.update(rule.as_bytes());
    hasher.update([0u8]);
    hasher.update(secret);
    let digest = hasher.finalize();
    let mut out = String::with_capacity(16);
    for byte in digest.iter().take(8) {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

/// At most this many `*` stand for the hidden middle, so a redacted private key is one
/// short line rather than two thousand asterisks.
const MAX_REDACTION_STARS: usize = 32;

/// `secret` with most of it replaced by `*`, for showing which secret a finding is about
/// without showing the secret. Counted in characters, not bytes:
///
/// - more than 12 characters: the first 4 and the last 4 stay (`AKIA************MPLE`);
/// - 6 to 12: the first 2; 3 to 5: the first 1; fewer: none;
/// - the hidden middle becomes one `*` per character, at most 32 of them.
///
/// The result is never the secret itself (a secret whose hidden part already was all `*`
/// gets one `*` fewer than it has characters), and never contains it once the secret has
/// 8 bytes or more.
pub fn redact(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let count = chars.len();
    let (front, back) = match count {
        0..=2 => (0, 0),
        3..=5 => (1, 0),
        6..=12 => (2, 0),
        _ => (4, 4),
    };
    let hidden = count - front - back;
    let mut out: String = chars[..front].iter().collect();
    out.extend(std::iter::repeat_n('*', hidden.min(MAX_REDACTION_STARS)));
    out.extend(&chars[count - back..]);
    if out == secret {
        // Only when the hidden characters were all `*` already: show nothing at all.
        "*".repeat(count.saturating_sub(1))
    } else {
        out
    }
}

#[cfg(test)]
mod tests;
