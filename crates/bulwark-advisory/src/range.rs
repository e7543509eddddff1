//! OSV range evaluation, exactly as the schema's "Evaluation" pseudo-code states it.
//!
//! A range is compiled once (events parsed with one version scheme and sorted) and then
//! evaluated for many versions. The result is three-valued: when a version cannot be
//! placed in the range (it, or one of the range's events, does not parse), the answer is
//! [`RangeOutcome::Undetermined`], never a guess. The one range that needs no ordering at
//! all is `introduced: "0"` with nothing after it: every version, parseable or not, is
//! affected (known-malicious packages are published this way).

use std::cmp::Ordering;

use bulwark_version::{Version, VersionScheme};

use crate::osv::{Event, Range};

/// What evaluating one range for one version found. Borrows from the range and the
/// caller's reason, so evaluation allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOutcome<'a> {
    /// The version is inside the range; `fixed` is the version that ends the interval
    /// holding it, when the range names one.
    Affected {
        /// The version that fixes the vulnerability for this version.
        fixed: Option<&'a str>,
    },
    /// The version is outside the range.
    NotAffected,
    /// The range cannot be evaluated (an event that does not parse, an ecosystem without
    /// ordering); the reason says why.
    Undetermined(&'a str),
    /// The version did not parse, so it cannot be placed in the range.
    UnparseableVersion,
}

/// The position of an event's version: `introduced: "0"` precedes every version.
#[derive(Debug, Clone)]
enum Bound {
    Zero,
    At(Version),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum EventKind {
    // Ties between events at one version sort in this order, so that `introduced: X,
    // fixed: X` is an empty range and `introduced: X, last_affected: X` affects X only.
    Introduced,
    LastAffected,
    Fixed,
}

#[derive(Debug, Clone)]
struct CompiledEvent {
    kind: EventKind,
    at: Bound,
    text: Box<str>,
}

/// A range ready for evaluation.
#[derive(Debug, Clone)]
pub struct CompiledRange {
    scheme: Option<VersionScheme>,
    events: Vec<CompiledEvent>,
    limits: Vec<Version>,
    every_version: bool,
    /// Why the range cannot be evaluated for any version other than under
    /// `every_version` (an event that does not parse, or no known ordering).
    broken: Option<String>,
}

impl CompiledRange {
    /// Compiles `range` for versions of `scheme` (`None`: the ecosystem has no known
    /// ordering).
    pub fn new(range: &Range, scheme: Option<VersionScheme>) -> CompiledRange {
        let only_introduced_zero = range
            .events
            .iter()
            .all(|event| matches!(event, Event::Introduced(v) if v == "0"))
            && !range.events.is_empty();
        let mut events = Vec::with_capacity(range.events.len());
        let mut limits = Vec::new();
        let mut broken = None;
        match scheme {
            None => broken = Some("the ecosystem has no known version ordering".to_owned()),
            Some(scheme) => {
                for event in &range.events {
                    let text = event.version();
                    let kind = match event {
                        Event::Introduced(_) => EventKind::Introduced,
                        Event::Fixed(_) => EventKind::Fixed,
                        Event::LastAffected(_) => EventKind::LastAffected,
                        // `limit: "*"` is the spec's explicit "no upper bound".
                        Event::Limit(_) if text == "*" => continue,
                        Event::Limit(_) => {
                            match Version::parse_scheme(scheme, text) {
                                Ok(limit) => limits.push(limit),
                                Err(error) => broken = Some(format!("limit {text:?}: {error}")),
                            }
                            continue;
                        }
                    };
                    let at = if kind == EventKind::Introduced && text == "0" {
                        Bound::Zero
                    } else {
                        match Version::parse_scheme(scheme, text) {
                            Ok(version) => Bound::At(version),
                            Err(error) => {
                                broken = Some(format!("event version {text:?}: {error}"));
                                continue;
                            }
                        }
                    };
                    events.push(CompiledEvent {
                        kind,
                        at,
                        text: text.into(),
                    });
                }
            }
        }
        // Advisory data is untrusted and some orders are not total: a sort that cannot panic.
        bulwark_version::sort_versions_by(&mut events, |a, b| {
            compare_bounds(&a.at, &b.at).then(a.kind.cmp(&b.kind))
        });
        CompiledRange {
            scheme,
            events,
            limits,
            every_version: only_introduced_zero,
            broken,
        }
    }

