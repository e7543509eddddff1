//! Every request path goes through the route parser before anything else.
#![no_main]

use bulwark_oci::RegistryRoute;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|path: &str| {
    let _ = RegistryRoute::parse(path);
});
