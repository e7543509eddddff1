//! Maven version ordering, as Apache Maven 3.9's `ComparableVersion` defines it.
//!
//! A version is cut into items at `.`, at `-` and wherever digits meet non-digits. Numbers
//! compare by value; words ("qualifiers") by the well-known order
//! `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp`,
//! then unknown words in lexical order after all known ones. `a1`, `b1`, `m1` are short
//! for `alpha-1`, `beta-1`, `milestone-1` when a digit follows directly. Every `-` (and
//! every switch between digits and letters) opens a nested list, and a list, a number
//! and a word at the same position order `word < list < number`: so `1-1 < 1.1` and
//! `1-sp < 1-1`. Trailing "null" items (zeros, empty and release qualifiers, empty
//! lists) are dropped from the end of each list, so `1 = 1.0 = 1-0 = 1.0.0-ga`.
//!
//! Like Maven, this accepts any string: every character that is not a separator or an
//! ASCII digit is part of a word. Only the empty string is refused.

use std::cmp::Ordering;

use crate::error::InvalidVersion;
use crate::numeric::DecimalNumber;

/// The well-known qualifiers, in order; their index is their rank.
const KNOWN_QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

/// The rank of the release qualifier `""` (and its aliases `ga`, `final`, `release`).
const RELEASE_RANK: usize = 5;

/// A parsed Maven version.
#[derive(Debug, Clone)]
pub struct MavenVersion {
    items: ListItem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom {
    Number(DecimalNumber),
    Qualifier(Qualifier),
}

/// A word with its aliases already resolved (`cr` is stored as `rc`, `ga` as `""`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Qualifier {
    name: Box<str>,
}

/// A list of items. Maven only ever nests a new list as the last item of the current one,
/// so a list is some atoms followed by at most one sub-list.
#[derive(Debug, Clone, Default)]
struct ListItem {
    atoms: Vec<Atom>,
    sublist: Option<Box<ListItem>>,
}

#[derive(Clone, Copy)]
enum Item<'a> {
    Atom(&'a Atom),
    List(&'a ListItem),
}

impl Qualifier {
    fn new(word: &str, followed_by_digit: bool) -> Self {
        let expanded = match word {
            "a" if followed_by_digit => "alpha",
            "b" if followed_by_digit => "beta",
            "m" if followed_by_digit => "milestone",
            "ga" | "final" | "release" => "",
            "cr" => "rc",
            other => other,
        };
        Qualifier {
            name: expanded.into(),
        }
    }

    fn rank(&self) -> usize {
        KNOWN_QUALIFIERS
            .iter()
            .position(|known| *known == &*self.name)
            .unwrap_or(KNOWN_QUALIFIERS.len())
    }

    fn is_release(&self) -> bool {
        self.rank() == RELEASE_RANK
    }

    fn cmp_with(&self, other: &Qualifier) -> Ordering {
        let (own_rank, other_rank) = (self.rank(), other.rank());
        own_rank.cmp(&other_rank).then_with(|| {
            if own_rank == KNOWN_QUALIFIERS.len() {
                // Java compares strings by UTF-16 code unit, which differs from UTF-8
                // byte order above U+FFFF.
                self.name.encode_utf16().cmp(other.name.encode_utf16())
            } else {
                Ordering::Equal
            }
        })
    }
}

impl Atom {
    fn is_null(&self) -> bool {
        match self {
            Atom::Number(number) => number.is_zero(),
            Atom::Qualifier(qualifier) => qualifier.is_release(),
        }
    }
}

impl ListItem {
    fn items(&self) -> impl Iterator<Item = Item<'_>> {
        self.atoms
            .iter()
            .map(Item::Atom)
            .chain(self.sublist.as_deref().map(Item::List))
    }

    fn len(&self) -> usize {
        self.atoms.len() + usize::from(self.sublist.is_some())
    }
}

