//! The tag patterns of `immutable_tags`: `*` matches any run of characters (including
//! none), `?` exactly one, everything else itself, case-sensitively as OCI compares tags.
//!
//! Hand-written rather than translated to a regex so that there is nothing to escape and
//! nothing to get wrong: patterns may only hold tag characters (`[A-Za-z0-9_.-]`) and the
//! two wildcards, and matching is the classic greedy-star algorithm with one backtrack
//! point, O(pattern × tag) at worst on 128-character inputs.

/// The longest pattern accepted: an OCI tag is at most 128 characters, so a longer pattern
/// without wildcards could never match, and a longer one with them is a mistake.
pub const MAX_PATTERN_LEN: usize = 128;

/// Whether `tag` matches `pattern`.
pub fn glob_match(pattern: &str, tag: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let tag: Vec<char> = tag.chars().collect();
    let (mut p, mut t) = (0, 0);
    // The position after the last `*` seen, and the tag position it was tried at.
    let mut backtrack: Option<(usize, usize)> = None;
    while t < tag.len() {
        match (pattern.get(p), tag.get(t)) {
            (Some('*'), _) => {
                backtrack = Some((p + 1, t));
                p += 1;
            }
            (Some(&want), Some(&have)) if want == '?' || want == have => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                // Let the last star swallow one more character and retry from there.
                Some((after_star, tried)) => {
                    backtrack = Some((after_star, tried + 1));
                    p = after_star;
                    t = tried + 1;
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

/// Why `pattern` cannot be an immutable-tag pattern, if it cannot.
pub fn pattern_error(pattern: &str) -> Option<String> {
    if pattern.is_empty() {
        return Some("a tag pattern cannot be empty".to_owned());
    }
    if pattern.chars().count() > MAX_PATTERN_LEN {
        return Some(format!(
            "tag pattern {pattern:?} is longer than {MAX_PATTERN_LEN} characters"
        ));
    }
    pattern
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '*' | '?')))
        .map(|c| {
            format!("tag pattern {pattern:?}: {c:?} cannot appear in a tag (only letters, digits, '_', '.', '-' and the wildcards '*' and '?')")
        })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn literal_patterns_match_only_themselves() {
        assert!(glob_match("latest", "latest"));
        assert!(!glob_match("latest", "Latest"));
        assert!(!glob_match("latest", "latest2"));
        assert!(!glob_match("latest", "latés"));
        assert!(!glob_match("v1", ""));
    }

    #[test]
    fn star_matches_any_run_including_none() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "anything-at.all_1"));
        assert!(glob_match("v*", "v"));
        assert!(glob_match("v*", "v1.2.3"));
        assert!(!glob_match("v*", "x1"));
        assert!(!glob_match("v*", "1v"));
        assert!(glob_match("release-*", "release-2024.06"));
        assert!(!glob_match("release-*", "release"));
        assert!(glob_match("*-rc*", "1.0-rc1"));
        assert!(glob_match("*-rc*", "-rc"));
        assert!(!glob_match("*-rc*", "1.0-beta"));
        assert!(glob_match("a*b*c", "aXbYbZc"));
        assert!(!glob_match("a*b*c", "aXbYbZ"));
        assert!(glob_match("**", "x"));
    }

    #[test]
    fn question_mark_matches_exactly_one_character() {
        assert!(glob_match("v?", "v1"));
        assert!(!glob_match("v?", "v"));
        assert!(!glob_match("v?", "v10"));
        assert!(glob_match("v?.*", "v2.0.1"));
        assert!(glob_match("?*", "x"));
        assert!(!glob_match("?*", ""));
    }

    #[test]
    fn patterns_hold_only_tag_characters_and_wildcards() {
        assert_eq!(pattern_error("v*"), None);
        assert_eq!(pattern_error("release-?.*_x"), None);
        assert!(pattern_error("").is_some());
        assert!(pattern_error("team/*").unwrap().contains("'/'"));
        assert!(pattern_error("v[0-9]").is_some());
        assert!(pattern_error("sha256:*").is_some());
        assert!(pattern_error(&"a".repeat(MAX_PATTERN_LEN + 1)).is_some());
        assert_eq!(pattern_error(&"a".repeat(MAX_PATTERN_LEN)), None);
    }

    proptest! {
        #[test]
        fn a_pattern_without_wildcards_matches_only_itself(
            pattern in "[A-Za-z0-9_][A-Za-z0-9._-]{0,20}",
            tag in "[A-Za-z0-9_][A-Za-z0-9._-]{0,20}",
        ) {
            prop_assert!(glob_match(&pattern, &pattern));
            prop_assert_eq!(glob_match(&pattern, &tag), pattern == tag);
        }

        #[test]
        fn a_prefix_star_matches_exactly_the_tags_with_that_prefix(
            prefix in "[a-z0-9]{0,6}",
            tag in "[a-z0-9.-]{0,12}",
        ) {
            let pattern = format!("{prefix}*");
            prop_assert_eq!(glob_match(&pattern, &tag), tag.starts_with(&prefix));
            prop_assert!(glob_match("*", &tag));
        }

        #[test]
        fn question_marks_match_exactly_as_many_characters(
            count in 0usize..8,
            tag in "[a-z]{0,10}",
        ) {
            let pattern = "?".repeat(count);
            prop_assert_eq!(glob_match(&pattern, &tag), tag.len() == count);
        }
    }
}
