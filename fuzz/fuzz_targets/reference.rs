//! Digests, repository names, tags and references from URLs and query strings.
#![no_main]

use bulwark_oci::{Digest, Reference, RepositoryName, Tag};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(digest) = text.parse::<Digest>() {
        assert_eq!(digest.to_string().parse::<Digest>().ok(), Some(digest));
    }
    if let Ok(name) = text.parse::<RepositoryName>() {
        assert_eq!(name.as_str(), text);
    }
    let _ = text.parse::<Tag>();
    let _ = text.parse::<Reference>();
});
