//! Manifest bytes and Content-Type come straight from clients.
#![no_main]

use bulwark_oci::ParsedManifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Option<&str>, &[u8])| {
    let (content_type, bytes) = input;
    if let Ok(manifest) = ParsedManifest::parse(content_type, bytes) {
        let _ = manifest.required_content();
    }
});
