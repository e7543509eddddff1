//! Entry names as archives spell them, made into one canonical relative form.

/// `./usr//lib/../x` and the like, made relative and `/`-separated without `.` or empty
/// components; `None` when a `..` component would climb out of the image (never resolved:
/// a name that needs it is hostile or broken). Trailing slashes (directories) go.
pub fn normalize(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for component in name.split('/') {
        match component {
            "" | "." => {}
            ".." => return None,
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_become_relative_and_canonical() {
        assert_eq!(
            normalize("./usr/lib/os-release").as_deref(),
            Some("usr/lib/os-release")
        );
        assert_eq!(normalize("/etc//passwd").as_deref(), Some("etc/passwd"));
        assert_eq!(normalize("var/lib/dpkg/").as_deref(), Some("var/lib/dpkg"));
        assert_eq!(normalize("./").as_deref(), Some(""));
        assert_eq!(normalize("a/../../etc/shadow"), None);
        assert_eq!(normalize("../x"), None);
    }

    proptest! {
        #[test]
        fn a_normalised_name_never_climbs_or_starts_with_a_slash(name in "[./a-z]{0,24}") {
            if let Some(path) = normalize(&name) {
                prop_assert!(!path.starts_with('/'));
                prop_assert!(path.split('/').all(|c| c != ".." && c != "."));
                prop_assert_eq!(normalize(&path), Some(path.clone()));
            }
        }
    }
}
