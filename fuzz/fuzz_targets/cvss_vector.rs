//! CVSS vectors come from advisories: any string must parse or be refused without a panic,
//! and an accepted vector must score within [0, 10] and read back from its own rendering.
#![no_main]

use bulwark_cvss::Cvss;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(cvss) = Cvss::parse(input) {
        assert!((0.0..=10.0).contains(&cvss.base_score()));
        let again = Cvss::parse(&cvss.to_string()).expect("a rendered vector parses");
        assert_eq!(again.base_score(), cvss.base_score());
    }
});
