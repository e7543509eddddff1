//! SBOM documents attached to images by anyone who may push: any bytes.
#![no_main]

use bulwark_inventory::sbom::{MAX_PACKAGES, listed_packages};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|document: &[u8]| {
    if let Ok(packages) = listed_packages(document) {
        assert!(packages.len() <= MAX_PACKAGES);
    }
});
