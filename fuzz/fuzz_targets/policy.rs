//! VEX documents come from whoever may push a referrer or call the API, and policy files
//! from project owners: neither may panic their parsers.
#![no_main]

use bulwark_policy::{Policy, parse_vex};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &[u8])| {
    let (text, bytes) = input;
    let _ = parse_vex(bytes);
    if let Ok(policy) = Policy::parse_toml(text) {
        // What parses writes back and parses to the same policy.
        if let Ok(written) = policy.to_toml() {
            assert_eq!(Policy::parse_toml(&written).ok(), Some(policy));
        }
    }
    let _ = Policy::parse_yaml(text);
});
