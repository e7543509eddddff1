//! Bundles, payloads, signature manifests and PEM keys all come from whoever can push to a
//! repository (or write a key file), so none of them may panic the verifier.
#![no_main]

use std::sync::OnceLock;

use bulwark_signature::{
    TrustedKey, bundle_layers, simple_signing_layers, verify_bundle, verify_simple_signing,
};
use libfuzzer_sys::fuzz_target;

const DIGEST: &str = "sha256:bafebd36189ad3688b7b3915ea55d461e0bfcfbdde11e54b0a123999fb6be50f";
const KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEAhfmF/C2RDkoJ4+WmZ5pojpPLBUr
321s32bluAKC1O0ZSn3ry5dxLS3aPKhaqHZaVvRfx1hZllLyiXxlMG5XlA==
-----END PUBLIC KEY-----
";

fn key() -> Option<&'static TrustedKey> {
    static KEY_CELL: OnceLock<Option<TrustedKey>> = OnceLock::new();
    KEY_CELL
        .get_or_init(|| TrustedKey::from_pem(KEY).ok())
        .as_ref()
}

fuzz_target!(|input: (&str, &[u8])| {
    let (text, bytes) = input;
    let _ = TrustedKey::from_pem(text);
    let _ = TrustedKey::from_spki_der(bytes);
    let _ = simple_signing_layers(bytes);
    let _ = bundle_layers(bytes);
    if let Some(key) = key() {
        let _ = verify_bundle(bytes, key, DIGEST);
        let _ = verify_simple_signing(bytes, text, key, DIGEST, "team/app");
    }
});
