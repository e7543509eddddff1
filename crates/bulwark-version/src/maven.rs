//! Maven version ordering, as Maven itself orders versions: the algorithm of
//! `org.apache.maven.artifact.versioning.ComparableVersion` (Maven 3.8.7 to 3.9.x), which
//! decides what a Maven build resolves. Where the POM reference's "Version Order
//! Specification" reads differently, the client wins: users live with what Maven does.
//! `tests/data/maven-comparable-version.txt` holds the real class's answers on 10,906
//! generated pairs (`scripts/maven-order/`), and every one of them is checked.
//!
//! A version is lower-cased and cut into items:
//! - `.` ends an item; `-` ends one and opens a sub-list that holds the rest; an empty item
//!   (`1..1`, `1-`, a leading `.`) is the number `0`;
//! - where digits meet letters or letters meet digits the item ends too and the rest goes
//!   into a sub-list, so `1a1` is `1-a-1`;
//! - a word that follows a `.` and comes before digits or at the end is read as if it
//!   followed a `-` (`1.0.RC1` = `1.0-RC1`, `2.0.0.M1` = `2.0.0-M1`);
//! - numbers lose their leading zeros (a number of only zeros keeps them: see
//!   [`NumberSize`]); words `a`, `b`, `m` directly followed by a digit are
//!   `alpha`, `beta`, `milestone`; `ga`, `final` and `release` are the empty word and `cr`
//!   is `rc`.
//!
//! Each list then drops, from its end, null items (`0`, the empty word, empty lists) up to
//! the last item that is neither null nor a list, so `1.0.0` = `1` and `1-0.0` = `1`.
//!
//! Comparison walks two lists side by side, a missing item counting as null:
//! - numbers compare by size class, then by value, and rank above words and lists;
//! - words rank `alpha < beta < milestone < rc < snapshot < "" < sp` and then every other
//!   word, in lexical order among themselves, and rank below numbers and lists;
//! - a list ranks below numbers and above words; against null, a list compares as its
//!   first item that is not null does (an empty list is null), a number is above null unless it is `0`, a
//!   word is above or below null as it is above or below the empty word.
//!
//! This order is not transitive in a few corners that mix words and sub-lists (the real
//! class answers `a < b`, `b < c` and `c < a` for some triples; 294 such cycles among the
//! corpus's corner cases): Bulwark reproduces the answers, not a repaired order.
//!
//! Differences kept on purpose: digits are ASCII (Java's `Character.isDigit` also takes
//! other scripts' digits) and lower-casing is Unicode's, not Java's UTF-16 one. Every
//! non-empty string is a Maven version.

use std::cmp::Ordering;

use crate::error::InvalidVersion;

/// The well-known words, in order; their index is their rank, and any other word ranks
/// after all of them.
const KNOWN_QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
/// The rank of the empty word, which is what a missing item counts as.
const RELEASE_RANK: usize = 5;

/// A parsed Maven version.
#[derive(Debug, Clone)]
pub struct MavenVersion {
    items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A number: its size class, then its digits without leading zeros (`"0"` for zero).
    Number(NumberSize, Box<str>),
    /// A word with its shorthand and aliases resolved.
    Word(Box<str>),
    List(Vec<Item>),
}

/// A word's rank: its index among [`KNOWN_QUALIFIERS`], or after all of them.
fn word_rank(word: &str) -> (usize, &str) {
    match KNOWN_QUALIFIERS.iter().position(|known| *known == word) {
        Some(index) => (index, ""),
        None => (KNOWN_QUALIFIERS.len(), word),
    }
}

/// Maven keeps numbers in an `int`, a `long` or a `BigInteger` by the length of their digits
/// after leading zeros are cut, but cuts nothing from a number that is all zeros, and ranks
/// a larger kind above a smaller one whatever the values: `1.0000000000.1` (ten zeros, a
/// `long`) > `1.999999999.1` (an `int`). Bulwark keeps that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum NumberSize {
    Int,
    Long,
    Big,
}

