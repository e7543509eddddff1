//! Versions arrive from advisories and from package metadata: every scheme must parse any
//! string without panicking, and order what it parses consistently.
#![no_main]

use bulwark_version::{Ecosystem, compare};
use libfuzzer_sys::fuzz_target;

const ECOSYSTEMS: &[&str] = &[
    "PyPI", "npm", "crates.io", "Go", "Maven", "RubyGems", "NuGet", "Packagist", "Pub", "Debian",
    "Alpine", "Red Hat", "CRAN", "Hackage",
];

fuzz_target!(|input: (u8, &str, &str)| {
    let (which, a, b) = input;
    let ecosystem = Ecosystem::from_osv_name(ECOSYSTEMS[usize::from(which) % ECOSYSTEMS.len()]).ecosystem;
    if let (Ok(ab), Ok(ba)) = (compare(&ecosystem, a, b), compare(&ecosystem, b, a)) {
        assert_eq!(ab, ba.reverse());
    }
});
