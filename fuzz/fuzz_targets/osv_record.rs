//! OSV records arrive from downloaded archives Bulwark does not control: parsing and
//! validating any bytes, as JSON or YAML, must never panic, and a record that is accepted
//! must be indexable and queryable for any version.
#![no_main]

use bulwark_advisory::{AdvisoryIndex, parse_json, parse_yaml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (bool, &[u8], &str)| {
    let (yaml, bytes, version) = input;
    let parsed = if yaml { parse_yaml(bytes) } else { parse_json(bytes) };
    let Ok(record) = parsed else {
        return;
    };
    let packages: Vec<(String, String)> = record
        .affected
        .iter()
        .filter_map(|affected| affected.package.as_ref())
        .map(|package| (package.ecosystem.clone(), package.name.clone()))
        .collect();
    let mut index = AdvisoryIndex::new();
    index.insert(record);
    for (ecosystem, name) in packages {
        let _ = index.query(&ecosystem, &name, version);
    }
});