    /// The scheme the range's versions are read with.
    pub fn scheme(&self) -> Option<VersionScheme> {
        self.scheme
    }

    /// Evaluates the range for `version`, parsed with [`CompiledRange::scheme`] by the
    /// caller (`None` when it did not parse).
    pub fn evaluate(&self, version: Option<&Version>) -> RangeOutcome<'_> {
        if self.every_version {
            return RangeOutcome::Affected { fixed: None };
        }
        if let Some(reason) = &self.broken {
            return RangeOutcome::Undetermined(reason);
        }
        let Some(version) = version else {
            return RangeOutcome::UnparseableVersion;
        };
        if !self.limits.is_empty()
            && !self
                .limits
                .iter()
                .any(|limit| compare(version, limit) == Ordering::Less)
        {
            return RangeOutcome::NotAffected;
        }
        let mut affected = false;
        for event in &self.events {
            let at_or_after = match &event.at {
                Bound::Zero => Ordering::Greater,
                Bound::At(at) => compare(version, at),
            };
            match event.kind {
                EventKind::Introduced if at_or_after != Ordering::Less => affected = true,
                EventKind::Fixed if at_or_after != Ordering::Less => affected = false,
                EventKind::LastAffected if at_or_after == Ordering::Greater => affected = false,
                _ => {}
            }
        }
        if !affected {
            return RangeOutcome::NotAffected;
        }
        // The upgrade is the event that closes the interval holding the version: a
        // `fixed` above it. Fixes of later intervals belong to other release lines, and a
        // `last_affected` closing the interval means no fix is known.
        let closing = self
            .events
            .iter()
            .find(|event| match (&event.kind, &event.at) {
                (EventKind::Fixed, Bound::At(at)) => compare(version, at) == Ordering::Less,
                (EventKind::LastAffected, Bound::At(at)) => {
                    compare(version, at) != Ordering::Greater
                }
                _ => false,
            });
        let fixed = match closing {
            Some(event) if event.kind == EventKind::Fixed => Some(&*event.text),
            _ => None,
        };
        RangeOutcome::Affected { fixed }
    }
}

/// Versions of one range share a scheme, so they are always ordered; `Equal` stands in for
/// the impossible mismatch rather than a panic.
fn compare(a: &Version, b: &Version) -> Ordering {
    a.partial_cmp(b).unwrap_or(Ordering::Equal)
}