impl<'a> Item<'a> {
    /// `ComparableVersion.Item.compareTo`, where `None` is the padding Maven compares the
    /// longer list's extra items against.
    fn compare(self, other: Option<Item<'a>>) -> Ordering {
        match (self, other) {
            (Item::Atom(Atom::Number(number)), None) => {
                if number.is_zero() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Item::Atom(Atom::Number(left)), Some(Item::Atom(Atom::Number(right)))) => {
                left.cmp(right)
            }
            (Item::Atom(Atom::Number(_)), Some(_)) => Ordering::Greater,

            (Item::Atom(Atom::Qualifier(qualifier)), None) => qualifier.rank().cmp(&RELEASE_RANK),
            (Item::Atom(Atom::Qualifier(_)), Some(Item::Atom(Atom::Number(_)))) => Ordering::Less,
            (Item::Atom(Atom::Qualifier(left)), Some(Item::Atom(Atom::Qualifier(right)))) => {
                left.cmp_with(right)
            }
            (Item::Atom(Atom::Qualifier(_)), Some(Item::List(_))) => Ordering::Less,

            (Item::List(list), None) => list
                .items()
                .map(|item| item.compare(None))
                .find(|ordering| ordering.is_ne())
                .unwrap_or(Ordering::Equal),
            (Item::List(_), Some(Item::Atom(Atom::Number(_)))) => Ordering::Less,
            (Item::List(_), Some(Item::Atom(Atom::Qualifier(_)))) => Ordering::Greater,
            (Item::List(left), Some(Item::List(right))) => compare_lists(left, right),
        }
    }
}

fn compare_lists(left: &ListItem, right: &ListItem) -> Ordering {
    let mut left_items = left.items();
    let mut right_items = right.items();
    for _ in 0..left.len().max(right.len()) {
        let ordering = match (left_items.next(), right_items.next()) {
            (Some(l), r) => l.compare(r),
            (None, Some(r)) => r.compare(None).reverse(),
            (None, None) => Ordering::Equal,
        };
        if ordering.is_ne() {
            return ordering;
        }
    }
    Ordering::Equal
}

/// A number or word token, read the way `ComparableVersion.parseItem` reads it.
fn parse_atom(is_digit: bool, token: &str) -> Atom {
    if is_digit {
        Atom::Number(DecimalNumber::from_ascii_digits(token))
    } else {
        Atom::Qualifier(Qualifier::new(token, false))
    }
}

impl MavenVersion {
    /// Parses a Maven version. Every non-empty string is a version.
    pub fn parse(input: &str) -> Result<Self, InvalidVersion> {
        if input.trim().is_empty() {
            return Err(InvalidVersion::Empty);
        }
        let text = input.to_lowercase();

        // The chain of nested lists, outermost first; each list's sub-list is the next one.
        let mut lists: Vec<Vec<Atom>> = vec![Vec::new()];
        let mut is_digit = false;
        let mut start = 0;
        for (i, c) in text.char_indices() {
            let current = lists.len() - 1;
            match c {
                '.' | '-' => {
                    let atom = if i == start {
                        Atom::Number(DecimalNumber::zero())
                    } else {
                        parse_atom(is_digit, &text[start..i])
                    };
                    lists[current].push(atom);
                    start = i + c.len_utf8();
                    if c == '-' {
                        lists.push(Vec::new());
                    }
                }
                '0'..='9' => {
                    if !is_digit && i > start {
                        // A word directly before a digit. Maven 3.9 reads `.X1` like `-X1`
                        // by opening a list first unless the word starts one anyway.
                        if !lists[current].is_empty() {
                            lists.push(Vec::new());
                        }
                        let last = lists.len() - 1;
                        lists[last].push(Atom::Qualifier(Qualifier::new(&text[start..i], true)));
                        start = i;
                        lists.push(Vec::new());
                    }
                    is_digit = true;
                }
                _ => {
                    if is_digit && i > start {
                        lists[current].push(parse_atom(true, &text[start..i]));
                        start = i;
                        lists.push(Vec::new());
                    }
                    is_digit = false;
                }
            }
        }
        if text.len() > start {
            // A trailing word after a `.` is read like one after a `-`.
            if !is_digit && lists.last().is_some_and(|list| !list.is_empty()) {
                lists.push(Vec::new());
            }
            let last = lists.len() - 1;
            lists[last].push(parse_atom(is_digit, &text[start..]));
        }

        Ok(MavenVersion {
            items: normalize_and_nest(lists),
        })
    }
}