fn compare_numbers(left: (NumberSize, &str), right: (NumberSize, &str)) -> Ordering {
    left.0
        .cmp(&right.0)
        .then_with(|| left.1.len().cmp(&right.1.len()))
        .then_with(|| left.1.cmp(right.1))
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Number(_, digits) => &**digits == "0",
            Item::Word(word) => word.is_empty(),
            Item::List(items) => items.is_empty(),
        }
    }

    /// This item against `other`, a missing item being `None`.
    fn compare(&self, other: Option<&Item>) -> Ordering {
        match (self, other) {
            (Item::Number(..), None) => {
                if self.is_null() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Item::Word(word), None) => word_rank(word).cmp(&(RELEASE_RANK, "")),
            // Every item counts, not only the first (MNG-6964): `1-0.1` > `1`.
            (Item::List(items), None) => items
                .iter()
                .map(|item| item.compare(None))
                .find(|ordering| ordering.is_ne())
                .unwrap_or(Ordering::Equal),
            (Item::Number(left_size, left), Some(Item::Number(right_size, right))) => {
                compare_numbers((*left_size, left), (*right_size, right))
            }
            (Item::Number(..), Some(_)) => Ordering::Greater,
            (Item::Word(left), Some(Item::Word(right))) => word_rank(left).cmp(&word_rank(right)),
            (Item::Word(_), Some(_)) => Ordering::Less,
            (Item::List(_), Some(Item::Number(..))) => Ordering::Less,
            (Item::List(_), Some(Item::Word(_))) => Ordering::Greater,
            (Item::List(left), Some(Item::List(right))) => compare_lists(left, right),
        }
    }
}