fn compare_bounds(a: &Bound, b: &Bound) -> Ordering {
    match (a, b) {
        (Bound::Zero, Bound::Zero) => Ordering::Equal,
        (Bound::Zero, Bound::At(_)) => Ordering::Less,
        (Bound::At(_), Bound::Zero) => Ordering::Greater,
        (Bound::At(a), Bound::At(b)) => compare(a, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osv::RangeType;

    fn range(events: &[Event]) -> Range {
        Range {
            kind: RangeType::Ecosystem,
            repo: None,
            events: events.to_vec(),
            database_specific: None,
        }
    }

    /// The outcome with borrowed text made owned, so tests can compare it freely.
    #[derive(Debug, PartialEq, Eq)]
    enum Owned {
        Affected(Option<String>),
        NotAffected,
        Undetermined,
    }

    fn outcome(events: &[Event], version: &str) -> Owned {
        outcome_in(VersionScheme::Pep440, events, version)
    }

    fn owned(outcome: RangeOutcome<'_>) -> Owned {
        match outcome {
            RangeOutcome::Affected { fixed } => Owned::Affected(fixed.map(str::to_owned)),
            RangeOutcome::NotAffected => Owned::NotAffected,
            RangeOutcome::Undetermined(_) | RangeOutcome::UnparseableVersion => Owned::Undetermined,
        }
    }

    fn outcome_in(scheme: VersionScheme, events: &[Event], version: &str) -> Owned {
        let compiled = CompiledRange::new(&range(events), Some(scheme));
        let parsed = Version::parse_scheme(scheme, version);
        owned(compiled.evaluate(parsed.as_ref().ok()))
    }

    fn intro(v: &str) -> Event {
        Event::Introduced(v.into())
    }
    fn fixed(v: &str) -> Event {
        Event::Fixed(v.into())
    }
    fn last(v: &str) -> Event {
        Event::LastAffected(v.into())
    }
    fn limit(v: &str) -> Event {
        Event::Limit(v.into())
    }

    fn affected(fixed: &[&str]) -> Owned {
        Owned::Affected(fixed.first().map(|s| s.to_string()))
    }

    #[test]
    fn introduced_and_fixed_bound_a_half_open_interval() {
        let events = [intro("1.0"), fixed("2.0")];
        assert_eq!(outcome(&events, "0.9"), Owned::NotAffected);
        assert_eq!(outcome(&events, "1.0"), affected(&["2.0"]));
        assert_eq!(outcome(&events, "1.9.9"), affected(&["2.0"]));
        assert_eq!(outcome(&events, "2.0"), Owned::NotAffected);
        assert_eq!(outcome(&events, "2.0.0"), Owned::NotAffected);
    }

    #[test]
    fn events_in_any_order_and_several_intervals() {
        let events = [fixed("1.5"), intro("2.0"), intro("0"), fixed("2.3")];
        assert_eq!(outcome(&events, "0.1"), affected(&["1.5"]));
        assert_eq!(outcome(&events, "1.5"), Owned::NotAffected);
        assert_eq!(outcome(&events, "2.1"), affected(&["2.3"]));
        assert_eq!(outcome(&events, "2.3"), Owned::NotAffected);
    }

    #[test]
    fn last_affected_includes_its_version() {
        let events = [intro("1.0"), last("1.4")];
        assert_eq!(outcome(&events, "1.4"), affected(&[]));
        assert_eq!(outcome(&events, "1.4.post1"), Owned::NotAffected);
    }

    #[test]
    fn limits_cut_the_range() {
        let events = [intro("0"), limit("3.0")];
        assert_eq!(outcome(&events, "2.0"), affected(&[]));
        assert_eq!(outcome(&events, "3.0"), Owned::NotAffected);
        let star = [intro("1.0"), limit("*")];
        assert_eq!(outcome(&star, "9.0"), affected(&[]));
    }

    #[test]
    fn empty_ranges_affect_nothing() {
        assert_eq!(
            outcome(&[intro("1.0"), fixed("1.0")], "1.0"),
            Owned::NotAffected
        );
    }

    #[test]
    fn pre_releases_order_by_the_scheme() {
        let events = [intro("0"), fixed("2.0")];
        assert_eq!(outcome(&events, "2.0rc1"), affected(&["2.0"]));
    }

    #[test]
    fn introduced_zero_alone_affects_every_version_even_unparseable() {
        assert_eq!(
            outcome_in(VersionScheme::SemVer, &[intro("0")], "not a version!"),
            affected(&[])
        );
        let compiled = CompiledRange::new(&range(&[intro("0")]), None);
        assert_eq!(owned(compiled.evaluate(None)), affected(&[]));
    }

    #[test]
    fn unparseable_versions_are_undetermined() {
        let events = [intro("0"), fixed("2.0.0")];
        assert!(matches!(
            outcome_in(VersionScheme::SemVer, &events, "not a version!"),
            Owned::Undetermined
        ));
        assert!(matches!(
            outcome_in(VersionScheme::SemVer, &[intro("0"), fixed("two")], "1.0.0"),
            Owned::Undetermined
        ));
        let no_ordering = CompiledRange::new(&range(&[intro("1"), fixed("2")]), None);
        let version = Version::parse_scheme(VersionScheme::SemVer, "1.5.0").unwrap();
        assert!(matches!(
            no_ordering.evaluate(Some(&version)),
            RangeOutcome::Undetermined(_)
        ));
    }
}