/// Drops trailing null items from every list, innermost first (so a sub-list that became
/// empty is itself dropped), and nests the chain into one tree.
fn normalize_and_nest(lists: Vec<Vec<Atom>>) -> ListItem {
    let mut nested: Option<Box<ListItem>> = None;
    for mut atoms in lists.into_iter().rev() {
        // An empty sub-list is a null item; a non-empty one is skipped over, and the null
        // atoms before it are still removed up to the first non-null atom.
        if nested.as_ref().is_some_and(|list| list.len() == 0) {
            nested = None;
        }
        while atoms.last().is_some_and(Atom::is_null) {
            atoms.pop();
        }
        nested = Some(Box::new(ListItem {
            atoms,
            sublist: nested,
        }));
    }
    nested.map(|root| *root).unwrap_or_default()
}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_lists(&self.items, &other.items)
    }
}

impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for MavenVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for MavenVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> MavenVersion {
        MavenVersion::parse(text).unwrap()
    }

    fn assert_chain(chain: &[&str]) {
        for pair in chain.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
    }

    fn assert_all_equal(versions: &[&str]) {
        for version in versions {
            assert_eq!(v(versions[0]), v(version), "{} = {}", versions[0], version);
        }
    }

    #[test]
    fn qualifiers_follow_the_well_known_order() {
        assert_chain(&[
            "1-alpha",
            "1-beta",
            "1-milestone",
            "1-rc",
            "1-snapshot",
            "1",
            "1-sp",
            "1-abc",
            "1-abd",
            "1-1",
            "1.1",
        ]);
        assert_all_equal(&["1", "1-ga", "1-final", "1-release", "1.0", "1-0", "1.0.0"]);
        assert_all_equal(&["1-rc", "1-cr", "1cr", "1RC"]);
    }

    #[test]
    fn single_letter_shorthands_need_a_following_digit() {
        assert_eq!(v("1a1"), v("1-alpha-1"));
        assert_eq!(v("1b2"), v("1-beta-2"));
        assert_eq!(v("1m3"), v("1-milestone-3"));
        // Without a digit, `a` is an unknown word: after every known qualifier.
        assert!(v("1-a") > v("1-sp"));
        assert_eq!(v("1-a"), v("1a"));
    }

    #[test]
    fn digits_and_letters_split_like_hyphens() {
        assert_all_equal(&["1a", "1-a", "1.0-a", "1.0.0-a", "1.0a", "1.0.0a"]);
        assert_eq!(v("1-1.foo-bar-1-baz-0.1"), v("1-1.foo-bar1baz-.1"));
        assert_eq!(v("1.1"), v("1.01"));
    }

    #[test]
    fn dot_qualifier_with_digit_reads_like_hyphen_qualifier() {
        // Maven 3.9 (MNG-7644): `.RC1` < `-RC2`, and `.X1` = `-X1`.
        assert!(v("1.0.0.RC1") < v("1.0.0-RC2"));
        assert_eq!(v("1.0.0.RC1"), v("1.0.0-RC1"));
    }

    #[test]
    fn snapshots_and_sub_releases() {
        assert_chain(&[
            "1.0-alpha-1-SNAPSHOT",
            "1.0-alpha-1",
            "1.0-beta-1",
            "1.0-SNAPSHOT",
            "1.0",
            "1.0-1",
            "1.0-2",
            "2.0.1",
            "2.0.1-xyz",
            "2.0.1-123",
        ]);
    }

    #[test]
    fn large_numbers_compare_by_value() {
        assert_chain(&[
            "20190126.230843",
            "1234567890.12345",
            "123456789012345.1H.5-beta",
            "12345678901234567890.1H.5-beta",
        ]);
    }

    #[test]
    fn everything_but_the_empty_string_parses() {
        assert!(MavenVersion::parse("").is_err());
        for odd in ["-", ".", "..--", "é", "1..2", "v1", "#"] {
            assert!(MavenVersion::parse(odd).is_ok(), "{odd}");
        }
        assert_eq!(v("-"), v("0"));
    }
}