fn compare_lists(left: &[Item], right: &[Item]) -> Ordering {
    for i in 0..left.len().max(right.len()) {
        let ordering = match (left.get(i), right.get(i)) {
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

/// Drops null items from the end of `items`, passing over lists (themselves normalised
/// already), up to the last item that is neither null nor a list.
fn normalize(items: &mut Vec<Item>) {
    let mut i = items.len();
    while i > 0 {
        i -= 1;
        if items[i].is_null() {
            items.remove(i);
        } else if !matches!(items[i], Item::List(_)) {
            break;
        }
    }
}

fn number(digits: &str) -> Item {
    let stripped = digits.trim_start_matches('0');
    // All zeros: Maven keeps them all, and their count decides the size.
    let sized = if stripped.is_empty() {
        digits
    } else {
        stripped
    };
    let size = match sized.len() {
        0..=9 => NumberSize::Int,
        10..=18 => NumberSize::Long,
        _ => NumberSize::Big,
    };
    Item::Number(
        size,
        if stripped.is_empty() { "0" } else { stripped }.into(),
    )
}

fn word(text: &str, followed_by_digit: bool) -> Item {
    let text = match (followed_by_digit, text) {
        (true, "a") => "alpha",
        (true, "b") => "beta",
        (true, "m") => "milestone",
        _ => text,
    };
    let text = match text {
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    Item::Word(text.into())
}

fn item(is_digit: bool, text: &str) -> Item {
    if is_digit {
        number(text)
    } else {
        word(text, false)
    }
}

/// The list being filled and the lists it is nested in, innermost last. A new sub-list is
/// pushed here and attached to its parent when the parse ends.
struct Lists(Vec<Vec<Item>>);

impl Lists {
    fn current(&mut self) -> &mut Vec<Item> {
        let last = self.0.len() - 1;
        &mut self.0[last]
    }

    fn open(&mut self) {
        self.0.push(Vec::new());
    }

    /// Normalises and nests every list into its parent; the outermost is the version.
    fn close(mut self) -> Vec<Item> {
        let mut inner = None;
        while let Some(mut list) = self.0.pop() {
            if let Some(child) = inner.take() {
                list.push(Item::List(child));
            }
            normalize(&mut list);
            inner = Some(list);
        }
        inner.unwrap_or_default()
    }
}

impl MavenVersion {
    pub fn parse(input: &str) -> Result<Self, InvalidVersion> {
        if input.is_empty() {
            return Err(InvalidVersion::Empty);
        }
        let text = input.to_lowercase();
        let mut lists = Lists(vec![Vec::new()]);
        let mut is_digit = false;
        let mut start = 0;
        for (i, c) in text.char_indices() {
            match c {
                '.' | '-' => {
                    let piece = &text[start..i];
                    let parsed = if piece.is_empty() {
                        number("0")
                    } else {
                        item(is_digit, piece)
                    };
                    lists.current().push(parsed);
                    start = i + 1;
                    if c == '-' {
                        lists.open();
                    }
                }
                c if c.is_ascii_digit() => {
                    if !is_digit && i > start {
                        // A word before digits after a `.` reads as after a `-`.
                        if !lists.current().is_empty() {
                            lists.open();
                        }
                        lists.current().push(word(&text[start..i], true));
                        start = i;
                        lists.open();
                    }
                    is_digit = true;
                }
                _ => {
                    if is_digit && i > start {
                        lists.current().push(number(&text[start..i]));
                        start = i;
                        lists.open();
                    }
                    is_digit = false;
                }
            }
        }
        if text.len() > start {
            // A final word after a `.` reads as after a `-` too.
            if !is_digit && !lists.current().is_empty() {
                lists.open();
            }
            lists.current().push(item(is_digit, &text[start..]));
        }
        Ok(MavenVersion {
            items: lists.close(),
        })
    }
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
        assert_all_equal(&["1-cr", "1-rc", "1-RC"]);
    }

    /// Maven reads a word after a `.` as after a `-` (the case that motivated following
    /// `ComparableVersion` rather than the POM reference's text).
    #[test]
    fn dot_and_hyphen_qualifiers_are_alike() {
        assert_all_equal(&["5.0.0.RC1", "5.0.0-RC1", "5.0.0RC1", "5-rc-1"]);
        assert_all_equal(&["2.0.0.M1", "2.0.0-M1", "2-milestone-1"]);
        assert_all_equal(&["1.0.Final", "1.0-final", "1.GA", "1.release", "1"]);
    }

    #[test]
    fn shorthands_need_a_following_digit() {
        assert_all_equal(&["1a1", "1-alpha-1", "1.alpha1"]);
        assert!(v("1-a") > v("1"), "a without a digit is an unknown word");
        assert!(v("1-b1") < v("1-m1"));
    }

    #[test]
    fn trailing_nulls_go() {
        assert_all_equal(&["1", "1.0", "1.0.0", "1-0", "1.0-0.0", "1-", "1."]);
        assert!(v("1.0.1") > v("1"));
        assert!(v("1-0.1") > v("1"));
    }

    #[test]
    fn numbers_compare_by_value_at_any_size() {
        assert_all_equal(&["1.007", "1.7"]);
        assert_chain(&[
            "1.2147483647",
            "1.2147483648",
            "1.9223372036854775807",
            "1.9223372036854775808",
            "1.99999999999999999999999",
        ]);
    }

    #[test]
    fn all_zero_numbers_keep_their_size() {
        assert_chain(&["1.999999999.1", "1.0000000000.1", "1.999999999999999999.1"]);
        assert_chain(&["1.999999999999999999.1", "1.0000000000000000000.1"]);
        assert_all_equal(&["1.0000000000", "1"]);
    }

    #[test]
    fn everything_but_the_empty_string_parses() {
        assert!(MavenVersion::parse("").is_err());
        for text in [
            "-",
            ".",
            "..",
            "--",
            "a",
            "1..1",
            "x.y.z",
            "1-SNAPSHOT",
            "ü",
        ] {
            MavenVersion::parse(text).unwrap();
        }
    }
}
